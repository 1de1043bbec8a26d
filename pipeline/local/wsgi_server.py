"""gunicorn, run programmatically, as the HTTP server and process manager of the model server.

It owns the glue between a WSGI application and gunicorn 26 (the serving image's version):
the settings (an already bound 127.0.0.1 socket, the worker count, the worker class, the
header limits, timeouts), a sync worker that bounds every socket read, the arbiter's extra
duties (report the port once bound, stop when the sandbox's lifeline pipe closes) and the
way a forked worker leaves. It knows nothing of SageMaker: pipeline.local.model_server gives
it the application. It must not import boto3 or anything from pipeline.stages, and it must
not let gunicorn open anything beyond the given socket (its control socket is disabled).

Worker class: gunicorn's sync worker, chosen by measurement and by the contract (see
pipeline.local.model_server's docstring for the figures). The per-request deadline is a
SIGALRM timer, which only the main thread can receive: gthread runs handlers on pool threads.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import sys
import time
from collections.abc import Callable

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.workers.sync import SyncWorker

from pipeline.errors import PipelineError

# gunicorn's own per-line limit (and the size of nginx's large_client_header_buffers, 8k, in
# the image): a request line or header field longer than this is refused.
MAX_HEADER_FIELD_BYTES = 8190
MAX_HEADER_FIELDS = 100
CORK = getattr(socket, "TCP_CORK", None)  # Linux; elsewhere head and body leave separately
GRACEFUL_SECONDS = 5  # a stopping worker's time to finish the request in hand
SLACK_SECONDS = 30  # gunicorn's worker timeout is the request's whole budget plus this


class _Worker(SyncWorker):
    """gunicorn's sync worker, with three changes to how it uses the client's socket:
    - a timeout on every read: without it a client that stops sending holds the worker until
      gunicorn's own timeout kills it;
    - the answer leaves in one segment: gunicorn writes the head and the body in two calls,
      and each wakes the client (TCP_CORK holds them until the answer is complete);
    - after a complete exchange with nothing more sent, the socket is closed at once. gunicorn
      lingers until the client closes its side (up to 2 s), so that unread data cannot turn
      the close into a reset that loses the answer; with nothing unread there is none, and
      the worker would idle for a round trip per request (18% of its time in
      bench/server_load.py). If data is waiting, gunicorn's lingering close runs as before.
    """

    def handle(self, listener, client, addr):
        client.settimeout(self.app.read_timeout)
        if CORK is not None:
            client.setsockopt(socket.IPPROTO_TCP, CORK, 1)
        super().handle(listener, client, addr)

    def handle_request(self, listener, req, client, addr):
        if CORK is not None and req._expected_100_continue:
            client.setsockopt(socket.IPPROTO_TCP, CORK, 0)  # "100 Continue" must leave now
        super().handle_request(listener, req, client, addr)
        if CORK is not None:
            client.setsockopt(socket.IPPROTO_TCP, CORK, 0)  # the answer leaves now
        client.setblocking(False)  # with a timeout set, Python would wait for data to peek at
        try:
            client.recv(1, socket.MSG_PEEK)
        except BlockingIOError:  # nothing unread: close now (gunicorn's close then no-ops)
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_WR)
            client.close()
        except OSError:
            pass  # let gunicorn's close deal with a broken socket


class _Arbiter(Arbiter):
    # gunicorn halts the whole server when a worker exits with 3 or 4 ("worker failed to
    # boot", "app failed to load"). A handler that calls os._exit(3) is a crashed worker to
    # restart, as in the hand-written server before: codes no handler is likely to choose.
    WORKER_BOOT_ERROR = 213
    APP_LOAD_ERROR = 214

    def wait_for_signals(self, timeout=1.0):
        signals = super().wait_for_signals(timeout)
        lifeline = self.app.lifeline
        if lifeline is not None:
            readable, _, _ = select.select([lifeline], [], [], 0)
            if readable and not os.read(lifeline, 1):
                self.log.info("the sandbox is gone (lifeline closed)")
                raise StopIteration  # run() halts on it: workers stopped, socket closed
        return signals


class _Application(BaseApplication):
    def __init__(
        self,
        fd: int,
        workers: int,
        request_seconds: float,
        read_timeout: float,
        max_body: int,
        make_app: Callable[[], Callable],
        on_ready: Callable[[int], None],
        lifeline: int | None,
    ):
        self.fd = fd
        self.workers = workers
        self.request_seconds = request_seconds
        self.read_timeout = read_timeout
        self.max_body = max_body
        self.make_app = make_app
        self.on_ready = on_ready
        self.lifeline = lifeline
        super().__init__()

    def load_config(self):
        ready, max_body = self.on_ready, self.max_body

        def pre_request(worker, req):
            # gunicorn answers "Expect: 100-continue" before the application runs; for a body
            # that will be refused anyway, the client is told 413 instead of being invited
            # to send megabytes (as nginx does, and the hand-written server before).
            length = next((v for k, v in req.headers if k == "CONTENT-LENGTH"), "")
            if length.isdigit() and int(length) > max_body:
                req._expected_100_continue = False

        settings = {
            "bind": [f"fd://{self.fd}"],
            "workers": self.workers,
            "worker_class": _Worker,
            # The sync worker tells the arbiter it is alive only between requests, so this
            # must outlast the longest legitimate request (reads plus handler); past it the
            # arbiter kills the worker: a client trickling bytes cannot hold it forever.
            "timeout": int(self.request_seconds + 2 * self.read_timeout + SLACK_SECONDS),
            "graceful_timeout": GRACEFUL_SECONDS,
            "limit_request_field_size": MAX_HEADER_FIELD_BYTES,
            "limit_request_fields": MAX_HEADER_FIELDS,
            "control_socket_disable": True,  # else a unix socket in $HOME and a thread
            "pre_request": pre_request,
            "when_ready": lambda arbiter: ready(arbiter.LISTENERS[0].getsockname()[1]),
            "errorlog": "-",
            "loglevel": "info",
        }
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self):
        return self.make_app()  # in each worker, after the fork

    def run(self):
        _Arbiter(self).run()


def run(
    sock: socket.socket,
    workers: int,
    request_seconds: float,
    read_timeout: float,
    max_body: int,
    make_app: Callable[[], Callable],
    on_ready: Callable[[int], None],
    lifeline: int | None = None,
) -> None:
    """Serve on the bound, listening `sock` (gunicorn takes it over) until SIGTERM or SIGINT,
    or until the `lifeline` fd reaches end of file. A body declared larger than `max_body`
    is not invited with 100 Continue. `make_app()` builds the WSGI application in
    each worker; `on_ready(port)` is called once, in the arbiter, before the workers start.

    Returns in the arbiter once it stopped its workers. A worker never returns: it exits here,
    so that nothing its caller would do after serving (removing files) runs in a worker."""
    arbiter = os.getpid()
    fd = sock.detach()  # gunicorn closes the descriptor it is given; ours must not close it
    try:
        _Application(
            fd, workers, request_seconds, read_timeout, max_body, make_app, on_ready, lifeline
        ).run()
    except SystemExit as exc:  # gunicorn leaves with sys.exit, in the arbiter and workers
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if os.getpid() != arbiter:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        _reap_workers()
        if code != 0:
            message = f"the model server stopped with status {code}; see its log"
            raise PipelineError(message) from None
    if os.getpid() != arbiter:  # not reached by gunicorn 26; never let a worker return
        os._exit(0)


def _reap_workers(grace: float = 5.0) -> None:
    """Wait for the workers gunicorn killed last. It sends SIGKILL past its graceful timeout
    and reaps once, at once; a worker not yet dead then is left to init, and a zombie until
    init reaps it (some containers' init never does), still in the process group."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if not pid:
            time.sleep(0.02)
