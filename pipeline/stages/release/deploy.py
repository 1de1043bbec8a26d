"""`pipeline deploy --env ENV [--digest D] [--dry-run] [--wait]`: the endpoint stack, done right.

Steps: validate every parameter file (no AWS call before that); resolve the bucket, the
execution role and the serving image from this account; take the artifact (digest D, else
the local manifest's) and check it in the bucket, signature and bytes included
(pipeline.shared.deploying); plan the change from the stack's current state
(pipeline.core.plan): create, update, recreate after ROLLBACK_COMPLETE, refuse while another
operation runs, or nothing to do; then carry the plan out (change set with every parameter
explicit, preview, execute, smoke, record the release) or, with --dry-run, only show it.

A protected environment (prod) takes no deploys at all: only promotions.
"""

from __future__ import annotations

from pipeline.core import environments
from pipeline.shared import deploying
from pipeline.shared.context import Context
from pipeline.shared.deploying import DeployResult

__all__ = ["DeployResult", "run"]


def run(
    ctx: Context,
    environment: str,
    digest: str | None = None,
    *,
    dry_run: bool = False,
    wait: bool = False,
) -> DeployResult:
    environments.check_deploy(environment)
    inputs = deploying.resolve(ctx, environment, digest)
    return deploying.release(ctx, inputs, kind="deploy", dry_run=dry_run, wait=wait)
