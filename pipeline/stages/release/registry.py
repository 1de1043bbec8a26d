"""`pipeline registry list|show|approve|reject`: the project's versions in the SageMaker
Model Registry, with the environments each is released to, and the model's approval.

Approval of the *model* (this command, or Studio) is separate from approval of the *prod
deploy* (`promote --approve`). Approve and reject record who and why in
ApprovalDescription. Deploys consult it (pipeline.shared.registry.gate): prod takes only
Approved versions, the other environments any registered version not Rejected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pipeline.core import environments
from pipeline.core import registry as core
from pipeline.errors import ConfigError, PipelineError
from pipeline.shared import account, records, registry
from pipeline.shared.context import Context


@dataclass(frozen=True)
class Listed:
    version: core.Version
    released_to: list[str] = field(default_factory=list)  # environments serving it now
    metrics: dict[str, float] = field(default_factory=dict)  # the model's, on the test rows


def _metrics(ctx: Context, uri: str | None) -> dict[str, float]:
    """The model's metrics from the version's ModelQuality statistics (metrics.json)."""
    if not uri:
        return {}
    from pipeline.aws.s3 import parse_uri

    try:
        document = json.loads(ctx.s3.read(*parse_uri(uri)))
    except (PipelineError, ValueError) as exc:
        ctx.ui.warn(f"cannot read the metrics of {uri}: {exc}")
        return {}
    model = document.get("model", {}) if isinstance(document, dict) else {}
    return {k: float(v) for k, v in model.items() if isinstance(v, int | float)}


def released(ctx: Context) -> dict[str, str]:
    """environment -> the digest its latest release record names (released ones only)."""
    bucket = account.output_for(ctx, "ArtifactBucketName")
    serving = {}
    for name in environments.NAMES:
        try:
            serving[name] = str(records.latest(ctx.settings, name, ctx.s3, bucket)["digest"])
        except ConfigError:  # no release recorded there yet
            continue
    return serving


def _listed(ctx: Context, version: core.Version, serving: dict[str, str]) -> Listed:
    released_to = [env for env, digest in serving.items() if digest == version.digest]
    return Listed(version, released_to, _metrics(ctx, version.metrics_uri))


def listing(ctx: Context, status: str | None = None) -> list[Listed]:
    if status is not None and status not in core.STATUSES:
        raise ConfigError(f"--status {status!r}: use {', '.join(core.STATUSES)}")
    serving = released(ctx)
    return [_listed(ctx, v, serving) for v in registry.versions(ctx, status)]


def show(ctx: Context, reference: str) -> Listed:
    """One version: picked first, so only its metrics are read."""
    core.parse_reference(reference)  # a malformed one: exit 2 before any AWS call
    chosen = core.pick(registry.versions(ctx), reference, registry.group_name(ctx.settings))
    return _listed(ctx, chosen, released(ctx))


def decide(ctx: Context, action: str, reference: str, reason: str) -> Listed:
    """Approve or reject a version; rejecting one that prod serves warns with the rollback."""
    core.parse_reference(reference)
    status, description = core.decision(action, reason, records.actor())
    entry = show(ctx, reference)
    ctx.sagemaker.update_approval(entry.version.arn, status, description)
    if status == core.REJECTED:
        for env in entry.released_to:
            ctx.ui.warn(
                f"{env} serves version {entry.version.number}, now Rejected; roll it back "
                f"with `python -m pipeline rollback --env {env}"
                + (" --approve`" if environments.get(env).protected else "`")
            )
    updated = core.version_from(ctx.sagemaker.describe_model_package(entry.version.arn))
    return Listed(updated, entry.released_to, entry.metrics)
