"""`pipeline bootstrap` against the sandbox, as a user runs it: one bootstrap per account,
named after the account-level namespace, shared by every project."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest

from tests.conftest import sandbox_environment
from tests.e2e.test_cli import pipeline

ROOT = Path(__file__).resolve().parents[2]

ACCOUNT = "123456789012"  # the sandbox's
STACK = "sagemaker-pipeline-bootstrap"


@pytest.fixture(scope="module")
def sandbox_env(shared_sandbox):
    return {
        **shared_sandbox.env,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def test_bootstrap_deploys_and_prints_the_outputs_then_is_a_no_op(sandbox_env):
    first = pipeline("bootstrap", "--account-role", "both", env=sandbox_env)
    assert first.returncode == 0, first.stderr
    outputs = dict(line.split("=", 1) for line in first.stdout.splitlines() if "=" in line)
    assert outputs["ArtifactBucketName"] == "sagemaker-pipeline-artifacts-123456789012-us-east-1"
    assert outputs["SageMakerExecutionRoleArn"].endswith(
        ":role/sagemaker-pipeline-sagemaker-execution"
    )
    assert outputs["ArtifactKeyArn"].startswith("arn:aws:kms:us-east-1:123456789012:key/")
    s3 = boto3.client(
        "s3",
        endpoint_url=sandbox_env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    encryption = s3.get_bucket_encryption(Bucket=outputs["ArtifactBucketName"])
    rule = encryption["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    again = pipeline("bootstrap", "--account-role", "both", env=sandbox_env)
    assert again.returncode == 0 and "no changes" in again.stdout


def test_an_environment_account_needs_the_build_accounts_outputs(sandbox_env):
    result = pipeline("bootstrap", "--account-role", "env", env=sandbox_env)
    assert result.returncode == 2
    assert "--artifact-bucket and --artifact-key" in result.stderr


def _client(service: str, env: dict[str, str]):
    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_two_projects_bootstrap_one_stack_and_the_second_executes_nothing():
    """Two projects (diabetes and the churn example) bootstrap the same account: one stack, the
    second run finds it as the first left it, even the options it did not repeat."""
    with sandbox_environment() as box:
        env = {**box.env, "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
        first = pipeline(
            "bootstrap",
            "--environment-accounts",
            ACCOUNT,
            "--config",
            str(ROOT / "pipeline.toml"),
            env=env,
        )
        assert first.returncode == 0, first.stderr
        assert f"{STACK}: create (AccountRole both)" in first.stdout
        cfn = _client("cloudformation", env)
        before = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
        events = cfn.describe_stack_events(StackName=STACK)["StackEvents"]

        second = pipeline(
            "bootstrap", "--config", str(ROOT / "examples" / "churn" / "pipeline.toml"), env=env
        )
        assert second.returncode == 0, second.stderr
        assert f"{STACK}: no changes" in second.stdout
        outputs = [line for line in first.stdout.splitlines() if "=" in line]
        assert [line for line in second.stdout.splitlines() if "=" in line] == outputs

        live = [
            s["StackName"]
            for s in cfn.list_stacks()["StackSummaries"]
            if s["StackStatus"] != "DELETE_COMPLETE"
        ]
        assert live == [STACK]  # no diabetes-bootstrap, no churn-bootstrap
        after = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
        assert after["StackStatus"] == before["StackStatus"] == "CREATE_COMPLETE"
        assert after.get("LastUpdatedTime") == before.get("LastUpdatedTime")
        assert cfn.describe_stack_events(StackName=STACK)["StackEvents"] == events
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in after["Parameters"]}
        assert parameters["EnvironmentAccountIds"] == ACCOUNT  # kept, not reset to ""
        assert parameters["Namespace"] == "sagemaker-pipeline"
        buckets = [b["Name"] for b in _client("s3", env).list_buckets()["Buckets"]]
        assert buckets == [f"sagemaker-pipeline-artifacts-{ACCOUNT}-us-east-1"]
