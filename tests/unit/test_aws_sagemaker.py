"""pipeline.aws.sagemaker against botocore's Stubber: describing endpoints (NotFound for a
missing one) and invoking them (the model's error passed on with its code)."""

from __future__ import annotations

import pytest

from pipeline.aws.errors import AwsError, NotFound
from pipeline.aws.sagemaker import Endpoint, SageMaker, SageMakerRuntime
from tests.unit.aws_stubs import WHEN, body, stubbed

NAME = "diabetes-dev"
ARN = f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{NAME}"


def test_describe_endpoint_returns_status_config_and_variants():
    answer = {
        "EndpointName": NAME,
        "EndpointArn": ARN,
        "EndpointConfigName": f"{NAME}-c1",
        "EndpointStatus": "Failed",
        "FailureReason": "ping failed",
        "CreationTime": WHEN,
        "LastModifiedTime": WHEN,
        "ProductionVariants": [{"VariantName": "AllTraffic"}, {"VariantName": "B"}],
    }
    with stubbed("sagemaker") as (client, stub):
        stub.add_response("describe_endpoint", answer, {"EndpointName": NAME})
        endpoint = SageMaker(client).describe_endpoint(NAME)
    assert endpoint == Endpoint(NAME, "Failed", f"{NAME}-c1", ("AllTraffic", "B"), "ping failed")


def test_describe_endpoint_missing_is_not_found():
    with stubbed("sagemaker") as (client, stub):
        stub.add_client_error(
            "describe_endpoint", "ValidationException", f'Could not find endpoint "{ARN}".'
        )
        with pytest.raises(NotFound, match="Could not find endpoint") as raised:
            SageMaker(client).describe_endpoint(NAME)
    assert raised.value.code == "ValidationException"


def test_describe_endpoint_other_validation_error_is_an_aws_error():
    with stubbed("sagemaker") as (client, stub):
        stub.add_client_error("describe_endpoint", "ValidationException", "name too long")
        with pytest.raises(AwsError, match="name too long") as raised:
            SageMaker(client).describe_endpoint(NAME)
    assert not isinstance(raised.value, NotFound)


def test_invoke_returns_the_body():
    with stubbed("sagemaker-runtime") as (client, stub):
        stub.add_response(
            "invoke_endpoint",
            {"Body": body(b"[151.0]")},
            {
                "EndpointName": NAME,
                "Body": "1,2,3",
                "ContentType": "text/csv",
                "Accept": "application/json",
            },
        )
        assert SageMakerRuntime(client).invoke(NAME, "1,2,3", "text/csv") == b"[151.0]"


def test_invoke_model_error_names_the_endpoint_and_code():
    with stubbed("sagemaker-runtime") as (client, stub):
        stub.add_client_error(
            "invoke_endpoint", "ModelError", "Received client error (415) from primary", 424
        )
        with pytest.raises(AwsError) as raised:
            SageMakerRuntime(client).invoke(NAME, b"x", "text/plain")
    assert str(raised.value) == (
        f"InvokeEndpoint {NAME}: ModelError: Received client error (415) from primary"
    )
    assert raised.value.code == "ModelError"


JOB = "diabetes-linear-6b8071cc-20261207141101"
JOB_ARN = f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{JOB}"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"


def _job_answer(status: str, **extra) -> dict:
    return {
        "TrainingJobName": JOB,
        "TrainingJobArn": JOB_ARN,
        "TrainingJobStatus": status,
        "SecondaryStatus": extra.pop("secondary", status),
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "CreationTime": WHEN,
        "ModelArtifacts": {"S3ModelArtifacts": "s3://b/training/m/jobs/x/output/model.tar.gz"},
        **extra,
    }


