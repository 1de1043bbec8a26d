"""Local model server that honours the SageMaker scikit-learn container contract.

It serves a model.tar.gz the way the `sagemaker-scikit-learn` image does, so that a handler
that works here works there and the other way round:

- the artifact is extracted to a model directory; the script named by SAGEMAKER_PROGRAM
  (default inference.py) is imported from its code/ directory and model_fn(model_dir) loads
  the model. Like the image, a failed load is retried on the next request, and until it
  succeeds GET /ping answers 500 with the reason; the process stays up.
- POST /invocations hands input_fn the body as str for exactly "text/csv" and
  "application/json" and as bytes otherwise; the request's type is read, as the image's
  library does, from a `ContentType` header, then `Content-Type`, defaulting to
  application/json;
  a missing Accept or "*/*" becomes SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT (application/json).
- output_fn returns (body, content_type), sent with status 200.
- Statuses: 413 for a body over 6291456 bytes, 415 for an UnsupportedFormatError from
  input_fn, 406 for one from output_fn, 504 for a handler that runs past
  SAGEMAKER_MODEL_SERVER_TIMEOUT, 500 for any other handler error. Every error carries a
  JSON body with the library's keys {"error", "error-message"} and "message" (the same
  text); the traceback goes to the log. Responses, /ping included, are application/json
  unless output_fn says otherwise, as the library's.
- HTTP: a head over 64 KiB is refused with 431 however it arrives; lines may end in CRLF or
  a bare LF; a head or body that stops arriving for PIPELINE_SERVE_READ_TIMEOUT seconds
  (default 60, nginx's client_header_timeout/client_body_timeout) gets 408 and is closed.

Process model: the parent (arbiter) binds the socket on 127.0.0.1, forks
SAGEMAKER_MODEL_SERVER_WORKERS workers that share it, restarts a worker that dies, and on
SIGTERM/SIGINT stops them and removes the model directory. Each worker runs one asyncio loop
and calls the handler inline (CPU-bound work gains nothing from more threads); a SIGALRM timer
bounds each handler call. Workers exit on their own if the arbiter disappears. Started by the
zygote, the arbiter also stops when the sandbox's lifeline pipe closes (the sandbox died),
not when the zygote dies.

This module must not import boto3 or anything from pipeline.stages.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import importlib.util
import itertools
import json
import logging
import os
import re
import select
import shutil
import signal
import socket
import sys
import tarfile
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ConfigError, PipelineError
from pipeline.local.processes import ManagedProcess

MAX_BODY_BYTES = 6291456
MAX_HEADER_BYTES = 65536
MAX_DRAIN_BYTES = 2 * 6291456  # a refused body is read and dropped up to this, then cut off
DEFAULT_TIMEOUT_SECONDS = 60
DEFAULT_READ_TIMEOUT_SECONDS = 60
MAX_SETTING = 86400  # a day: larger timeouts overflow setitimer, larger worker counts are typos
DEFAULT_PROGRAM = "inference.py"
DEFAULT_ACCEPT = "application/json"
UTF8_TYPES = ("application/json", "text/csv")  # what the image decodes to str

WORKERS_ENV = "SAGEMAKER_MODEL_SERVER_WORKERS"
TIMEOUT_ENV = "SAGEMAKER_MODEL_SERVER_TIMEOUT"
PROGRAM_ENV = "SAGEMAKER_PROGRAM"
ACCEPT_ENV = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
READ_TIMEOUT_ENV = "PIPELINE_SERVE_READ_TIMEOUT"
LIFELINE_ENV = "PIPELINE_LIFELINE_FD"
_HEAD_END = re.compile(rb"\r?\n\r?\n")

REASONS = {
    200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
    406: "Not Acceptable", 408: "Request Timeout", 411: "Length Required", 413: "Payload Too Large",
    415: "Unsupported Media Type", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
}  # fmt: skip

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}

log = logging.getLogger("pipeline.model_server")


@dataclass(frozen=True)
class ServerConfig:
    workers: int
    timeout: float
    program: str = DEFAULT_PROGRAM
    default_accept: str = DEFAULT_ACCEPT
    host: str = "127.0.0.1"
    port: int = 8080
    read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS

    @classmethod
    def from_env(cls, environ: dict[str, str], host: str, port: int) -> ServerConfig:
        return cls(
            workers=_positive(environ, WORKERS_ENV, os.cpu_count() or 1, int),
            timeout=_positive(environ, TIMEOUT_ENV, DEFAULT_TIMEOUT_SECONDS, float),
            program=environ.get(PROGRAM_ENV) or DEFAULT_PROGRAM,
            default_accept=environ.get(ACCEPT_ENV) or DEFAULT_ACCEPT,
            host=host,
            port=port,
            read_timeout=_positive(environ, READ_TIMEOUT_ENV, DEFAULT_READ_TIMEOUT_SECONDS, float),
        )


def _positive(environ: dict[str, str], name: str, default, kind):
    raw = environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = 0
    if not (0 < value <= MAX_SETTING):  # also refuses nan and inf
        raise ConfigError(
            f"{name}={raw!r} must be a positive {kind.__name__} up to {MAX_SETTING}; "
            f"unset it for the default, {default}"
        )
    return value


class HandlerTimeout(BaseException):
    """Raised into the handler by SIGALRM. A BaseException, so that a handler's own
    `except Exception` cannot swallow it and turn a timeout into some other answer.
    Limit: Python delivers signals between bytecodes, so one long C call (a big BLAS
    operation) is interrupted only when it returns."""


class _Result:
    __slots__ = ("status", "body", "content_type")

    def __init__(self, status: int, body: bytes, content_type: str):
        self.status, self.body, self.content_type = status, body, content_type


def _error(status: int, error: str, message: str) -> _Result:
    # "error" and "error-message" as the image's serving library; "message" as before.
    body = json.dumps({"error": error, "error-message": message, "message": message}).encode()
    return _Result(status, body, "application/json")


def _is_unsupported_format(exc: BaseException) -> bool:
    # Match by name: the handler may raise the serving library's class or its own stand-in.
    return any(cls.__name__ == "UnsupportedFormatError" for cls in type(exc).__mro__)


class Handler:
    """The user's inference script, loaded lazily and retried until model_fn succeeds."""

    def __init__(self, model_dir: Path, config: ServerConfig):
        self.model_dir = model_dir
        self.config = config
        self.module = None
        self.model = None
        self._in_call = False
        self._timer_armed = False

    def load(self) -> str | None:
        """Load the script and the model; the reason it failed, or None once loaded."""
        if self.module is not None:
            return None
        code_dir = self.model_dir / "code"
        script = code_dir / self.config.program
        try:
            if not script.is_file():
                raise FileNotFoundError(
                    f"{PROGRAM_ENV}={self.config.program!r}: no such script in the artifact's code/"
                )
            if str(code_dir) not in sys.path:
                sys.path.insert(0, str(code_dir))
            spec = importlib.util.spec_from_file_location(script.stem, script)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            missing = [
                fn
                for fn in ("model_fn", "input_fn", "predict_fn", "output_fn")
                if not callable(getattr(module, fn, None))
            ]
            if missing:
                raise AttributeError(
                    f"{script.name} does not define {', '.join(missing)}; this server needs "
                    "model_fn, input_fn, predict_fn and output_fn"
                )
            # Not under the invocation timeout: loading may import heavy libraries, and
            # SageMaker gives a starting container minutes to pass its first ping.
            model = module.model_fn(str(self.model_dir))
        except Exception as exc:
            log.error("model load failed:\n%s", traceback.format_exc().rstrip())
            return f"{type(exc).__name__}: {exc}"
        self.module, self.model = module, model
        log.info("model loaded from %s", self.model_dir)
        return None

    def _alarm(self, signum, frame):
        if self._in_call:
            raise HandlerTimeout(f"exceeded {TIMEOUT_ENV}={self.config.timeout:g}s")

    def install_timer(self) -> None:
        signal.signal(signal.SIGALRM, self._alarm)
        self._timer_armed = True

    @contextlib.contextmanager
    def _deadline(self):
        """One timer for the whole request: input_fn + predict_fn + output_fn."""
        if not self._timer_armed:
            yield
            return
        self._in_call = True
        signal.setitimer(signal.ITIMER_REAL, self.config.timeout)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            self._in_call = False

    def ping(self) -> _Result:
        reason = self.load()
        if reason is not None:
            return _error(500, "ModelLoadError", reason)
        return _Result(200, b"", "application/json")  # the library's default type

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> _Result:
        reason = self.load()
        if reason is not None:
            return _error(500, "ModelLoadError", reason)
        content_type = content_type or "application/json"
        if not accept or accept == "*/*":
            accept = self.config.default_accept
        # As Flask's get_data(as_text=True) in the image: undecodable bytes become U+FFFD.
        content = body.decode("utf-8", "replace") if content_type in UTF8_TYPES else body
        module = self.module
        stage = "input_fn"
        try:
            with self._deadline():
                data = module.input_fn(content, content_type)
                stage = "predict_fn"
                prediction = module.predict_fn(data, self.model)
                stage = "output_fn"
                result = module.output_fn(prediction, accept)
        except HandlerTimeout:
            log.error("request exceeded %s=%ss in %s", TIMEOUT_ENV, self.config.timeout, stage)
            return _error(
                504,
                "Timeout",
                f"the request did not finish within {self.config.timeout:g}s ({TIMEOUT_ENV}); "
                f"it was in {stage}",
            )
        except Exception as exc:
            log.error("%s failed:\n%s", stage, traceback.format_exc().rstrip())
            status = 500
            if _is_unsupported_format(exc):
                status = {"input_fn": 415, "output_fn": 406}.get(stage, 500)
            return _error(status, type(exc).__name__, str(exc))
        return _output(result)


