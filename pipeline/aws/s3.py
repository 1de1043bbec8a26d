"""Typed wrapper over the S3 calls the pipeline makes."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import boto3
from botocore.exceptions import ClientError

from pipeline.aws.errors import AwsError, NotFound

_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


def parse_uri(uri: str) -> tuple[str, str]:
    """('bucket', 'key') from 's3://bucket/key'; ValueError for anything else."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


class S3:
    def __init__(self, client=None):
        self._client = client or boto3.client("s3")

    def _call(self, what: str, fn, **kwargs):
        try:
            return fn(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            kind = NotFound if code in _MISSING else AwsError
            raise kind(f"{what}: {code or exc}", code) from None

    def download(self, bucket: str, key: str, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        self._call(f"s3://{bucket}/{key}", self._client.download_file,
                   Bucket=bucket, Key=key, Filename=str(dest))  # fmt: skip

    def read(self, bucket: str, key: str) -> bytes:
        answer = self._call(f"s3://{bucket}/{key}", self._client.get_object,
                            Bucket=bucket, Key=key)  # fmt: skip
        return answer["Body"].read()
