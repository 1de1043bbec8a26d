"""pipeline.aws.cloudformation against botocore's Stubber: the change set paths (CREATE,
UPDATE, no changes, FAILED, busy stacks), discarding a preview, executing while following
the stack events to the failure reasons, pagination and not-found handling."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import ANY

from pipeline.aws.cloudformation import NO_CHANGES, ChangeSet, CloudFormation
from pipeline.aws.errors import AwsError
from pipeline.errors import ConfigError, PipelineError
from tests.unit.aws_stubs import WHEN, stubbed

NAME = "diabetes-dev"
STACK_ID = f"arn:aws:cloudformation:us-east-1:123456789012:stack/{NAME}/1"
CS_ID = f"arn:aws:cloudformation:us-east-1:123456789012:changeSet/{NAME}-1/1"
TEMPLATE = '{"Resources": {}}'


def stack(status: str, name: str = NAME, outputs: dict[str, str] | None = None) -> dict:
    described: dict[str, Any] = {
        "StackName": name,
        "StackId": f"{STACK_ID}-{name}",
        "CreationTime": WHEN,
        "StackStatus": status,
    }
    if outputs:
        described["Outputs"] = [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]
    return {"Stacks": [described]}


def event(n: int, status: str, resource: str = "Endpoint", reason: str = "") -> dict:
    answer = {
        "StackId": STACK_ID,
        "EventId": f"e{n}",
        "StackName": NAME,
        "Timestamp": WHEN,
        "LogicalResourceId": resource,
        "ResourceStatus": status,
    }
    if reason:
        answer["ResourceStatusReason"] = reason
    return answer


def add_status(stub, status: str | None, outputs: dict[str, str] | None = None) -> None:
    """One describe_stacks answer: the stack in `status`, or no such stack (None)."""
    if status is None:
        stub.add_client_error(
            "describe_stacks",
            "ValidationError",
            f"Stack with id {NAME} does not exist",
            400,
            expected_params={"StackName": NAME},
        )
    else:
        stub.add_response("describe_stacks", stack(status, outputs=outputs), {"StackName": NAME})


def add_change_set(
    stub, kind: str, status: str, reason: str = "", changes=(), tags: bool = True
) -> None:
    """create_change_set, the waiter's describe_change_set and the wrapper's own describe."""
    stub.add_response(
        "create_change_set",
        {"Id": CS_ID, "StackId": STACK_ID},
        {
            "StackName": NAME,
            "TemplateBody": TEMPLATE,
            "ChangeSetName": ANY,
            "ChangeSetType": kind,
            "Capabilities": ["CAPABILITY_IAM"],
            "Parameters": [{"ParameterKey": "InstanceCount", "ParameterValue": "1"}],
            "Tags": [{"Key": "project", "Value": "diabetes"}] if tags else [],
        },
    )
    described = {
        "ChangeSetId": CS_ID,
        "StackId": STACK_ID,
        "StackName": NAME,
        "Status": status,
        "ExecutionStatus": "AVAILABLE",
        "Changes": list(changes),
    }
    if reason:
        described["StatusReason"] = reason
    waited = {"ChangeSetName": CS_ID, "StackName": NAME}
    stub.add_response("describe_change_set", described, waited)
    stub.add_response("describe_change_set", described, {"ChangeSetName": CS_ID})


def change(logical_id: str, action: str, replacement: str | None = None) -> dict:
    resource = {
        "LogicalResourceId": logical_id,
        "ResourceType": "AWS::SageMaker::Model",
        "Action": action,
    }
    if replacement is not None:
        resource["Replacement"] = replacement
    return {"Type": "Resource", "ResourceChange": resource}


def create(cfn: CloudFormation, kind: str) -> ChangeSet:
    return cfn.create_change_set(
        NAME, TEMPLATE, {"InstanceCount": "1"}, kind, ("CAPABILITY_IAM",), {"project": "diabetes"}
    )


def test_template_is_the_original_body_or_none_for_a_missing_stack():
    with stubbed("cloudformation") as (client, stub):
        wanted = {"StackName": NAME, "TemplateStage": "Original"}
        yaml_body = "Resources: {}\n"  # botocore parses a JSON body into a dict; ours are YAML
        stub.add_response("get_template", {"TemplateBody": yaml_body}, wanted)
        missing = f"Stack with id {NAME} does not exist"
        stub.add_client_error("get_template", "ValidationError", missing, expected_params=wanted)
        cfn = CloudFormation(client)
        assert cfn.template(NAME) == yaml_body
        assert cfn.template(NAME) is None


def test_stack_missing_is_none():
    with stubbed("cloudformation") as (client, stub):
        add_status(stub, None)
        add_status(stub, None)
        cfn = CloudFormation(client)
        assert cfn.stack(NAME) is None
        assert cfn.status(NAME) is None


def test_stack_other_validation_error_is_translated():
    with stubbed("cloudformation") as (client, stub):
        stub.add_client_error("describe_stacks", "ValidationError", "Template format error")
        with pytest.raises(AwsError, match=r"DescribeStacks failed \(ValidationError\)") as raised:
            CloudFormation(client).stack(NAME)
    assert raised.value.code == "ValidationError" and raised.value.exit_code == 1


def test_outputs_of_a_stack_are_a_mapping():
    with stubbed("cloudformation") as (client, stub):
        add_status(stub, "UPDATE_COMPLETE", {"EndpointName": "diabetes-dev-ep", "Bucket": "b"})
        add_status(stub, None)
        cfn = CloudFormation(client)
        assert cfn.outputs(NAME) == {"EndpointName": "diabetes-dev-ep", "Bucket": "b"}
        assert cfn.outputs(NAME) == {}


def test_live_stacks_follow_every_page_and_skip_stacks_gone_meanwhile():
    statuses = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    summary = {"StackName": "x", "CreationTime": WHEN, "StackStatus": "CREATE_COMPLETE"}
    with stubbed("cloudformation") as (client, stub):
        stub.add_response(
            "list_stacks",
            {"StackSummaries": [{**summary, "StackId": "id-a"}], "NextToken": "page2"},
            {"StackStatusFilter": list(statuses)},
        )
        stub.add_response(
            "list_stacks",
            {"StackSummaries": [{**summary, "StackId": "id-b"}, {**summary, "StackId": "id-c"}]},
            {"StackStatusFilter": list(statuses), "NextToken": "page2"},
        )
        stub.add_response("describe_stacks", stack("CREATE_COMPLETE", "a"), {"StackName": "id-a"})
        stub.add_client_error(
            "describe_stacks",
            "ValidationError",
            "Stack with id id-b does not exist",
            expected_params={"StackName": "id-b"},
        )
        stub.add_response("describe_stacks", stack("UPDATE_COMPLETE", "c"), {"StackName": "id-c"})
        live = CloudFormation(client).live_stacks(statuses)
    assert [s["StackName"] for s in live] == ["a", "c"]


def test_change_set_for_a_new_stack_is_create():
    changes = [change("Model", "Add"), change("Endpoint", "Add")]
    with stubbed("cloudformation") as (client, stub):
        add_change_set(stub, "CREATE", "CREATE_COMPLETE", changes=changes)
        change_set = create(CloudFormation(client), "CREATE")
    assert change_set.kind == "CREATE" and change_set.id == CS_ID and not change_set.no_changes
    assert [(c.logical_id, c.action, c.replacement) for c in change_set.changes] == [
        ("Model", "Add", ""),
        ("Endpoint", "Add", ""),
    ]


def test_change_set_for_an_existing_stack_is_update_with_replacements():
    with stubbed("cloudformation") as (client, stub):
        add_change_set(
            stub, "UPDATE", "CREATE_COMPLETE", changes=[change("Model", "Modify", "True")]
        )
        change_set = create(CloudFormation(client), "UPDATE")
    assert change_set.kind == "UPDATE"
    assert change_set.changes[0].resource_type == "AWS::SageMaker::Model"
    assert change_set.changes[0].replacement == "True"


def test_change_set_without_changes_is_kept_as_no_changes():
    reason = f"The submitted information {NO_CHANGES}. Submit different information."
    with stubbed("cloudformation") as (client, stub):
        add_change_set(stub, "UPDATE", "FAILED", reason)  # no delete_change_set expected
        change_set = create(CloudFormation(client), "UPDATE")
    assert change_set.no_changes and change_set.changes == ()


def test_change_set_failed_on_create_deletes_it_and_the_stack_then_raises():
    with stubbed("cloudformation") as (client, stub):
        add_change_set(stub, "CREATE", "FAILED", "Parameter 'RoleARN' must have values")
        stub.add_response("delete_change_set", {}, {"ChangeSetName": CS_ID})
        stub.add_response("delete_stack", {}, {"StackName": NAME})
        with pytest.raises(PipelineError, match="change set failed: Parameter 'RoleARN'"):
            create(CloudFormation(client), "CREATE")


def test_change_set_failed_on_update_keeps_the_stack_then_raises():
    with stubbed("cloudformation") as (client, stub):
        add_change_set(stub, "UPDATE", "FAILED", "Template error: unresolved resource")
        stub.add_response("delete_change_set", {}, {"ChangeSetName": CS_ID})
        with pytest.raises(PipelineError, match=f"{NAME}: change set failed: Template error"):
            create(CloudFormation(client), "UPDATE")


def test_change_set_throttled_is_an_aws_error_with_its_code():
    with stubbed("cloudformation") as (client, stub):
        stub.add_client_error("create_change_set", "Throttling", "Rate exceeded")
        with pytest.raises(AwsError, match="Rate exceeded") as raised:
            create(CloudFormation(client), "UPDATE")
    assert raised.value.code == "Throttling" and not isinstance(raised.value, ConfigError)


def test_discard_update_deletes_only_the_change_set():
    with stubbed("cloudformation") as (client, stub):
        stub.add_response("delete_change_set", {}, {"ChangeSetName": CS_ID})
        CloudFormation(client).discard(ChangeSet(CS_ID, NAME, "UPDATE", (), False))


def test_discard_create_deletes_the_empty_stack_and_waits():
    with stubbed("cloudformation") as (client, stub):
        stub.add_response("delete_change_set", {}, {"ChangeSetName": CS_ID})
        add_status(stub, "REVIEW_IN_PROGRESS")
        stub.add_response("delete_stack", {}, {"StackName": NAME})
        add_status(stub, "DELETE_COMPLETE")  # the waiter's first poll
        CloudFormation(client).discard(ChangeSet(CS_ID, NAME, "CREATE", (), False))


def test_discard_create_access_denied_leaves_the_empty_stack_and_says_so():
    said: list[str] = []
    with stubbed("cloudformation") as (client, stub):
        stub.add_response("delete_change_set", {}, {"ChangeSetName": CS_ID})
        add_status(stub, "REVIEW_IN_PROGRESS")
        stub.add_client_error("delete_stack", "AccessDenied", "not authorized to DeleteStack")
        CloudFormation(client, progress=said.append).discard(
            ChangeSet(CS_ID, NAME, "CREATE", (), False)
        )
    assert said == [
        f"{NAME}: left empty in REVIEW_IN_PROGRESS (this role may not delete "
        "stacks); the first deploy takes it over"
    ]


def test_discard_create_other_delete_error_is_raised():
    with stubbed("cloudformation") as (client, stub):
        stub.add_response("delete_change_set", {}, {"ChangeSetName": CS_ID})
        add_status(stub, "REVIEW_IN_PROGRESS")
        stub.add_client_error("delete_stack", "Throttling", "Rate exceeded")
        with pytest.raises(AwsError) as raised:
            CloudFormation(client).discard(ChangeSet(CS_ID, NAME, "CREATE", (), False))
    assert raised.value.code == "Throttling"


def test_execute_reports_each_new_event_and_returns_the_outputs():
    said: list[str] = []
    old = [event(1, "CREATE_COMPLETE", NAME)]
    with stubbed("cloudformation") as (client, stub):
        stub.add_response("describe_stack_events", {"StackEvents": old}, {"StackName": NAME})
        stub.add_response("execute_change_set", {}, {"ChangeSetName": CS_ID})
        stub.add_response(
            "describe_stack_events",
            {
                "StackEvents": [
                    event(3, "UPDATE_COMPLETE", "Model"),
                    event(2, "UPDATE_IN_PROGRESS", "Model", "Requested update"),
                    *old,
                ]
            },
        )
        add_status(stub, "UPDATE_COMPLETE")
        add_status(stub, "UPDATE_COMPLETE", {"EndpointName": "ep"})
        outputs = CloudFormation(client, progress=said.append).execute(
            ChangeSet(CS_ID, NAME, "UPDATE", (), False), sleep=pytest.fail
        )
    assert outputs == {"EndpointName": "ep"}
    assert said == [
        f"{NAME}: executing the update change set",
        "  Model: UPDATE_IN_PROGRESS (Requested update)",
        "  Model: UPDATE_COMPLETE",
    ]


def test_execute_failure_lists_only_this_operations_failed_resources():
    slept: list[float] = []
    history = [event(1, "CREATE_FAILED", "Model", "an earlier failure")]
    now = [event(3, "UPDATE_FAILED", "Endpoint", "Ping health check failed"), *history]
    settled = [event(4, "UPDATE_ROLLBACK_COMPLETE", NAME), *now]
    with stubbed("cloudformation") as (client, stub):
        stub.add_response("describe_stack_events", {"StackEvents": history})
        stub.add_response("execute_change_set", {}, {"ChangeSetName": CS_ID})
        stub.add_response("describe_stack_events", {"StackEvents": now})
        add_status(stub, "UPDATE_ROLLBACK_IN_PROGRESS")
        stub.add_response("describe_stack_events", {"StackEvents": settled})
        add_status(stub, "UPDATE_ROLLBACK_COMPLETE")
        stub.add_response("describe_stack_events", {"StackEvents": settled})  # failures()
        with pytest.raises(PipelineError) as raised:
            CloudFormation(client).execute(
                ChangeSet(CS_ID, NAME, "UPDATE", (), False), sleep=slept.append, poll=0.5
            )
    assert str(raised.value) == (
        f"stack {NAME} failed (UPDATE_ROLLBACK_COMPLETE):\n  - Endpoint: Ping health check failed"
    )
    assert slept == [0.5]


def test_execute_failure_without_reasons_says_so():
    with stubbed("cloudformation") as (client, stub):
        stub.add_response("describe_stack_events", {"StackEvents": []})
        stub.add_response("execute_change_set", {}, {"ChangeSetName": CS_ID})
        stub.add_response("describe_stack_events", {"StackEvents": []})
        add_status(stub, None)  # the failed create's stack is gone: DELETE_COMPLETE
        stub.add_response("describe_stack_events", {"StackEvents": []})
        with pytest.raises(PipelineError, match=r"failed \(DELETE_COMPLETE\):\n  - no resource"):
            CloudFormation(client).execute(ChangeSet(CS_ID, NAME, "CREATE", (), False))


def test_wait_until_settled_waits_out_another_operation():
    said: list[str] = []
    slept: list[float] = []
    with stubbed("cloudformation") as (client, stub):
        add_status(stub, "UPDATE_IN_PROGRESS")
        add_status(stub, "UPDATE_IN_PROGRESS")
        add_status(stub, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
        add_status(stub, "UPDATE_COMPLETE")
        final = CloudFormation(client, progress=said.append).wait_until_settled(
            NAME, sleep=slept.append, poll=1.5
        )
    assert final == "UPDATE_COMPLETE" and slept == [1.5, 1.5, 1.5]
    waiting = "waiting for it to finish"
    assert said == [
        f"{NAME}: UPDATE_IN_PROGRESS; {waiting}",
        f"{NAME}: UPDATE_COMPLETE_CLEANUP_IN_PROGRESS; {waiting}",
    ]


def test_delete_that_fails_names_the_waiter():
    with stubbed("cloudformation") as (client, stub):
        stub.add_response("delete_stack", {}, {"StackName": NAME})
        add_status(stub, "DELETE_FAILED")
        with pytest.raises(PipelineError, match=f"{NAME}: stack_delete_complete failed"):
            CloudFormation(client).delete(NAME)
