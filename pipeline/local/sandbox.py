"""The embedded AWS sandbox: the emulator (moto in server mode, with the corrections of
pipeline/local/moto_patches applied) on 127.0.0.1, the environment that reaches it, and its
lifecycle.

- `serve()` runs it in the foreground of this process (`pipeline sandbox up`) until SIGTERM
  or SIGINT, recording its pid and URL in a state file so `pipeline sandbox down` can stop it.
  On the first signal it winds down in order: the gateway stops answering, the last data
  captures are written to the emulator's S3, and only then does the emulator stop (a second
  signal stops it at once).
- `Sandbox` is the context manager tests and deploy-local use: it starts `sandbox up` as a
  child process on a free port and always stops it, even when the block raises.

The sandbox is reached only through the standard AWS_ENDPOINT_URL* variables and dummy
credentials, exactly as a user's own scripts would reach it; nothing in the stages knows it
is local.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from pipeline.errors import ConfigError, PipelineError
from pipeline.local.processes import ManagedProcess

DEFAULT_REGION = "us-east-1"
READY_LINE = re.compile(
    r"sandbox ready at (http://127\.0\.0\.1:\d+), runtime at (http://127\.0\.0\.1:\d+)"
)
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def environment(url: str, region: str, runtime_url: str) -> dict[str, str]:
    """What a client exports to reach the sandbox."""
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": runtime_url,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        **DUMMY_CREDENTIALS,
    }


def flush_captures(runtime_url: str, timeout: float = 60.0) -> int:
    """Have the sandbox write every data capture it holds to its S3 now (the gateway's
    `POST /_sandbox/capture/flush`); the lines written."""
    import urllib.error
    import urllib.request

    from pipeline.local.capture import FLUSH_PATH

    request = urllib.request.Request(runtime_url.rstrip("/") + FLUSH_PATH, b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 (the sandbox's own URL)
            return int(json.loads(answer.read())["written"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PipelineError(
            f"the sandbox at {runtime_url} did not flush its captures: {exc}"
        ) from exc


def shell_form(env: dict[str, str]) -> str:
    return "\n".join(f"export {key}={shlex.quote(value)}" for key, value in env.items())


class _Stop(Exception):
    pass


def _read_state(state_file: Path) -> dict | None:
    try:
        return json.loads(state_file.read_text())
    except FileNotFoundError:
        return None
    except json.JSONDecodeError:
        raise ConfigError(f"{state_file}: unreadable sandbox state; delete it") from None


def _is_sandbox(pid: int) -> bool:
    """True if `pid` is alive and is a `pipeline sandbox up` process (not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True  # no /proc (macOS): trust the recorded pid
    return b"sandbox" in cmdline and any(b"pipeline" in part for part in cmdline)


def _bind(host: str, port: int):
    """The emulator's HTTP server (moto's app, with whatever moto_patches corrected), bound."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    try:
        return make_server(
            host,
            port,
            DomainDispatcherApplication(create_backend_app),
            threaded=True,
            request_handler=MotoRequestHandler,
        )
    except (OSError, SystemExit):  # werkzeug prints the OS error and exits on a bind failure
        raise ConfigError(
            f"cannot listen on {host}:{port} (in use, or not allowed); choose another --port, "
            "or --port 0 for a free one"
        ) from None


def serve(
    host: str,
    port: int,
    region: str,
    state_file: Path,
    on_ready,
    image,
    stack_delay: float = 0.0,
    warm_servers: bool = False,
) -> None:
    """Run the emulator, the local SageMaker runtime and its gateway in this process until
    SIGTERM/SIGINT. `on_ready(env)` gets the environment that reaches them, once bound.
    `image` is the serving image (model/serving-image.toml) endpoints may run.
    `warm_servers`: start the model-server zygote at once, beside whatever the client does
    before its first endpoint, instead of on that endpoint's creation."""
    state = _read_state(state_file)
    if state and _is_sandbox(state["pid"]):
        raise ConfigError(
            f"a sandbox is already running at {state['url']} (pid {state['pid']}, recorded in "
            f"{state_file}); stop it with `python -m pipeline sandbox down` first"
        )
    from pipeline.local import moto_patches

    moto_patches.require_moto()
    from pipeline.local.gateway import RuntimeGateway
    from pipeline.local.runtime import LocalRuntime
    from pipeline.local.training_runtime import LocalTrainer

    workdir = Path(tempfile.mkdtemp(prefix="pipeline-runtime-"))
    local_runtime = LocalRuntime(workdir, image)
    trainer = LocalTrainer(workdir / "training", image=image)
    try:
        moto_patches.apply(runtime=local_runtime, stack_delay_seconds=stack_delay, trainer=trainer)
        server = _bind(host, port)
    except BaseException:
        trainer.stop_all()
        local_runtime.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    url = f"http://{host}:{server.server_port}"
    # The runtime and gateway reach the emulator through pipeline.aws, like any client.
    os.environ.update({"AWS_ENDPOINT_URL": url, "AWS_DEFAULT_REGION": region, **DUMMY_CREDENTIALS})
    if warm_servers:
        local_runtime.warm()
    gateway = RuntimeGateway(local_runtime, region)
    runtime_url = gateway.start(host)
    env = environment(url, region, runtime_url)
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps({"pid": os.getpid(), "url": url, "region": region}))

    def wind_down() -> None:
        """Stop taking invocations, write the last captures while the emulator still
        answers (they go to its S3 over HTTP), then end serve_forever."""
        try:
            gateway.stop()
            local_runtime.capture.close()
        finally:
            server.shutdown()

    stopping: list[threading.Thread] = []

    def stop(signum, frame):
        # The first signal winds down in order; a second one stops at once.
        if stopping:
            raise _Stop()
        stopping.append(threading.Thread(target=wind_down, name="sandbox-stop", daemon=True))
        stopping[0].start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        on_ready(env)
        server.serve_forever(poll_interval=0.05)
    except _Stop:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        gateway.stop()
        trainer.stop_all()
        local_runtime.stop_all()
        server.server_close()
        shutil.rmtree(workdir, ignore_errors=True)
        if (_read_state(state_file) or {}).get("pid") == os.getpid():
            state_file.unlink()


