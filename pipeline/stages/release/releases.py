"""`pipeline releases --env ENV [--all]`: an environment's release records.

The records themselves (written by every deploy whose smoke passed, never overwritten) are
read and written by pipeline.shared.records.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.shared import records
from pipeline.shared.context import Context


@dataclass(frozen=True)
class ReleasesResult:
    environment: str
    records: list[dict]  # oldest first; only the latest unless every one was asked for


def run(ctx: Context, environment: str, every: bool = False) -> ReleasesResult:
    if every:
        return ReleasesResult(environment, records.history(ctx.settings, environment, ctx.s3))
    return ReleasesResult(environment, [records.latest(ctx.settings, environment, ctx.s3)])
