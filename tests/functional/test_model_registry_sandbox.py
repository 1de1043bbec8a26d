"""The SageMaker Model Registry in the sandbox, driven with plain boto3 as a user's script
would: model package groups and their versions behave as AWS documents them
(pipeline/local/moto_patches/sagemaker_registry.py corrects moto where it does not)."""

from __future__ import annotations

import itertools

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import sandbox_environment

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
SPEC = {
    "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://registry-test/models/model.tar.gz"}],
    "SupportedContentTypes": ["text/csv", "application/json"],
    "SupportedResponseMIMETypes": ["application/json"],
    "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large", "ml.t2.medium"],
}
METRICS = {
    "ModelQuality": {
        "Statistics": {
            "ContentType": "application/json",
            "S3Uri": "s3://registry-test/models/metrics.json",
        }
    }
}
COMPILED = {
    "Name": "neo",
    "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://registry-test/models/neo.tar.gz"}],
}
_names = itertools.count(1)


@pytest.fixture(scope="module")
def sagemaker():
    with sandbox_environment():
        yield boto3.client("sagemaker")


def new_group(sagemaker, prefix: str = "registry", **extra) -> str:
    name = f"{prefix}-{next(_names)}"
    sagemaker.create_model_package_group(ModelPackageGroupName=name, **extra)
    return name


def register(sagemaker, group: str, **extra) -> str:
    return sagemaker.create_model_package(
        ModelPackageGroupName=group, InferenceSpecification=SPEC, **extra
    )["ModelPackageArn"]


def version(sagemaker, name: str) -> int:
    return sagemaker.describe_model_package(ModelPackageName=name)["ModelPackageVersion"]


def listed(sagemaker, **filters) -> list[int]:
    summaries = sagemaker.list_model_packages(**filters)["ModelPackageSummaryList"]
    return [s["ModelPackageVersion"] for s in summaries]


def error(raised: pytest.ExceptionInfo) -> tuple[str, str]:
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


# -- groups ----------------------------------------------------------------------------------


def test_a_group_name_in_use_is_refused_and_the_group_is_kept(sagemaker):
    tags = [{"Key": "project", "Value": "iris"}, {"Key": "team", "Value": "ml"}]
    group = new_group(sagemaker, ModelPackageGroupDescription="first", Tags=tags)
    arn = sagemaker.describe_model_package_group(ModelPackageGroupName=group)[
        "ModelPackageGroupArn"
    ]
    with pytest.raises(ClientError) as raised:
        sagemaker.create_model_package_group(
            ModelPackageGroupName=group, ModelPackageGroupDescription="second"
        )
    assert error(raised) == ("ValidationException", f"Model Package Group already exists: {arn}")
    described = sagemaker.describe_model_package_group(ModelPackageGroupName=group)
    assert described["ModelPackageGroupDescription"] == "first"
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == tags


def test_a_group_is_named_by_its_name_or_its_arn(sagemaker):
    group = new_group(sagemaker)
    arn = sagemaker.describe_model_package_group(ModelPackageGroupName=group)[
        "ModelPackageGroupArn"
    ]
    assert arn.endswith(f":model-package-group/{group}")
    by_arn = sagemaker.describe_model_package_group(ModelPackageGroupName=arn)
    assert (by_arn["ModelPackageGroupName"], by_arn["ModelPackageGroupStatus"]) == (
        group,
        "Completed",
    )
    package = register(sagemaker, arn)
    described = sagemaker.describe_model_package(ModelPackageName=package)
    assert (described["ModelPackageGroupName"], described["ModelPackageVersion"]) == (group, 1)
    assert listed(sagemaker, ModelPackageGroupName=arn) == [1]


def test_a_group_is_deleted_only_once_it_has_no_versions(sagemaker):
    group = new_group(sagemaker)
    first, second = register(sagemaker, group), register(sagemaker, group)
    with pytest.raises(sagemaker.exceptions.ConflictException):
        sagemaker.delete_model_package_group(ModelPackageGroupName=group)
    sagemaker.delete_model_package(ModelPackageName=first)
    with pytest.raises(sagemaker.exceptions.ConflictException):
        sagemaker.delete_model_package_group(ModelPackageGroupName=group)
    assert listed(sagemaker, ModelPackageGroupName=group) == [2]
    sagemaker.delete_model_package(ModelPackageName=second)
    sagemaker.delete_model_package_group(ModelPackageGroupName=group)
    groups = sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert group not in [g["ModelPackageGroupName"] for g in groups]
    with pytest.raises(ClientError) as raised:
        sagemaker.describe_model_package_group(ModelPackageGroupName=group)
    assert error(raised)[0] == "ValidationException"
    with pytest.raises(ClientError) as raised:
        sagemaker.delete_model_package_group(ModelPackageGroupName=group)
    assert error(raised)[0] == "ValidationException"