def test_create_training_job_sends_the_request_and_returns_the_arn():
    request = {
        "TrainingJobName": JOB,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::123456789012:role/execution",
        "OutputDataConfig": {"S3OutputPath": "s3://b/training/m/jobs"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "Environment": {"OPENBLAS_NUM_THREADS": "1"},
    }
    with stubbed("sagemaker") as (client, stub):
        stub.add_response("create_training_job", {"TrainingJobArn": JOB_ARN}, request)
        assert SageMaker(client).create_training_job(request) == JOB_ARN


def test_describe_training_job_reads_status_transitions_failure_and_billable_time():
    answer = _job_answer(
        "Failed",
        FailureReason="AlgorithmError: ValueError: alpha out of range",
        BillableTimeInSeconds=7,
        SecondaryStatusTransitions=[
            {"Status": "Starting", "StartTime": WHEN, "StatusMessage": "Preparing"},
            {"Status": "Training", "StartTime": WHEN, "StatusMessage": "Training in progress"},
        ],
    )
    with stubbed("sagemaker") as (client, stub):
        stub.add_response("describe_training_job", answer, {"TrainingJobName": JOB})
        job = SageMaker(client).describe_training_job(JOB)
    assert (job.status, job.secondary, job.image, job.billable_seconds) == (
        "Failed",
        "Failed",
        IMAGE,
        7,
    )
    assert job.failure_reason == "AlgorithmError: ValueError: alpha out of range"
    assert [(t.status, t.message) for t in job.transitions] == [
        ("Starting", "Preparing"),
        ("Training", "Training in progress"),
    ]
    assert job.ended_status and job.model_artifacts.endswith("/output/model.tar.gz")


def test_a_job_in_progress_has_not_ended():
    with stubbed("sagemaker") as (client, stub):
        stub.add_response(
            "describe_training_job", _job_answer("Stopping"), {"TrainingJobName": JOB}
        )
        job = SageMaker(client).describe_training_job(JOB)
    assert not job.ended_status and job.billable_seconds is None


def test_stop_training_job_says_whether_the_job_was_still_running():
    with stubbed("sagemaker") as (client, stub):
        stub.add_response("stop_training_job", {}, {"TrainingJobName": JOB})
        stub.add_client_error(
            "stop_training_job",
            "ValidationException",
            "The request was rejected because the training job is in status Completed.",
        )
        stub.add_client_error("stop_training_job", "AccessDeniedException", "not allowed")
        sagemaker = SageMaker(client)
        assert sagemaker.stop_training_job(JOB) is True
        assert sagemaker.stop_training_job(JOB) is False
        with pytest.raises(AwsError, match="not allowed"):
            sagemaker.stop_training_job(JOB)


GROUP = "diabetes-linear"
PACKAGE = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/"


def test_a_missing_model_package_group_is_told_apart_from_other_errors():
    with stubbed("sagemaker") as (client, stub):
        stub.add_client_error(
            "describe_model_package_group",
            "ValidationException",
            f"ModelPackageGroup arn:aws:sagemaker:us-east-1:1:model-package-group/{GROUP} "
            "does not exist.",
        )
        stub.add_client_error("describe_model_package_group", "AccessDeniedException", "no")
        sagemaker = SageMaker(client)
        assert sagemaker.model_package_group_exists(GROUP) is False
        with pytest.raises(AwsError, match="no"):
            sagemaker.model_package_group_exists(GROUP)


def test_model_package_arns_reads_every_page_oldest_first():
    base = {"ModelPackageGroupName": GROUP, "SortBy": "CreationTime", "SortOrder": "Ascending"}

    def summary(n):
        return {
            "ModelPackageArn": f"{PACKAGE}{n}",
            "ModelPackageName": GROUP,
            "CreationTime": WHEN,
            "ModelPackageStatus": "Completed",
        }

    with stubbed("sagemaker") as (client, stub):
        stub.add_response(
            "list_model_packages",
            {"ModelPackageSummaryList": [summary(1), summary(2)], "NextToken": "t"},
            {**base, "ModelApprovalStatus": "Approved"},
        )
        stub.add_response(
            "list_model_packages",
            {"ModelPackageSummaryList": [summary(3)]},
            {**base, "ModelApprovalStatus": "Approved", "NextToken": "t"},
        )
        arns = SageMaker(client).model_package_arns(GROUP, "Approved")
    assert arns == [f"{PACKAGE}1", f"{PACKAGE}2", f"{PACKAGE}3"]


def test_update_approval_sends_status_and_description_only():
    with stubbed("sagemaker") as (client, stub):
        stub.add_response(
            "update_model_package",
            {"ModelPackageArn": f"{PACKAGE}1"},
            {
                "ModelPackageArn": f"{PACKAGE}1",
                "ModelApprovalStatus": "Approved",
                "ApprovalDescription": "Approved by me: ok",
            },
        )
        SageMaker(client).update_approval(f"{PACKAGE}1", "Approved", "Approved by me: ok")


def test_a_group_without_a_resource_policy_reads_as_none_and_a_put_sends_the_document():
    policy = '{"Statement": []}'
    with stubbed("sagemaker") as (client, stub):
        stub.add_client_error(
            "get_model_package_group_policy",
            "ValidationException",
            f"Cannot find resource policy for {GROUP}",
            expected_params={"ModelPackageGroupName": GROUP},
        )
        stub.add_response(
            "get_model_package_group_policy",
            {"ResourcePolicy": policy},
            {"ModelPackageGroupName": GROUP},
        )
        stub.add_client_error("get_model_package_group_policy", "AccessDeniedException", "no")
        stub.add_response(
            "put_model_package_group_policy",
            {"ModelPackageGroupArn": f"arn:aws:sagemaker:us-east-1:1:model-package-group/{GROUP}"},
            {"ModelPackageGroupName": GROUP, "ResourcePolicy": policy},
        )
        sagemaker = SageMaker(client)
        assert sagemaker.model_package_group_policy(GROUP) is None
        assert sagemaker.model_package_group_policy(GROUP) == policy
        with pytest.raises(AwsError, match="no"):
            sagemaker.model_package_group_policy(GROUP)
        sagemaker.put_model_package_group_policy(GROUP, policy)
