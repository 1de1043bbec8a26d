"""Real botocore clients answered by botocore's Stubber: no credentials, no sockets.

Each response is checked against the service's model, so a stub that AWS could not have
sent fails the test; `stubbed` asserts on exit that every queued response was used.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.response import StreamingBody
from botocore.stub import Stubber

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@contextlib.contextmanager
def stubbed(service: str, region: str = "us-east-1") -> Iterator[tuple[Any, Stubber]]:
    """(client, stubber) for a service; every queued response must be consumed."""
    client = boto3.client(
        service, region_name=region, aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def body(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))
