"""`pipeline deploy-local` (run by `tox -e deploy-local`): the whole pipeline on this machine.

Stages: start the embedded sandbox; bootstrap; train (with its quality gate), package and
upload; lint (which runs from the start, beside the stages before it), then taskcat; deploy
dev and smoke it; promote to staging and smoke it; promote to prod with local approval and
smoke it; send prod traffic and monitor it (sandbox only); stop the sandbox. Every stage runs the
same stage code as its subcommand: local mode only points the standard AWS variables at the
sandbox. `target="aws"` runs the same stages against the account of the user's credentials
in `region`, with no sandbox.

A failed stage stops the run (exit non-zero, naming the stage); the stages after it are
reported as skipped, and the sandbox is stopped unless `keep`.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.core import monitoring
from pipeline.errors import ConfigError, PipelineError
from pipeline.local.sandbox import Sandbox, flush_captures
from pipeline.shared import config as config_files
from pipeline.shared.context import Context, Preapproved

# The stages (and boto3 under them, 0.25 s of imports) are imported in run(), after the
# sandbox's process is launched: its own start (importing moto) then overlaps them.


@dataclass
class StepResult:
    name: str
    seconds: float = 0.0
    status: str = "skipped"  # ok | failed | skipped
    detail: str = ""


@dataclass
class DeployLocalResult:
    steps: list[StepResult]
    digest: str | None = None
    endpoints: dict[str, str] = field(default_factory=dict)
    sandbox_env: dict[str, str] | None = None  # set when the sandbox was kept running
    example: list[object] = field(default_factory=list)  # one golden row, signature order
    registry: list[Any] = field(default_factory=list)  # the model's versions at the end


class DeployLocalFailed(PipelineError):
    def __init__(self, steps: list[StepResult], stage: str, cause: Exception):
        super().__init__(f"stage '{stage}' failed: {cause}")
        self.steps = steps
        self.exit_code = getattr(cause, "exit_code", 1)


# Imported while the sandbox starts (this process would only wait for it, and the sandbox
# uses one core), in a thread of their own: what the stages after it import anyway. Only
# third-party packages, which never import this project's modules, so the thread never
# waits for an import the main thread holds. bootstrap reads the template's
# parameters with cfn-lint's decoder (0.67 s of imports); the traffic reads the test split
# with pandas (0.37 s).
IMPORTED_AHEAD = ("cfnlint.decode", "pandas")


def _import_ahead() -> None:
    for name in IMPORTED_AHEAD:
        with contextlib.suppress(ImportError):  # then the stage that needs it says so
            importlib.import_module(name)


def _patched_environ(stack: ExitStack, values: dict[str, str]) -> None:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)

    def restore():
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    stack.callback(restore)


def run(
    ctx: Context,
    keep: bool = False,
    target: str = "local",
    region: str | None = None,
    train_on: str | None = None,
    use_cache: bool = True,
) -> DeployLocalResult:
    settings, progress = ctx.settings, ctx.ui.progress
    if target not in ("local", "aws"):
        raise ConfigError(f"--target {target!r}: use local or aws")
    if target == "aws" and not region:
        raise ConfigError("--target aws needs --region (the account comes from your credentials)")
    if target == "aws" and keep:
        raise ConfigError("--keep keeps the local sandbox; it has no meaning with --target aws")
    local = target == "local"
    names = [
        *(["start sandbox"] if local else []),
        "bootstrap",
        "train",
        "package",
        "upload",
        "register",
        "lint",
        "taskcat",
        "deploy dev",
        "promote staging",
        "promote prod",
        # traffic of the sandbox's own: never sent to a real account's prod
        *(["monitor (test rows)", "monitor (shifted)", "stop sandbox"] if local else []),
    ]
    steps = [StepResult(name) for name in names]
    result = DeployLocalResult(steps)
    say = progress

    with ExitStack() as stack:
        box: dict[str, Sandbox] = {}
        registered: dict[str, Any] = {}  # the build's version in the model registry
        sent: dict[str, datetime] = {}  # when prod's last request (smoke or traffic) was sent
        launch_failed: list[PipelineError] = []  # reported by the "start sandbox" step
        if local:
            # launched first, waited for in its step: the model servers' zygote starts with
            # it, beside bootstrap, train and package
            kept = settings.sandbox_state if keep else None
            launched = Sandbox(state_file=kept, warm_servers=True)
            stack.callback(lambda: launched.stop() if box.get("running") else None)
            try:
                launched.launch()
                box.update(sandbox=launched, running=launched)
            except PipelineError as exc:
                launch_failed.append(exc)

        from pipeline.shared import account, records
        from pipeline.shared import traffic as sender
        from pipeline.stages.account import bootstrap
        from pipeline.stages.build import package, register, train, upload
        from pipeline.stages.operate import monitor
        from pipeline.stages.release import deploy, promote, registry
        from pipeline.stages.verify import lint, template_tests

        if local and not launch_failed:
            # after this thread's own imports (never two threads importing one library from
            # different ends); not waited for: a stage that needs one of them first waits
            # for that import alone (on a cold machine they outlast the sandbox's start)
            threading.Thread(target=_import_ahead, name="import-ahead", daemon=True).start()

        def start_sandbox():
            if launch_failed:
                raise launch_failed[0]
            sandbox = box["sandbox"].wait_ready()
            _patched_environ(stack, sandbox.env)
            return (
                f"{sandbox.url}, ready {sandbox.ready_seconds:.1f}s after its launch "
                f"(log {sandbox.workdir / 'sandbox.log'})"
            )

        def do_bootstrap():
            outputs = bootstrap.run(ctx, "both", [], "", "")
            return f"bucket {outputs['ArtifactBucketName']}"

        def do_train():
            trained = train.run(ctx, on=train_on, use_cache=use_cache)
            gated = sorted(
                {
                    k.removeprefix("min_")
                    .removeprefix("max_")
                    .removesuffix("_improvement_over_baseline")
                    for k in settings.config.gate
                }
            )
            shown = ", ".join(f"{m} {trained.metrics['model'][m]:.3f}" for m in gated)
            job = trained.metrics.get("training_job")
            where = f"; training job {job['name']}, {job['seconds']}s" if job else ""
            if trained.cached:
                where += f"; cached {trained.cache_key[:12]}"
            return f"{shown} (gate passed{where})"

        def do_package():
            packaged = package.run(ctx, use_cache=use_cache)
            manifest = packaged.manifest
            result.digest = manifest["artifact"]["sha256"]
            result.example = manifest["golden_examples"][0]["features"]
            cached = f" (cached {packaged.cache_key[:12]})" if packaged.cached else ""
            return f"digest {result.digest[:12]}{cached}"

        def do_register():
            outcome = register.run(ctx)
            registered["version"] = outcome.version
            what = "registered" if outcome.created else "already registered"
            return (
                f"{what}: version {outcome.version.number} of {outcome.group} "
                f"({outcome.version.status})"
            )

        def do_upload():
            uploaded = upload.run(ctx)
            return f"{uploaded.uri} ({'uploaded' if uploaded.uploaded else 'already there'})"

        # Lint needs neither the sandbox nor the build: it runs from the start, beside the
        # stages before it (its processes and the training script share the machine), and
        # its step waits for it and reports it. A stage that fails before lint's step stops
        # it (its linters are killed) rather than waiting for it.
        stop_lint = threading.Event()
        linting = stack.enter_context(ThreadPoolExecutor(max_workers=1)).submit(
            lint.run, ctx, use_cache, stop_lint
        )
        stack.callback(stop_lint.set)  # runs before the pool is waited for (last in, first out)

        def do_lint():
            linted = linting.result()
            failed = linted.failed
            if failed:
                details = "; ".join(f"{r.tool}: {r.findings[0]}" for r in failed)
                raise PipelineError(f"lint findings (run `python -m pipeline lint`): {details}")
            found = "cfn-lint, checkov, parameter files: 0 findings"
            if linted.cached:
                return f"{found} (cached {linted.cache_key[:12]})"
            return f"{found} (ran {linted.seconds:.1f}s, alongside the stages before it)"

        def do_taskcat():
            report = template_tests.run(ctx, use_cache=use_cache)
            if not report.passed:
                failed = [f"{r.test}: {r.checks}" for r in report.results if not r.passed]
                why = report.error or "taskcat tests failed"
                raise PipelineError(f"{why} {'; '.join(failed)} (report {report.report_file})")
            if report.cached:
                return f"{len(report.results)} tests passed (cached {report.cache_key[:12]})"
            return f"{len(report.results)} tests passed in {report.seconds:.1f}s"

        def deployed(env: str, outcome: deploy.DeployResult) -> str:
            endpoint = outcome.outputs.get("EndpointName", "?")
            result.endpoints[env] = endpoint
            what = (
                "no changes" if outcome.no_changes else (f"smoke ok, release {outcome.release_key}")
            )
            return f"{endpoint}: {what}"

        def do_dev():
            return deployed("dev", deploy.run(ctx, "dev", result.digest))

        def do_staging():
            return deployed("staging", promote.run(ctx, "dev", "staging", result.digest))

        def do_prod():
            say(
                "prod: approved locally (deploy-local runs unattended; in GitHub Actions the "
                "prod environment's required reviewers approve)"
            )
            version = registered["version"]
            if version.status == "Rejected":  # a person's decision: never overridden here
                raise PipelineError(
                    f"version {version.number} of {version.group} is Rejected in the model "
                    f"registry ({version.description}); deploy-local does not approve it"
                )
            if not local:  # a real account's registry: approving is a person's decision
                say(
                    f"prod: version {version.number} stays {version.status} in the model "
                    "registry (--target aws never approves models); approve it with "
                    f"`python -m pipeline registry approve {version.number} --reason TEXT`"
                )
            elif version.status != "Approved":  # the model's approval, in the registry
                registry.decide(
                    ctx,
                    "approve",
                    str(version.number),
                    "deploy-local: approved locally, standing in for the prod job's reviewers",
                )
            done = deployed(
                "prod",
                promote.run(
                    Context(settings, Preapproved(ctx.ui)), "staging", "prod", result.digest
                ),
            )
            sent["last"] = datetime.now(UTC)  # the smoke test's requests were sent by now
            result.registry = registry.listing(ctx)
            return done

        def drifted(report: dict[str, Any]) -> list[str]:
            return [c["name"] for c in report["columns"] if c["verdict"] == "drift"]

        def traffic(rows: list[list[Any]], seed: int) -> dict[str, Any]:
            """Send rows to prod, have the sandbox write what it captured, then monitor
            exactly the window they were sent in."""
            bucket = account.output_for(ctx, "ArtifactBucketName")
            release = records.latest(settings, "prod", ctx.s3, bucket)
            percent = int(release["parameters"].get("CaptureSamplingPercent", "0"))
            if percent <= 0:
                raise ConfigError(
                    "prod captures nothing (CaptureSamplingPercent 0 in its parameter file); "
                    "set it above 0 to monitor prod"
                )
            requests = sender.requests_for(len(rows), settings.config.monitor.min_rows, percent)
            # capture times are whole seconds: the window starts on the first whole second
            # after prod's last request before this batch, so it holds exactly this batch
            # (none of the requests before, all of this one)
            boundary = sent["last"].replace(microsecond=0) + timedelta(seconds=1)
            now = datetime.now(UTC)
            if now < boundary:
                time.sleep((boundary - now).total_seconds())
            started = max(boundary, now.replace(microsecond=0))
            sender.send(result.endpoints["prod"], rows, requests * sender.ROWS_PER_REQUEST, seed)
            sent["last"] = datetime.now(UTC)
            until = (sent["last"] + timedelta(seconds=1)).isoformat()
            # every answered invocation was buffered before its answer came back: one flush
            # puts all of them in S3 (instead of waiting out the sandbox's flush interval)
            say(f"sandbox: {flush_captures(box['sandbox'].runtime_url)} captured lines written")
            report = monitor.run(ctx, "prod", started.isoformat(), until).report
            config_files.write_json(settings.monitor_dir("prod") / f"traffic-{seed}.json", report)
            return report

        def page() -> str:
            return str(settings.monitor_dir("prod") / "report.html")

        def do_monitor_same():
            signature = config_files.read_json(settings.manifest_file, "package")["signature"]
            report = traffic(sender.rows(settings, signature), seed=1)
            if report["verdict"] != monitoring.OK:
                raise PipelineError(
                    f"monitor: rows drawn from the test split gave verdict {report['verdict']} "
                    f"(drift in {', '.join(drifted(report)) or 'nothing'}; "
                    f"{report['rows']} rows); see {page()}"
                )
            return f"ok: {report['rows']} rows in {report['requests']} requests; {page()}"

        def do_monitor_shifted():
            signature = config_files.read_json(settings.manifest_file, "package")["signature"]
            column = sender.shifted_column(signature)
            statistics = config_files.read_json(settings.statistics_file, "package")
            feature = next(f for f in statistics["features"] if f["name"] == column["name"])
            std = feature.get("numerical_statistics", {}).get("std_dev", 1.0)
            moved = sender.shift(sender.rows(settings, signature), signature, std)
            report = traffic(moved, seed=2)
            if report["verdict"] != monitoring.DRIFT or column["name"] not in drifted(report):
                raise PipelineError(
                    f"monitor: a planted shift in {column['name']} gave verdict "
                    f"{report['verdict']} (drift in {', '.join(drifted(report)) or 'nothing'}); "
                    f"see {page()}"
                )
            return f"drift in {', '.join(drifted(report))} (planted in {column['name']}); {page()}"

        def stop_sandbox():
            sandbox = box.pop("running")
            if keep:
                result.sandbox_env = sandbox.env
                sandbox.detach()
                return (
                    f"kept running at {sandbox.url} (`python -m pipeline sandbox down "
                    f"--config {settings.config.config_file}`)"
                )
            sandbox.stop()
            return "stopped"

        actions = {
            "start sandbox": start_sandbox,
            "bootstrap": do_bootstrap,
            "train": do_train,
            "package": do_package,
            "upload": do_upload,
            "register": do_register,
            "lint": do_lint,
            "taskcat": do_taskcat,
            "deploy dev": do_dev,
            "promote staging": do_staging,
            "promote prod": do_prod,
            "monitor (test rows)": do_monitor_same,
            "monitor (shifted)": do_monitor_shifted,
            "stop sandbox": stop_sandbox,
        }
        if target == "aws":
            _patched_environ(stack, {"AWS_DEFAULT_REGION": region, "AWS_REGION": region})
        for step in steps:
            say(f"==> {step.name}")
            started = time.monotonic()
            try:
                step.detail = actions[step.name]()
                step.status = "ok"
            except PipelineError as exc:
                step.status, step.detail = "failed", str(exc).splitlines()[0][:300]
                raise DeployLocalFailed(steps, step.name, exc) from exc
            finally:
                step.seconds = time.monotonic() - started
    return result
