"""`pipeline lint`: the CloudFormation templates and parameter files, before any AWS call.

cfn-lint runs on every template in infra/ (config: .cfnlintrc.yaml); checkov (policy checks,
offline, in its own environment: pipeline/tools/) on the same templates; every parameter file
in infra/params/ is validated against the endpoint template's Parameters (the pure checks
are in pipeline.core.params). Templates are decoded with cfn-lint's decoder, which
understands !Ref and the other short forms.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline import tools
from pipeline.core.params import (
    MAX_FILE_BYTES,
    PIPELINE_FILLED,
    Problem,
    check_file,
    check_same_keys,
    decode,
)
from pipeline.errors import ConfigError, PipelineError
from pipeline.settings import Settings


@dataclass
class ToolResult:
    tool: str
    findings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.findings


def template_parameters(settings: Settings) -> dict:
    from cfnlint.decode import decode

    template, matches = decode(str(settings.endpoint_template))
    if matches or template is None:
        details = "; ".join(str(m) for m in matches) or "could not be decoded"
        raise ConfigError(f"{settings.endpoint_template}: {details}")
    return dict(template.get("Parameters", {}))


def _read(path: Path) -> bytes:
    """At most MAX_FILE_BYTES + 1 bytes, so a huge file is never read whole."""
    with open(path, "rb") as handle:
        return handle.read(MAX_FILE_BYTES + 1)


def _read_params_file(path: Path, seen: dict[tuple[int, int], Path]) -> tuple[object, list]:
    """The bytes of one <env>.json decoded, or why not: a dangling symlink, a directory or
    other non-file, a file too large (refused before it is read), one that cannot be read,
    or one that is another environment's file under this name (a symlink or hard link)."""
    source = str(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        target = os.readlink(path) if path.is_symlink() else "nothing"
        return None, [Problem(source, None, f"is a symlink to {target}, which does not exist; "
                              "remove it or point it at a file")]  # fmt: skip
    except OSError as exc:
        return None, [Problem(source, None, f"cannot be read ({exc.strerror}); fix it")]
    if stat.S_ISDIR(info.st_mode):
        return None, [Problem(source, None, "is a directory, not a parameter file; remove or "
                              "rename it")]  # fmt: skip
    if not stat.S_ISREG(info.st_mode):
        return None, [Problem(source, None, "is not a regular file; a parameter file is a "
                              "JSON file")]  # fmt: skip
    if info.st_size > MAX_FILE_BYTES:
        return None, [Problem(source, None, f"is {info.st_size} bytes; a parameter file may be "
                              f"at most {MAX_FILE_BYTES} bytes (1 MiB)")]  # fmt: skip
    real = path.resolve()
    if real.stem != path.stem:
        return None, [Problem(source, None, f"resolves to {real}, the file of another "
                              f"environment; give {path.stem} its own file")]  # fmt: skip
    identity = (info.st_dev, info.st_ino)
    if identity in seen:
        return None, [Problem(source, None, f"is the same file as {seen[identity]}; give "
                              f"{path.stem} its own file")]  # fmt: skip
    seen[identity] = path
    try:
        raw = _read(path)
    except OSError as exc:
        return None, [Problem(source, None, f"cannot be read ({exc.strerror}); fix its "
                              "permissions")]  # fmt: skip
    return decode(raw, source)


def load_params(settings: Settings) -> tuple[dict[str, dict], list[Problem]]:
    """Every <env>.json, read once: {environment: document} and the problems of all of them
    (checked against the endpoint template's Parameters and against each other)."""
    parameters = template_parameters(settings)
    files = sorted(settings.params_dir.glob("*.json"))
    if not files:
        return {}, [Problem(str(settings.params_dir), None, "no <env>.json parameter files")]
    problems, documents, seen = [], {}, {}
    for path in files:
        document, found = _read_params_file(path, seen)
        problems += found
        if found:
            continue
        documents[str(path)] = document
        problems += check_file(parameters, document, str(path), environment=path.stem)
    problems += check_same_keys(documents, set(parameters) - PIPELINE_FILLED)
    return {Path(s).stem: d for s, d in documents.items()}, problems


def validate_params(settings: Settings) -> list[Problem]:
    return load_params(settings)[1]


def cfn_lint(settings: Settings) -> list[str]:
    if not templates(settings):
        return [f"{settings.infra_dir}: no templates found"]
    executable = Path(sys.executable).with_name("cfn-lint")  # installed with this package
    if not executable.exists():
        raise ConfigError(f"{executable} not found; install the project (`pip install -e .`)")
    result = subprocess.run(
        [str(executable), "--format", "parseable", *templates(settings)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    findings = [line for line in result.stdout.splitlines() if line.strip()]
    if result.returncode and not findings:
        findings = [f"cfn-lint exited {result.returncode}: {result.stderr.strip()[:500]}"]
    return findings


def templates(settings: Settings) -> list[str]:
    return sorted(str(p) for p in settings.infra_dir.glob("*.yaml"))


def checkov(settings: Settings, progress: Callable[[str], None]) -> list[str]:
    """Failed checks, parse errors, and skips that give no reason, as findings."""
    if not templates(settings):
        return [f"{settings.infra_dir}: no templates found"]
    bin_dir = tools.environment("checkov", settings.tools_dir, progress)
    files = [arg for path in templates(settings) for arg in ("--file", path)]
    result = subprocess.run(
        [str(bin_dir / "checkov"), "--skip-download", "--framework", "cloudformation",
         "--external-checks-dir", str(tools.CHECKOV_CHECKS), "--output", "json",
         *files],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
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
            findings += [f"{path}: checkov could not parse it"
                         for path in report["results"].get("parsing_errors", [])]  # fmt: skip
        results = report.get("results", {})
        for check in results.get("failed_checks", []):
            findings.append(f"{_template(settings, check)}: {check['resource']}: "
                            f"{check['check_id']} {check['check_name']}")  # fmt: skip
        for check in results.get("skipped_checks", []):
            # checkov fills in this text when a skip has no `comment`
            comment = (check.get("check_result") or {}).get("suppress_comment") or ""
            if comment.strip() in ("", "No comment provided"):
                findings.append(f"{_template(settings, check)}: {check['resource']}: "
                                f"{check['check_id']} is skipped without a reason; add a "
                                "`comment` to its Metadata.checkov.skip entry")  # fmt: skip
    if result.returncode and not findings:
        findings = [f"checkov exited {result.returncode}: {result.stderr.strip()[-500:]}"]
    return findings


def _template(settings: Settings, check: dict) -> str:
    return check.get("file_abs_path") or str(settings.infra_dir / check["file_path"].lstrip("/"))


def run(settings: Settings, progress: Callable[[str], None] = lambda _: None) -> list[ToolResult]:
    params = ToolResult("parameter files", [str(p) for p in validate_params(settings)])
    return [
        ToolResult("cfn-lint", cfn_lint(settings)),
        ToolResult("checkov", checkov(settings, progress)),
        params,
    ]
