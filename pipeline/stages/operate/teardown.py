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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pipeline.core import plan as plans
from pipeline.core.environments import NAMES as ENVIRONMENTS
from pipeline.errors import ConfigError
from pipeline.settings import Settings
from pipeline.shared import account, config, deploying
from pipeline.shared.context import Context
from pipeline.shared.executor import Outcome, executor

LIVE = (
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "ROLLBACK_COMPLETE",
    "CREATE_FAILED",
    "DELETE_FAILED",
    "UPDATE_ROLLBACK_FAILED",
    "REVIEW_IN_PROGRESS",
)


@dataclass(frozen=True)
class Swept:
    stack: str
    age_hours: float
    hourly_cost: float
    detail: str


@dataclass(frozen=True)
class TeardownResult:
    outcome: Outcome
    message: str


def run_teardown(
    ctx: Context, environment: str, confirmation: str, *, dry_run: bool = False
) -> TeardownResult:
    deploying.environment_file(ctx.settings, environment)
    if confirmation != environment:
        raise ConfigError(
            f"--confirm {confirmation!r} does not match --env {environment!r}; type the "
            "environment's name to confirm. Nothing was deleted."
        )
    name = account.stack_name(ctx.settings, environment)
    plan = plans.delete_plan([deploying.stack_state(ctx, name, with_template=False)])
    outcome = executor(ctx, dry_run).run(plan)
    if plan.kind == plans.NOTHING:
        message = f"{name} does not exist; nothing to delete"
    elif dry_run:
        message = f"dry run: {name} would be deleted; nothing was deleted"
    else:
        message = f"deleted {name}; artifacts and release records are kept"
    return TeardownResult(outcome, message)


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
    if name == account.bootstrap_stack_name():
        return False
    envs = "|".join(re.escape(e) for e in ENVIRONMENTS)
    own = re.escape(project)
    return re.fullmatch(rf"{own}-(?:{envs})|tCaT-{own}-(?:{envs})-[0-9A-Za-z]+", name) is not None


@dataclass(frozen=True)
class SweepResult:
    swept: list[Swept]
    dry_run: bool


def run_sweep(
    ctx: Context, ttl_hours: float, now: datetime | None = None, *, dry_run: bool = False
) -> SweepResult:
    """Delete (dry_run: only show) this project's stacks unchanged for `ttl_hours`."""
    if ttl_hours < 0:
        raise ConfigError(f"--ttl-hours {ttl_hours}: must be 0 or more")
    now = now or datetime.now(UTC)
    prices = _prices(ctx.settings)
    stale: list[Swept] = []
    states: list[plans.StackState] = []
    for stack in ctx.cfn.live_stacks(LIVE):
        name = stack["StackName"]
        changed = stack.get("LastUpdatedTime") or stack["CreationTime"]
        age = now - changed
        if not is_swept(name, ctx.settings.project) or age < timedelta(hours=ttl_hours):
            continue
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
        cost, detail = hourly_cost(parameters, prices)
        stale.append(Swept(name, age.total_seconds() / 3600, cost, detail))
        states.append(plans.StackState(name, stack["StackStatus"]))
    why = {s.stack: f"unchanged for {s.age_hours:.1f} h; {s.detail}" for s in stale}
    plan = plans.delete_plan(states, why)
    started = time.monotonic()
    executor(ctx, dry_run).run(plan)
    if not dry_run and stale:
        took = f"deleted in {time.monotonic() - started:.1f}s"
        stale = [Swept(s.stack, s.age_hours, s.hourly_cost, f"{s.detail}; {took}") for s in stale]
    return SweepResult(stale, dry_run)
