"""`pipeline lint`: the CloudFormation templates and parameter files, before any AWS call.

cfn-lint runs on every template in infra/ (config: .cfnlintrc.yaml); checkov (policy checks,
offline, in its own environment: pipeline/tools/) on the same templates; every parameter file
in infra/params/ is validated against the endpoint template's Parameters (the pure checks
are in pipeline.core.params). Templates are decoded with cfn-lint's decoder, which
understands !Ref and the other short forms.

Results are kept (pipeline.shared.results_cache) at two levels. The whole result, under a
key of every input: the same key reports it again. And each linter's findings for each
template, under a key of that template's bytes and name in the checkout, the linter's
version and rules and this code: when the whole key changes (a template edited, say),
each linter runs only on the templates whose own key changed, and the others' findings are
taken as they were kept.
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
    # templates whose findings were kept from an earlier run of this tool (not linted again)
    reused: list[str] = field(default_factory=list)

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


def cfn_lint(
    settings: Settings, cancel: threading.Event | None = None, only: list[str] | None = None
) -> list[str]:
    """Findings of cfn-lint on every template (or those in `only`)."""
    if not templates(settings):
        return [f"{settings.infra_dir}: no templates found"]
    executable = Path(sys.executable).with_name("cfn-lint")  # installed with this package
    if not executable.exists():
        raise ConfigError(f"{executable} not found; install the project (`pip install -e .`)")
    paths = templates(settings) if only is None else only
    result = _run([str(executable), "--format", "parseable", *paths], cancel)
    findings = [line for line in result.stdout.splitlines() if line.strip()]
    if result.returncode and not findings:
        findings = [f"cfn-lint exited {result.returncode}: {result.stderr.strip()[:500]}"]
    return findings


def templates(settings: Settings) -> list[str]:
    return sorted(str(p) for p in settings.infra_dir.glob("*.yaml"))


def checkov(
    settings: Settings,
    progress: Callable[[str], None],
    cancel: threading.Event | None = None,
    only: list[str] | None = None,
) -> list[str]:
    """Failed checks, parse errors, and skips that give no reason, as findings, for every
    template (or those in `only`)."""
    if not templates(settings):
        return [f"{settings.infra_dir}: no templates found"]
    bin_dir = tools.environment("checkov", settings.tools_dir, progress)
    paths = templates(settings) if only is None else only
    files = [arg for path in paths for arg in ("--file", path)]
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


def _rules(settings: Settings) -> dict[str, str]:
    """Key parts of what decides a linter's findings besides the template: checkov's
    policies, cfn-lint's config and this code."""
    files = sorted(p for p in tools.CHECKOV_CHECKS.rglob("*.py"))
    files += list(CHECKS_CODE)
    files += [
        Path(n) for n in (".cfnlintrc", ".cfnlintrc.yaml", ".cfnlintrc.yml") if Path(n).exists()
    ]
    return results_cache.file_parts(files, settings.infra_dir.parent)


