"""Typed wrapper over the SageMaker control-plane calls the pipeline makes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from pipeline.aws.errors import AwsError, NotFound, configuration_problem, guarded, new_client


@dataclass(frozen=True)
class Endpoint:
    name: str
    status: str
    config_name: str
    variants: tuple[str, ...]
    failure_reason: str | None


@dataclass(frozen=True)
class Transition:
    """One of DescribeTrainingJob's SecondaryStatusTransitions."""

    status: str
    message: str
    start: datetime | None


@dataclass(frozen=True)
class TrainingJob:
    name: str
    arn: str
    status: str  # InProgress | Completed | Failed | Stopping | Stopped
    secondary: str
    transitions: tuple[Transition, ...]
    image: str
    failure_reason: str | None
    model_artifacts: str | None
    billable_seconds: int | None
    created: datetime | None
    started: datetime | None
    ended: datetime | None

    @property
    def ended_status(self) -> bool:
        return self.status in ("Completed", "Failed", "Stopped")


@guarded("sagemaker")
class SageMaker:
    def __init__(self, client: BaseClient | None = None) -> None:
        self._client = client or new_client("sagemaker")

    def describe_endpoint(self, name: str) -> Endpoint:
        try:
            answer = self._client.describe_endpoint(EndpointName=name)
        except ClientError as exc:
            if problem := configuration_problem(exc, "sagemaker"):
                raise problem from None
            error = exc.response.get("Error", {})
            message = error.get("Message", str(exc))
            kind = NotFound if "Could not find endpoint" in message else AwsError
            raise kind(message, error.get("Code", "")) from None
        return Endpoint(
            name=answer["EndpointName"],
            status=answer["EndpointStatus"],
            config_name=answer["EndpointConfigName"],
            variants=tuple(v["VariantName"] for v in answer.get("ProductionVariants", [])),
            failure_reason=answer.get("FailureReason"),
        )

    # -- training jobs -------------------------------------------------------------------
    def create_training_job(self, request: dict[str, Any]) -> str:
        """CreateTrainingJob with a complete request (pipeline.core.training.create_request);
        the job's ARN."""
        answer = self._client.create_training_job(**request)
        return str(answer["TrainingJobArn"])

    def describe_training_job(self, name: str) -> TrainingJob:
        answer = self._client.describe_training_job(TrainingJobName=name)
        return TrainingJob(
            name=answer["TrainingJobName"],
            arn=answer["TrainingJobArn"],
            status=answer["TrainingJobStatus"],
            secondary=answer.get("SecondaryStatus", ""),
            transitions=tuple(
                Transition(t["Status"], t.get("StatusMessage", ""), t.get("StartTime"))
                for t in answer.get("SecondaryStatusTransitions", [])
            ),
            image=answer.get("AlgorithmSpecification", {}).get("TrainingImage", ""),
            failure_reason=answer.get("FailureReason"),
            model_artifacts=(answer.get("ModelArtifacts") or {}).get("S3ModelArtifacts"),
            billable_seconds=answer.get("BillableTimeInSeconds"),
            created=answer.get("CreationTime"),
            started=answer.get("TrainingStartTime"),
            ended=answer.get("TrainingEndTime"),
        )

    # -- model registry ---------------------------------------------------------------
    def model_package_group_exists(self, name: str) -> bool:
        try:
            self._client.describe_model_package_group(ModelPackageGroupName=name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ValidationException":
                return False  # "ModelPackageGroup ... does not exist."
            raise
        return True

    def create_model_package_group(self, name: str, description: str, tags: dict[str, str]) -> str:
        answer = self._client.create_model_package_group(
            ModelPackageGroupName=name,
            ModelPackageGroupDescription=description,
            Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
        )
        return str(answer["ModelPackageGroupArn"])

    def create_model_package(self, request: dict[str, Any]) -> str:
        answer = self._client.create_model_package(**request)
        return str(answer["ModelPackageArn"])

    def model_package_arns(self, group: str, status: str | None = None) -> list[str]:
        """The group's versions (ARNs), oldest first, every page read."""
        arns: list[str] = []
        kwargs: dict[str, Any] = {
            "ModelPackageGroupName": group,
            "SortBy": "CreationTime",
            "SortOrder": "Ascending",
        }
        if status:
            kwargs["ModelApprovalStatus"] = status
        for page in self._client.get_paginator("list_model_packages").paginate(**kwargs):
            arns += [str(s["ModelPackageArn"]) for s in page.get("ModelPackageSummaryList", [])]
        return arns

    def describe_model_package(self, arn: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._client.describe_model_package(ModelPackageName=arn)
        return answer

    def update_approval(self, arn: str, status: str, description: str) -> None:
        self._client.update_model_package(
            ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=description
        )

    def model_package_group_policy(self, group: str) -> str | None:
        """The group's resource policy, or None when it has none (AWS answers
        ValidationException then)."""
        try:
            answer = self._client.get_model_package_group_policy(ModelPackageGroupName=group)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ValidationException":
                return None
            raise
        return str(answer["ResourcePolicy"])

    def put_model_package_group_policy(self, group: str, policy: str) -> None:
        self._client.put_model_package_group_policy(
            ModelPackageGroupName=group, ResourcePolicy=policy
        )

    def stop_training_job(self, name: str) -> bool:
        """Ask a job to stop; False when it is not InProgress any more (AWS answers
        ValidationException then)."""
        try:
            self._client.stop_training_job(TrainingJobName=name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ValidationException":
                return False
            raise
        return True


@guarded("sagemaker-runtime")
class SageMakerRuntime:
    """InvokeEndpoint through the standard client (AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME honoured)."""

    def __init__(self, client: BaseClient | None = None) -> None:
        self._client = client or new_client("sagemaker-runtime")

    def invoke(
        self, endpoint: str, body: str | bytes, content_type: str, accept: str = "application/json"
    ) -> bytes:
        try:
            answer = self._client.invoke_endpoint(
                EndpointName=endpoint, Body=body, ContentType=content_type, Accept=accept
            )
        except ClientError as exc:
            if problem := configuration_problem(exc, "sagemaker-runtime"):
                raise problem from None
            error = exc.response.get("Error", {})
            code = error.get("Code", "")
            message = f"InvokeEndpoint {endpoint}: {code}: {error.get('Message', exc)}"
            raise AwsError(message, code) from None
        answered: bytes = answer["Body"].read()
        return answered
