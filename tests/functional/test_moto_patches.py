"""Each emulator correction (pipeline/local/moto_patches/), shown against the
running sandbox with plain boto3: the statuses, reason texts and Outputs AWS documents."""

from __future__ import annotations

import hashlib
import itertools

import boto3
import pytest
from botocore.exceptions import ClientError

from pipeline.core.checksums import composite_sha256
from pipeline.local.sandbox import Sandbox
from tests.conftest import FIXTURES

TEMPLATE = (FIXTURES / "templates" / "endpoint_stack.yaml").read_text()
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/sagemaker-execution"
NO_CHANGES = (
    "The submitted information didn't contain changes. "
    "Submit different information to create a change set."
)
_names = itertools.count(1)
# The sandbox really serves endpoints, so stacks point at a real artifact (two keys, so an
# update changes ModelDataUrl).
A = "s3://corrections-artifacts/models/a/model.tar.gz"
B = "s3://corrections-artifacts/models/b/model.tar.gz"


def upload_artifacts(options: dict, artifact) -> None:
    s3 = boto3.client("s3", **options)
    if "corrections-artifacts" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket="corrections-artifacts")
    for uri in (A, B):
        s3.upload_file(
            str(artifact), "corrections-artifacts", uri.removeprefix("s3://corrections-artifacts/")
        )


