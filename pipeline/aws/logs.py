"""Typed wrapper over the CloudWatch Logs calls of training jobs: the job's stream written
(by the sandbox's training runtime, as SageMaker's agent does) and read back (by `pipeline
train --on sagemaker`, which follows it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from pipeline.aws.errors import guarded, new_client, translate

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
MAX_BATCH_EVENTS = 10_000  # PutLogEvents: at most 10,000 events
MAX_BATCH_BYTES = 1_048_576  # ... and 1 MiB, counting 26 bytes per event


@guarded("logs")
class Logs:
    def __init__(self, client: BaseClient | None = None) -> None:
        self._client = client or new_client("logs")

    def ensure_stream(self, group: str, stream: str) -> None:
        for call, kwargs in (
            (self._client.create_log_group, {"logGroupName": group}),
            (self._client.create_log_stream, {"logGroupName": group, "logStreamName": stream}),
        ):
            try:
                call(**kwargs)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                    raise translate(exc, "logs") from None

    def put(self, group: str, stream: str, events: Sequence[tuple[int, str]]) -> None:
        """(epoch milliseconds, message) events, oldest first, in batches within the limits."""
        batch: list[dict[str, Any]] = []
        size = 0
        for when, message in events:
            cost = len(message.encode()) + 26
            if batch and (len(batch) >= MAX_BATCH_EVENTS or size + cost > MAX_BATCH_BYTES):
                self._put(group, stream, batch)
                batch, size = [], 0
            batch.append({"timestamp": when, "message": message})
            size += cost
        if batch:
            self._put(group, stream, batch)

    def _put(self, group: str, stream: str, batch: list[dict[str, Any]]) -> None:
        self._client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)

    def streams(self, group: str, prefix: str) -> list[str]:
        try:
            answer = self._client.describe_log_streams(
                logGroupName=group, logStreamNamePrefix=prefix
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return []
            raise translate(exc, "logs") from None
        return [str(s["logStreamName"]) for s in answer.get("logStreams", [])]

    def read(self, group: str, stream: str, token: str | None = None) -> tuple[list[str], str]:
        """Messages after `token` (None: from the start) and the token to continue from."""
        kwargs: dict[str, Any] = {
            "logGroupName": group,
            "logStreamName": stream,
            "startFromHead": True,
        }
        if token:
            kwargs["nextToken"] = token
        answer = self._client.get_log_events(**kwargs)
        messages = [str(e["message"]) for e in answer.get("events", [])]
        return messages, str(answer.get("nextForwardToken") or token or "")
