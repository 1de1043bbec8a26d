"""Release records in the artifact bucket: write one, read the latest or the history.

Records are written with If-None-Match, so none is ever overwritten (pure parts:
pipeline.core.releases).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pipeline.aws.s3 import S3
from pipeline.core import environments
from pipeline.core import releases as core
from pipeline.errors import ConfigError
from pipeline.settings import Settings
from pipeline.shared import account


def actor(environ: Mapping[str, str] = os.environ) -> str:
    """Who or what ran the pipeline: the GitHub run, else the local user and host."""
    if environ.get("GITHUB_ACTIONS") == "true":
        return (
            f"github:{environ.get('GITHUB_REPOSITORY', '?')} run "
            f"{environ.get('GITHUB_RUN_ID', '?')} ({environ.get('GITHUB_WORKFLOW', '?')}) "
            f"by {environ.get('GITHUB_ACTOR', '?')}"
        )
    return f"{getpass.getuser()}@{socket.gethostname()}"


def write(s3: S3, bucket: str, record: dict[str, Any]) -> str:
    when = datetime.fromisoformat(record["time"])
    key = core.key(record["project"], record["environment"], record["digest"], when)
    s3.put_new(bucket, key, (json.dumps(record, indent=2) + "\n").encode(), "application/json")
    return key


def history(
    settings: Settings, environment: str, s3: S3 | None = None, bucket: str | None = None
) -> list[dict[str, Any]]:
    """Every release of the environment, oldest first."""
    s3 = s3 or S3()
    bucket = bucket or account.output(settings, "ArtifactBucketName")
    prefix = core.prefix(settings.project, environment)
    keys = sorted(k for k in s3.keys(bucket, prefix) if k.endswith(".json"))
    return [json.loads(s3.read(bucket, key)) for key in keys]


def latest(
    settings: Settings, environment: str, s3: S3 | None = None, bucket: str | None = None
) -> dict[str, Any]:
    environments.get(environment)  # ConfigError for an unknown one
    s3 = s3 or S3()
    bucket = bucket or account.output(settings, "ArtifactBucketName")
    prefix = core.prefix(settings.project, environment)
    newest = core.latest(s3.keys(bucket, prefix))
    if newest is None:
        raise ConfigError(f"no release recorded for {environment} in s3://{bucket}/{prefix}")
    record: dict[str, Any] = json.loads(s3.read(bucket, newest))
    return record


def now() -> datetime:
    return datetime.now(UTC)
