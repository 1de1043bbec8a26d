"""Typed wrapper over the SageMaker control-plane calls the pipeline makes."""

from __future__ import annotations

from dataclasses import dataclass

import boto3
from botocore.exceptions import ClientError

from pipeline.aws.errors import AwsError, NotFound


@dataclass(frozen=True)
class Endpoint:
    name: str
    status: str
    config_name: str
    variants: tuple[str, ...]
    failure_reason: str | None


class SageMaker:
    def __init__(self, client=None):
        self._client = client or boto3.client("sagemaker")

    def describe_endpoint(self, name: str) -> Endpoint:
        try:
            answer = self._client.describe_endpoint(EndpointName=name)
        except ClientError as exc:
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
