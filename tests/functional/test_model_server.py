"""The local model server over a real socket: `python -m pipeline serve` as users run it."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import ConfigError
from pipeline.local import model_server, wsgi_server
from pipeline.shared.tarballs import write_tarball
from tests.conftest import FIXTURES, expected_predictions

PAYLOADS = FIXTURES / "payloads"
HANDLERS = FIXTURES / "handlers"
CSV, JSON, NPY = "text/csv", "application/json", "application/x-npy"
ROW = (PAYLOADS / "one_row_no_newline.csv").read_text().strip()
READ_TIMEOUT = 3  # seconds; short, so that the stalled-request tests are quick


@pytest.fixture(scope="module")
def server(built, tmp_path_factory):
    log = tmp_path_factory.mktemp("logs") / "server.log"
    process, url = model_server.launch(
        built.artifact_file,
        log,
        env={
            "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
            model_server.READ_TIMEOUT_ENV: str(READ_TIMEOUT),
        },
        unsigned=True,  # the local build: never uploaded, so never signed
    )
    with process:
        # Bound is not loaded: wait, once, for a worker with its model, so that the raw-socket
        # tests' short timeouts measure the server and not the model's load on a busy machine.
        assert model_server.request(url, "GET", "/ping")[0] == 200
        yield url, process, log
    assert not process.alive()


def _artifact_with(built, tmp_path, *scripts: Path) -> Path:
    files = {
        "model.joblib": built.model_file,
        "signature.json": built.signature_file,
        "code/inference.py": Path("model/inference.py"),
    }
    files.update({f"code/{s.name}": s for s in scripts})
    artifact = tmp_path / "model.tar.gz"
    write_tarball(artifact, files)
    return artifact


def post(url, body, content_type=CSV, accept=JSON):
    headers = {"Content-Type": content_type}
    if accept is not None:
        headers["Accept"] = accept
    return model_server.request(url, "POST", "/invocations", body, headers)


def decode(body: bytes, content_type: str) -> np.ndarray:
    if content_type == JSON:
        return np.asarray(json.loads(body))
    if content_type == CSV:
        return np.loadtxt(io.StringIO(body.decode()), ndmin=1)
    return np.load(io.BytesIO(body), allow_pickle=False)


def test_binds_loopback_and_pings(server):
    url, _, _ = server
    assert url.startswith("http://127.0.0.1:")
    assert model_server.request(url, "GET", "/ping")[0] == 200


@pytest.mark.parametrize(
    ("fixture", "content_type"),
    [
        ("many_rows.csv", CSV),
        ("many_rows.csv", "text/csv; charset=utf-8"),
        ("many_rows.json", JSON),
        ("instances.json", JSON),
        ("one_row.json", JSON),
        ("many_rows.npy", NPY),
        ("one_row.npy", NPY),
    ],
)
@pytest.mark.parametrize("accept", [JSON, CSV, NPY, "*/*", None])
def test_predictions_equal_the_joblib_model(server, built, fixture, content_type, accept):
    url, _, _ = server
    status, out_type, body = post(url, (PAYLOADS / fixture).read_bytes(), content_type, accept)
    assert status == 200, body
    expected_type = JSON if accept in ("*/*", None) else accept
    assert out_type == expected_type
    expected = expected_predictions(built.model_file, PAYLOADS / fixture)
    np.testing.assert_array_equal(decode(body, expected_type), expected)


@pytest.mark.parametrize(
    ("fixture", "content_type", "accept", "status", "message"),
    [
        ("unsupported.txt", "text/plain", JSON, 415, "unsupported Content-Type 'text/plain'"),
        ("many_rows.csv", CSV, "text/html", 406, "unsupported Accept 'text/html'"),
        ("bad_wrong_width_row3.csv", CSV, JSON, 500, "row 3 has 9 values but the model takes 10"),
        ("bad_non_numeric.csv", CSV, JSON, 500, "'abc' is not a number"),
        ("bad_nan.csv", CSV, JSON, 500, "is not finite"),
        ("bad_inf.json", JSON, JSON, 500, "is not finite"),
        ("bad_empty.csv", CSV, JSON, 500, "empty request body"),
        ("bad_syntax.json", JSON, JSON, 500, "not valid JSON"),
        ("bad_object.npy", NPY, JSON, 500, "cannot read .npy body"),
    ],
)
def test_bad_request_gets_its_status_and_a_json_message_and_the_server_survives(
    server, fixture, content_type, accept, status, message
):
    url, _, log = server
    log_before = log.stat().st_size
    got_status, got_type, body = post(url, (PAYLOADS / fixture).read_bytes(), content_type, accept)
    assert got_status == status
    assert got_type == JSON
    error = json.loads(body)
    assert message in error["message"]
    assert "Traceback" not in body.decode()
    assert model_server.request(url, "GET", "/ping")[0] == 200
    with log.open() as handle:  # this request's traceback went to the log instead
        handle.seek(log_before)
        assert "Traceback" in handle.read()


def test_unknown_route_and_wrong_method_are_refused(server):
    url, _, _ = server
    assert model_server.request(url, "GET", "/nope")[0] == 404
    assert model_server.request(url, "GET", "/invocations")[0] == 405


def test_oversize_body_gets_413_and_the_limit_itself_is_accepted(server):
    url, _, _ = server
    limit = model_server.MAX_BODY_BYTES
    rows = (ROW + "\n") * 20
    exact = rows.encode() + b"\n" * (limit - len(rows))  # blank lines pad to the exact limit
    assert len(exact) == limit
    status, _, body = post(url, exact)
    assert status == 200 and len(json.loads(body)) == 20
    status, _, body = post(url, exact + b"\n")
    assert status == 413
    assert "6291457 bytes exceeds the 6291456-byte limit" in json.loads(body)["message"]
    assert model_server.request(url, "GET", "/ping")[0] == 200


def raw_exchange(url: str, data: bytes, timeout: float = 10) -> bytes:
    """Send raw bytes on one socket and read until the server closes it."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _request(body: str, *headers: str, close: bool = False) -> bytes:
    lines = ["POST /invocations HTTP/1.1", "Host: x", "Content-Type: text/csv", *headers]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def test_each_response_closes_its_connection_as_gunicorns_sync_worker(server):
    url, _, _ = server
    one = _request(ROW, f"Content-Length: {len(ROW)}")
    answer = raw_exchange(url, one * 3)  # pipelined on one socket: only the first is answered
    assert answer.count(b"HTTP/1.1 200 OK") == 1
    assert b"Connection: close" in answer


