"""`python -m pipeline deploy-local` (what `tox -e deploy-local` runs), as a subprocess."""

from __future__ import annotations

import json

from tests.conftest import FIXTURES, terminal_rows
from tests.e2e.test_cli import pipeline

STAGES = (
    "start sandbox",
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
    "stop sandbox",
)


def _rows(stdout: str) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in terminal_rows(stdout, "stage") if row[0] in STAGES}


def _sandbox_processes(log_dir: str) -> list[str]:
    """Processes still running from that sandbox (its workdir is in their environment)."""
    import os

    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                if log_dir.encode() in handle.read():
                    found.append(pid)
        except OSError:
            continue
    return found


def test_deploy_local_runs_every_stage_prints_the_summary_and_stops_the_sandbox(tmp_path):
    summary = tmp_path / "summary.md"
    env = {"PIPELINE_BUILD_DIR": str(tmp_path / "build"), "GITHUB_STEP_SUMMARY": str(summary)}
    result = pipeline("deploy-local", env=env, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = _rows(result.stdout)
    assert list(rows) == list(STAGES)
    assert all(cells[1] == "ok" for cells in rows.values()), rows
    assert rows["taskcat"][2].startswith("3 tests passed")
    for env_name in ("dev", "staging", "prod"):
        assert (
            f"diabetes-{env_name}: smoke ok, release releases/diabetes/{env_name}/"
            in (rows[f"{'deploy' if env_name == 'dev' else 'promote'} {env_name}"][2])
        )
    digest = json.loads((tmp_path / "build" / "manifest.json").read_text())["artifact"]["sha256"]
    assert (
        f"digest {digest}; endpoints dev: diabetes-dev, staging: diabetes-staging, "
        "prod: diabetes-prod" in result.stdout
    )
    assert "| promote prod |" in summary.read_text()
    assert rows["register"][2] == "registered: version 1 of diabetes-linear (PendingManualApproval)"
    # the registry at the end: the build's version, approved for prod, released everywhere
    registry = {row[0]: row for row in terminal_rows(result.stdout, "version")}
    assert registry["1"][1] == "Approved" and registry["1"][2] == digest[:12]
    assert registry["1"][5] == "dev, staging, prod"
    sandbox_log = rows["start sandbox"][2].split("(log ")[1].rstrip(")")
    assert _sandbox_processes(sandbox_log.rsplit("/", 1)[0]) == []


def test_deploy_local_names_the_failing_stage_and_skips_the_rest(tmp_path):
    config = FIXTURES / "projects" / "unreachable-gate" / "pipeline.toml"
    result = pipeline(
        "deploy-local", "--config", str(config), env={"PIPELINE_BUILD_DIR": str(tmp_path / "build")}
    )
    assert result.returncode == 1
    rows = _rows(result.stdout)
    assert rows["train"][1] == "failed" and "quality gate failed" in rows["train"][2]
    later = STAGES[STAGES.index("train") + 1 :]
    assert all(rows[stage][1] == "skipped" for stage in later)
    assert "stage 'train' failed" in result.stderr and "min_r2" in result.stderr
