"""`pipeline bootstrap` against the sandbox, as a user runs it."""

from __future__ import annotations

import os

import boto3
import pytest

from tests.e2e.test_cli import pipeline


@pytest.fixture(scope="module")
def sandbox_env(shared_sandbox):
    return {**shared_sandbox.env, "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull}  # fmt: skip


def test_bootstrap_deploys_and_prints_the_outputs_then_is_a_no_op(sandbox_env):
    first = pipeline("bootstrap", "--account-role", "both", env=sandbox_env)
    assert first.returncode == 0, first.stderr
    outputs = dict(line.split("=", 1) for line in first.stdout.splitlines() if "=" in line)
    assert outputs["ArtifactBucketName"] == "diabetes-artifacts-123456789012-us-east-1"
    assert outputs["SageMakerExecutionRoleArn"].endswith(":role/diabetes-sagemaker-execution")
    assert outputs["ArtifactKeyArn"].startswith("arn:aws:kms:us-east-1:123456789012:key/")
    s3 = boto3.client("s3", endpoint_url=sandbox_env["AWS_ENDPOINT_URL"],
                      region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")  # fmt: skip
    encryption = s3.get_bucket_encryption(Bucket=outputs["ArtifactBucketName"])
    rule = encryption["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    again = pipeline("bootstrap", "--account-role", "both", env=sandbox_env)
    assert again.returncode == 0 and "no changes" in again.stdout


def test_an_environment_account_needs_the_build_accounts_outputs(sandbox_env):
    result = pipeline("bootstrap", "--account-role", "env", env=sandbox_env)
    assert result.returncode == 2
    assert "--artifact-bucket and --artifact-key" in result.stderr
