"""`pipeline smoke --env ENV`: the deployed endpoint answers the manifest's golden examples.

The endpoint and the artifact come from the environment's stack (outputs EndpointName and
ModelData); the golden examples from the manifest beside that artifact. Every example is
sent in CSV, as JSON rows and as JSON records through the SageMaker Runtime API, and each
answer must match within core.golden's tolerance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pipeline.aws.cloudformation import CloudFormation
from pipeline.aws.s3 import S3, parse_uri
from pipeline.aws.sagemaker import SageMakerRuntime
from pipeline.core import golden
from pipeline.errors import ConfigError, PipelineError
from pipeline.settings import Settings


class SmokeFailed(PipelineError):
    """The endpoint answered, but not with the expected predictions (or not at all)."""


@dataclass(frozen=True)
class SmokeResult:
    endpoint: str
    examples: int
    detail: str


def stack_name(settings: Settings, environment: str) -> str:
    return f"{settings.project}-{environment}"


def manifest_beside(s3: S3, model_data: str) -> dict:
    bucket, key = parse_uri(model_data)
    return json.loads(s3.read(bucket, key.rsplit("/", 1)[0] + "/manifest.json"))


def check(endpoint: str, manifest: dict, runtime: SageMakerRuntime | None = None) -> SmokeResult:
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
            raise SmokeFailed(f"{endpoint}: {name} predictions differ from the "
                              f"manifest's golden examples: {'; '.join(problems)}")  # fmt: skip
    return SmokeResult(endpoint, len(examples), f"{len(examples)} examples x "
                       f"{', '.join(bodies)} match (rel tol {golden.REL_TOLERANCE:g})")  # fmt: skip


def run(settings: Settings, environment: str) -> SmokeResult:
    name = stack_name(settings, environment)
    cfn = CloudFormation()
    outputs = cfn.outputs(name)
    if "EndpointName" not in outputs or "ModelData" not in outputs:
        raise ConfigError(f"stack {name} is not deployed (no EndpointName/ModelData outputs); "
                          f"run `python -m pipeline deploy --env {environment}`")  # fmt: skip
    return check(outputs["EndpointName"], manifest_beside(S3(), outputs["ModelData"]))