def _output(result) -> _Result:
    """The HTTP answer for what output_fn returned: a (body, content_type) pair, sent with 200
    as the image does, or a response object (Flask/werkzeug style: status_code, get_data(),
    mimetype), which the image sends as it is."""
    if isinstance(result, tuple) and len(result) == 2:
        body, content_type, status = result[0], str(result[1]), 200
    elif hasattr(result, "status_code") and callable(getattr(result, "get_data", None)):
        body = result.get_data()
        content_type = getattr(result, "content_type", None) or "application/octet-stream"
        status = int(result.status_code)
    else:
        return _error(
            500,
            "InvalidOutput",
            f"output_fn returned {type(result).__name__}; return (body, content_type)",
        )
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not isinstance(body, bytes | bytearray | memoryview):
        return _error(
            500, "InvalidOutput", f"output_fn body is {type(body).__name__}; return str or bytes"
        )
    return _Result(status, bytes(body), content_type)


class _HttpProtocol(asyncio.Protocol):
    """Minimal HTTP/1.1 with keep-alive and Content-Length bodies (no chunked uploads)."""

    def __init__(self, app: _App):
        self.app = app
        self.buffer = bytearray()
        self.transport = None
        self.peer = "-"
        self.pending = None  # (method, path, headers, keep_alive, length) awaiting the body
        self.discard = 0  # bytes of a refused body still to drop before closing
        self.scanned = 0  # how much of the buffer is known to hold no end of head
        self.timer = None  # the read timeout while a request is partly received

    def connection_made(self, transport):
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if peer else "-"

    def data_received(self, data):
        self._received(data)
        # Arm (or re-arm) the read timeout while a request is partly here; idle keep-alive
        # connections (nothing owed) are left alone.
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        waiting = self.buffer or self.pending is not None or self.discard
        if waiting and self.transport is not None and not self.transport.is_closing():
            timeout = self.app.handler.config.read_timeout
            self.timer = asyncio.get_running_loop().call_later(timeout, self._timed_out)

    def _timed_out(self):
        self.timer = None
        if self.transport is None or self.transport.is_closing():
            return
        if self.discard:  # a refused body stopped arriving: its answer was already sent
            self.transport.close()
            return
        part = "body" if self.pending is not None else "head"
        timeout = self.app.handler.config.read_timeout
        self.pending = None
        self._refuse(408, f"the request {part} stopped arriving for {timeout:g}s "
                          f"({READ_TIMEOUT_ENV})", 0)  # fmt: skip

    def _received(self, data):
        if self.discard:
            dropped = min(self.discard, len(data))
            self.discard -= dropped
            if not self.discard:
                self.transport.close()
            return
        self.buffer += data
        while self.transport is not None and not self.transport.is_closing():
            if self.pending is None and not self._read_head():
                return
            method, path, headers, keep_alive, length = self.pending
            if len(self.buffer) < length:
                return
            body = bytes(self.buffer[:length])
            del self.buffer[:length]
            self.pending = None
            self.app.respond(self, method, path, headers, body, keep_alive)
            if not keep_alive:
                return

    def _read_head(self) -> bool:
        # Search only what is new (less the 3 bytes a split terminator may start in): a head
        # sent byte by byte must not cost a rescan of the whole buffer per byte.
        found = _HEAD_END.search(self.buffer, max(0, self.scanned - 3))
        if found is None:
            self.scanned = len(self.buffer)
            if len(self.buffer) > MAX_HEADER_BYTES:
                self._refuse(431, "request headers exceed 64 KiB", 0)
            return False
        self.scanned = 0
        if found.start() > MAX_HEADER_BYTES:  # the same limit when it came in one piece
            self._refuse(431, "request headers exceed 64 KiB", 0)
            return False
        head = bytes(self.buffer[: found.start()]).decode("latin-1")
        del self.buffer[: found.end()]
        # Lines end in CRLF or, tolerated as by most servers, a bare LF.
        request_line, *lines = (line.removesuffix("\r") for line in head.split("\n"))
        parts = request_line.split(" ")
        if len(parts) != 3:
            self._refuse(400, f"malformed request line {request_line!r}", 0)
            return False
        method, path, version = parts
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            self._refuse(505, f"{version!r} is not supported; use HTTP/1.1", 0)
            return False
        headers: dict[str, str] = {}
        lengths = []
        for line in lines:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            headers[name] = value
            if name == "content-length":
                lengths.append(value)
        connection = headers.get("connection", "").lower()
        keep_alive = connection == "keep-alive" if version == "HTTP/1.0" else connection != "close"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._refuse(411, "chunked request bodies are not supported; send Content-Length", 0)
            return False
        raw_length = lengths[0] if len(lengths) == 1 else "0" if not lengths else None
        if raw_length is None or not raw_length.isdigit() or not raw_length.isascii():
            # Only plain digits: int() would also take "-5", "+5" and "1_0", and a negative
            # length would cut the body short and mix it into the next request.
            self._refuse(400, "Content-Length must be one non-negative decimal integer", 0)
            return False
        length = int(raw_length)
        expects_continue = headers.get("expect", "").lower() == "100-continue"
        if length > MAX_BODY_BYTES:
            self._refuse(
                413,
                f"request body of {length} bytes exceeds the {MAX_BODY_BYTES}-byte limit "
                "SageMaker applies to real-time invocations",
                # A client that waits for 100 Continue sends nothing more; others are sending.
                0 if expects_continue else min(length - len(self.buffer), MAX_DRAIN_BYTES),
                path=path,
                method=method,
            )
            return False
        if expects_continue and len(self.buffer) < length:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.pending = (method, path, headers, keep_alive, length)
        return True

    def _refuse(self, status, message, discard, path="-", method="-"):
        """Answer an unreadable request and close, after dropping a body the client still sends."""
        result = _error(status, REASONS[status].replace(" ", ""), message)
        self.buffer.clear()
        self.scanned = 0
        self.discard = max(0, discard)  # set first: write() closes only when nothing is owed
        self.app.write(
            self, result, keep_alive=False, method=method, path=path, started=time.monotonic()
        )

    def connection_lost(self, exc):
        self.transport = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class _App:
    def __init__(self, handler: Handler, worker_id: int):
        self.handler = handler
        self.worker_id = worker_id

    def respond(self, conn: _HttpProtocol, method, path, headers, body, keep_alive):
        started = time.monotonic()
        try:
            result = self._route(method, path.split("?", 1)[0], headers, body)
        except Exception as exc:  # a server bug must not leave the client hanging
            log.error("internal error:\n%s", traceback.format_exc().rstrip())
            result = _error(500, "InternalServerError", f"{type(exc).__name__}: {exc}")
        self.write(conn, result, keep_alive, method, path, started, len(body))

    def _route(self, method, route, headers, body) -> _Result:
        if route == "/ping":
            if method != "GET":
                return _error(405, "MethodNotAllowed", "use GET /ping")
            return self.handler.ping()
        if route == "/invocations":
            if method != "POST":
                return _error(405, "MethodNotAllowed", "use POST /invocations")
            # As the library: the `ContentType` header first (some AWS services send it).
            content_type = headers.get("contenttype") or headers.get("content-type")
            return self.handler.invoke(body, content_type, headers.get("accept"))
        return _error(404, "NotFound", f"no route {route}; use GET /ping or POST /invocations")

    def write(self, conn, result: _Result, keep_alive, method, path, started, received=0):
        head = (
            f"HTTP/1.1 {result.status} {REASONS.get(result.status, '')}\r\n"
            f"Content-Type: {result.content_type}\r\n"
            f"Content-Length: {len(result.body)}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
        )
        # Log before writing: a client that stops the server on receipt must not lose the line.
        log.info(
            '%s "%s %s" %d in=%dB out=%dB %.1fms worker=%d',
            conn.peer, method, path, result.status, received, len(result.body),
            (time.monotonic() - started) * 1000, self.worker_id,
        )  # fmt: skip
        conn.transport.write(head.encode("latin-1") + result.body)
        if not keep_alive and not conn.discard:
            conn.transport.close()


