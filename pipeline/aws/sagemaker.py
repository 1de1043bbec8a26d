"""Typed wrapper over the SageMaker control-plane calls the pipeline makes."""

from __future__ import annotations

from dataclasses import dataclass

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
