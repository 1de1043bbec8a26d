"""The artifact manifest: content address, S3 key, and the checks that tie it to its file.

Pure and stdlib-only.
"""

from __future__ import annotations

import re
from typing import Any

from pipeline.errors import ConfigError, PipelineError

MANIFEST_VERSION = 2  # 2: project, signature, task metrics
_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def validate_model_name(name: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(
            f"model name {name!r} is not usable in an S3 key or SageMaker name: use 1-63 "
            "lower-case letters, digits and hyphens ([model] name in pipeline.toml)"
        )
    return name


def s3_key(model_name: str, sha256: str) -> str:
    """Content-addressed key: the same bytes always land at the same key, never another's."""
    if not _SHA256.match(sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return f"models/{validate_model_name(model_name)}/{sha256}/model.tar.gz"


def build(
    *,
    project: str,
    model_name: str,
    sha256: str,
    size: int,
    serving_image: dict[str, Any],
    training_env: dict[str, str],
    reproducibility: dict[str, Any],
    metrics: dict[str, Any],
    signature: dict[str, Any],
    signature_sha256: str,
    git: dict[str, Any],
    golden_examples: list[dict[str, Any]],
    training_job: dict[str, Any] | None = None,
    monitoring: dict[str, str] | None = None,
) -> dict[str, Any]:
    """`training_job`: the SageMaker training job that fitted the model (name, ARN, image,
    instances, billable seconds), None when it was trained by `pipeline train` itself.
    `monitoring`: the sha256 of each baseline file uploaded beside the artifact
    (statistics.json, constraints.json), so the signed manifest covers them."""
    return {
        "manifest_version": MANIFEST_VERSION,
        "project": project,
        "model_name": model_name,
        "signature": signature,
        "signature_sha256": signature_sha256,
        "artifact": {"sha256": sha256, "size": size, "s3_key": s3_key(model_name, sha256)},
        "serving_image": serving_image,
        "training_env": training_env,
        "reproducibility": reproducibility,
        "metrics": metrics,
        "git": git,
        "golden_examples": golden_examples,
        "training_job": training_job,
        "monitoring": monitoring or {},
    }


def verify_file(manifest: dict[str, Any], sha256: str, size: int, source: str) -> None:
    """Raise unless the manifest describes a file with this digest and size."""
    artifact = manifest.get("artifact", {})
    if artifact.get("sha256") != sha256 or artifact.get("size") != size:
        raise PipelineError(
            f"{source} does not describe the artifact beside it: manifest says sha256 "
            f"{artifact.get('sha256')} ({artifact.get('size')} bytes), file has {sha256} "
            f"({size} bytes). Run `python -m pipeline package` again."
        )
    expected_key = s3_key(manifest["model_name"], sha256)
    if artifact.get("s3_key") != expected_key:
        raise PipelineError(
            f"{source}: s3_key {artifact.get('s3_key')!r} should be {expected_key!r}"
        )
