"""`pipeline rollback --env ENV`: back to the previous passing release.

"Previous" is the newest release whose digest is not the one the stack serves now (after a
failed smoke the stack serves an unreleased digest, and the newest release is the one to go
back to), among those whose version the environment may still take from the model
registry (prod: Approved; the others: not Rejected). It is deployed with its recorded
parameters through the shared deploy plan
(pipeline.shared.deploying), smoked, and recorded as a release of kind rollback.
"""

from __future__ import annotations

from pipeline.core import environments
from pipeline.core import registry as registry_core
from pipeline.errors import ConfigError
from pipeline.shared import account, deploying, records, registry
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
    # only versions the environment may still take: prod Approved ones, the others any
    # that is not Rejected (a release whose version was rejected since is skipped, and said)
    versions = {v.digest: v for v in registry.versions(ctx)}
    protected = environments.get(environment).protected
    earlier = []
    for entry in (r for r in history if r["digest"] != serving):
        version = versions.get(entry["digest"])
        why = (
            registry_core.refusal(environment, version, protected)
            if version is not None
            else f"{entry['digest']} is not registered in the model registry"
        )
        if why is None:
            earlier.append(entry)
        else:
            ctx.ui.progress(f"skipping the release of {entry['time']}: {why}")
    if not earlier:
        raise ConfigError(
            f"{environment} has no earlier release to roll back to (serving "
            f"{serving or 'nothing'}; {len(history)} release(s), none of the others "
            f"{'Approved' if protected else 'registered and not Rejected'} in the model "
            "registry)"
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
