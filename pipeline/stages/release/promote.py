"""`pipeline promote --from E1 --to E2 [--digest D] [--approve] [--force]`: same artifact, next
environment.

What is promoted is a digest the source environment released (its smoke passed there),
never a rebuild: with --digest, that digest, refused unless the source released it; without,
the source's latest release. The order dev → staging → prod is enforced. Before deploying,
the candidate's metrics (its manifest) are compared with those of the model released in the
target ([promotion] of pipeline.toml; a metric without a margin may not get worse at all);
--force overrides, and the release records it. The change itself is the shared deploy plan
(pipeline.shared.deploying) with the target's parameter file, so the artifact is re-checked
in S3 and the target is smoked. prod needs an approval, asked after the change-set preview.
"""

from __future__ import annotations

import json

from pipeline.core import environments, gate
from pipeline.core import releases as releases_core
from pipeline.errors import ConfigError, PipelineError
from pipeline.shared import account, deploying, records
from pipeline.shared.context import Context
from pipeline.shared.deploying import DeployResult


class GateRegression(PipelineError):
    """The candidate is worse than the deployed model beyond the promotion margins."""


def source_release(history: list[dict], source: str, digest: str | None) -> dict:
    if not history:
        raise ConfigError(
            f"{source} has no release to promote; deploy it first "
            f"(`python -m pipeline deploy --env {source}`)"
        )
    if digest is None:
        return history[-1]
    for record in reversed(history):
        if record["digest"] == digest:
            return record
    raise ConfigError(
        f"digest {digest} was never released in {source} (no passing smoke "
        f"there); promote one of its releases (`python -m pipeline releases "
        f"--env {source} --all`)"
    )


def run(
    ctx: Context,
    source: str,
    target: str,
    digest: str | None = None,
    *,
    force: bool = False,
    dry_run: bool = False,
    wait: bool = False,
) -> DeployResult:
    settings = ctx.settings
    environments.check_promotion(source, target, ctx.ui.can_confirm, dry_run=dry_run)
    if digest is not None and not releases_core.is_digest(digest):
        raise ConfigError(f"--digest {digest!r} is not a sha256 hex digest")
    margins = settings.config.promotion or {}
    deploying.environment_file(settings, target)  # exit 2 before any AWS call
    s3 = ctx.s3
    bucket = account.output_for(ctx, "ArtifactBucketName")
    chosen = source_release(records.history(settings, source, s3, bucket), source, digest)
    ctx.ui.progress(
        f"promoting {chosen['digest']} (released in {source} at {chosen['time']}) to {target}"
    )
    candidate = json.loads(s3.read(bucket, chosen["manifest_key"]))
    target_history = records.history(settings, target, s3, bucket)
    extra = {"promoted_from": source, "source_release_time": chosen["time"]}
    if target_history:
        deployed = json.loads(s3.read(bucket, target_history[-1]["manifest_key"]))
        problems = gate.regressions(candidate["metrics"], deployed["metrics"], margins)
        if problems and not force:
            raise GateRegression(
                f"{chosen['digest']} is worse than {target}'s release "
                f"{target_history[-1]['digest']}: {'; '.join(problems)}. Nothing was "
                "deployed; --force overrides (and is recorded)"
            )
        if problems:
            ctx.ui.progress(f"quality gate overridden with --force: {'; '.join(problems)}")
            extra["gate_override"] = problems
    inputs = deploying.resolve(ctx, target, chosen["digest"])
    return deploying.release(ctx, inputs, kind="promote", extra=extra, dry_run=dry_run, wait=wait)