def test_a_group_holds_one_resource_policy_named_by_name_or_arn(sagemaker):
    group = new_group(sagemaker)
    arn = sagemaker.describe_model_package_group(ModelPackageGroupName=group)[
        "ModelPackageGroupArn"
    ]
    with pytest.raises(ClientError) as raised:  # none yet
        sagemaker.get_model_package_group_policy(ModelPackageGroupName=group)
    assert error(raised) == ("ValidationException", f"Cannot find resource policy for {arn}")
    first = '{"Version": "2012-10-17", "Statement": [{"Sid": "first"}]}'
    second = '{"Version":"2012-10-17","Statement":[{"Sid":"second"}]}'
    answer = sagemaker.put_model_package_group_policy(
        ModelPackageGroupName=group, ResourcePolicy=first
    )
    assert answer["ModelPackageGroupArn"] == arn
    sagemaker.put_model_package_group_policy(ModelPackageGroupName=arn, ResourcePolicy=second)
    kept = sagemaker.get_model_package_group_policy(ModelPackageGroupName=group)
    assert kept["ResourcePolicy"] == second  # replaced, and kept as the string it was given
    with pytest.raises(ClientError) as raised:
        sagemaker.put_model_package_group_policy(
            ModelPackageGroupName=group, ResourcePolicy="not json"
        )
    assert error(raised)[0] == "ValidationException"
    sagemaker.delete_model_package_group_policy(ModelPackageGroupName=group)
    with pytest.raises(ClientError) as raised:
        sagemaker.get_model_package_group_policy(ModelPackageGroupName=arn)
    assert error(raised)[0] == "ValidationException"
    with pytest.raises(ClientError) as raised:  # a group that does not exist
        sagemaker.get_model_package_group_policy(ModelPackageGroupName="no-such-group")
    assert error(raised) == (
        "ValidationException",
        "Cannot find Model Package Group no-such-group",
    )
    # deleting the group deletes its policy: a group made again under the name has none
    sagemaker.put_model_package_group_policy(ModelPackageGroupName=group, ResourcePolicy=first)
    sagemaker.delete_model_package_group(ModelPackageGroupName=group)
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    with pytest.raises(ClientError):
        sagemaker.get_model_package_group_policy(ModelPackageGroupName=group)


# -- versions --------------------------------------------------------------------------------


def test_versions_count_from_1_and_a_deleted_number_never_comes_back(sagemaker):
    group = new_group(sagemaker)
    arns = [register(sagemaker, group) for _ in range(3)]
    assert [version(sagemaker, arn) for arn in arns] == [1, 2, 3]
    assert [arn.rsplit("/", 2)[-2:] for arn in arns] == [[group, "1"], [group, "2"], [group, "3"]]
    sagemaker.delete_model_package(ModelPackageName=arns[2])
    sagemaker.delete_model_package(ModelPackageName=f"{group}/1")
    assert version(sagemaker, register(sagemaker, group)) == 4
    assert listed(sagemaker, ModelPackageGroupName=group) == [2, 4]
    with pytest.raises(ClientError) as raised:
        sagemaker.describe_model_package(ModelPackageName=arns[2])
    assert error(raised)[0] == "ValidationException"
    other = new_group(sagemaker)
    assert version(sagemaker, register(sagemaker, other)) == 1  # numbers are per group


def test_a_version_is_named_by_its_arn_or_group_slash_version_not_by_its_group(sagemaker):
    group = new_group(sagemaker)
    first, second = register(sagemaker, group), register(sagemaker, group)
    assert sagemaker.describe_model_package(ModelPackageName=first)["ModelPackageArn"] == first
    assert sagemaker.describe_model_package(ModelPackageName=f"{group}/2")["ModelPackageArn"] == (
        second
    )
    for name in (group, f"{group}/3"):
        with pytest.raises(ClientError) as raised:
            sagemaker.describe_model_package(ModelPackageName=name)
        assert error(raised)[0] == "ValidationException"
    with pytest.raises(ClientError) as raised:
        sagemaker.delete_model_package(ModelPackageName=f"{group}/3")
    assert error(raised)[0] == "ValidationException"


def test_the_registered_fields_round_trip(sagemaker):
    group = new_group(sagemaker, ModelPackageGroupDescription="iris classifiers")
    arn = register(
        sagemaker,
        group,
        ModelPackageDescription="trained on 150 rows",
        ModelApprovalStatus="PendingManualApproval",
        ModelMetrics=METRICS,
        CustomerMetadataProperties={"commit": "0123abc", "accuracy": "0.97"},
    )
    sagemaker.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="gate passed"
    )
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["ModelPackageGroupName"] == group
    assert described["ModelPackageDescription"] == "trained on 150 rows"
    assert described["InferenceSpecification"] == SPEC
    assert described["ModelMetrics"] == METRICS
    assert described["CustomerMetadataProperties"] == {"commit": "0123abc", "accuracy": "0.97"}
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalDescription"] == "gate passed"
    assert described["ModelPackageStatus"] == "Completed"
    assert described["LastModifiedTime"] >= described["CreationTime"]
    summary = sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"][
        0
    ]
    assert {k: summary[k] for k in ("ModelPackageArn", "ModelApprovalStatus")} == {
        "ModelPackageArn": arn,
        "ModelApprovalStatus": "Approved",
    }


