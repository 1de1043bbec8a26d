"""The runtime gateway: the SageMaker Runtime API (InvokeEndpoint) on its own 127.0.0.1 port.

boto3 sends `sagemaker-runtime` calls here when AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME points at
it, so unchanged client code invokes sandbox endpoints. The endpoint's state comes from the
emulator through the same pipeline.aws wrapper the rest of the code uses; the request goes
to the model server the local runtime runs for the endpoint's variant. An answered
invocation of an endpoint whose config captures data is handed to the runtime's
DataCapture (pipeline/local/capture.py), with InvokeEndpoint's InferenceId when given.

Under load (measured by bench/gateway_concurrency.py): the listen backlog holds
LISTEN_BACKLOG connections, so a burst is queued rather than dropped (a dropped SYN costs
the client seconds of retransmission back-off); each connection has its own thread;
connections to model servers are kept alive and reused; and an endpoint's status is read
from the emulator at most once per STATUS_TTL_SECONDS, and again whenever the runtime
activates or retires a deployment, instead of once per request.

One route is the sandbox's own, not AWS's: `POST /_sandbox/capture/flush` writes every data
capture buffered so far to the emulator's S3 at once, instead of within the flush interval,
and answers `{"written": N}` (the lines written). Captures are buffered before an invocation
is answered, so once a client has its answers, a flush puts all of them in S3 (SageMaker
delivers in minutes; a program that reads the captures of the sandbox right away uses this).

HTTP is as strict as the model server's: one non-negative decimal Content-Length (else
400), no Transfer-Encoding (411: chunked bodies are refused, never read as empty), and a
client that stops sending its head or body for READ_TIMEOUT_SECONDS gets 408 (body) or is
disconnected (head, idle keep-alive). After any of these the connection is closed.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pipeline.aws.errors import AwsError, NotFound
from pipeline.aws.sagemaker import SageMaker
from pipeline.local.capture import FLUSH_PATH, Invocation
from pipeline.local.runtime import LocalRuntime, ProvisionFailed, VariantServer

MAX_BODY_BYTES = 6291456
INVOCATION_TIMEOUT_SECONDS = 60.0
READ_TIMEOUT_SECONDS = 60.0  # per read: a head or body that stops arriving
LISTEN_BACKLOG = 1024  # the kernel caps it at net.core.somaxconn
STATUS_TTL_SECONDS = 1.0
IDLE_CONNECTIONS_PER_SERVER = 32
SERVING_STATUSES = ("InService", "Updating")
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
INFERENCE_ID = "X-Amzn-SageMaker-Inference-Id"  # InvokeEndpoint's InferenceId
_PATH = re.compile(r"^/endpoints/([^/]+)/invocations$")
log = logging.getLogger("pipeline.gateway")


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


class _Server(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG  # socketserver's default, 5, drops bursts
    daemon_threads = True


class RuntimeGateway:
    def __init__(
        self,
        runtime: LocalRuntime,
        region: str,
        account_id: str = "123456789012",
        sagemaker: SageMaker | None = None,
        read_timeout: float = READ_TIMEOUT_SECONDS,
    ):
        self.runtime = runtime
        self.region = region
        self.account_id = account_id
        self.read_timeout = read_timeout
        self._sagemaker = sagemaker
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._pool = _ConnectionPool()
        self._statuses: dict[str, tuple[int, float, str | None]] = {}
        self._status_locks: dict[str, threading.Lock] = {}
        self._status_guard = threading.Lock()

    @property
    def sagemaker(self) -> SageMaker:
        if self._sagemaker is None:  # created on first use: the sandbox sets its env first
            self._sagemaker = SageMaker()
        return self._sagemaker

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = gateway.read_timeout  # applied to the socket: every read is bounded

            def setup(self):
                super().setup()
                # Headers and body go out in separate writes; without this, Nagle's
                # algorithm and the client's delayed ACK add ~40 ms to every answer.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self):  # noqa: N802 (http.server's naming)
                gateway.handle(self)

            def log_message(self, fmt, *args):  # one line per request comes from handle()
                pass

        self._server = _Server((host, port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, kwargs={"poll_interval": 0.05}
        )
        self._thread.start()
        return f"http://{host}:{self._server.server_port}"

    def stop(self) -> None:
        """Stop answering (idempotent): the sandbox stops the gateway before it writes the
        last captures, so none arrives after them."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        self._pool.close()

    # -- one request ---------------------------------------------------------------
    def handle(self, request: BaseHTTPRequestHandler) -> None:
        started = time.monotonic()
        path = request.path.split("?", 1)[0]
        match = _PATH.match(path)
        name = match.group(1) if match else "-"
        try:
            if path == FLUSH_PATH:
                self._read_body(request)  # bounded; nothing in it is used
                written = self.runtime.capture.flush()
                status, headers, body = (
                    200,
                    {"Content-Type": "application/json"},
                    json.dumps({"written": written}).encode(),
                )
            elif not match:
                raise _Refusal(
                    404,
                    "UnknownOperationException",
                    "use POST /endpoints/{EndpointName}/invocations",
                )
            else:
                status, headers, body = self._invoke(request, name)
        except _Refusal as refusal:
            status, headers, body = self._error(refusal)
        request.send_response(status)
        for key, value in headers.items():
            request.send_header(key, value)
        request.send_header("Content-Length", str(len(body)))
        if request.close_connection:
            request.send_header("Connection", "close")
        request.end_headers()
        request.wfile.write(body)
        log.info('"POST %s" %d %.1fms', request.path, status, (time.monotonic() - started) * 1000)

    def _read_body(self, request) -> bytes:
        if request.headers.get_all("Transfer-Encoding"):
            request.close_connection = True  # the body's bytes are not read: never reuse
            raise _Refusal(
                411,
                "LengthRequired",
                "Transfer-Encoding (chunked) request bodies are not supported; "
                "send the body with Content-Length",
            )
        lengths = request.headers.get_all("Content-Length") or ["0"]
        raw = lengths[0].strip()
        if len(lengths) != 1 or not (raw.isascii() and raw.isdigit()):
            # Only plain digits: int() would take "-5", "+5" and "1_0", and a negative length
            # would read nothing and leave the body on the connection as the next request.
            request.close_connection = True
            raise _Refusal(
                400, "ValidationError", "Content-Length must be one non-negative decimal integer"
            )
        length = int(raw)
        if length > MAX_BODY_BYTES:
            request.close_connection = True  # the body is not read: do not reuse the socket
            raise _Refusal(
                413,
                "ValidationError",
                f"Request payload of {length} bytes exceeds the {MAX_BODY_BYTES}-byte limit "
                "for real-time inference.",
            )
        try:
            body = request.rfile.read(length)
        except TimeoutError:
            body = None
        if body is None or len(body) < length:
            request.close_connection = True
            if body is not None:  # the client closed its side mid-body: nobody to answer
                raise _Refusal(400, "ValidationError", "the request body ended early")
            raise _Refusal(
                408,
                "RequestTimeout",
                f"the request body stopped arriving for {self.read_timeout:g}s "
                f"({len(body or b'')} of {length} bytes read)",
            )
        return body

    def _status(self, name: str) -> str | None:
        """The endpoint's status (None: no such endpoint), read from the emulator at most once
        per STATUS_TTL_SECONDS per endpoint and again after any runtime change."""
        generation = self.runtime.generation
        cached = self._statuses.get(name)
        if cached and cached[0] == generation and time.monotonic() - cached[1] < STATUS_TTL_SECONDS:
            return cached[2]
        with self._status_guard:
            lock = self._status_locks.setdefault(name, threading.Lock())
        with lock:  # one reader per endpoint; the others wait for its answer
            cached = self._statuses.get(name)
            if (
                cached
                and cached[0] == generation
                and (time.monotonic() - cached[1] < STATUS_TTL_SECONDS)
            ):
                return cached[2]
            try:
                status = self.sagemaker.describe_endpoint(name).status
            except NotFound:
                status = None
            except AwsError as exc:
                raise _Refusal(500, "InternalFailure", str(exc)) from None
            if status is None or status in SERVING_STATUSES:
                # Not a passing state (Creating, Failed...): the hooks set InService just
                # after activating, so those are read afresh each time.
                self._statuses[name] = (generation, time.monotonic(), status)
            return status

    def _invoke(self, request, name: str) -> tuple[int, dict, bytes]:
        body = self._read_body(request)
        status = self._status(name)
        if status is None:
            raise _Refusal(
                400, "ValidationError", f"Endpoint {name} of account {self.account_id} not found."
            )
        if status not in SERVING_STATUSES:
            raise _Refusal(
                400,
                "ValidationError",
                f"Endpoint {name} of account {self.account_id} is not in service "
                f"(EndpointStatus: {status}).",
            )
        target = request.headers.get("X-Amzn-SageMaker-Target-Variant")
        server = self._route(name, target)
        forward = {
            key: request.headers[key]
            for key in ("Content-Type", "Accept")
            if request.headers.get(key)
        }
        if request.headers.get(CUSTOM_ATTRIBUTES):
            forward[CUSTOM_ATTRIBUTES] = request.headers[CUSTOM_ATTRIBUTES]
        url = server.url
        try:
            try:
                status, content_type, answer, attributes = self._pool.forward(url, body, forward)
            except TimeoutError:
                raise
            except OSError:
                # An update may have retired this server between routing and sending: the
                # request goes, once, to whatever serves the endpoint now.
                current = self._route(name, target)
                if current.url == url:
                    raise
                server = current
                status, content_type, answer, attributes = self._pool.forward(
                    server.url, body, forward
                )
        except TimeoutError:
            raise _Refusal(
                424,
                "ModelError",
                "Your invocation timed out while waiting for a response from container "
                f"{server.spec.variant}.",
                OriginalStatusCode=0,
                OriginalMessage="timeout",
            ) from None
        except OSError as exc:
            raise _Refusal(
                424,
                "ModelError",
                f"Could not reach container {server.spec.variant}: {exc}",
                OriginalStatusCode=0,
                OriginalMessage=str(exc),
            ) from None
        if status >= 400:
            kind = "client" if status < 500 else "server"
            original = answer.decode(errors="replace")
            raise _Refusal(
                424,
                "ModelError",
                f"Received {kind} error ({status}) from {server.spec.variant} with message "
                f'"{original}". See the model server log {server.log_path} for more information.',
                OriginalStatusCode=status,
                OriginalMessage=original,
                LogStreamArn=str(server.log_path),
            )
        headers = {
            "Content-Type": content_type or "application/octet-stream",
            "x-Amzn-Invoked-Production-Variant": server.spec.variant,
        }
        if attributes:
            headers[CUSTOM_ATTRIBUTES] = attributes
        self._capture(name, server, body, request, headers["Content-Type"], answer)
        return 200, headers, answer

    def _capture(
        self,
        name: str,
        server: VariantServer,
        body: bytes,
        request: BaseHTTPRequestHandler,
        answer_type: str,
        answer: bytes,
    ) -> None:
        """Data capture of an answered invocation (pipeline/local/capture.py): never fails
        the request it records."""
        if server.spec.capture is None:
            return
        try:
            self.runtime.capture.record(
                server.spec.capture,
                Invocation(
                    endpoint=name,
                    variant=server.spec.variant,
                    request_body=body,
                    request_type=request.headers.get("Content-Type", ""),
                    response_body=answer,
                    response_type=answer_type,
                    inference_id=request.headers.get(INFERENCE_ID),
                ),
            )
        except Exception:
            log.exception("data capture of an invocation of %s failed", name)

    def _route(self, name: str, target: str | None):
        try:
            server = self.runtime.route(name, target)
        except ProvisionFailed as failed:
            raise _Refusal(500, "InternalFailure", failed.reason) from None
        if server is None:
            raise _Refusal(
                400, "ValidationError", f"Endpoint {name} has no production variant {target!r}."
            )
        return server

    def _error(self, refusal: _Refusal) -> tuple[int, dict, bytes]:
        body = json.dumps({"message": refusal.message, **refusal.extra}).encode()
        return (
            refusal.status,
            {"Content-Type": "application/json", "x-amzn-ErrorType": refusal.code},
            body,
        )


