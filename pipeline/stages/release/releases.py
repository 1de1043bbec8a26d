"""`pipeline releases --env ENV [--all]`: an environment's release records.

The records themselves (written by every deploy whose smoke passed, never overwritten) are
read and written by pipeline.shared.records.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.core import environments
from pipeline.shared import account, records
from pipeline.shared.context import Context


@dataclass(frozen=True)
class ReleasesResult:
    environment: str
    records: list[dict]  # oldest first; only the latest unless every one was asked for


def run(ctx: Context, environment: str, every: bool = False) -> ReleasesResult:
    environments.get(environment)  # an unknown one: exit 2 before any AWS call
    bucket = account.output_for(ctx, "ArtifactBucketName")
    if every:
        return ReleasesResult(
            environment, records.history(ctx.settings, environment, ctx.s3, bucket)
        )
    return ReleasesResult(environment, [records.latest(ctx.settings, environment, ctx.s3, bucket)])
