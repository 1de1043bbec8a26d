"""`pipeline rollback --env ENV`: back to the previous passing release.

"Previous" is the newest release whose digest is not the one the stack serves now (after a
failed smoke the stack serves an unreleased digest, and the newest release is the one to go
back to). It is deployed with its recorded parameters, smoked, and recorded as a release of
kind rollback.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.aws.cloudformation import CloudFormation
from pipeline.core import environments
from pipeline.errors import ConfigError
from pipeline.settings import Settings
from pipeline.stages import deploy, releases, smoke


def run(settings: Settings, environment: str, progress: Callable[[str], None] = lambda _: None,
        show_preview: Callable[[deploy.DeployResult], None] = lambda _: None,
        approve: Callable[[deploy.DeployResult], bool] | None = None,
        **deploy_options) -> deploy.DeployResult:  # fmt: skip
    environments.check_rollback(environment, approve is not None,
                                dry_run=deploy_options.get("dry_run", False))  # fmt: skip
    deploy.checked_environment(settings, environment)
    stack = CloudFormation().stack(smoke.stack_name(settings, environment))
    serving = {p["ParameterKey"]: p["ParameterValue"]
               for p in (stack or {}).get("Parameters", [])}.get("ModelDigest")  # fmt: skip
    history = releases.history(settings, environment)
    earlier = [r for r in history if r["digest"] != serving]
    if not earlier:
        raise ConfigError(f"{environment} has no earlier release to roll back to (serving "
                          f"{serving or 'nothing'}; {len(history)} release(s))")  # fmt: skip
    target = earlier[-1]
    progress(f"rolling {environment} back from {serving} to {target['digest']} "
             f"(released {target['time']})")  # fmt: skip
    return deploy.run(settings, environment, target["digest"], kind="rollback",
                      extra_record={"rolled_back_from": serving,
                                    "restored_release_time": target["time"]},
                      parameters_override=target["parameters"], progress=progress,
                      show_preview=show_preview, approve=approve, **deploy_options)  # fmt: skip