def stop_recorded(state_file: Path, timeout: float = 15.0) -> str:
    """Stop the sandbox recorded in `state_file`; says what happened."""
    state = _read_state(state_file)
    if state is None:
        return f"no sandbox is running (no {state_file})"
    pid = state["pid"]
    if not _is_sandbox(pid):
        state_file.unlink()
        return f"the sandbox recorded in {state_file} (pid {pid}) was not running; cleared"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _is_sandbox(pid):
        if time.monotonic() > deadline:
            raise PipelineError(
                f"sandbox pid {pid} did not stop within {timeout:g}s after SIGTERM; "
                f"kill it (kill -9 {pid}) and delete {state_file}"
            )
        time.sleep(0.05)
    state_file.unlink(missing_ok=True)
    return f"stopped the sandbox at {state['url']} (pid {pid})"


class Sandbox:
    """Start a sandbox as a child process for the length of a `with` block.

    Each instance has its own state file and log, so it never collides with a sandbox the
    user started by hand. `env` is what a client needs to reach it.
    """

    def __init__(
        self,
        region: str = DEFAULT_REGION,
        workdir: Path | None = None,
        ready_timeout: float = 90.0,
        stack_delay: float = 0.0,
        state_file: Path | None = None,
        warm_servers: bool = False,
    ):
        self.region = region
        self.stack_delay = stack_delay
        self.warm_servers = warm_servers
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="pipeline-sandbox-"))
        # where `pipeline sandbox down` finds it; its own by default, so it never collides
        self.state_file = state_file or self.workdir / "state.json"
        self.ready_timeout = ready_timeout
        self.url: str | None = None
        self.runtime_url: str | None = None
        self.process: ManagedProcess | None = None
        self._launched = 0.0
        self.ready_seconds = 0.0  # from launch to its ready line

    @property
    def env(self) -> dict[str, str]:
        if self.url is None:
            raise PipelineError("the sandbox is not running")
        return environment(self.url, self.region, self.runtime_url)

    def start(self) -> Sandbox:
        self.launch()
        return self.wait_ready()

    def launch(self) -> None:
        """Start the sandbox's process without waiting for it to be ready (wait_ready does):
        the caller can do its own work meanwhile."""
        from pipeline.local import moto_patches

        moto_patches.require_moto()  # here, in one line, rather than in the child's log
        self.process = ManagedProcess(
            [
                sys.executable,
                "-m",
                "pipeline",
                "sandbox",
                "up",
                "--port",
                "0",
                "--region",
                self.region,
                "--stack-delay",
                str(self.stack_delay),
                *(["--warm-servers"] if self.warm_servers else []),
            ],
            log_path=self.workdir / "sandbox.log",
            env={**os.environ, "PIPELINE_SANDBOX_STATE": str(self.state_file)},
        )
        self.process.spawn()
        self._launched = time.monotonic()

    def wait_ready(self) -> Sandbox:
        """Wait for the launched sandbox to say it is ready (stopped if it does not)."""
        if self.process is None:
            raise PipelineError("the sandbox was not launched")
        ready = self.process.wait_for(READY_LINE, self.ready_timeout)
        self.url, self.runtime_url = ready.group(1), ready.group(2)
        self.ready_seconds = time.monotonic() - self._launched
        return self

    def stop(self) -> int | None:
        """Stop it (SIGTERM, then SIGKILL after the grace period); its exit status."""
        code = self.process.stop() if self.process is not None else None
        self.url = None
        return code

    def detach(self) -> None:
        """Leave the sandbox running after this process exits (`pipeline sandbox down` stops
        it, through its state file)."""
        if self.process is not None and self.process.proc.stdout:
            self.process.proc.stdout.close()
        self.process = None

    def __enter__(self) -> Sandbox:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()
