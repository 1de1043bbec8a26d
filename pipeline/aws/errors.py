"""Errors the AWS wrappers raise, so callers never see botocore's ClientError."""

from pipeline.errors import PipelineError


class AwsError(PipelineError):
    """An AWS call failed; carries the service's error code."""

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.code = code


class NotFound(AwsError):
    """The named resource does not exist."""
