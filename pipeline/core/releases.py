"""Release records: what was deployed where, kept as history beside the artifacts (pure).

A record is written when a deploy's smoke test passes, to
releases/<project>/<env>/<time>-<digest>.json, never overwritten. Keys sort by time, so the
newest is the greatest. The project is part of the key because the artifact bucket is the
account's, shared by every project.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def prefix(project: str, environment: str) -> str:
    return f"releases/{project}/{environment}/"


def key(project: str, environment: str, digest: str, when: datetime) -> str:
    stamp = when.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{prefix(project, environment)}{stamp}-{digest[:12]}.json"


def is_digest(text: str) -> bool:
    return bool(_DIGEST.match(text))


def record(
    *,
    project: str,
    environment: str,
    digest: str,
    artifact_key: str,
    manifest_key: str,
    parameters: dict[str, str],
    outputs: dict[str, str],
    commit: str,
    when: datetime,
    actor: str,
    kind: str = "deploy",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "project": project,
        "environment": environment,
        "digest": digest,
        "artifact_key": artifact_key,
        "manifest_key": manifest_key,
        "parameters": parameters,
        "outputs": outputs,
        "git_commit": commit,
        "time": when.astimezone(UTC).isoformat(),
        "actor": actor,
        "kind": kind,  # deploy | promote | rollback
        **(extra or {}),
    }


def latest(keys: list[str]) -> str | None:
    records = sorted(k for k in keys if k.endswith(".json"))
    return records[-1] if records else None
