"""Errors the AWS wrappers raise, so callers never see botocore's ClientError."""

import boto3
from botocore.exceptions import NoRegionError

from pipeline.errors import ConfigError, PipelineError


def new_client(service: str):
    """A boto3 client from the standard chain (AWS_ENDPOINT_URL*, AWS_DEFAULT_REGION, ...)."""
    try:
        return boto3.client(service)
    except NoRegionError:
        raise ConfigError(f"{service}: no AWS region configured; set AWS_DEFAULT_REGION "
                          "(for the embedded sandbox: `python -m pipeline sandbox up "
                          "--print-env`)") from None  # fmt: skip


class AwsError(PipelineError):
    """An AWS call failed; carries the service's error code."""

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.code = code


class NotFound(AwsError):
    """The named resource does not exist."""