# A model.tar.gz of 1 MB can hold 1 GiB of zeros: limits on what extraction may write, read
# before anything is written (the tar headers), for `serve` and the sandbox's runtime.
MAX_MODEL_BYTES_ENV = "PIPELINE_MAX_MODEL_BYTES"
DEFAULT_MAX_MODEL_BYTES = 2 * 1024**3  # 2 GiB uncompressed
MAX_MODEL_MEMBERS = 10_000


def max_model_bytes(environ=os.environ) -> int:
    raw = environ.get(MAX_MODEL_BYTES_ENV)
    if raw is None:
        return DEFAULT_MAX_MODEL_BYTES
    if not raw.isdigit() or int(raw) <= 0:
        raise ConfigError(f"{MAX_MODEL_BYTES_ENV}={raw!r}: give a positive number of bytes "
                          f"(default {DEFAULT_MAX_MODEL_BYTES})")  # fmt: skip
    return int(raw)


def _check_sizes(tar: tarfile.TarFile, artifact: Path, limit: int) -> None:
    total = 0
    for count, member in enumerate(tar, start=1):
        if count > MAX_MODEL_MEMBERS:
            raise ConfigError(f"{artifact}: more than {MAX_MODEL_MEMBERS} entries; refusing to "
                              "extract it")  # fmt: skip
        total += max(member.size, 0)
        if total > limit:
            raise ConfigError(
                f"{artifact}: holds more than {limit} bytes uncompressed (limit "
                f"{MAX_MODEL_BYTES_ENV}, default {DEFAULT_MAX_MODEL_BYTES}); refusing to "
                "extract it"
            )


