"""The smoke check: an endpoint answers a manifest's golden examples, in every request form.

Used by `pipeline smoke` and by every deploy before it records a release. Must not import any
stage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pipeline.aws.s3 import S3, parse_uri
from pipeline.aws.sagemaker import SageMakerRuntime
from pipeline.core import golden
from pipeline.errors import PipelineError


class SmokeFailed(PipelineError):
    """The endpoint answered, but not with the expected predictions (or not at all)."""


@dataclass(frozen=True)
class SmokeResult:
    endpoint: str
    examples: int
    detail: str


def manifest_beside(s3: S3, model_data: str) -> dict[str, Any]:
    bucket, key = parse_uri(model_data)
    manifest: dict[str, Any] = json.loads(s3.read(bucket, key.rsplit("/", 1)[0] + "/manifest.json"))
    return manifest


def check(
    endpoint: str, manifest: dict[str, Any], runtime: SageMakerRuntime | None = None
) -> SmokeResult:
    runtime = runtime or SageMakerRuntime()
    examples = manifest["golden_examples"]
    bodies = golden.request_bodies(examples, manifest.get("signature"))
    for name, (content_type, body) in bodies.items():
        try:
            answer = json.loads(runtime.invoke(endpoint, body, content_type))
        except (PipelineError, ValueError) as exc:
            raise SmokeFailed(f"{endpoint}: {name} golden request failed: {exc}") from None
        problems = golden.mismatches(examples, answer)
        if problems:
            raise SmokeFailed(
                f"{endpoint}: {name} predictions differ from the "
                f"manifest's golden examples: {'; '.join(problems)}"
            )
    return SmokeResult(
        endpoint,
        len(examples),
        f"{len(examples)} examples x {', '.join(bodies)} match (rel tol {golden.REL_TOLERANCE:g})",
    )
