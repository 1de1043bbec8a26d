"""`pipeline lint`: the CloudFormation templates and parameter files, before any AWS call.

cfn-lint runs on every template in infra/ (config: .cfnlintrc.yaml); checkov (policy checks,
offline, in its own environment: pipeline/tools/) on the same templates; every parameter file
in infra/params/ is validated against the endpoint template's Parameters (the pure checks
are in pipeline.core.params). Templates are decoded with cfn-lint's decoder, which
understands !Ref and the other short forms.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pipeline import tools
from pipeline.errors import ConfigError, PipelineError
from pipeline.settings import Settings
from pipeline.shared import results_cache
from pipeline.shared.context import Context
from pipeline.shared.params import validate_params


@dataclass
class ToolResult:
    tool: str
    findings: list[str] = field(default_factory=list)
    # findings that are bad configuration (exit 2: nothing may be sent), not lint (exit 1)
    configuration: bool = False

    @property
    def passed(self) -> bool:
        return not self.findings


class LintStopped(PipelineError):
    """`cancel` was set while a linter ran: it was stopped, and nothing is reported."""


def _run(command: list[str], cancel: threading.Event | None) -> subprocess.CompletedProcess:
    """subprocess.run(command, capture_output=True, text=True), except that once `cancel` is
    set the linter's whole process group is killed and LintStopped raised."""
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group: checkov's workers go with it
    ) as proc:
        while True:
            try:
                out, err = proc.communicate(timeout=0.2)  # retrying loses no output
                return subprocess.CompletedProcess(command, proc.returncode, out, err)
            except subprocess.TimeoutExpired:
                if cancel is not None and cancel.is_set():
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.communicate()
                    raise LintStopped(
                        f"{Path(command[0]).name} stopped before it finished"
                    ) from None


def cfn_lint(settings: Settings, cancel: threading.Event | None = None) -> list[str]:
    if not templates(settings):
        return [f"{settings.infra_dir}: no templates found"]
    executable = Path(sys.executable).with_name("cfn-lint")  # installed with this package
    if not executable.exists():
        raise ConfigError(f"{executable} not found; install the project (`pip install -e .`)")
    result = _run([str(executable), "--format", "parseable", *templates(settings)], cancel)
    findings = [line for line in result.stdout.splitlines() if line.strip()]
    if result.returncode and not findings:
        findings = [f"cfn-lint exited {result.returncode}: {result.stderr.strip()[:500]}"]
    return findings


def templates(settings: Settings) -> list[str]:
    return sorted(str(p) for p in settings.infra_dir.glob("*.yaml"))


def checkov(
    settings: Settings, progress: Callable[[str], None], cancel: threading.Event | None = None
) -> list[str]:
    """Failed checks, parse errors, and skips that give no reason, as findings."""
    if not templates(settings):
        return [f"{settings.infra_dir}: no templates found"]
    bin_dir = tools.environment("checkov", settings.tools_dir, progress)
    files = [arg for path in templates(settings) for arg in ("--file", path)]
    result = _run(
        [
            str(bin_dir / "checkov"),
            "--skip-download",
            "--framework",
            "cloudformation",
            "--external-checks-dir",
            str(tools.CHECKOV_CHECKS),
            "--output",
            "json",
            *files,
        ],
        cancel,
    )
    try:
        reports = json.loads(result.stdout)
    except json.JSONDecodeError:
        detail = (result.stderr or result.stdout).strip()[-800:]
        raise PipelineError(
            f"checkov exited {result.returncode} without a JSON report: {detail}"
        ) from None
    findings = []
    for report in reports if isinstance(reports, list) else [reports]:
        if report.get("summary", {}).get("parsing_errors"):
            findings += [
                f"{path}: checkov could not parse it"
                for path in report["results"].get("parsing_errors", [])
            ]
        results = report.get("results", {})
        for check in results.get("failed_checks", []):
            findings.append(
                f"{_template(settings, check)}: {check['resource']}: "
                f"{check['check_id']} {check['check_name']}"
            )
        for check in results.get("skipped_checks", []):
            # checkov fills in this text when a skip has no `comment`
            comment = (check.get("check_result") or {}).get("suppress_comment") or ""
            if comment.strip() in ("", "No comment provided"):
                findings.append(
                    f"{_template(settings, check)}: {check['resource']}: "
                    f"{check['check_id']} is skipped without a reason; add a "
                    "`comment` to its Metadata.checkov.skip entry"
                )
    if result.returncode and not findings:
        findings = [f"checkov exited {result.returncode}: {result.stderr.strip()[-500:]}"]
    return findings


