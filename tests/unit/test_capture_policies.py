"""The rights behind endpoints' data capture (infra/endpoint.yaml DataCaptureConfig), request
by request: the SageMaker execution role writes the artifact bucket's capture/ prefix and
nothing else there, reads no capture, and uses the endpoint stack's key only through S3;
the build account's bucket policy admits exactly that role from the environment accounts.

Requests are evaluated by the small IAM evaluator of tests/unit/test_iam_policies.py
(`allowed`), on statements rendered with its placeholders (Namespace -> NS, the artifact
bucket -> BUCKET, AWS::Region -> REGION, ...)."""

from __future__ import annotations

import fnmatch

import pytest

from tests.unit.test_iam_policies import (
    INFRA,
    allowed,
    load,
    render,
    role_policies,
    statements,
)

BUCKETS = ("arn:aws:s3:::BUCKET", "arn:aws:s3:::NS-artifacts-ACCOUNT-REGION")  # env, both
CAPTURE = "capture/diabetes/prod/diabetes-prod/AllTraffic/2025/01/31/23/0f0e.jsonl"
ENV_ROLE = "arn:aws:iam::222222222222:role/NS-sagemaker-execution"
TLS = {"aws:SecureTransport": "true"}
VIA_S3 = {"kms:ViaService": "s3.REGION.amazonaws.com"}


@pytest.fixture(scope="module")
def execution_role() -> list[dict]:
    return role_policies(load(INFRA / "bootstrap.yaml"))["NS-sagemaker-execution"]


@pytest.fixture(scope="module")
def bucket_policy() -> list[dict]:
    resources = load(INFRA / "bootstrap.yaml")["Resources"]
    return statements(resources["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"])


@pytest.fixture(scope="module")
def endpoint_template() -> dict:
    return load(INFRA / "endpoint.yaml")


def test_the_execution_role_writes_captures_in_either_account_layout(execution_role):
    for bucket in BUCKETS:
        assert allowed(execution_role, "s3:PutObject", f"{bucket}/{CAPTURE}"), bucket


def test_the_execution_role_writes_nothing_else_and_reads_no_capture(execution_role):
    for bucket in BUCKETS:
        for key in (
            "models/diabetes/" + "a" * 64 + "/model.tar.gz",
            "releases/diabetes/prod/x.json",
            "training/diabetes-linear/jobs/j/output/model.tar.gz",
            "captures/diabetes/prod/x.jsonl",  # a neighbour of capture/, not under it
            "x/capture/diabetes/prod/x.jsonl",
        ):
            assert not allowed(execution_role, "s3:PutObject", f"{bucket}/{key}"), key
        for action in ("s3:GetObject", "s3:DeleteObject", "s3:PutObjectAcl"):
            assert not allowed(execution_role, action, f"{bucket}/{CAPTURE}"), action
    assert not allowed(execution_role, "s3:PutObject", f"arn:aws:s3:::OTHER/{CAPTURE}")


def test_the_bucket_admits_only_the_environment_execution_role_to_write_captures(bucket_policy):
    bucket = BUCKETS[0]
    assert allowed(
        bucket_policy,
        "s3:PutObject",
        f"{bucket}/{CAPTURE}",
        **TLS,
        **{"aws:PrincipalArn": ENV_ROLE},
    )
    for role in (
        "arn:aws:iam::222222222222:role/NS-sagemaker-training",
        "arn:aws:iam::222222222222:role/diabetes-github-deploy-prod",
        "arn:aws:iam::222222222222:role/other-sagemaker-execution",
    ):
        assert not allowed(
            bucket_policy,
            "s3:PutObject",
            f"{bucket}/{CAPTURE}",
            **TLS,
            **{"aws:PrincipalArn": role},
        ), role
    over_http = {"aws:SecureTransport": "false", "aws:PrincipalArn": ENV_ROLE}
    assert not allowed(bucket_policy, "s3:PutObject", f"{bucket}/{CAPTURE}", **over_http)
    as_role = {**TLS, "aws:PrincipalArn": ENV_ROLE}
    assert not allowed(bucket_policy, "s3:GetObject", f"{bucket}/{CAPTURE}", **as_role)
    assert not allowed(
        bucket_policy, "s3:PutObject", f"{bucket}/releases/diabetes/prod/x", **as_role
    )
    # Principals: the environment accounts (or this one), as for reading models/
    writes = [s for s in bucket_policy if s.get("Sid") == "EnvironmentExecutionRolesWriteCaptures"]
    reads = [s for s in bucket_policy if s.get("Sid") == "EnvironmentExecutionRolesReadModels"]
    assert [s["Principal"] for s in writes] == [s["Principal"] for s in reads]