def extract(artifact: Path, into: Path, limit: int | None = None) -> Path:
    """Extract model.tar.gz into `into`; refuses unreadable archives, unsafe paths, and
    archives whose entries add up to more than `limit` bytes (checked from the headers,
    before anything is written)."""
    limit = max_model_bytes() if limit is None else limit
    try:
        with tarfile.open(artifact) as tar:
            _check_sizes(tar, artifact, limit)
            tar.extractall(into, filter="data")
    except FileNotFoundError:
        raise ConfigError(
            f"{artifact}: artifact not found; run `python -m pipeline package`"
        ) from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ConfigError(f"{artifact}: not a readable model.tar.gz ({exc})") from None
    return into


def _worker_main(
    sock: socket.socket, model_dir: Path, config: ServerConfig, worker_id: int
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the arbiter decides when to stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # until the loop takes it over
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked by the arbiter for fork
    parent = os.getppid()
    handler = Handler(model_dir, config)
    handler.install_timer()
    handler.load()  # eager, so /ping is fast; a failure is retried per request, as in the image
    loop = asyncio.new_event_loop()
    app = _App(handler, worker_id)

    def orphan_check():
        if os.getppid() != parent:  # the arbiter died without stopping us
            loop.stop()
        else:
            loop.call_later(1.0, orphan_check)

    loop.call_later(1.0, orphan_check)
    loop.add_signal_handler(signal.SIGTERM, loop.stop)  # finish the request in hand, then exit
    loop.run_until_complete(loop.create_server(lambda: _HttpProtocol(app), sock=sock, backlog=1024))
    loop.run_forever()


class _Stop(Exception):
    pass


DIE_WITH_PARENT_ENV = "PIPELINE_DIE_WITH_PARENT"


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this process when the one that started it dies (the sandbox)."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the sandbox's own cleanup still applies
        return
    if os.getppid() == 1:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _wait_child(lifeline: int | None) -> tuple[int, int]:
    """os.wait(), but with a lifeline (a pipe whose write end only the sandbox holds) it also
    stops the server when the pipe reaches end of file: the sandbox is gone."""
    if lifeline is None:
        return os.wait()
    while True:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid:
            return pid, status
        readable, _, _ = select.select([lifeline], [], [], 0.2)
        if readable and not os.read(lifeline, 1):
            log.info("the sandbox is gone (lifeline closed)")
            raise _Stop()


def serve(artifact: Path, config: ServerConfig, on_ready: Callable[[int], None],
          lifeline: int | None = None) -> None:  # fmt: skip
    """Run the server until SIGTERM or SIGINT (or, given a lifeline fd, until it closes).
    `on_ready(port)` is called once bound."""
    if os.environ.get(DIE_WITH_PARENT_ENV) == "1":
        _die_with_parent()
    model_dir = Path(tempfile.mkdtemp(prefix="pipeline-model-"))
    children: dict[int, int] = {}
    sock = None
    try:
        extract(artifact, model_dir)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((config.host, config.port))
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {config.host}:{config.port} ({exc.strerror}); "
                "choose another --port, or --port 0 for a free one"
            ) from None
        sock.listen(1024)
        sock.setblocking(False)

        def stop(signum, frame):
            raise _Stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        started: dict[int, float] = {}

        def spawn(worker_id: int) -> None:
            # Block the stop signals across fork, so a child never runs the arbiter's handler;
            # the child unblocks them once its own handlers are in place.
            signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            pid = -1
            try:
                pid = os.fork()
            finally:
                if pid != 0:
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
            if pid == 0:  # child
                code = 0
                try:
                    _worker_main(sock, model_dir, config, worker_id)
                except BaseException:
                    log.exception("worker %d failed", worker_id)
                    code = 1
                finally:
                    os._exit(code)
            children[pid] = worker_id
            started[pid] = time.monotonic()

        try:
            for worker_id in range(1, config.workers + 1):
                spawn(worker_id)
            log.info(
                "serving %s on http://%s:%d with %d worker(s), timeout %gs",
                artifact, config.host, sock.getsockname()[1], config.workers, config.timeout,
            )  # fmt: skip
            on_ready(sock.getsockname()[1])
            while True:
                pid, status = _wait_child(lifeline)
                worker_id = children.pop(pid, None)
                if worker_id is None:
                    continue
                log.error(
                    "worker %d (pid %d) exited with status %d; restarting", worker_id, pid, status
                )
                if time.monotonic() - started.pop(pid, 0.0) < 1.0:
                    time.sleep(1.0)  # a worker that dies at once would otherwise spin
                spawn(worker_id)
        except _Stop:
            log.info("stopping")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _stop_children(children)
        if sock is not None:
            sock.close()
        shutil.rmtree(model_dir, ignore_errors=True)