@pytest.fixture(scope="module")
def clients(built, shared_sandbox):
    options = {
        "endpoint_url": shared_sandbox.url,
        "region_name": shared_sandbox.region,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    upload_artifacts(options, built.artifact_file)
    return boto3.client("cloudformation", **options), boto3.client("sagemaker", **options)


def params(model_data: str) -> list[dict]:
    """Every template parameter given explicitly, as the deploy engine does."""
    values = {"ModelData": model_data, "ImageURI": IMAGE, "RoleARN": ROLE}
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def change_set(cfn, stack: str, kind: str, model_data: str) -> dict:
    created = cfn.create_change_set(
        StackName=stack,
        ChangeSetName=f"cs-{next(_names)}",
        ChangeSetType=kind,
        TemplateBody=TEMPLATE,
        Parameters=params(model_data),
    )
    return cfn.describe_change_set(ChangeSetName=created["Id"])


def outputs(cfn, stack: str) -> dict[str, str]:
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def deployed(cfn, stack: str, model_data: str) -> dict:
    described = change_set(cfn, stack, "CREATE", model_data)
    cfn.execute_change_set(ChangeSetName=described["ChangeSetId"])
    return described


@pytest.fixture(scope="module")
def base(clients):
    """One stack created from A, shared by the tests that only read it or make change sets
    they do not execute (every endpoint really starts a model server, so they cost time)."""
    cfn, _ = clients
    deployed(cfn, "base", A)
    return "base"


def test_outputs_after_a_create_change_set(clients, base):
    cfn, _ = clients
    stack = cfn.describe_stacks(StackName=base)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    got = outputs(cfn, base)
    assert got["ModelData"] == A
    assert got["EndpointName"].startswith("base-Endpoint-")


def test_parameter_only_update_lists_changes_with_replacement(clients, base):
    cfn, _ = clients
    described = change_set(cfn, base, "UPDATE", B)
    assert described["Status"] == "CREATE_COMPLETE"
    changes = {
        c["ResourceChange"]["LogicalResourceId"]: (
            c["ResourceChange"]["Action"],
            c["ResourceChange"]["Replacement"],
        )
        for c in described["Changes"]
    }
    assert changes == {
        "Model": ("Modify", "True"),
        "EndpointConfig": ("Modify", "True"),
        "Endpoint": ("Modify", "False"),
    }


def test_a_no_op_change_set_is_created_and_failed_with_the_aws_reason(clients, base):
    cfn, _ = clients
    described = change_set(cfn, base, "UPDATE", A)
    assert described["Status"] == "FAILED"
    assert described["ExecutionStatus"] == "UNAVAILABLE"
    assert described["StatusReason"] == NO_CHANGES
    assert described["Changes"] == []


def test_update_stack_without_changes_is_still_refused_as_on_aws(clients, base):
    cfn, _ = clients
    with pytest.raises(ClientError, match="No updates are to be performed"):
        cfn.update_stack(StackName=base, TemplateBody=TEMPLATE, Parameters=params(A))


def test_outputs_after_an_update_change_set_and_the_endpoint_follows_the_new_model(clients):
    cfn, sagemaker = clients
    deployed(cfn, "replace-model", A)
    before = outputs(cfn, "replace-model")
    described = change_set(cfn, "replace-model", "UPDATE", B)
    cfn.execute_change_set(ChangeSetName=described["ChangeSetId"])
    after = outputs(cfn, "replace-model")
    assert cfn.describe_stacks(StackName="replace-model")["Stacks"][0]["StackStatus"] == (
        "UPDATE_COMPLETE"
    )
    assert after["ModelData"] == B
    assert after["ModelName"] != before["ModelName"]  # replaced: a new name
    assert after["EndpointName"] == before["EndpointName"]  # updated in place
    endpoint = sagemaker.describe_endpoint(EndpointName=after["EndpointName"])
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert config["ProductionVariants"][0]["ModelName"] == after["ModelName"]
    model = sagemaker.describe_model(ModelName=after["ModelName"])
    assert model["PrimaryContainer"]["ModelDataUrl"] == B


def test_an_executed_update_change_set_gives_the_stack_its_tags(clients):
    cfn, _ = clients
    queue = "Resources:\n  Queue: {Type: AWS::SQS::Queue}\n"
    two = queue + "  Other: {Type: AWS::SQS::Queue}\n"  # a real change
    for number, (kind, template, digest) in enumerate(
        [("CREATE", queue, "a"), ("UPDATE", two, "b")]
    ):
        created = cfn.create_change_set(
            StackName="tags",
            ChangeSetName=f"tags-{number}",
            ChangeSetType=kind,
            TemplateBody=template,
            Tags=[{"Key": "model-digest", "Value": digest}],
        )
        cfn.get_waiter("change_set_create_complete").wait(ChangeSetName=created["Id"])
        cfn.execute_change_set(ChangeSetName=created["Id"])
    stack = cfn.describe_stacks(StackName="tags")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert stack["Tags"] == [{"Key": "model-digest", "Value": "b"}]


OVERRIDE_TEMPLATE = (FIXTURES / "templates" / "endpoint_stack_config_override.yaml").read_text()


def execute_override(cfn, stack: str, kind: str, model_data: str, override: str) -> str:
    """Create and execute a change set of the override template; returns the change set id."""
    created = cfn.create_change_set(
        StackName=stack,
        ChangeSetName=f"cs-{next(_names)}",
        ChangeSetType=kind,
        TemplateBody=OVERRIDE_TEMPLATE,
        Parameters=params(model_data)
        + [{"ParameterKey": "EndpointConfigOverride", "ParameterValue": override}],
    )
    cfn.execute_change_set(ChangeSetName=created["Id"])  # returns at once, as on AWS
    return created["Id"]


def events(cfn, stack: str) -> list[tuple[str, str, str | None]]:
    listed = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    return [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason")) for e in listed
    ]


def test_a_failing_create_rolls_back_to_rollback_complete_with_the_reason(clients):
    cfn, sagemaker = clients
    change_set_id = execute_override(cfn, "bad-create", "CREATE", A, "missing")
    stack = cfn.describe_stacks(StackName="bad-create")["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "Outputs" not in stack
    seen = events(cfn, "bad-create")
    failed = [e for e in seen if e[1] == "CREATE_FAILED"]
    assert [e[0] for e in failed] == ["Endpoint"]
    assert "Could not find endpoint configuration" in failed[0][2]
    assert (
        "bad-create",
        "ROLLBACK_IN_PROGRESS",
        "The following resource(s) failed to create: [Endpoint]. Rollback requested by user.",
    ) in seen
    assert seen[0][:2] == ("bad-create", "ROLLBACK_COMPLETE")  # newest first
    assert not [
        m for m in sagemaker.list_models()["Models"] if m["ModelName"].startswith("bad-create-")
    ]
    assert cfn.describe_change_set(ChangeSetName=change_set_id)["ExecutionStatus"] == (
        "EXECUTE_FAILED"
    )


def test_a_failing_create_stack_returns_and_rolls_back_as_well(clients):
    cfn, _ = clients
    stack_id = cfn.create_stack(
        StackName="bad-create-stack",
        TemplateBody=OVERRIDE_TEMPLATE,
        Parameters=params(A)
        + [{"ParameterKey": "EndpointConfigOverride", "ParameterValue": "missing"}],
    )["StackId"]
    stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [e for e in events(cfn, "bad-create-stack") if e[1] == "CREATE_FAILED"]
    assert [e[0] for e in failed] == ["Endpoint"]
    cfn.delete_stack(StackName=stack_id)
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == (
        "DELETE_COMPLETE"
    )


def test_a_failing_update_rolls_back_with_the_previous_resources_intact(clients):
    cfn, sagemaker = clients
    execute_override(cfn, "bad-update", "CREATE", A, "")
    before = cfn.describe_stacks(StackName="bad-update")["Stacks"][0]
    execute_override(cfn, "bad-update", "UPDATE", B, "missing")
    after = cfn.describe_stacks(StackName="bad-update")["Stacks"][0]
    assert after["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert after["Outputs"] == before["Outputs"]
    assert after["Parameters"] == before["Parameters"]
    seen = events(cfn, "bad-update")
    assert [e[0] for e in seen if e[1] == "UPDATE_FAILED"] == ["Endpoint"]
    assert (
        "bad-update",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "The following resource(s) failed to update: [Endpoint].",
    ) in seen
    assert seen[0][:2] == ("bad-update", "UPDATE_ROLLBACK_COMPLETE")
    names = {o["OutputKey"]: o["OutputValue"] for o in after["Outputs"]}
    endpoint = sagemaker.describe_endpoint(EndpointName=names["EndpointName"])
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    assert model["ModelName"] == names["ModelName"]
    assert model["PrimaryContainer"]["ModelDataUrl"] == A


FULL_TEMPLATE = (FIXTURES / "templates" / "endpoint_stack_full.yaml").read_text()


@pytest.fixture(scope="module")
def full_stack(clients):
    cfn, _ = clients
    created = cfn.create_change_set(
        StackName="full",
        ChangeSetName="full-1",
        ChangeSetType="CREATE",
        TemplateBody=FULL_TEMPLATE,
        Parameters=[
            {"ParameterKey": "ModelData", "ParameterValue": A},
            {"ParameterKey": "EndpointName", "ParameterValue": "diabetes-dev"},
        ],
    )
    cfn.execute_change_set(ChangeSetName=created["Id"])
    return outputs(cfn, "full")


def test_alarms_and_autoscaling_resolve_in_outputs_and_exist(clients, full_stack):
    cfn, _ = clients
    assert cfn.describe_stacks(StackName="full")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert full_stack["AlarmName"] == "full-5xx"
    assert full_stack["AlarmArn"] == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:full-5xx"
    target = "endpoint/diabetes-dev/variant/AllTraffic"
    assert full_stack["ScalableTargetId"] == (
        f"{target}|sagemaker:variant:DesiredInstanceCount|sagemaker"
    )
    assert full_stack["ScalingPolicyArn"].startswith("arn:aws:autoscaling:us-east-1:")
    options = {
        "endpoint_url": cfn.meta.endpoint_url,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    alarms = boto3.client("cloudwatch", **options).describe_alarms(AlarmNames=["full-5xx"])
    assert alarms["MetricAlarms"][0]["MetricName"] == "Invocation5XXErrors"
    scaling = boto3.client("application-autoscaling", **options)
    targets = scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[target])[
        "ScalableTargets"
    ]
    assert [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [
        (target, 1, 4)
    ]
    policies = scaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=target)[
        "ScalingPolicies"
    ]
    assert [p["PolicyARN"] for p in policies] == [full_stack["ScalingPolicyArn"]]


def test_endpoint_keeps_its_name_and_deployment_config(clients, full_stack):
    _, sagemaker = clients
    assert full_stack["EndpointName"] == "diabetes-dev"
    endpoint = sagemaker.describe_endpoint(EndpointName="diabetes-dev")
    config = endpoint["LastDeploymentConfig"]  # DescribeEndpoint's name for it
    assert config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "CANARY"
    assert config["AutoRollbackConfiguration"]["Alarms"] == [{"AlarmName": "full-5xx"}]


def test_deleting_a_stack_with_autoscaling_removes_target_and_policy(clients, full_stack):
    cfn, _ = clients
    stack_id = cfn.describe_stacks(StackName="full")["Stacks"][0]["StackId"]
    cfn.delete_stack(StackName="full")
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == (
        "DELETE_COMPLETE"
    )
    options = {
        "endpoint_url": cfn.meta.endpoint_url,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    scaling = boto3.client("application-autoscaling", **options)
    target = "endpoint/diabetes-dev/variant/AllTraffic"
    assert (
        scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[target])[
            "ScalableTargets"
        ]
        == []
    )
    assert (
        scaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=target)[
            "ScalingPolicies"
        ]
        == []
    )


def test_head_object_reports_a_multipart_composite_checksum_with_its_part_count(clients):
    cfn, _ = clients
    options = {
        "endpoint_url": cfn.meta.endpoint_url,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    s3 = boto3.client("s3", **options)
    parts = [b"a" * (5 * 1024 * 1024), b"tail"]
    upload = s3.create_multipart_upload(
        Bucket="corrections-artifacts", Key="composite", ChecksumAlgorithm="SHA256"
    )
    done = []
    for number, body in enumerate(parts, start=1):
        answer = s3.upload_part(
            Bucket="corrections-artifacts",
            Key="composite",
            Body=body,
            UploadId=upload["UploadId"],
            PartNumber=number,
            ChecksumAlgorithm="SHA256",
        )
        done.append(
            {
                "PartNumber": number,
                "ETag": answer["ETag"],
                "ChecksumSHA256": answer["ChecksumSHA256"],
            }
        )
    s3.complete_multipart_upload(
        Bucket="corrections-artifacts",
        Key="composite",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": done},
    )
    expected = composite_sha256(hashlib.sha256(p).digest() for p in parts)
    head = s3.head_object(Bucket="corrections-artifacts", Key="composite", ChecksumMode="ENABLED")
    assert expected.endswith("-2")
    assert head["ChecksumSHA256"] == expected
    assert head["ChecksumType"] == "COMPOSITE"
    got = s3.get_object(Bucket="corrections-artifacts", Key="composite", ChecksumMode="ENABLED")
    assert got["ChecksumSHA256"] == expected  # GetObject already did; HeadObject now agrees


def test_stack_delay_keeps_the_stack_in_progress_then_completes():
    template = (FIXTURES / "templates" / "alarm_only.yaml").read_text()
    with Sandbox(stack_delay=1.5) as sandbox:
        cfn = boto3.client(
            "cloudformation",
            endpoint_url=sandbox.url,
            region_name=sandbox.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        created = cfn.create_change_set(
            StackName="slow",
            ChangeSetName="slow-1",
            ChangeSetType="CREATE",
            TemplateBody=template,
        )
        cfn.execute_change_set(ChangeSetName=created["Id"])
        status = cfn.describe_stacks(StackName="slow")["Stacks"][0]["StackStatus"]
        assert status == "CREATE_IN_PROGRESS"
        waiter = cfn.get_waiter("stack_create_complete")
        waiter.wait(StackName="slow", WaiterConfig={"Delay": 0.5, "MaxAttempts": 20})
        assert outputs(cfn, "slow")["AlarmName"] == "slow-alarm"


@pytest.mark.parametrize(
    ("endpoint_type", "mode"), [("Serverless", "serverless"), ("RealTime", "realtime")]
)
def test_negated_condition_references_and_tagged_kms_keys(clients, endpoint_type, mode):
    cfn, _ = clients
    stack = f"conditions-{mode}"
    created = cfn.create_change_set(
        StackName=stack,
        ChangeSetName="c1",
        ChangeSetType="CREATE",
        TemplateBody=(FIXTURES / "templates" / "conditions.yaml").read_text(),
        Parameters=[{"ParameterKey": "EndpointType", "ParameterValue": endpoint_type}],
    )
    cfn.execute_change_set(ChangeSetName=created["Id"])
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert outputs(cfn, stack) == {"Mode": mode}
    resources = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    # (moto answers an empty stack with one empty entry; only named resources count)
    created_ids = [r["LogicalResourceId"] for r in resources if "LogicalResourceId" in r]
    assert created_ids == (["Key"] if mode == "realtime" else [])


def test_list_parameters_are_reported_as_the_comma_separated_string_given(clients):
    cfn, _ = clients
    template = """
Parameters:
  Ids: {Type: CommaDelimitedList, Default: ""}
  Empty: {Type: CommaDelimitedList, Default: ""}
Resources:
  Topic: {Type: AWS::SNS::Topic}
"""
    stack = f"corrections-lists-{next(_names)}"
    cfn.create_stack(
        StackName=stack,
        TemplateBody=template,
        Parameters=[
            {"ParameterKey": "Ids", "ParameterValue": "111111111111,222222222222"},
            {"ParameterKey": "Empty", "ParameterValue": ""},
        ],
    )
    listed = cfn.describe_stacks(StackName=stack)["Stacks"][0]["Parameters"]
    values = {p["ParameterKey"]: p["ParameterValue"] for p in listed}
    assert values == {"Ids": "111111111111,222222222222", "Empty": ""}


QUEUES = """
Resources:
  Queue: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: 30}}
  Other: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: 30}}
  Topic: {Type: AWS::SNS::Topic}
  Bucket: {Type: AWS::S3::Bucket}
Outputs:
  QueueUrl: {Value: !Ref Queue}
"""
# Queue changes, Extra is added, and Other's update then fails (SQS rejects the timeout).
FAILING_QUEUES = (
    QUEUES.replace(
        "Queue, Properties: {VisibilityTimeout: 30}}\n  Other",
        "Queue, Properties: {VisibilityTimeout: 90}}\n  Other",
    ).replace("{VisibilityTimeout: 30}}\n  Topic", "{VisibilityTimeout: soon}}\n  Topic")
    + "  Extra: {Type: AWS::SQS::Queue}\n"
)


def chronological(cfn, stack: str) -> list[dict]:
    return list(reversed(cfn.describe_stack_events(StackName=stack)["StackEvents"]))


def last_operation(cfn, stack: str, verb: str) -> list[dict]:
    """The events of the stack's last create or update, from its stack-level *_IN_PROGRESS."""
    seen = chronological(cfn, stack)
    starts = [
        i
        for i, e in enumerate(seen)
        if e["LogicalResourceId"] == stack and e["ResourceStatus"] == f"{verb}_IN_PROGRESS"
    ]
    return seen[starts[-1] :]


def queue_timeout(queue_clients, stack: str, logical_id: str) -> str:
    cfn, sqs = queue_clients
    url = cfn.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])[
        "Attributes"
    ]["VisibilityTimeout"]


@pytest.fixture(scope="module")
def queue_clients(shared_sandbox):
    options = {
        "endpoint_url": shared_sandbox.url,
        "region_name": shared_sandbox.region,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    return boto3.client("cloudformation", **options), boto3.client("sqs", **options)


def test_a_failing_update_stack_rolls_back_to_update_rollback_complete(clients):
    cfn, sagemaker = clients
    override = [{"ParameterKey": "EndpointConfigOverride", "ParameterValue": ""}]
    cfn.create_stack(
        StackName="bad-update-stack",
        TemplateBody=OVERRIDE_TEMPLATE,
        Parameters=params(A) + override,
    )
    before = cfn.describe_stacks(StackName="bad-update-stack")["Stacks"][0]
    cfn.update_stack(
        StackName="bad-update-stack",
        TemplateBody=OVERRIDE_TEMPLATE,
        Parameters=params(B)
        + [{"ParameterKey": "EndpointConfigOverride", "ParameterValue": "missing"}],
    )  # answered, not an HTTP 500
    after = cfn.describe_stacks(StackName="bad-update-stack")["Stacks"][0]
    assert after["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert after["Outputs"] == before["Outputs"]
    assert after["Parameters"] == before["Parameters"]
    seen = events(cfn, "bad-update-stack")
    failed = [e for e in seen if e[1] == "UPDATE_FAILED"]
    assert [e[0] for e in failed] == ["Endpoint"]
    assert "Could not find endpoint configuration" in failed[0][2]
    assert (
        "bad-update-stack",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "The following resource(s) failed to update: [Endpoint].",
    ) in seen
    assert seen[0][:2] == ("bad-update-stack", "UPDATE_ROLLBACK_COMPLETE")
    names = {o["OutputKey"]: o["OutputValue"] for o in after["Outputs"]}
    model = sagemaker.describe_model(ModelName=names["ModelName"])
    assert model["PrimaryContainer"]["ModelDataUrl"] == A


@pytest.mark.parametrize("way", ["update-stack", "change-set"])
def test_a_failing_update_of_sqs_sns_s3_resources_rolls_back_to_update_rollback_complete(
    queue_clients, way
):
    cfn, sqs = queue_clients
    stack = f"queues-bad-{way}"
    cfn.create_stack(StackName=stack, TemplateBody=QUEUES)
    before = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    resources = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]
    }
    if way == "update-stack":
        cfn.update_stack(StackName=stack, TemplateBody=FAILING_QUEUES)  # not an HTTP 500
    else:
        created = cfn.create_change_set(
            StackName=stack,
            ChangeSetName="bad",
            ChangeSetType="UPDATE",
            TemplateBody=FAILING_QUEUES,
        )
        cfn.execute_change_set(ChangeSetName=created["Id"])
    after = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    assert after["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert after["Outputs"] == before["Outputs"]
    seen = events(cfn, stack)
    assert [e[0] for e in seen if e[1] == "UPDATE_FAILED"] == ["Other"]
    assert seen[0][:2] == (stack, "UPDATE_ROLLBACK_COMPLETE")
    assert queue_timeout(queue_clients, stack, "Queue") == "30"  # its change undone
    assert queue_timeout(queue_clients, stack, "Other") == "30"
    queues = sqs.list_queues(QueueNamePrefix=stack).get("QueueUrls", [])
    names = sorted(url.rsplit("/", 1)[-1] for url in queues)
    assert names == sorted(resources[n].rsplit("/", 1)[-1] for n in ("Queue", "Other"))  # no Extra
    listed = {
        r["LogicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]
    }
    assert listed == {"Queue", "Other", "Topic", "Bucket"}


def test_a_successful_update_of_sqs_sns_s3_resources_completes(queue_clients):
    cfn, _ = queue_clients
    stack = "queues-good"
    cfn.create_stack(StackName=stack, TemplateBody=QUEUES)
    cfn.update_stack(StackName=stack, TemplateBody=QUEUES.replace("30", "60"))
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert queue_timeout(queue_clients, stack, "Queue") == "60"
    created = cfn.create_change_set(
        StackName=stack,
        ChangeSetName="good",
        ChangeSetType="UPDATE",
        TemplateBody=QUEUES.replace("30", "45"),
    )
    cfn.execute_change_set(ChangeSetName=created["Id"])
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert queue_timeout(queue_clients, stack, "Other") == "45"


def assert_resource_events(operation: list[dict], stack: str, verb: str, expected: dict) -> None:
    """Between the stack's <verb>_IN_PROGRESS and <verb>_COMPLETE, each expected resource logs
    <status>_IN_PROGRESS then <status>_COMPLETE with its type and physical id."""
    assert (operation[0]["LogicalResourceId"], operation[0]["ResourceStatus"]) == (
        stack,
        f"{verb}_IN_PROGRESS",
    )
    end = next(
        i
        for i, e in enumerate(operation)
        if e["LogicalResourceId"] == stack and e["ResourceStatus"] == f"{verb}_COMPLETE"
    )
    inside = operation[1:end]
    for logical_id, (status, resource_type, physical_id) in expected.items():
        mine = [e for e in inside if e["LogicalResourceId"] == logical_id]
        assert [e["ResourceStatus"] for e in mine] == [
            f"{status}_IN_PROGRESS",
            f"{status}_COMPLETE",
        ], logical_id
        assert {e["ResourceType"] for e in mine} == {resource_type}
        assert mine[-1]["PhysicalResourceId"] == physical_id


@pytest.mark.parametrize("way", ["stack", "change-set"])
def test_successful_creates_and_updates_log_per_resource_events_in_order(queue_clients, way):
    cfn, _ = queue_clients
    stack = f"queues-events-{way}"
    queue = "Queue: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: %s}}"
    updated = QUEUES.replace(queue % 30, queue % 75).replace(
        "  Bucket: {Type: AWS::S3::Bucket}\n", "  Extra: {Type: AWS::SQS::Queue}\n"
    )

    def run(kind, template):
        if way == "stack":
            call = cfn.create_stack if kind == "CREATE" else cfn.update_stack
            call(StackName=stack, TemplateBody=template)
        else:
            created = cfn.create_change_set(
                StackName=stack,
                ChangeSetName=f"e{next(_names)}",
                ChangeSetType=kind,
                TemplateBody=template,
            )
            cfn.execute_change_set(ChangeSetName=created["Id"])

    def physical() -> dict[str, str]:
        listed = cfn.describe_stack_resources(StackName=stack)["StackResources"]
        return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in listed}

    run("CREATE", QUEUES)
    ids = physical()
    assert_resource_events(
        last_operation(cfn, stack, "CREATE"),
        stack,
        "CREATE",
        {
            "Queue": ("CREATE", "AWS::SQS::Queue", ids["Queue"]),
            "Other": ("CREATE", "AWS::SQS::Queue", ids["Other"]),
            "Topic": ("CREATE", "AWS::SNS::Topic", ids["Topic"]),
            "Bucket": ("CREATE", "AWS::S3::Bucket", ids["Bucket"]),
        },
    )
    run("UPDATE", updated)
    now = physical()
    assert_resource_events(
        last_operation(cfn, stack, "UPDATE"),
        stack,
        "UPDATE",
        {
            "Queue": ("UPDATE", "AWS::SQS::Queue", ids["Queue"]),
            "Extra": ("CREATE", "AWS::SQS::Queue", now["Extra"]),
            "Bucket": ("DELETE", "AWS::S3::Bucket", ids["Bucket"]),
        },
    )


def test_describe_endpoint_summarises_its_data_capture(clients, base):
    """DescribeEndpoint's DataCaptureConfig is a DataCaptureConfigSummary (CaptureStatus,
    CurrentSamplingPercentage, ...), and an endpoint without capture has none."""
    cfn, sagemaker = clients
    plain = outputs(cfn, base)["EndpointName"]
    assert "DataCaptureConfig" not in sagemaker.describe_endpoint(EndpointName=plain)
    sagemaker.create_model(
        ModelName="capturing",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": A},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="capturing",
        ProductionVariants=[
            {
                "ModelName": "capturing",
                "VariantName": "AllTraffic",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        DataCaptureConfig={
            "EnableCapture": False,
            "InitialSamplingPercentage": 30,
            "DestinationS3Uri": "s3://corrections-artifacts/capture",
            "KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/k",
            "CaptureOptions": [{"CaptureMode": "Input"}],
        },
    )
    sagemaker.create_endpoint(EndpointName="capturing", EndpointConfigName="capturing")
    assert sagemaker.describe_endpoint(EndpointName="capturing")["DataCaptureConfig"] == {
        "EnableCapture": False,
        "CaptureStatus": "Stopped",
        "CurrentSamplingPercentage": 30,
        "DestinationS3Uri": "s3://corrections-artifacts/capture",
        "KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/k",
    }


NUMBER_CONDITION = """
Parameters:
  Percent: {Type: Number, MinValue: 0, MaxValue: 100}
Conditions:
  Off: !Equals [!Ref Percent, "0"]
Resources:
  Topic: {Type: AWS::SNS::Topic}
Outputs:
  Capture: {Value: !If [Off, "off", "on"]}
"""


@pytest.mark.parametrize(("percent", "capture"), [("0", "off"), ("7", "on")])
def test_a_number_parameter_is_compared_as_the_string_it_becomes(clients, percent, capture):
    cfn, _ = clients
    stack = f"number-{percent}"
    created = cfn.create_change_set(
        StackName=stack,
        ChangeSetName="c1",
        ChangeSetType="CREATE",
        TemplateBody=NUMBER_CONDITION,
        Parameters=[{"ParameterKey": "Percent", "ParameterValue": percent}],
    )
    cfn.execute_change_set(ChangeSetName=created["Id"])
    assert outputs(cfn, stack) == {"Capture": capture}


UPDATABLE_KEY = """
Parameters:
  Purpose: {Type: String}
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      Description: !Ref Purpose
      EnableKeyRotation: true
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {AWS: "arn:aws:iam::123456789012:root"}, Action: "kms:*",
             Resource: "*"}
      Tags: [{Key: purpose, Value: !Ref Purpose}]
Outputs:
  KeyArn: {Value: !GetAtt Key.Arn}
  KeyId: {Value: !Ref Key}
"""


def test_a_template_key_is_updated_in_place_and_keeps_its_arn(clients):
    cfn, _ = clients
    kms = boto3.client(
        "kms",
        endpoint_url=cfn.meta.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    for kind, purpose in (("CREATE", "first"), ("UPDATE", "second")):
        created = cfn.create_change_set(
            StackName="updatable-key",
            ChangeSetName=f"c-{purpose}",
            ChangeSetType=kind,
            TemplateBody=UPDATABLE_KEY,
            Parameters=[{"ParameterKey": "Purpose", "ParameterValue": purpose}],
        )
        cfn.execute_change_set(ChangeSetName=created["Id"])
        if kind == "CREATE":
            first = outputs(cfn, "updatable-key")
    stack = cfn.describe_stacks(StackName="updatable-key")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert outputs(cfn, "updatable-key") == first  # the same key, the same ARN
    metadata = kms.describe_key(KeyId=first["KeyArn"])["KeyMetadata"]
    assert metadata["Description"] == "second"
    tags = kms.list_resource_tags(KeyId=first["KeyId"])["Tags"]
    assert tags == [{"TagKey": "purpose", "TagValue": "second"}]