def _chunked(data: bytes, size: int = 65536) -> bytes:
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def test_a_chunked_upload_is_accepted(server, built):
    url, _, _ = server
    body = (PAYLOADS / "many_rows.csv").read_bytes()
    answer = raw_exchange(url, _request("", "Transfer-Encoding: chunked") + _chunked(body, 100))
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK"), answer[:300]
    expected = expected_predictions(built.model_file, PAYLOADS / "many_rows.csv")
    np.testing.assert_array_equal(np.asarray(json.loads(payload)), expected)


def test_a_chunked_upload_over_the_limit_gets_413(server):
    url, _, _ = server
    body = b"\n" * (model_server.MAX_BODY_BYTES + 1)
    answer = raw_exchange(url, _request("", "Transfer-Encoding: chunked") + _chunked(body))
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert "(chunked) exceeds the 6291456-byte limit" in json.loads(payload)["message"]
    assert model_server.request(url, "GET", "/ping")[0] == 200


@pytest.mark.parametrize("length", ["-5", "+195", "1_95", "19 5"])
def test_malformed_content_length_is_refused_not_guessed(server, length):
    url, _, _ = server
    answer = raw_exchange(url, _request(ROW, f"Content-Length: {length}"))
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"Invalid HTTP Header: &#x27;CONTENT-LENGTH&#x27;" in answer  # gunicorn's words


def test_conflicting_content_lengths_are_refused(server):
    url, _, _ = server
    answer = raw_exchange(url, _request(ROW, "Content-Length: 195", "Content-Length: 10"))
    assert answer.startswith(b"HTTP/1.1 400 ")


def test_expect_100_continue_is_answered(server):
    url, _, _ = server
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            _request("", f"Content-Length: {len(ROW)}", "Expect: 100-continue", close=True)
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(ROW.encode())
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")


def test_oversize_with_expect_is_refused_before_the_body_is_sent(server):
    url, _, _ = server
    big = model_server.MAX_BODY_BYTES + 1
    answer = raw_exchange(url, _request("", f"Content-Length: {big}", "Expect: 100-continue"))
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_unknown_http_version_is_refused(server):
    url, _, _ = server
    answer = raw_exchange(url, b"GET /ping HTTP/9.9\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ") and b"Invalid HTTP Version" in answer


def test_http_1_0_is_answered_and_closed_even_when_asking_for_keep_alive(server):
    url, _, _ = server
    request = b"GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    answer = raw_exchange(url, request * 2)
    assert answer.count(b" 200 OK") == 1 and b"Connection: close" in answer


def test_duplicate_content_lengths_are_refused_even_when_equal(server):
    url, _, _ = server
    answer = raw_exchange(
        url, _request(ROW, f"Content-Length: {len(ROW)}", f"Content-Length: {len(ROW)}")
    )
    assert answer.startswith(b"HTTP/1.1 400 ")