def _stop_children(children: dict[int, int], grace: float = 5.0) -> None:
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    remaining = set(children)
    while remaining and time.monotonic() < deadline:
        for pid in list(remaining):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                remaining.discard(pid)
        time.sleep(0.02)
    for pid in remaining:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


READY_LINE = re.compile(r"listening on (http://[\d.]+:(\d+))")
ZYGOTE_READY = re.compile(r"^zygote ready")
# What the serving image's handlers import, loaded once by the zygote (`pipeline serve
# --zygote`) before it forks model servers, so that each starts in a fraction of a second
# instead of paying for these imports. Missing ones are skipped: this only saves time.
WARM_MODULES = ("numpy", "scipy", "joblib", "pyarrow", "pyarrow.csv", "sklearn",
                "sklearn.linear_model")  # fmt: skip


def warm_up() -> None:
    import importlib

    for name in WARM_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def zygote_main(stdin, stdout) -> None:
    """Fork a model server for each JSON request line on `stdin`:
    {"id", "artifact", "env", "log"}; answer {"id", "pid", "port"} (port null on failure).

    Each server runs in its own session and process group, logs to its own file, and
    outlives the zygote: it stops when the sandbox's lifeline pipe (the fd named by
    PIPELINE_LIFELINE_FD, inherited) closes, that is when the sandbox dies, however it dies.
    The zygote itself gets SIGTERM when its starter (the sandbox) dies.
    """
    if os.environ.get(DIE_WITH_PARENT_ENV) == "1":
        _die_with_parent()
    warm_up()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # servers are reaped automatically
    stdout.write("zygote ready\n")
    stdout.flush()
    for line in stdin:
        request = json.loads(line)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            _become_server(request, write_end)  # never returns
        os.close(write_end)
        with os.fdopen(read_end, "rb") as reader:
            # One line, not EOF: the server's workers inherit the write end of the pipe.
            port = reader.readline().strip()  # empty if the server failed before binding
        stdout.write(json.dumps({"id": request["id"], "pid": pid,
                                 "port": int(port) if port else None}) + "\n")  # fmt: skip
        stdout.flush()


