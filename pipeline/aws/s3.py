"""Typed wrapper over the S3 calls the pipeline makes."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

from pipeline.aws.errors import (
    AwsError,
    NotFound,
    configuration_problem,
    guarded,
    new_client,
    translate,
)
from pipeline.errors import ConfigError

_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


def parse_uri(uri: str) -> tuple[str, str]:
    """('bucket', 'key') from 's3://bucket/key'; ValueError for anything else."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


@guarded("s3")
class S3:
    def __init__(self, client: BaseClient | None = None) -> None:
        self._client = client or new_client("s3")

    def _call(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        """fn's answer (a response dict; None from the transfer methods)."""
        try:
            return fn(**kwargs)
        except ClientError as exc:
            if problem := configuration_problem(exc, "s3"):
                raise problem from None
            code = exc.response.get("Error", {}).get("Code", "")
            kind = NotFound if code in _MISSING else AwsError
            if code in ("PreconditionFailed", "ConditionalRequestConflict"):
                kind = AlreadyExists
            raise kind(f"{what}: {code or exc}", code) from None

    def download(self, bucket: str, key: str, dest: Path, version_id: str | None = None) -> None:
        """The object (that exact version, when given) to a file."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        self._call(
            f"s3://{bucket}/{key}",
            self._client.download_file,
            Bucket=bucket,
            Key=key,
            Filename=str(dest),
            **({"ExtraArgs": {"VersionId": version_id}} if version_id else {}),
        )

    def versions(self, bucket: str, key: str) -> list[str]:
        """The version ids of exactly this key (newest first; "null" for an unversioned
        write), delete markers included."""
        found: list[str] = []
        paginator = self._client.get_paginator("list_object_versions")
        pages = self._call(
            f"s3://{bucket}/{key}", lambda: list(paginator.paginate(Bucket=bucket, Prefix=key))
        )
        for page in pages:
            for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
                if entry.get("Key") == key:
                    found.append(str(entry.get("VersionId")))
        return found

    def read(self, bucket: str, key: str) -> bytes:
        answer = self._call(f"s3://{bucket}/{key}", self._client.get_object, Bucket=bucket, Key=key)
        body: bytes = answer["Body"].read()
        return body

    def sha256(self, bucket: str, key: str, chunk: int = 8 * 1024 * 1024) -> str:
        """The object's SHA-256, read as a stream (memory stays flat)."""
        import hashlib

        answer = self._call(f"s3://{bucket}/{key}", self._client.get_object, Bucket=bucket, Key=key)
        digest = hashlib.sha256()
        for block in answer["Body"].iter_chunks(chunk):
            digest.update(block)
        return digest.hexdigest()

    def probe(self, uri: str, where: str) -> ObjectInfo:
        """The object at an s3:// URI, or ConfigError saying why it cannot be read (`where`
        names the setting that holds the URI)."""
        bucket, key = parse_uri(uri)
        try:
            info = self.head(bucket, key)
        except ConfigError as exc:  # credentials, region, endpoint or permissions
            raise ConfigError(f"{where}: {uri} cannot be read: {exc}") from None
        except AwsError as exc:
            raise ConfigError(
                f"{where}: {uri} cannot be read ({exc.code or exc}); check the "
                "URI and that your credentials may read it"
            ) from None
        if info is None:
            raise ConfigError(f"{where}: {uri} does not exist")
        return info

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        """Size, S3's own SHA-256 checksum and version of an object; None if there is none."""
        try:
            answer = self._call(
                f"s3://{bucket}/{key}",
                self._client.head_object,
                Bucket=bucket,
                Key=key,
                ChecksumMode="ENABLED",
            )
        except NotFound:
            return None
        return ObjectInfo(
            answer["ContentLength"],
            answer.get("ChecksumSHA256"),
            answer.get("VersionId"),
            answer.get("LastModified"),
        )

    def upload_parts(
        self,
        bucket: str,
        key: str,
        parts: Iterable[bytes],
        sent: Callable[[int], None] = lambda _: None,
    ) -> None:
        """Multipart upload, one part in memory at a time, never replacing an object.

        Each part carries a SHA-256 checksum that S3 verifies on receipt; completing with
        If-None-Match: * fails (AlreadyExists) if the key was written meanwhile. Any failure
        aborts the upload, so no parts are left behind.
        """
        where = f"s3://{bucket}/{key}"
        upload = self._call(
            where,
            self._client.create_multipart_upload,
            Bucket=bucket,
            Key=key,
            ChecksumAlgorithm="SHA256",
        )
        upload_id, done = upload["UploadId"], []
        try:
            for number, body in enumerate(parts, start=1):
                answer = self._call(
                    f"{where} part {number}",
                    self._client.upload_part,
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=body,
                    ChecksumAlgorithm="SHA256",
                )
                done.append(
                    {
                        "PartNumber": number,
                        "ETag": answer["ETag"],
                        "ChecksumSHA256": answer["ChecksumSHA256"],
                    }
                )
                sent(len(body))
            self._call(
                where,
                self._client.complete_multipart_upload,
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": done},
                IfNoneMatch="*",
            )
        except BaseException:
            # the original error is the one to report
            with contextlib.suppress(ClientError, BotoCoreError):
                self._client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            raise

    def delete_version(self, bucket: str, key: str, version_id: str | None) -> None:
        kwargs = {"VersionId": version_id} if version_id else {}
        self._call(
            f"s3://{bucket}/{key}", self._client.delete_object, Bucket=bucket, Key=key, **kwargs
        )

    def put_new(
        self,
        bucket: str,
        key: str,
        body: bytes,
        content_type: str,
        kms_key_id: str | None = None,
    ) -> None:
        """Write a small object that must not exist yet (AlreadyExists if it does); with
        `kms_key_id`, encrypted with that KMS key (SSE-KMS) instead of the bucket's default."""
        encryption = (
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id} if kms_key_id else {}
        )
        self._call(
            f"s3://{bucket}/{key}",
            self._client.put_object,
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType=content_type,
            IfNoneMatch="*",
            ChecksumAlgorithm="SHA256",
            **encryption,
        )

    def ensure_bucket(self, bucket: str, region: str) -> bool:
        """Create an unversioned, non-public bucket unless it exists; True if created."""
        try:
            self._client.head_bucket(Bucket=bucket)
            return False
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code", "") not in _MISSING:
                raise translate(exc, "s3") from None
        location = (
            {}
            if region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        self._call(f"s3://{bucket}", self._client.create_bucket, Bucket=bucket, **location)
        self._call(
            f"s3://{bucket}",
            self._client.put_public_access_block,
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                name: True
                for name in (
                    "BlockPublicAcls",
                    "IgnorePublicAcls",
                    "BlockPublicPolicy",
                    "RestrictPublicBuckets",
                )
            },
        )
        return True

    def keys(self, bucket: str, prefix: str) -> list[str]:
        found = []
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                found += [item["Key"] for item in page.get("Contents", [])]
        except ClientError as exc:
            if problem := configuration_problem(exc, "s3"):
                raise problem from None
            code = exc.response.get("Error", {}).get("Code", "")
            raise (NotFound if code in _MISSING else AwsError)(
                f"s3://{bucket}/{prefix}: {code or exc}", code
            ) from None
        return found


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    checksum_sha256: str | None  # as S3 reports it; "<base64>-<parts>" for multipart
    version_id: str | None
    modified: datetime | None = field(default=None, compare=False)  # LastModified


class AlreadyExists(AwsError):
    """A conditional write found an object at the key (another writer got there first)."""
