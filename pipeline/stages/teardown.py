"""`pipeline teardown --env ENV --confirm ENV` and `pipeline sweep --ttl-hours H`.

teardown deletes one environment's endpoint stack after a typed confirmation (the
environment's name again). sweep, for the sandbox account, deletes this project's stacks
(its environments' and taskcat's; no other project's) that are older than a TTL, and
estimates the hourly cost that saves from each endpoint's instance type and count. Neither
ever touches the account's shared bootstrap stack, the artifact bucket or the release
records.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pipeline.aws.cloudformation import CloudFormation
from pipeline.core.environments import NAMES as ENVIRONMENTS
from pipeline.errors import ConfigError
from pipeline.settings import Settings
from pipeline.stages import bootstrap, config, deploy, smoke

LIVE = (
    "CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "ROLLBACK_COMPLETE",
    "CREATE_FAILED", "DELETE_FAILED", "UPDATE_ROLLBACK_FAILED", "REVIEW_IN_PROGRESS",
)  # fmt: skip


@dataclass(frozen=True)
class Swept:
    stack: str
    age_hours: float
    hourly_cost: float
    detail: str


def run_teardown(settings: Settings, environment: str, confirmation: str,
                 progress: Callable[[str], None] = lambda _: None) -> str:  # fmt: skip
    deploy.checked_environment(settings, environment)
    if confirmation != environment:
        raise ConfigError(
            f"--confirm {confirmation!r} does not match --env {environment!r}; type the "
            "environment's name to confirm. Nothing was deleted."
        )
    name = smoke.stack_name(settings, environment)
    cfn = CloudFormation(progress=progress)
    if cfn.status(name) is None:
        return f"{name} does not exist; nothing to delete"
    progress(f"deleting {name}")
    cfn.delete(name)
    return f"deleted {name}; artifacts and release records are kept"


def _prices(settings: Settings) -> dict[str, float]:
    path = settings.infra_dir / "instance-prices.toml"
    prices = config.read_toml(path)
    if not all(isinstance(v, int | float) for v in prices.values()):
        raise ConfigError(f"{path}: every price must be a number")
    return {k: float(v) for k, v in prices.items()}


def hourly_cost(parameters: dict[str, str], prices: dict[str, float]) -> tuple[float, str]:
    """Estimated on-demand cost per hour of an endpoint stack's parameters."""
    if parameters.get("EndpointType") != "RealTime":
        return 0.0, "serverless (no idle cost)"
    kind, count = parameters.get("InstanceType", "?"), int(parameters.get("InstanceCount", "1"))
    if kind not in prices:
        return 0.0, f"{count} x {kind} (price unknown: add it to infra/instance-prices.toml)"
    return prices[kind] * count, f"{count} x {kind} at ${prices[kind]:.3f}/h"


def is_swept(name: str, project: str) -> bool:
    """This project's endpoint stacks (<project>-<env>) and taskcat's (tCaT-<project>-<env>-*);
    never the account's shared bootstrap stack, nor another project's stacks whose name
    merely starts with this project's (diabetes-v2-dev is not diabetes')."""
    if name == bootstrap.stack_name():
        return False
    envs = "|".join(re.escape(e) for e in ENVIRONMENTS)
    own = re.escape(project)
    return re.fullmatch(rf"{own}-(?:{envs})|tCaT-{own}-(?:{envs})-[0-9A-Za-z]+", name) is not None


def run_sweep(settings: Settings, ttl_hours: float, now: datetime | None = None,
              progress: Callable[[str], None] = lambda _: None,
              client=None) -> list[Swept]:  # fmt: skip
    if ttl_hours < 0:
        raise ConfigError(f"--ttl-hours {ttl_hours}: must be 0 or more")
    now = now or datetime.now(UTC)
    cfn = CloudFormation(client=client, progress=progress)
    prices = _prices(settings)
    swept = []
    for stack in cfn.live_stacks(LIVE):
        name = stack["StackName"]
        changed = stack.get("LastUpdatedTime") or stack["CreationTime"]
        age = now - changed
        if not is_swept(name, settings.project) or age < timedelta(hours=ttl_hours):
            continue
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
        cost, detail = hourly_cost(parameters, prices)
        progress(f"deleting {name} (unchanged for {age.total_seconds() / 3600:.1f} h; {detail})")
        started = time.monotonic()
        cfn.delete(name)
        swept.append(Swept(name, age.total_seconds() / 3600, cost,
                           f"{detail}; deleted in {time.monotonic() - started:.1f}s"))  # fmt: skip
    return swept