def inputs(
    settings: Settings, rules: dict[str, str] | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """The cache key's parts (every input's sha256) and the tool versions. Files are named
    relative to the folder holding infra/, so a checkout elsewhere (a CI job's copy) has the
    same key; the findings' paths are kept relative to it too (_portable)."""
    from importlib import metadata

    files = [Path(t) for t in templates(settings)]
    files += sorted(settings.params_dir.glob("*.json"))
    if settings.project_config is not None:
        files.append(settings.project_config.config_file)
    rules = _rules(settings) if rules is None else rules
    parts = {**results_cache.file_parts(files, settings.infra_dir.parent), **rules}
    versions = {
        "cfn-lint": metadata.version("cfn-lint"),
        "python": sys.version,
        "checkov-pins": hashlib.sha256(tools.requirements("checkov").encode()).hexdigest(),
    }
    return parts, versions


def _anchor(settings: Settings) -> str:
    return str(settings.infra_dir.parent.resolve()) + os.sep


def _portable(findings: list[str], anchor: str) -> list[list]:
    """Findings as kept: [True, the rest] for one that starts with `anchor` (the folder
    holding infra/), [False, finding] for any other."""
    return [[True, f[len(anchor) :]] if f.startswith(anchor) else [False, f] for f in findings]


def _placed(kept: object, anchor: str) -> list[str] | None:
    """Kept findings back as text, anchored where they are read; None if not that shape."""
    if not isinstance(kept, list) or not all(
        isinstance(k, list) and len(k) == 2 and isinstance(k[1], str) for k in kept
    ):
        return None
    return [anchor + text if relative else text for relative, text in kept]


def _per_template(
    settings: Settings,
    tool: str,
    lint: Callable[[list[str] | None], list[str]],
    versions: dict[str, str],
    use_cache: bool,
    rules: dict[str, str],
) -> ToolResult:
    """`tool`'s findings on every template, running it only on those whose own key (the
    template's bytes and name, the rules, the versions) has no kept findings. A run whose
    findings cannot all be told apart by template (a crash, say) keeps nothing."""
    paths = templates(settings)
    if not paths:
        return ToolResult(tool, lint(None))
    anchor = _anchor(settings)
    keys = {}
    for path in paths:
        own = results_cache.file_parts([Path(path)], settings.infra_dir.parent)
        keys[path] = results_cache.key({**rules, **own, "tool": tool, **versions})
    kept: dict[str, list[str]] = {}
    for path in paths if use_cache else []:
        found = results_cache.load(settings, _entry(tool, path), keys[path], versions)
        placed = _placed(found, anchor) if found is not None else None
        if placed is not None:
            kept[path] = placed
    todo = [p for p in paths if p not in kept]
    fresh = lint(todo) if todo else []
    owned: dict[str, list[str]] = {p: [] for p in todo}
    stray = []
    for finding in fresh:
        owner = next(
            (p for p in todo if finding.startswith((f"{p}:", f"{Path(p).resolve()}:"))),
            None,
        )
        (owned[owner] if owner else stray).append(finding)
    if not stray:
        for path in todo:
            results_cache.store(
                settings, _entry(tool, path), keys[path], versions, _portable(owned[path], anchor)
            )
    findings = [f for p in paths for f in (kept[p] if p in kept else owned[p])]
    return ToolResult(tool, findings + stray, reused=[p for p in paths if p in kept])


def _entry(tool: str, template: str) -> str:
    return f"lint-{tool}-{Path(template).name}"


def run(ctx: Context, use_cache: bool = True, cancel: threading.Event | None = None) -> LintResult:
    """cfn-lint and checkov at the same time (each a process of its own), the parameter files
    meanwhile; an earlier result with the same inputs is taken instead (use_cache). Setting
    `cancel` (from another thread) stops both linters: LintStopped, nothing kept."""
    started = time.monotonic()
    settings, progress = ctx.settings, ctx.ui.progress
    rules = _rules(settings)  # hashed once, for the whole key and each template's
    parts, versions = inputs(settings, rules)
    cache_key = results_cache.key({**parts, **{f"version:{k}": v for k, v in versions.items()}})
    anchor = _anchor(settings)
    if use_cache:
        found = results_cache.load(settings, "lint", cache_key, versions)
        kept = _kept_tools(found, anchor)
        if kept is not None:
            progress(f"lint: cached result {cache_key[:12]} (same inputs and tool versions)")
            return LintResult(kept, cache_key, cached=True, seconds=time.monotonic() - started)

    def linted(only: list[str] | None) -> list[str]:
        return cfn_lint(settings, cancel, only)

    def checked(only: list[str] | None) -> list[str]:
        return checkov(settings, progress, cancel, only)

    with ThreadPoolExecutor(max_workers=2) as pool:
        by_cfn_lint = pool.submit(
            _per_template, settings, "cfn-lint", linted, versions, use_cache, rules
        )
        by_checkov = pool.submit(
            _per_template, settings, "checkov", checked, versions, use_cache, rules
        )
        params = ToolResult(
            "parameter files", [str(p) for p in validate_params(settings)], configuration=True
        )
        result = LintResult(
            [by_cfn_lint.result(), by_checkov.result(), params],
            cache_key,
            seconds=time.monotonic() - started,
        )
    stored = [
        {
            "tool": t.tool,
            "findings": _portable(t.findings, anchor),
            "configuration": t.configuration,
        }
        for t in result.tools
    ]
    results_cache.store(settings, "lint", cache_key, versions, {"tools": stored})
    return result


def _kept_tools(found: object, anchor: str) -> list[ToolResult] | None:
    if not isinstance(found, dict) or not isinstance(found.get("tools"), list):
        return None
    kept = []
    for tool in found["tools"]:
        if not isinstance(tool, dict) or not isinstance(tool.get("tool"), str):
            return None
        findings = _placed(tool.get("findings"), anchor)
        if findings is None:
            return None
        kept.append(ToolResult(tool["tool"], findings, bool(tool.get("configuration"))))
    return kept