# -- updates ---------------------------------------------------------------------------------


def test_an_update_changes_only_what_it_gives(sagemaker):
    group = new_group(sagemaker)
    arn = register(
        sagemaker,
        group,
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties={"commit": "0123abc", "stage": "candidate"},
        AdditionalInferenceSpecifications=[COMPILED],
    )
    sagemaker.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="gate passed"
    )
    sagemaker.update_model_package(
        ModelPackageArn=arn,
        CustomerMetadataProperties={"stage": "production", "endpoint": "iris"},
        CustomerMetadataPropertiesToRemove=["commit"],
    )
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalDescription"] == "gate passed"
    assert described["CustomerMetadataProperties"] == {"stage": "production", "endpoint": "iris"}
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["ApprovalDescription"] == "gate passed"
    assert described["CustomerMetadataProperties"] == {"stage": "production", "endpoint": "iris"}
    assert described["AdditionalInferenceSpecifications"] == [COMPILED]
    more = {**COMPILED, "Name": "graviton"}
    sagemaker.update_model_package(
        ModelPackageArn=arn, AdditionalInferenceSpecificationsToAdd=[more]
    )
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["AdditionalInferenceSpecifications"] == [COMPILED, more]
    bare = register(sagemaker, group)  # no properties: removing one is no error
    sagemaker.update_model_package(ModelPackageArn=bare, CustomerMetadataPropertiesToRemove=["x"])


def test_approval_status_moves_only_as_aws_lists(sagemaker):
    group = new_group(sagemaker)
    arn = register(sagemaker, group, ModelApprovalStatus="PendingManualApproval")

    def update(status: str) -> str:
        sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)
        return sagemaker.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]

    assert [update(s) for s in ("Approved", "Rejected", "Approved", "Approved")] == [
        "Approved",
        "Rejected",
        "Approved",
        "Approved",
    ]
    for current in ("Approved", "Rejected"):
        update(current)
        with pytest.raises(ClientError) as raised:
            update("PendingManualApproval")
        assert error(raised)[0] == "ValidationException"
        assert sagemaker.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == (
            current
        )
    pending = register(sagemaker, group, ModelApprovalStatus="PendingManualApproval")
    sagemaker.update_model_package(ModelPackageArn=pending, ModelApprovalStatus="Rejected")
    with pytest.raises(ClientError) as raised:  # the whole request is refused
        sagemaker.update_model_package(
            ModelPackageArn=pending,
            ModelApprovalStatus="PendingManualApproval",
            ApprovalDescription="back to review",
        )
    assert "ApprovalDescription" not in sagemaker.describe_model_package(ModelPackageName=pending)


# -- listing ---------------------------------------------------------------------------------


def test_list_model_packages_filters_sorts_and_pages(sagemaker):
    group = new_group(sagemaker)
    statuses = ["Approved", "Rejected", "Approved", "PendingManualApproval"]
    for status in statuses:
        register(sagemaker, group, ModelApprovalStatus=status)
    assert listed(sagemaker, ModelPackageGroupName=group) == [1, 2, 3, 4]
    assert listed(sagemaker, ModelPackageGroupName=group, SortOrder="Descending") == [4, 3, 2, 1]
    assert listed(sagemaker, ModelPackageGroupName=group, ModelApprovalStatus="Approved") == [1, 3]
    assert listed(
        sagemaker,
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
    ) == [3, 1]
    latest_approved = sagemaker.list_model_packages(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )
    assert [s["ModelPackageVersion"] for s in latest_approved["ModelPackageSummaryList"]] == [3]
    assert "NextToken" in latest_approved

    pages, token = [], None
    while True:
        page = sagemaker.list_model_packages(
            ModelPackageGroupName=group,
            SortOrder="Descending",
            MaxResults=3,
            **({"NextToken": token} if token else {}),
        )
        pages.append([s["ModelPackageVersion"] for s in page["ModelPackageSummaryList"]])
        token = page.get("NextToken")
        if not token:
            break
    assert pages == [[4, 3, 2], [1]]
    paginator = sagemaker.get_paginator("list_model_packages")
    paged = paginator.paginate(ModelPackageGroupName=group, PaginationConfig={"PageSize": 1})
    assert [s["ModelPackageVersion"] for p in paged for s in p["ModelPackageSummaryList"]] == [
        1,
        2,
        3,
        4,
    ]

    zulu = new_group(sagemaker, prefix="sorted-zulu")  # created first, named last
    alpha = new_group(sagemaker, prefix="sorted-alpha")
    register(sagemaker, zulu)
    register(sagemaker, alpha)

    def groups_listed(sort_by: str) -> list[str]:
        summaries = sagemaker.list_model_packages(
            ModelPackageType="Versioned", NameContains="sorted-", SortBy=sort_by
        )["ModelPackageSummaryList"]
        return [s["ModelPackageGroupName"] for s in summaries]

    assert groups_listed("Name") == [alpha, zulu]
    assert groups_listed("CreationTime") == [zulu, alpha]
