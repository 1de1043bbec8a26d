"""The runtime gateway's HTTP handling over a real socket: as strict as the model server's.

The gateway runs in this process on a free 127.0.0.1 port, with stand-ins for the emulator
and the runtime: every case here is decided before a request would reach a model server.
"""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest

from pipeline.local.gateway import RuntimeGateway

READ_TIMEOUT = 2.0
ROW = b"1,2,3"
PATH = "/endpoints/e/invocations"


class _Emulator:
    def describe_endpoint(self, name):
        return SimpleNamespace(status="InService")


class _Runtime:
    generation = 0

    def route(self, endpoint, variant=None):
        return None  # answered as "no such production variant": the request was parsed


@pytest.fixture(scope="module")
def gateway():
    server = RuntimeGateway(
        _Runtime(), "us-east-1", sagemaker=_Emulator(), read_timeout=READ_TIMEOUT
    )
    url = server.start()
    yield url
    server.stop()


def exchange(url: str, data: bytes, timeout: float = READ_TIMEOUT + 10) -> bytes:
    """Send raw bytes on one socket and read until the gateway closes it."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        return b"".join(iter(lambda: sock.recv(65536), b""))


def request(*headers: str, body: bytes = b"") -> bytes:
    lines = [f"POST {PATH} HTTP/1.1", "Host: x", "Content-Type: text/csv", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def test_a_well_formed_request_is_parsed_and_answered(gateway):
    answer = exchange(
        gateway, request(f"Content-Length: {len(ROW)}", "Connection: close", body=ROW)
    )
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"has no production variant" in answer


def test_a_negative_content_length_is_a_400_and_closes(gateway):
    answer = exchange(gateway, request("Content-Length: -5", body=ROW))
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"Content-Length must be one non-negative decimal integer" in answer
    assert answer.count(b"HTTP/1.1 ") == 1


def test_a_duplicate_content_length_is_a_400_and_closes(gateway):
    answer = exchange(
        gateway, request(f"Content-Length: {len(ROW)}", f"Content-Length: {len(ROW)}", body=ROW)
    )
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"Content-Length must be one non-negative decimal integer" in answer


def test_a_chunked_body_is_refused_with_411_not_read_as_empty(gateway):
    # The chunk carries a whole request: read as an empty body, it would be answered too.
    smuggled = b"GET /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    chunk = f"{len(smuggled):x}\r\n".encode() + smuggled + b"\r\n0\r\n\r\n"
    answer = exchange(gateway, request("Transfer-Encoding: chunked", body=chunk))
    assert answer.startswith(b"HTTP/1.1 411 ")
    assert answer.count(b"HTTP/1.1 ") == 1  # nothing of the body was taken for a request
    assert b"Connection: close" in answer


def test_a_body_that_stops_arriving_times_out_with_408(gateway):
    answer = exchange(gateway, request(f"Content-Length: {len(ROW) + 10}", body=ROW))
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"stopped arriving" in answer


def test_a_head_that_stops_arriving_is_disconnected(gateway):
    assert exchange(gateway, f"POST {PATH} HTTP/1.1\r\nHost: x\r\n".encode()) == b""
