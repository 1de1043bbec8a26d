"""The runtime gateway: the SageMaker Runtime API (InvokeEndpoint) on its own 127.0.0.1 port.

boto3 sends `sagemaker-runtime` calls here when AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME points at
it, so unchanged client code invokes sandbox endpoints. The endpoint's state comes from the
emulator through the same pipeline.aws wrapper the rest of the code uses; the request goes
to the model server the local runtime runs for the endpoint's variant.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pipeline.aws.errors import AwsError, NotFound
from pipeline.aws.sagemaker import SageMaker
from pipeline.local.runtime import LocalRuntime, ProvisionFailed

MAX_BODY_BYTES = 6291456
INVOCATION_TIMEOUT_SECONDS = 60.0
SERVING_STATUSES = ("InService", "Updating")
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
_PATH = re.compile(r"^/endpoints/([^/]+)/invocations$")
log = logging.getLogger("pipeline.gateway")


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


class RuntimeGateway:
    def __init__(self, runtime: LocalRuntime, region: str, account_id: str = "123456789012",
                 sagemaker: SageMaker | None = None):  # fmt: skip
        self.runtime = runtime
        self.region = region
        self.account_id = account_id
        self._sagemaker = sagemaker
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def sagemaker(self) -> SageMaker:
        if self._sagemaker is None:  # created on first use: the sandbox sets its env first
            self._sagemaker = SageMaker()
        return self._sagemaker

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                # Headers and body go out in separate writes; without this, Nagle's
                # algorithm and the client's delayed ACK add ~40 ms to every answer.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self):  # noqa: N802 (http.server's naming)
                gateway.handle(self)

            def log_message(self, fmt, *args):  # one line per request comes from handle()
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.2})  # fmt: skip
        self._thread.start()
        return f"http://{host}:{self._server.server_port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- one request ---------------------------------------------------------------
    def handle(self, request: BaseHTTPRequestHandler) -> None:
        started = time.monotonic()
        match = _PATH.match(request.path.split("?", 1)[0])
        name = match.group(1) if match else "-"
        try:
            if not match:
                raise _Refusal(404, "UnknownOperationException",
                               "use POST /endpoints/{EndpointName}/invocations")  # fmt: skip
            status, headers, body = self._invoke(request, name)
        except _Refusal as refusal:
            status, headers, body = self._error(refusal)
        request.send_response(status)
        for key, value in headers.items():
            request.send_header(key, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)
        log.info('"POST %s" %d %.1fms', request.path, status, (time.monotonic() - started) * 1000)

    def _read_body(self, request) -> bytes:
        try:
            length = int(request.headers.get("Content-Length", "0"))
        except ValueError:
            raise _Refusal(400, "ValidationError", "Content-Length is not a number") from None
        if length > MAX_BODY_BYTES:
            request.close_connection = True  # the body is not read: do not reuse the socket
            raise _Refusal(
                413, "ValidationError",
                f"Request payload of {length} bytes exceeds the {MAX_BODY_BYTES}-byte limit "
                "for real-time inference.",
            )  # fmt: skip
        return request.rfile.read(length)

    def _invoke(self, request, name: str) -> tuple[int, dict, bytes]:
        body = self._read_body(request)
        try:
            endpoint = self.sagemaker.describe_endpoint(name)
        except NotFound:
            raise _Refusal(
                400, "ValidationError", f"Endpoint {name} of account {self.account_id} not found."
            ) from None
        except AwsError as exc:
            raise _Refusal(500, "InternalFailure", str(exc)) from None
        if endpoint.status not in SERVING_STATUSES:
            raise _Refusal(
                400, "ValidationError",
                f"Endpoint {name} of account {self.account_id} is not in service "
                f"(EndpointStatus: {endpoint.status}).",
            )  # fmt: skip
        target = request.headers.get("X-Amzn-SageMaker-Target-Variant")
        try:
            server = self.runtime.route(name, target)
        except ProvisionFailed as failed:
            raise _Refusal(500, "InternalFailure", failed.reason) from None
        if server is None:
            raise _Refusal(400, "ValidationError",
                           f"Endpoint {name} has no production variant {target!r}.")  # fmt: skip
        forward = {key: request.headers[key] for key in ("Content-Type", "Accept")
                   if request.headers.get(key)}  # fmt: skip
        if request.headers.get(CUSTOM_ATTRIBUTES):
            forward[CUSTOM_ATTRIBUTES] = request.headers[CUSTOM_ATTRIBUTES]
        try:
            status, content_type, answer, attributes = _forward(server.url, body, forward)
        except TimeoutError:
            raise _Refusal(
                424, "ModelError",
                "Your invocation timed out while waiting for a response from container "
                f"{server.spec.variant}.", OriginalStatusCode=0, OriginalMessage="timeout",
            ) from None  # fmt: skip
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
                424, "ModelError",
                f"Received {kind} error ({status}) from {server.spec.variant} with message "
                f'"{original}". See the model server log {server.log_path} for more information.',
                OriginalStatusCode=status, OriginalMessage=original,
                LogStreamArn=str(server.log_path),
            )  # fmt: skip
        headers = {"Content-Type": content_type or "application/octet-stream",
                   "x-Amzn-Invoked-Production-Variant": server.spec.variant}  # fmt: skip
        if attributes:
            headers[CUSTOM_ATTRIBUTES] = attributes
        return 200, headers, answer

    def _error(self, refusal: _Refusal) -> tuple[int, dict, bytes]:
        body = json.dumps({"message": refusal.message, **refusal.extra}).encode()
        return refusal.status, {"Content-Type": "application/json",
                                "x-amzn-ErrorType": refusal.code}, body  # fmt: skip


def _forward(url: str, body: bytes, headers: dict) -> tuple[int, str, bytes, str | None]:
    import http.client

    host, _, port = url.removeprefix("http://").partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=INVOCATION_TIMEOUT_SECONDS)
    try:
        conn.request("POST", "/invocations", body=body, headers=headers)
        response = conn.getresponse()
        return (response.status, response.getheader("Content-Type", ""), response.read(),
                response.getheader(CUSTOM_ATTRIBUTES))  # fmt: skip
    finally:
        conn.close()