def test_the_capture_destination_is_under_the_prefix_the_role_may_write(endpoint_template):
    config = endpoint_template["Resources"]["EndpointConfig"]["Properties"]["DataCaptureConfig"]
    condition, capture, absent = config["Fn::If"]
    assert condition == "CaptureData" and absent == {"Ref": "AWS::NoValue"}
    text, names = capture["DestinationS3Uri"]["Fn::Sub"]
    assert text == "s3://${Bucket}/capture/${ProjectName}/${EnvironmentName}"
    # the bucket is ModelData's (s3://<bucket>/models/...): the artifact bucket
    assert names["Bucket"] == {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "ModelData"}]}]}
    assert fnmatch.fnmatchcase(
        "capture/diabetes/prod/diabetes-prod/AllTraffic/2025/01/31/23/x.jsonl", "capture/*"
    )
    assert capture["KmsKeyId"] == {"Fn::GetAtt": ["VolumeKey", "Arn"]}
    assert {o["CaptureMode"] for o in capture["CaptureOptions"]} == {"Input", "Output"}


def test_the_endpoint_key_lets_the_execution_role_encrypt_captures_only_through_s3(
    endpoint_template,
):
    key = endpoint_template["Resources"]["VolumeKey"]
    policy = statements(key["Properties"]["KeyPolicy"])
    role = [s for s in policy if render(s["Principal"]["AWS"]) == ["REF_RoleARN"]]
    assert role, "no statement for the execution role (RoleARN)"
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        assert allowed(role, action, "*", **VIA_S3), action
        assert not allowed(role, action, "*"), action  # called directly, not through S3
        assert not allowed(
            role, action, "*", **{"kms:ViaService": "sagemaker.REGION.amazonaws.com"}
        )
    for action in ("kms:Encrypt", "kms:CreateGrant", "kms:ReEncryptFrom", "kms:PutKeyPolicy"):
        assert not allowed(role, action, "*", **VIA_S3), action


def test_the_bucket_admits_preview_roles_to_read_only_their_own_environments_captures(
    bucket_policy,
):
    """monitor.yml reads prod's captures as prod's preview role, possibly from another
    account: the bucket admits a *-github-preview-* role to its own project's and
    environment's capture/ prefix only, and nobody else to read captures."""
    bucket = BUCKETS[0]
    preview = {
        **TLS,
        "aws:PrincipalArn": "arn:aws:iam::222222222222:role/diabetes-github-preview-prod",
        "aws:PrincipalTag/project": "diabetes",
        "aws:PrincipalTag/environment": "prod",
    }
    assert allowed(bucket_policy, "s3:GetObject", f"{bucket}/{CAPTURE}", **preview)
    for other in (
        "capture/diabetes/staging/diabetes-staging/AllTraffic/2025/01/31/23/0f0e.jsonl",
        "capture/shop/prod/shop-prod/AllTraffic/2025/01/31/23/0f0e.jsonl",
    ):
        assert not allowed(bucket_policy, "s3:GetObject", f"{bucket}/{other}", **preview), other
    assert not allowed(bucket_policy, "s3:PutObject", f"{bucket}/{CAPTURE}", **preview)
    deploy = {
        **preview,
        "aws:PrincipalArn": preview["aws:PrincipalArn"].replace("preview", "deploy"),
    }
    assert not allowed(bucket_policy, "s3:GetObject", f"{bucket}/{CAPTURE}", **deploy)
    untagged = {k: v for k, v in preview.items() if k != "aws:PrincipalTag/environment"}
    assert not allowed(bucket_policy, "s3:GetObject", f"{bucket}/{CAPTURE}", **untagged)