def _become_server(request: dict, report_fd: int) -> None:
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the arbiter waits for its workers
        os.setsid()
        log_fd = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null_fd = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null_fd, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.environ.update(request["env"])
        os.environ.pop(DIE_WITH_PARENT_ENV, None)  # the zygote's own setting, not serve()'s
        # Not _die_with_parent(): its parent is the zygote, and a zygote that dies must not
        # take running endpoints with it. The lifeline follows the sandbox instead.
        lifeline = os.environ.get(LIFELINE_ENV)
        config = ServerConfig.from_env(dict(os.environ), host="127.0.0.1", port=0)

        def ready(port: int) -> None:
            os.write(report_fd, f"{port}\n".encode())
            os.close(report_fd)

        serve(Path(request["artifact"]), config, ready, int(lifeline) if lifeline else None)
        code = 0
    except BaseException:
        log.exception("model server for %s failed", request.get("artifact"))
    finally:
        os._exit(code)


class Zygote:
    """The sandbox's handle on a `pipeline serve --zygote` process."""

    def __init__(self, log_path: Path, env: dict[str, str], lifeline: int | None = None):
        """`lifeline`: the read end of a pipe whose write end only the sandbox holds; the
        servers this zygote forks stop when it closes."""
        extra = {LIFELINE_ENV: str(lifeline)} if lifeline is not None else {}
        self.process = ManagedProcess(
            [sys.executable, "-m", "pipeline", "serve", "--zygote"], log_path=log_path,
            env={**os.environ, **env, **extra}, with_stdin=True,
            pass_fds=(lifeline,) if lifeline is not None else (),
        )  # fmt: skip
        self.process.start(ZYGOTE_READY, 120.0)
        self._ids = itertools.count(1)

    def alive(self) -> bool:
        return self.process.alive()

    def spawn(self, artifact: Path, env: dict[str, str], log_path: Path) -> ServerHandle:
        request_id = next(self._ids)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.process.write_line(json.dumps(
            {"id": request_id, "artifact": str(artifact), "env": env, "log": str(log_path)}
        ))  # fmt: skip
        answer = json.loads(self.process.read_line(60.0))
        if answer["id"] != request_id or answer["port"] is None:
            raise PipelineError(f"the model server did not start; see {log_path}")
        return ServerHandle(answer["pid"], f"http://127.0.0.1:{answer['port']}", log_path)

    def stop(self) -> None:
        self.process.stop()


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # gone, or no /proc (macOS): kill(pid, 0) said it exists
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]


