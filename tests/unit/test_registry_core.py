"""The Model Registry decided from data (pipeline.core.registry): the request a build
registers, a version read back, approvals recorded with who and why, references, and which
environment may take which version."""

from __future__ import annotations

import pytest

from pipeline.core import registry
from pipeline.errors import ConfigError

DIGEST = "96db26953af9d8ea7df672859045c8c23e64934045c883694353f6217d3074d0"


def manifest(task="regression", types=("number", "number"), job=None) -> dict:
    return {
        "model_name": "diabetes-linear",
        "artifact": {"sha256": DIGEST, "size": 10, "s3_key": f"models/m/{DIGEST}/model.tar.gz"},
        "git": {"commit": "a" * 40, "dirty": False},
        "signature": {
            "task": task,
            "inputs": [{"name": f"c{i}", "type": t} for i, t in enumerate(types)],
        },
        "signature_sha256": "b" * 64,
        "training_job": job,
    }


def test_a_build_registers_pending_with_its_artifact_metrics_and_provenance():
    request = registry.package_request(
        group="diabetes-linear",
        manifest=manifest(job={"arn": "arn:aws:sagemaker:us-east-1:1:training-job/j"}),
        image="img:1",
        model_data_url="s3://b/models/m/model.tar.gz",
        metrics_uri="s3://b/models/m/metrics.json",
        instance_types=["ml.m5.xlarge", "ml.m5.large", "ml.m5.large"],
    )
    assert request["ModelPackageGroupName"] == "diabetes-linear"
    assert request["ModelApprovalStatus"] == "PendingManualApproval"
    spec = request["InferenceSpecification"]
    assert spec["Containers"] == [
        {"Image": "img:1", "ModelDataUrl": "s3://b/models/m/model.tar.gz"}
    ]
    assert spec["SupportedRealtimeInferenceInstanceTypes"] == ["ml.m5.large", "ml.m5.xlarge"]
    assert spec["SupportedContentTypes"] == ["text/csv", "application/json", "application/x-npy"]
    assert request["ModelMetrics"] == {
        "ModelQuality": {
            "Statistics": {
                "ContentType": "application/json",
                "S3Uri": "s3://b/models/m/metrics.json",
            }
        }
    }
    assert request["CustomerMetadataProperties"] == {
        "digest": DIGEST,
        "git-commit": "a" * 40,
        "training-job": "arn:aws:sagemaker:us-east-1:1:training-job/j",
        "signature": "b" * 64,
    }


def test_content_types_follow_the_signature():
    requests, responses = registry.content_types(
        manifest("classification", ("number", "string"))["signature"]
    )
    assert requests == ["text/csv", "application/json"]  # .npy carries numbers only
    assert responses == ["application/json", "text/csv"]


def test_serverless_only_environments_name_no_instance_types():
    request = registry.package_request(
        group="g",
        manifest=manifest(),
        image="i",
        model_data_url="s3://b/k",
        metrics_uri="s3://b/m",
        instance_types=[],
    )
    assert "SupportedRealtimeInferenceInstanceTypes" not in request["InferenceSpecification"]


def test_a_version_is_read_back_from_describe_model_package():
    version = registry.version_from(
        {
            "ModelPackageGroupName": "g",
            "ModelPackageVersion": 3,
            "ModelPackageArn": "arn:aws:sagemaker:us-east-1:1:model-package/g/3",
            "ModelApprovalStatus": "Approved",
            "ApprovalDescription": "Approved by x: ok",
            "CustomerMetadataProperties": {"digest": DIGEST},
            "InferenceSpecification": {"Containers": [{"Image": "i", "ModelDataUrl": "s3://b/k"}]},
            "ModelMetrics": {"ModelQuality": {"Statistics": {"S3Uri": "s3://b/m.json"}}},
        }
    )
    assert (version.number, version.status, version.digest) == (3, "Approved", DIGEST)
    assert (version.model_data_url, version.metrics_uri) == ("s3://b/k", "s3://b/m.json")


def test_approval_records_who_and_why_within_the_limit():
    assert registry.decision("approve", "  metrics  fine\n", "ci run 7") == (
        "Approved",
        "Approved by ci run 7: metrics fine",
    )
    assert registry.decision("reject", "drift", "me")[0] == "Rejected"
    with pytest.raises(ConfigError, match="needs --reason"):
        registry.decision("approve", "   ", "me")
    with pytest.raises(ConfigError, match="1024 characters"):
        registry.decision("approve", "x" * 1020, "me")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("3", "version"),
        ("1234567", "version"),
        ("12345678", "digest"),  # 8 characters are a digest prefix, even all digits
        ("96db2695", "digest"),
        (DIGEST.upper(), "digest"),
    ],
)
def test_references_are_version_numbers_or_digest_prefixes(text, kind):
    assert registry.parse_reference(text)[0] == kind


@pytest.mark.parametrize("text", ["0", "v3", "96db", "xyzxyzxyz", "-1", DIGEST + "0"])
def test_anything_else_is_refused(text):
    with pytest.raises(ConfigError, match="neither a version number"):
        registry.parse_reference(text)