# gunicorn counts a field's name, ": ", value and CRLF against the limit.
LARGEST_FIELD_VALUE = wsgi_server.MAX_HEADER_FIELD_BYTES - len("X-Filler: \r\n")


def _oversize_head(field_bytes: int = 65536) -> bytes:
    filler = "X-Filler: " + "a" * field_bytes
    return f"GET /ping HTTP/1.1\r\nHost: x\r\n{filler}\r\n\r\n".encode()


def test_the_largest_header_field_is_accepted(server):
    url, _, _ = server
    answer = raw_exchange(url, _oversize_head(LARGEST_FIELD_VALUE))
    assert answer.startswith(b"HTTP/1.1 200 OK")


def test_a_header_field_one_byte_over_the_limit_gets_431(server):
    url, _, _ = server
    answer = raw_exchange(url, _oversize_head(LARGEST_FIELD_VALUE + 1))
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_too_many_header_fields_get_431(server):
    url, _, _ = server
    fields = "".join(f"X-F{i}: a\r\n" for i in range(wsgi_server.MAX_HEADER_FIELDS + 1))
    answer = raw_exchange(url, f"GET /ping HTTP/1.1\r\n{fields}\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_a_head_over_64_kib_in_one_piece_gets_431(server):
    url, _, _ = server
    answer = raw_exchange(url, _oversize_head())
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_a_head_over_64_kib_byte_by_byte_gets_431(server):
    url, _, _ = server
    host, port = url.removeprefix("http://").split(":")
    head = _oversize_head()
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for i in range(len(head)):
                sock.send(head[i : i + 1])
        except OSError:  # refused and closed before the whole head was sent
            pass
        chunks = []
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    assert b"".join(chunks).startswith(b"HTTP/1.1 431 ")


def _first_answer(url: str, data: bytes, timeout: float = 10) -> tuple[bytes, float]:
    """Send `data`; the first bytes answered and how long they took."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        started = time.monotonic()
        answer = sock.recv(65536)
        return answer, time.monotonic() - started


def test_a_bare_lf_request_is_closed_unanswered_after_the_read_timeout(server):
    # gunicorn reads on, waiting for a CRLF that never comes, then the read times out.
    url, _, _ = server
    answer, waited = _first_answer(url, b"GET /ping HTTP/1.1\n\n", timeout=READ_TIMEOUT + 10)
    assert answer == b"" and waited >= READ_TIMEOUT - 0.5


def test_a_stalled_body_gets_408_and_the_connection_is_closed(server):
    url, _, _ = server
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=READ_TIMEOUT + 10) as sock:
        sock.sendall(_request(ROW[:10], f"Content-Length: {len(ROW)}"))  # then nothing more
        answer = b"".join(iter(lambda: sock.recv(65536), b""))  # until the server closes
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"the request body stopped arriving" in answer


def test_a_stalled_head_is_closed_unanswered_after_the_read_timeout(server):
    url, _, _ = server
    answer, waited = _first_answer(
        url, b"POST /invocations HTTP/1.1\r\nHost: x\r\n", timeout=READ_TIMEOUT + 10
    )
    assert answer == b"" and waited >= READ_TIMEOUT - 0.5
    assert model_server.request(url, "GET", "/ping")[0] == 200  # and the worker serves on


def test_ping_answers_application_json_as_the_image(server):
    url, _, _ = server
    status, content_type, _ = model_server.request(url, "GET", "/ping")
    assert (status, content_type) == (200, "application/json")


def test_a_request_typed_only_by_contenttype_is_parsed_by_that_type(server, built):
    url, _, _ = server
    status, _, body = model_server.request(
        url, "POST", "/invocations", ROW.encode(), {"ContentType": CSV, "Accept": JSON}
    )
    assert status == 200, body
    expected = expected_predictions(built.model_file, PAYLOADS / "one_row_no_newline.csv")
    np.testing.assert_allclose(json.loads(body), expected, rtol=1e-12)


def test_contenttype_wins_over_content_type_as_in_the_library(server):
    url, _, _ = server
    headers = {"ContentType": CSV, "Content-Type": NPY, "Accept": JSON}
    status, _, body = model_server.request(url, "POST", "/invocations", ROW.encode(), headers)
    assert status == 200, body


def test_error_bodies_carry_the_libraries_error_message_key(server):
    url, _, _ = server
    status, content_type, body = post(
        url, (PAYLOADS / "unsupported.txt").read_bytes(), "text/plain"
    )
    error = json.loads(body)
    assert (status, content_type) == (415, JSON)
    assert set(error) >= {"error", "error-message", "message"}
    assert error["error-message"] == error["message"]


def test_ping_fails_with_the_reason_when_model_fn_fails(built, tmp_path):
    artifact = _artifact_with(built, tmp_path, HANDLERS / "broken_model_fn.py")
    env = {"SAGEMAKER_PROGRAM": "broken_model_fn.py", "SAGEMAKER_MODEL_SERVER_WORKERS": "1"}
    process, url = model_server.launch(artifact, tmp_path / "log", env=env)
    with process:
        status, _, body = model_server.request(url, "GET", "/ping")
        assert status == 500
        assert "planted failure: the model cannot be loaded" in json.loads(body)["message"]
        assert post(url, ROW.encode())[0] == 500
        assert process.alive()
        assert "model load failed" in (tmp_path / "log").read_text()


def test_slow_handler_times_out_and_the_worker_serves_again(built, tmp_path):
    artifact = _artifact_with(built, tmp_path, HANDLERS / "misbehaving.py")
    env = {
        "SAGEMAKER_PROGRAM": "misbehaving.py",
        "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
        "SAGEMAKER_MODEL_SERVER_TIMEOUT": "1",
    }
    process, url = model_server.launch(artifact, tmp_path / "log", env=env)
    with process:
        # The handler sleeps 120 s; the 504 naming the 1 s deadline, answered well before the
        # handler could have finished, shows the deadline cut it off. (A tight wall-clock
        # bound would measure the machine's load, not the server.)
        started = time.monotonic()
        status, _, body = post(url, ("999" + ROW[ROW.index(",") :]).encode())
        assert status == 504
        assert "did not finish within 1s" in json.loads(body)["message"]
        assert time.monotonic() - started < 100
        status, _, body = post(url, ROW.encode())  # the same single worker answers again
        assert status == 200


def test_a_crashed_worker_is_restarted(built, tmp_path):
    artifact = _artifact_with(built, tmp_path, HANDLERS / "misbehaving.py")
    env = {"SAGEMAKER_PROGRAM": "misbehaving.py", "SAGEMAKER_MODEL_SERVER_WORKERS": "1"}
    process, url = model_server.launch(artifact, tmp_path / "log", env=env)
    with process:
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            post(url, ("-999" + ROW[ROW.index(",") :]).encode())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if model_server.request(url, "GET", "/ping", timeout=2)[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        assert post(url, ROW.encode())[0] == 200
        assert "exited with code 3" in (tmp_path / "log").read_text()  # gunicorn's words


def test_stop_leaves_no_process_behind(built, tmp_path):
    process, url = model_server.launch(built.artifact_file, tmp_path / "log", unsigned=True)
    with process:
        pgid = process.proc.pid
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)
    with socket.socket() as probe:  # the port is free again
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", int(url.rsplit(":", 1)[1])))


def test_sigint_stops_the_whole_server(built, tmp_path):
    process, _ = model_server.launch(built.artifact_file, tmp_path / "log", unsigned=True)
    with process:
        os.killpg(process.proc.pid, signal.SIGINT)
        assert process.proc.wait(15) == 0


def test_serve_refuses_a_build_the_build_never_signed(built):
    # A manifest beside the artifact says "a pipeline build": without its signature it is
    # refused before anything is extracted, and no AWS call is needed to say so.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "serve",
            "--artifact",
            str(built.artifact_file),
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "is not trusted" in result.stderr and "--unsigned" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_an_archive_larger_than_the_limit_uncompressed(tmp_path):
    # 64 KiB on disk, 64 MiB of zeros inside: refused from the tar headers, nothing written.
    bomb = FIXTURES / "artifact" / "bomb.tar.gz"
    into = tmp_path / "model"
    with pytest.raises(ConfigError, match=r"holds more than 1048576 bytes uncompressed"):
        model_server.extract(bomb, into, limit=1024 * 1024)
    assert not into.exists() or not any(into.iterdir())
    env = {**os.environ, model_server.MAX_MODEL_BYTES_ENV: str(1024 * 1024)}
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "serve", "--artifact", str(bomb), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert result.returncode == 2 and "holds more than 1048576 bytes" in result.stderr


def test_the_extraction_limit_defaults_to_two_gib_and_rejects_nonsense():
    assert model_server.max_model_bytes({}) == 2 * 1024**3
    assert model_server.max_model_bytes({model_server.MAX_MODEL_BYTES_ENV: "5000"}) == 5000
    with pytest.raises(ConfigError, match="give a positive number of bytes"):
        model_server.max_model_bytes({model_server.MAX_MODEL_BYTES_ENV: "2GB"})
