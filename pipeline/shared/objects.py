"""Content-addressed objects in S3: upload a file under a key that names its content,
unless the same bytes are there already; refuse, never replace, different bytes.

Used by `pipeline upload` (the model artifact and its manifest) and `pipeline train --on
sagemaker` (the training job's source tarball and data channels). After the upload the
object must match the checksum S3 computed itself (a multipart SHA-256 composite). The file
is read one part at a time, so memory does not grow with it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.aws.s3 import S3, AlreadyExists, ObjectInfo
from pipeline.core import checksums
from pipeline.errors import PipelineError


class DifferentObject(PipelineError):
    """An object with other bytes is already at a content-addressed key."""


@dataclass(frozen=True)
class Scan:
    sha256: str
    size: int
    composite: str  # what S3 will report for our multipart upload of these bytes


def parts(path: Path, part_size: int = checksums.PART_SIZE) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(part_size):
            yield chunk


def scan(path: Path) -> Scan:
    whole, digests, size = hashlib.sha256(), [], 0
    for chunk in parts(path):
        whole.update(chunk)
        digests.append(hashlib.sha256(chunk).digest())
        size += len(chunk)
    if not digests:  # an empty file is still one (empty) part
        digests.append(hashlib.sha256(b"").digest())
    return Scan(whole.hexdigest(), size, checksums.composite_sha256(digests))


def same_bytes(found: ObjectInfo, local: Scan) -> bool:
    return found.size == local.size and found.checksum_sha256 == local.composite


def put(
    s3: S3, bucket: str, key: str, path: Path, local: Scan, sent: Callable[[int], None]
) -> bool:
    """Upload unless the same bytes are there; True if uploaded. Refuses different bytes."""
    where = f"s3://{bucket}/{key}"
    found = s3.head(bucket, key)
    if found is None:
        try:
            s3.upload_parts(bucket, key, parts(path), sent)
        except AlreadyExists:
            found = s3.head(bucket, key)  # another upload finished first
        else:
            after = s3.head(bucket, key)
            if after is None or not same_bytes(after, local):
                reported = after.checksum_sha256 if after else "no object"
                if after:
                    s3.delete_version(bucket, key, after.version_id)  # ours, and wrong
                raise PipelineError(
                    f"{where}: S3 reports {reported}, expected {local.composite} "
                    f"({local.size} bytes); the upload was removed. Retry the upload."
                )
            return True
    if found is not None and not same_bytes(found, local):
        raise DifferentObject(
            f"{where} already exists with different content (S3 checksum "
            f"{found.checksum_sha256}, {found.size} bytes; this file: {local.composite}, "
            f"{local.size} bytes). Refusing to overwrite it: content-addressed keys never "
            "change. Investigate the existing object before anything else."
        )
    return False
