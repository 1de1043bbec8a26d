"""The project's model package group in the SageMaker Model Registry, read and written
through the SageMaker wrapper (decisions: pipeline.core.registry)."""

from __future__ import annotations

from pipeline.core import registry as core
from pipeline.settings import Settings
from pipeline.shared.context import Context


def group_name(settings: Settings) -> str:
    """The model package group: `[model] name`."""
    return settings.model_name


def versions(ctx: Context, status: str | None = None) -> list[core.Version]:
    """The group's versions, oldest first (none when the group does not exist yet)."""
    group = group_name(ctx.settings)
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
