"""`pipeline rollback --env ENV`: back to the previous passing release.

"Previous" is the newest release whose digest is not the one the stack serves now (after a
failed smoke the stack serves an unreleased digest, and the newest release is the one to go
back to). It is deployed with its recorded parameters through the shared deploy plan
(pipeline.shared.deploying), smoked, and recorded as a release of kind rollback.
"""

from __future__ import annotations

from pipeline.core import environments
from pipeline.errors import ConfigError
from pipeline.shared import account, deploying, records
from pipeline.shared.context import Context
from pipeline.shared.deploying import DeployResult


def run(
    ctx: Context, environment: str, *, dry_run: bool = False, wait: bool = False
) -> DeployResult:
    settings = ctx.settings
    environments.check_rollback(environment, ctx.ui.can_confirm, dry_run=dry_run)
    deploying.environment_file(settings, environment)
    stack = ctx.cfn.stack(account.stack_name(settings, environment))
    serving = {
        p["ParameterKey"]: p["ParameterValue"] for p in (stack or {}).get("Parameters", [])
    }.get("ModelDigest")
    history = records.history(
        settings, environment, ctx.s3, account.output_for(ctx, "ArtifactBucketName")
    )
    earlier = [r for r in history if r["digest"] != serving]
    if not earlier:
        raise ConfigError(
            f"{environment} has no earlier release to roll back to (serving "
            f"{serving or 'nothing'}; {len(history)} release(s))"
        )
    target = earlier[-1]
    ctx.ui.progress(
        f"rolling {environment} back from {serving} to {target['digest']} "
        f"(released {target['time']})"
    )
    inputs = deploying.resolve(
        ctx, environment, target["digest"], recorded_parameters=target["parameters"]
    )
    extra = {"rolled_back_from": serving, "restored_release_time": target["time"]}
    return deploying.release(ctx, inputs, kind="rollback", extra=extra, dry_run=dry_run, wait=wait)