def _template(settings: Settings, check: dict) -> str:
    return check.get("file_abs_path") or str(settings.infra_dir / check["file_path"].lstrip("/"))


@dataclass(frozen=True)
class LintResult:
    tools: list[ToolResult]
    cache_key: str = ""  # the inputs' key (results_cache)
    cached: bool = False  # the result of an earlier run with the same key
    seconds: float = 0.0  # how long this run took

    @property
    def failed(self) -> list[ToolResult]:
        return [t for t in self.tools if not t.passed]


CHECKS_CODE = (  # the code whose rules decide the result, part of the cache key
    Path(__file__),
    Path(__file__).resolve().parents[2] / "core" / "params.py",
    Path(__file__).resolve().parents[2] / "shared" / "params.py",
)


def inputs(settings: Settings) -> tuple[dict[str, str], dict[str, str]]:
    """The cache key's parts (every input's sha256) and the tool versions."""
    from importlib import metadata

    files = [Path(t) for t in templates(settings)]
    files += sorted(settings.params_dir.glob("*.json"))
    files += sorted(p for p in tools.CHECKOV_CHECKS.rglob("*.py"))
    files += list(CHECKS_CODE)
    files += [
        Path(n) for n in (".cfnlintrc", ".cfnlintrc.yaml", ".cfnlintrc.yml") if Path(n).exists()
    ]
    if settings.project_config is not None:
        files.append(settings.project_config.config_file)
    parts = results_cache.file_parts(files, settings.infra_dir.parent)
    parts["infra_dir"] = str(settings.infra_dir.resolve())
    parts["params_dir"] = str(settings.params_dir.resolve())
    versions = {
        "cfn-lint": metadata.version("cfn-lint"),
        "python": sys.version,
        "checkov-pins": hashlib.sha256(tools.requirements("checkov").encode()).hexdigest(),
    }
    return parts, versions


def run(ctx: Context, use_cache: bool = True, cancel: threading.Event | None = None) -> LintResult:
    """cfn-lint and checkov at the same time (each a process of its own), the parameter files
    meanwhile; an earlier result with the same inputs is taken instead (use_cache). Setting
    `cancel` (from another thread) stops both linters: LintStopped, nothing kept."""
    started = time.monotonic()
    settings, progress = ctx.settings, ctx.ui.progress
    parts, versions = inputs(settings)
    cache_key = results_cache.key({**parts, **{f"version:{k}": v for k, v in versions.items()}})
    if use_cache:
        found = results_cache.load(settings, "lint", cache_key, versions)
        if found is not None:
            progress(f"lint: cached result {cache_key[:12]} (same inputs and tool versions)")
            return LintResult(
                [ToolResult(**t) for t in found],
                cache_key,
                cached=True,
                seconds=time.monotonic() - started,
            )
    with ThreadPoolExecutor(max_workers=2) as pool:
        linted = pool.submit(cfn_lint, settings, cancel)
        checked = pool.submit(checkov, settings, progress, cancel)
        params = ToolResult(
            "parameter files", [str(p) for p in validate_params(settings)], configuration=True
        )
        result = LintResult(
            [
                ToolResult("cfn-lint", linted.result()),
                ToolResult("checkov", checked.result()),
                params,
            ],
            cache_key,
            seconds=time.monotonic() - started,
        )
    results_cache.store(
        settings,
        "lint",
        cache_key,
        versions,
        [
            {"tool": t.tool, "findings": t.findings, "configuration": t.configuration}
            for t in result.tools
        ],
    )
    return result
