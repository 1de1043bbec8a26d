"""What a command resolves from the account it runs against: the shared bootstrap stack's
outputs (artifact bucket, keys, execution role), and the names stacks take.

One bootstrap per account serves every project (BOOTSTRAP_NAMESPACE, never a project's
name). Must not import any stage.
"""

from __future__ import annotations

from typing import Any

from pipeline.aws.cloudformation import CloudFormation
from pipeline.errors import ConfigError
from pipeline.settings import BOOTSTRAP_STACK, Settings
from pipeline.shared.context import Context


def bootstrap_stack_name() -> str:
    return BOOTSTRAP_STACK


def stack_name(settings: Settings, environment: str) -> str:
    """The endpoint stack of one environment of this project."""
    return f"{settings.project}-{environment}"


def output(settings: Settings, key: str, cfn: CloudFormation | None = None) -> str:
    """One output of this account's bootstrap stack, or a ConfigError saying how to get it.
    The artifact bucket may instead come from PIPELINE_ARTIFACT_BUCKET (another account's).
    The stack is the account's, not the project's: settings only supply that override."""
    override = _override(settings, key)
    if override is not None:
        return override
    return _from(key, (cfn or CloudFormation()).stack(bootstrap_stack_name()))


def output_for(ctx: Context, key: str) -> str:
    """`output`, with the bootstrap stack read once per command (a deploy needs three of its
    outputs; a promotion four)."""
    override = _override(ctx.settings, key)
    if override is not None:
        return override
    return _from(key, _stack(ctx))


def parameter_for(ctx: Context, key: str) -> str:
    """One parameter of this account's bootstrap stack, "" when it has none (ConfigError
    when there is no bootstrap stack), read once per command with its outputs."""
    stack = _stack(ctx)
    if stack is None:
        raise _no_stack()
    given = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    return str(given.get(key, ""))


def _stack(ctx: Context) -> dict[str, Any] | None:
    stack = ctx.cache.get(BOOTSTRAP_STACK)
    if stack is None:
        stack = ctx.cfn.stack(bootstrap_stack_name())
        if stack is not None:  # a missing stack is asked again: bootstrap may create it
            ctx.cache[BOOTSTRAP_STACK] = stack
    return stack


def _override(settings: Settings, key: str) -> str | None:
    if key == "ArtifactBucketName" and settings.artifact_bucket:
        return settings.artifact_bucket
    if key == "SigningKeyArn" and settings.signing_key:
        return settings.signing_key
    return None


def _no_stack() -> ConfigError:
    return ConfigError(
        f"stack {bootstrap_stack_name()} does not exist in this account and region; run "
        "`python -m pipeline bootstrap` first"
    )


def _from(key: str, stack: dict[str, Any] | None) -> str:
    name = bootstrap_stack_name()
    if stack is None:
        raise _no_stack()
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    if key not in outputs:
        raise ConfigError(
            f"stack {name} has no output {key} (status {stack['StackStatus']}); "
            "redeploy it with `python -m pipeline bootstrap` and the account "
            "role that creates it"
        )
    return str(outputs[key])