class _ConnectionPool:
    """Keep-alive connections to model servers, reused across requests (a new TCP connection
    per request costs the model server an accept and the client a handshake)."""

    def __init__(self):
        self._idle: dict[str, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    def forward(self, url: str, body: bytes, headers: dict) -> tuple[int, str, bytes, str | None]:
        for attempt in (1, 2):
            conn, reused = self._take(url)
            try:
                conn.request("POST", "/invocations", body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
            except TimeoutError:
                conn.close()
                raise
            except (http.client.HTTPException, ConnectionError):
                conn.close()
                if reused and attempt == 1:  # the server closed an idle connection: retry once
                    continue
                raise OSError("the connection to the model server was closed") from None
            except BaseException:
                conn.close()
                raise
            if response.will_close:
                conn.close()
            else:
                self._give(url, conn)
            return (
                response.status,
                response.getheader("Content-Type", ""),
                answer,
                response.getheader(CUSTOM_ATTRIBUTES),
            )
        raise AssertionError("unreachable")

    def _take(self, url: str) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get(url)
            if idle:
                return idle.pop(), True
        host, _, port = url.removeprefix("http://").partition(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=INVOCATION_TIMEOUT_SECONDS)
        return conn, False

    def _give(self, url: str, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(url, [])
            if len(idle) < IDLE_CONNECTIONS_PER_SERVER:
                idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()
