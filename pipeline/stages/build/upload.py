"""`pipeline upload`: put build/model.tar.gz and its manifest in the artifact bucket.

The key is the manifest's content-addressed key (models/<name>/<sha256>/model.tar.gz), with
manifest.json beside it. Before uploading, the file must match the manifest's sha256; after,
the object must match the checksum S3 computed itself (a multipart SHA-256 composite). An
object already at the key is either the same bytes (skipped) or refused: nothing here ever
replaces an artifact. The file is read one part at a time, so memory does not grow with it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.aws.kms import Kms
from pipeline.aws.s3 import S3, AlreadyExists, ObjectInfo
from pipeline.core import checksums, provenance
from pipeline.core.manifest import verify_file
from pipeline.errors import PipelineError
from pipeline.settings import Settings
from pipeline.shared import account
from pipeline.shared.config import read_json
from pipeline.shared.context import Context


class DifferentObject(PipelineError):
    """An object with other bytes is already at a content-addressed key."""


@dataclass(frozen=True)
class Scan:
    sha256: str
    size: int
    composite: str  # what S3 will report for our multipart upload of these bytes


@dataclass(frozen=True)
class UploadResult:
    uri: str
    manifest_uri: str
    uploaded: bool  # False: the same bytes were already there
    manifest_note: str
    provenance_note: str
    size: int
    seconds: float


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


def put(s3: S3, bucket: str, key: str, path: Path, local: Scan,
        sent: Callable[[int], None]) -> bool:
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


def run(ctx: Context, bucket: str | None = None,
        sent: Callable[[int], None] = lambda _: None) -> UploadResult:
    """Upload the build's artifact and manifest; `sent` is called with each chunk's size."""
    settings, progress = ctx.settings, ctx.ui.progress
    manifest = read_json(settings.manifest_file, "python -m pipeline package")
    if not settings.artifact_file.exists():
        raise PipelineError(f"{settings.artifact_file} not found; run `python -m pipeline "
                            "package` first")
    progress(f"checking {settings.artifact_file} against {settings.manifest_file}")
    local = scan(settings.artifact_file)
    verify_file(manifest, local.sha256, local.size, str(settings.manifest_file))
    bucket = bucket or account.output_for(ctx, "ArtifactBucketName")
    key = manifest["artifact"]["s3_key"]
    manifest_key = key.rsplit("/", 1)[0] + "/manifest.json"
    s3 = ctx.s3
    started = time.monotonic()
    uploaded = put(s3, bucket, key, settings.artifact_file, local, sent)
    seconds = time.monotonic() - started
    manifest_local = scan(settings.manifest_file)
    try:
        manifest_new = put(s3, bucket, manifest_key, settings.manifest_file, manifest_local,
                           lambda _: None)
        note = "uploaded" if manifest_new else "already there"
    except DifferentObject:
        # A rebuild of the same bytes at another commit writes a different manifest. The
        # first one describes this artifact equally well, and is what deploys already read.
        note = "kept the existing one (this build's differs, e.g. in its git commit)"
    signed = sign(settings, s3, bucket, key.rsplit("/", 1)[0], manifest)
    return UploadResult(f"s3://{bucket}/{key}", f"s3://{bucket}/{manifest_key}", uploaded,
                        note, signed, local.size, seconds)


def sign(settings: Settings, s3: S3, bucket: str, prefix: str, manifest: dict) -> str:
    """Sign the artifact's digest and the manifest in the bucket (the one deploys read),
    with the bootstrap's signing key, as provenance.json beside them. Signed already (the
    same statement): kept. Only the build role may sign (the key policy)."""
    key_arn = account.output(settings, "SigningKeyArn")
    manifest_bytes = s3.read(bucket, f"{prefix}/manifest.json")
    statement = provenance.statement(
        project=manifest.get("project", settings.project), model_name=manifest["model_name"],
        artifact_sha256=manifest["artifact"]["sha256"],
        manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
    )
    where = f"{prefix}/{provenance.FILE}"
    if s3.head(bucket, where) is not None:
        existing = json.loads(s3.read(bucket, where))
        if existing.get("statement") == statement and existing.get("key_arn") == key_arn:
            return f"already signed (s3://{bucket}/{where})"
        raise DifferentObject(f"s3://{bucket}/{where} already holds another signature "
                              f"({existing.get('key_arn')}); refusing to replace it")
    signature = Kms().sign(key_arn, provenance.message_digest(statement), provenance.ALGORITHM)
    body = json.dumps(provenance.document(statement, key_arn, signature), indent=2) + "\n"
    s3.put_new(bucket, where, body.encode(), "application/json")
    return f"signed with {key_arn} (s3://{bucket}/{where})"
