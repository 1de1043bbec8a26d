"""The project's model package group in the SageMaker Model Registry, read and written
through the SageMaker wrapper (decisions: pipeline.core.registry).

The registry is the build account's: `register` runs there, as the build role. Every other
command addresses the group by its ARN in that account (the account and region of the
build's signing key, `SigningKeyArn` or PIPELINE_SIGNING_KEY), so a deploy role in an
environment account reads the same versions; the group's resource policy, put by
`register`, admits those accounts' roles (core.registry.group_policy).
"""

from __future__ import annotations

import json

from pipeline.core import environments
from pipeline.core import registry as core
from pipeline.errors import ConfigError
from pipeline.settings import Settings
from pipeline.shared import account
from pipeline.shared.context import Context


def group_name(settings: Settings) -> str:
    """The model package group: `[model] name`."""
    return settings.model_name


def home(ctx: Context) -> core.Home:
    """The registry's account and region: the build account's signing key's."""
    key = account.output_for(ctx, "SigningKeyArn")
    try:
        return core.home(key)
    except ValueError:
        raise ConfigError(
            f"the build's signing key {key!r} is not a KMS key ARN; set PIPELINE_SIGNING_KEY "
            "to the build account's bootstrap output SigningKeyArn"
        ) from None


def group_ref(ctx: Context) -> str:
    """The group's ARN in the build account (the same group from every account)."""
    return home(ctx).group_arn(group_name(ctx.settings))


def versions(ctx: Context, status: str | None = None) -> list[core.Version]:
    """The group's versions, oldest first (none when the group does not exist yet)."""
    group = group_ref(ctx)
    if not ctx.sagemaker.model_package_group_exists(group):
        return []
    return [
        core.version_from(ctx.sagemaker.describe_model_package(arn))
        for arn in ctx.sagemaker.model_package_arns(group, status)
    ]


def find(ctx: Context, digest: str) -> core.Version | None:
    """The version registered for an artifact digest, if any."""
    found = [v for v in versions(ctx) if v.digest == digest]
    return found[0] if found else None


def share(ctx: Context, accounts: list[str]) -> str | None:
    """Put the group's resource policy for the environment accounts (the build bootstrap's
    EnvironmentAccountIds), unless it is in place already. Returns what was done, or None
    when nothing was needed (no other account, or the same policy)."""
    settings = ctx.settings
    where, group = home(ctx), group_name(settings)
    wanted = core.group_policy(where, group, settings.project, accounts)
    if wanted is None:
        return None
    current = ctx.sagemaker.model_package_group_policy(group)
    if current is not None and json.loads(current) == wanted:
        return None
    ctx.sagemaker.put_model_package_group_policy(group, json.dumps(wanted, sort_keys=True))
    others = sorted({a for a in accounts if a and a != where.account})
    return f"shared model package group {group} with account(s) {', '.join(others)}"


def gate(ctx: Context, environment: str, digest: str) -> tuple[core.Version | None, str | None]:
    """The registered version of `digest` and why `environment` may not take it (None: it
    may): unregistered, Rejected, or, in a protected environment, not Approved. The reason
    names the version and the command that fixes it."""
    version = find(ctx, digest)
    if version is None:
        return None, (
            f"{digest} is not registered in the model registry (group {group_ref(ctx)}); "
            "register the uploaded build with `python -m pipeline register`"
        )
    return version, core.refusal(environment, version, environments.get(environment).protected)