def v(number, status="PendingManualApproval", digest=DIGEST):
    return registry.Version("g", number, f"arn/{number}", status, digest, None, "")


def test_pick_finds_one_version_and_refuses_none_or_several():
    versions = [v(1, digest="ab" * 32), v(2, digest="abcd" + "0" * 60), v(3)]
    assert registry.pick(versions, "3", "g").number == 3
    assert registry.pick(versions, DIGEST[:10], "g").number == 3
    with pytest.raises(ConfigError, match="has no version '4'"):
        registry.pick(versions, "4", "g")
    twins = [v(1, digest="abcd1234" + "0" * 56), v(2, digest="abcd1234" + "1" * 56)]
    with pytest.raises(ConfigError, match="matches versions 1, 2"):
        registry.pick(twins, "abcd1234", "g")


def test_prod_takes_only_approved_and_no_environment_takes_rejected():
    assert registry.refusal("prod", v(1, "Approved"), protected=True) is None
    assert registry.refusal("dev", v(1), protected=False) is None
    pending = registry.refusal("prod", v(2), protected=True)
    assert "version 2 of g" in pending and "registry approve 2 --reason" in pending
    rejected = registry.refusal("staging", v(3, "Rejected"), protected=False)
    assert "Rejected" in rejected and "staging does not take rejected models" in rejected


def _customer_metadata_ok(text: str) -> bool:
    """CustomerMetadataKey/Value's pattern, ([\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]*), 1-256."""
    return 1 <= len(text) <= 256 and all(
        c.isalnum() or c.isspace() or c in "_.:/=+-@" for c in text
    )


@pytest.mark.parametrize("job", [None, {"arn": "arn:aws:sagemaker:us-east-1:1:training-job/m-1"}])
def test_metadata_keys_and_values_match_the_api_pattern(job):
    for key, value in registry.metadata(manifest(job=job)).items():
        assert _customer_metadata_ok(key) and _customer_metadata_ok(value), (key, value)


def test_the_registered_metrics_name_data_files_not_the_machines_paths():
    given = {
        "metrics": {
            "model": {"rmse": 1.0},
            "data": {"train": "/home/a/p/data/d.csv", "test": "/ci/x/data/d.csv", "n_train": 3},
        }
    }
    assert registry.quality(given) == {
        "model": {"rmse": 1.0},
        "data": {"train": "d.csv", "test": "d.csv", "n_train": 3},
    }


def test_the_registry_is_the_account_and_region_of_the_build_signing_key():
    where = registry.home(
        "arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    assert (where.partition, where.region, where.account) == (
        "aws-cn",
        "cn-north-1",
        "123456789012",
    )
    assert where.group_arn("iris") == (
        "arn:aws-cn:sagemaker:cn-north-1:123456789012:model-package-group/iris"
    )
    assert where.versions_arn("iris") == (
        "arn:aws-cn:sagemaker:cn-north-1:123456789012:model-package/iris/*"
    )
    for wrong in ("", "alias/build", "arn:aws:kms:us-east-1:1234:key/x", "arn:aws:s3:::bucket"):
        with pytest.raises(ValueError, match="is not a KMS key ARN"):
            registry.home(wrong)


BUILD = registry.Home("aws", "eu-west-1", "111111111111")


def test_no_group_policy_when_only_the_build_account_is_listed():
    assert registry.group_policy(BUILD, "iris", "shop", []) is None
    assert registry.group_policy(BUILD, "iris", "shop", ["", "111111111111"]) is None


def test_the_group_policy_admits_only_the_projects_roles_of_the_other_accounts():
    policy = registry.group_policy(BUILD, "iris", "shop", ["222222222222", "111111111111", ""])
    assert policy is not None
    read, decide = policy["Statement"]
    assert read["Principal"] == {"AWS": ["arn:aws:iam::222222222222:root"]}  # never the build's
    assert read["Resource"] == [
        "arn:aws:sagemaker:eu-west-1:111111111111:model-package-group/iris",
        "arn:aws:sagemaker:eu-west-1:111111111111:model-package/iris/*",
    ]
    assert "sagemaker:UpdateModelPackage" not in read["Action"]
    assert read["Condition"] == {
        "ArnLike": {"aws:PrincipalArn": ["arn:aws:iam::222222222222:role/shop-github-*"]},
        "StringEquals": {"aws:PrincipalTag/project": "shop"},
    }
    assert decide["Action"] == "sagemaker:UpdateModelPackage"
    assert decide["Resource"] == "arn:aws:sagemaker:eu-west-1:111111111111:model-package/iris/*"
    assert decide["Condition"]["ArnLike"] == {
        "aws:PrincipalArn": ["arn:aws:iam::222222222222:role/shop-github-deploy-prod"]
    }
    assert decide["Condition"]["StringEquals"] == {
        "aws:PrincipalTag/project": "shop",
        "aws:PrincipalTag/environment": "prod",
        "sagemaker:ModelApprovalStatus": ["Approved", "Rejected"],
    }
