"""`pipeline deploy-local` (run by `tox -e deploy-local`): the whole pipeline on this machine.

Version 0: train, gate and package; start the local model server on a free port; send the
manifest's golden examples as CSV and JSON and check the answers; stop the server. Later
versions add the sandbox, upload, lint, taskcat, deploy and promotion.

Every step runs through the same stage code as the individual subcommands. A failed step
stops the run; the steps after it are reported as skipped, and the server is always stopped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

from pipeline.core import golden
from pipeline.errors import PipelineError
from pipeline.local import model_server
from pipeline.settings import Settings
from pipeline.stages import package, train


@dataclass
class StepResult:
    name: str
    seconds: float = 0.0
    status: str = "skipped"  # ok | failed | skipped
    detail: str = ""


class DeployLocalFailed(PipelineError):
    def __init__(self, steps: list[StepResult], cause: Exception):
        super().__init__(str(cause))
        self.steps = steps
        self.exit_code = getattr(cause, "exit_code", 1)


def _request(url: str, method: str, path: str, body: bytes = b"", headers=None):
    try:
        return model_server.request(url, method, path, body, headers)
    except OSError as exc:
        raise PipelineError(f"{method} {url}{path} failed: {exc}") from exc


def _check_golden(base_url: str, manifest: dict) -> str:
    examples = manifest["golden_examples"]
    for content_type, body in golden.request_bodies(examples).items():
        status, _, answer = _request(
            base_url, "POST", "/invocations", body.encode(),
            {"Content-Type": content_type, "Accept": "application/json"},
        )  # fmt: skip
        if status != 200:
            raise PipelineError(
                f"{content_type} golden request answered {status}: {answer[:300]!r}"
            )
        problems = golden.mismatches(examples, json.loads(answer))
        if problems:
            raise PipelineError(f"{content_type} golden predictions differ: {'; '.join(problems)}")
    return f"{len(examples)} examples x CSV, JSON match (rel tol {golden.REL_TOLERANCE:g})"


def run(settings: Settings, progress: Callable[[str], None]) -> list[StepResult]:
    steps = [
        StepResult(n) for n in ("train", "package", "start server", "golden check", "stop server")
    ]
    state: dict = {}

    def do_train():
        result = train.run(settings)
        return f"RMSE {result.metrics['model']['rmse']:.2f}, R2 {result.metrics['model']['r2']:.3f}"

    def do_package():
        state["manifest"] = package.run(settings).manifest
        return f"sha256 {state['manifest']['artifact']['sha256'][:12]}"

    with ExitStack() as stack:

        def do_start():
            log_path = settings.build_dir / "logs" / "model-server.log"
            process, url = model_server.launch(settings.artifact_file, log_path)
            stack.callback(process.stop)
            state.update(process=process, url=url)
            status, _, body = _request(url, "GET", "/ping")
            if status != 200:
                raise PipelineError(f"/ping answered {status}: {body[:300]!r}; log: {log_path}")
            return f"{url} (log {log_path})"

        def do_golden():
            return _check_golden(state["url"], state["manifest"])

        def do_stop():
            code = state["process"].stop()
            stack.pop_all()
            return f"exit status {code}"

        actions = [do_train, do_package, do_start, do_golden, do_stop]
        for step, action in zip(steps, actions, strict=True):
            progress(f"==> {step.name}")
            started = time.monotonic()
            try:
                step.detail = action()
                step.status = "ok"
            except PipelineError as exc:
                step.status, step.detail = "failed", str(exc).splitlines()[0]
                raise DeployLocalFailed(steps, exc) from exc
            finally:
                step.seconds = time.monotonic() - started
    return steps
