"""Each CloudFormation correction (pipeline/local/cfn_corrections.py), shown against the
running sandbox with plain boto3: the statuses, reason texts and Outputs AWS documents."""

from __future__ import annotations

import itertools

import boto3
import pytest
from botocore.exceptions import ClientError

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


@pytest.fixture(scope="module")
def clients():
    with Sandbox() as sandbox:
        options = {
            "endpoint_url": sandbox.url, "region_name": sandbox.region,
            "aws_access_key_id": "testing", "aws_secret_access_key": "testing",
        }  # fmt: skip
        yield boto3.client("cloudformation", **options), boto3.client("sagemaker", **options)


def params(model_data: str) -> list[dict]:
    """Every template parameter given explicitly, as the deploy engine does."""
    values = {"ModelData": model_data, "ImageURI": IMAGE, "RoleARN": ROLE}
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def change_set(cfn, stack: str, kind: str, model_data: str) -> dict:
    created = cfn.create_change_set(
        StackName=stack, ChangeSetName=f"cs-{next(_names)}", ChangeSetType=kind,
        TemplateBody=TEMPLATE, Parameters=params(model_data),
    )  # fmt: skip
    return cfn.describe_change_set(ChangeSetName=created["Id"])


def outputs(cfn, stack: str) -> dict[str, str]:
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def deployed(cfn, stack: str, model_data: str) -> dict:
    described = change_set(cfn, stack, "CREATE", model_data)
    cfn.execute_change_set(ChangeSetName=described["ChangeSetId"])
    return described


def test_outputs_after_a_create_change_set(clients):
    cfn, _ = clients
    deployed(cfn, "outputs-create", "s3://bucket/models/a/model.tar.gz")
    stack = cfn.describe_stacks(StackName="outputs-create")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    got = outputs(cfn, "outputs-create")
    assert got["ModelData"] == "s3://bucket/models/a/model.tar.gz"
    assert got["EndpointName"].startswith("outputs-create-Endpoint-")


def test_parameter_only_update_lists_changes_with_replacement(clients):
    cfn, _ = clients
    deployed(cfn, "param-update", "s3://bucket/models/a/model.tar.gz")
    described = change_set(cfn, "param-update", "UPDATE", "s3://bucket/models/b/model.tar.gz")
    assert described["Status"] == "CREATE_COMPLETE"
    changes = {
        c["ResourceChange"]["LogicalResourceId"]: (
            c["ResourceChange"]["Action"], c["ResourceChange"]["Replacement"])
        for c in described["Changes"]
    }  # fmt: skip
    assert changes == {
        "Model": ("Modify", "True"),
        "EndpointConfig": ("Modify", "True"),
        "Endpoint": ("Modify", "False"),
    }


def test_outputs_after_an_update_change_set_and_the_endpoint_follows_the_new_model(clients):
    cfn, sagemaker = clients
    deployed(cfn, "replace-model", "s3://bucket/models/a/model.tar.gz")
    before = outputs(cfn, "replace-model")
    described = change_set(cfn, "replace-model", "UPDATE", "s3://bucket/models/b/model.tar.gz")
    cfn.execute_change_set(ChangeSetName=described["ChangeSetId"])
    after = outputs(cfn, "replace-model")
    assert cfn.describe_stacks(StackName="replace-model")["Stacks"][0]["StackStatus"] == (
        "UPDATE_COMPLETE"
    )
    assert after["ModelData"] == "s3://bucket/models/b/model.tar.gz"
    assert after["ModelName"] != before["ModelName"]  # replaced: a new name
    assert after["EndpointName"] == before["EndpointName"]  # updated in place
    endpoint = sagemaker.describe_endpoint(EndpointName=after["EndpointName"])
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert config["ProductionVariants"][0]["ModelName"] == after["ModelName"]
    model = sagemaker.describe_model(ModelName=after["ModelName"])
    assert model["PrimaryContainer"]["ModelDataUrl"] == "s3://bucket/models/b/model.tar.gz"


def test_a_no_op_change_set_is_created_and_failed_with_the_aws_reason(clients):
    cfn, _ = clients
    deployed(cfn, "no-op", "s3://bucket/models/a/model.tar.gz")
    described = change_set(cfn, "no-op", "UPDATE", "s3://bucket/models/a/model.tar.gz")
    assert described["Status"] == "FAILED"
    assert described["ExecutionStatus"] == "UNAVAILABLE"
    assert described["StatusReason"] == NO_CHANGES
    assert described["Changes"] == []


def test_update_stack_without_changes_is_still_refused_as_on_aws(clients):
    cfn, _ = clients
    deployed(cfn, "no-op-update-stack", "s3://bucket/models/a/model.tar.gz")
    with pytest.raises(ClientError, match="No updates are to be performed"):
        cfn.update_stack(
            StackName="no-op-update-stack", TemplateBody=TEMPLATE,
            Parameters=params("s3://bucket/models/a/model.tar.gz"),
        )  # fmt: skip