@dataclass
class ServerHandle:
    """A model server the zygote forked: not our child, so watched and stopped by pid."""

    pid: int
    url: str
    log_path: Path

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        # A server whose zygote died is an orphan that init reaps; until it does, an exited
        # server is a zombie, which kill(pid, 0) would call alive.
        return not _is_zombie(self.pid)

    def stop(self, grace: float = 10.0) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, sig)
            deadline = time.monotonic() + grace
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.02)
            if not self.alive():
                return


def launch(
    artifact: Path,
    log_path: Path,
    env: dict[str, str] | None = None,
    port: int = 0,
    ready_timeout: float = 60.0,
    unsigned: bool = False,
) -> tuple[ManagedProcess, str]:
    """Start `python -m pipeline serve` as a managed child; returns it and its base URL.

    The server picks a free port itself (port 0) and reports it, so there is no race between
    choosing a port and binding it. The caller stops it (it is a context manager).
    """
    process = ManagedProcess(
        [sys.executable, "-m", "pipeline", "serve", "--artifact", str(artifact),
         "--port", str(port), *(["--unsigned"] if unsigned else [])],
        log_path=log_path,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    match = process.start(READY_LINE, ready_timeout)
    return process, match.group(1)


def request(
    base_url: str,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    timeout: float = 90.0,
) -> tuple[int, str, bytes]:
    """One HTTP request; (status, content type, body)."""
    host, _, port = base_url.removeprefix("http://").partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        conn.close()
