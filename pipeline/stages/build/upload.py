"""`pipeline upload`: put build/model.tar.gz and its manifest in the artifact bucket.

The key is the manifest's content-addressed key (models/<name>/<sha256>/model.tar.gz), with
manifest.json beside it. Before uploading, the file must match the manifest's sha256; after,
the object must match the checksum S3 computed itself (pipeline.shared.objects). An object
already at the key is either the same bytes (skipped) or refused: nothing here ever replaces
an artifact.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.aws.kms import Kms
from pipeline.aws.s3 import S3
from pipeline.core import provenance
from pipeline.core.manifest import verify_file
from pipeline.errors import PipelineError
from pipeline.settings import Settings
from pipeline.shared import account
from pipeline.shared.config import read_json
from pipeline.shared.context import Context
from pipeline.shared.objects import DifferentObject, put, scan


@dataclass(frozen=True)
class UploadResult:
    uri: str
    manifest_uri: str
    uploaded: bool  # False: the same bytes were already there
    manifest_note: str
    provenance_note: str
    size: int
    seconds: float


def run(
    ctx: Context, bucket: str | None = None, sent: Callable[[int], None] = lambda _: None
) -> UploadResult:
    """Upload the build's artifact and manifest; `sent` is called with each chunk's size."""
    settings, progress = ctx.settings, ctx.ui.progress
    manifest = read_json(settings.manifest_file, "python -m pipeline package")
    if not settings.artifact_file.exists():
        raise PipelineError(
            f"{settings.artifact_file} not found; run `python -m pipeline package` first"
        )
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
        manifest_new = put(
            s3, bucket, manifest_key, settings.manifest_file, manifest_local, lambda _: None
        )
        note = "uploaded" if manifest_new else "already there"
    except DifferentObject:
        # A rebuild of the same bytes at another commit writes a different manifest. The
        # first one describes this artifact equally well, and is what deploys already read.
        note = "kept the existing one (this build's differs, e.g. in its git commit)"
    _baseline(settings, s3, bucket, key.rsplit("/", 1)[0], manifest)
    signed = sign(settings, s3, bucket, key.rsplit("/", 1)[0], manifest)
    return UploadResult(
        f"s3://{bucket}/{key}",
        f"s3://{bucket}/{manifest_key}",
        uploaded,
        note,
        signed,
        local.size,
        seconds,
    )


def _baseline(settings: Settings, s3: S3, bucket: str, prefix: str, manifest: dict) -> None:
    """The monitoring baseline beside the artifact (statistics.json, constraints.json), each
    checked against the manifest's sha256 first. Already there with other bytes (another
    build of the same artifact): the first ones are kept, as for the manifest."""
    for name, expected in sorted((manifest.get("monitoring") or {}).items()):
        path = settings.build_dir / name
        local = scan(path) if path.exists() else None
        if local is None or local.sha256 != expected:
            raise PipelineError(
                f"{path} does not match {settings.manifest_file} (monitoring {name}); run "
                "`python -m pipeline package` again"
            )
        with contextlib.suppress(DifferentObject):
            put(s3, bucket, f"{prefix}/{name}", path, local, lambda _: None)


def sign(settings: Settings, s3: S3, bucket: str, prefix: str, manifest: dict) -> str:
    """Sign the artifact's digest and the manifest in the bucket (the one deploys read),
    with the bootstrap's signing key, as provenance.json beside them. Signed already (the
    same statement): kept. Only the build role may sign (the key policy)."""
    key_arn = account.output(settings, "SigningKeyArn")
    manifest_bytes = s3.read(bucket, f"{prefix}/manifest.json")
    statement = provenance.statement(
        project=manifest.get("project", settings.project),
        model_name=manifest["model_name"],
        artifact_sha256=manifest["artifact"]["sha256"],
        manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
    )
    where = f"{prefix}/{provenance.FILE}"
    if s3.head(bucket, where) is not None:
        existing = json.loads(s3.read(bucket, where))
        if existing.get("statement") == statement and existing.get("key_arn") == key_arn:
            return f"already signed (s3://{bucket}/{where})"
        raise DifferentObject(
            f"s3://{bucket}/{where} already holds another signature "
            f"({existing.get('key_arn')}); refusing to replace it"
        )
    signature = Kms().sign(key_arn, provenance.message_digest(statement), provenance.ALGORITHM)
    body = json.dumps(provenance.document(statement, key_arn, signature), indent=2) + "\n"
    s3.put_new(bucket, where, body.encode(), "application/json")
    return f"signed with {key_arn} (s3://{bucket}/{where})"
