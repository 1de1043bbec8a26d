"""`pipeline smoke --env ENV`: the deployed endpoint answers the manifest's golden examples.

The endpoint and the artifact come from the environment's stack (outputs EndpointName and
ModelData); the golden examples from the manifest beside that artifact. Every example is
sent in CSV, as JSON rows and as JSON records through the SageMaker Runtime API, and each
answer must match within core.golden's tolerance (pipeline.shared.smoking).
"""

from __future__ import annotations

from pipeline.errors import ConfigError
from pipeline.shared import account
from pipeline.shared.context import Context
from pipeline.shared.smoking import SmokeFailed, SmokeResult, check, manifest_beside

__all__ = ["SmokeFailed", "SmokeResult", "run"]


def run(ctx: Context, environment: str) -> SmokeResult:
    name = account.stack_name(ctx.settings, environment)
    outputs = ctx.cfn.outputs(name)
    if "EndpointName" not in outputs or "ModelData" not in outputs:
        raise ConfigError(
            f"stack {name} is not deployed (no EndpointName/ModelData outputs); "
            f"run `python -m pipeline deploy --env {environment}`"
        )
    return check(outputs["EndpointName"], manifest_beside(ctx.s3, outputs["ModelData"]))
