"""`python -m pipeline deploy-local` (what `tox -e deploy-local` runs), as a subprocess."""

from __future__ import annotations

from tests.conftest import FIXTURES
from tests.e2e.test_cli import pipeline

STAGES = ("train", "package", "start server", "golden check", "stop server")


def _rows(stdout: str) -> dict[str, list[str]]:
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and cells[0] in STAGES:
            rows[cells[0]] = cells[1:]
    return rows


def test_deploy_local_runs_every_stage_and_prints_the_summary(tmp_path):
    summary = tmp_path / "summary.md"
    env = {"PIPELINE_BUILD_DIR": str(tmp_path / "build"), "GITHUB_STEP_SUMMARY": str(summary)}
    result = pipeline("deploy-local", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = _rows(result.stdout)
    assert list(rows) == list(STAGES)
    assert all(cells[1] == "ok" for cells in rows.values())
    assert "5 examples x CSV, JSON match" in rows["golden check"][2]
    assert "| golden check |" in summary.read_text()
    log = (tmp_path / "build" / "logs" / "model-server.log").read_text()
    assert log.count('"POST /invocations" 200') == 2


def test_deploy_local_stops_at_a_failing_stage_and_skips_the_rest(tmp_path):
    env = {"PIPELINE_BUILD_DIR": str(tmp_path / "build"),
           "PIPELINE_QUALITY_GATE": str(FIXTURES / "gates" / "unreachable_r2.toml")}  # fmt: skip
    result = pipeline("deploy-local", env=env)
    assert result.returncode == 1
    rows = _rows(result.stdout)
    assert rows["train"][1] == "failed" and "quality gate failed" in rows["train"][2]
    assert all(rows[stage][1] == "skipped" for stage in STAGES[1:])
    assert "min_r2" in result.stderr
