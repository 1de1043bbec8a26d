"""The benchmarks cannot be left out of CI: every bench/*.py script (a file with an
`if __name__ == "__main__":` block) is run by `tox -e bench` and by `tox -e bench-quick`, which
.ci/run runs; and a quick run never writes over bench/results/, the record of full runs."""

from __future__ import annotations

import ast
import configparser
import json
import re
from pathlib import Path

import pytest

from bench import common

ROOT = Path(__file__).resolve().parents[2]
ENVS = ("testenv:bench", "testenv:bench-quick")


def tox() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini")
    return parser


def commands(env: str) -> list[str]:
    """The env's command lines, with tox's `{[section]key}` references replaced."""
    parser = tox()

    def resolve(text: str) -> str:
        return re.sub(r"\{\[([^\]]+)\](\w+)\}", lambda m: resolve(parser[m[1]][m[2]]), text).strip()

    return [line.strip() for line in resolve(parser[env]["commands"]).splitlines() if line.strip()]


def scripts() -> set[str]:
    """bench/*.py files with a top-level `if __name__ == "__main__":`."""
    found = set()
    for path in (ROOT / "bench").glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if (
                isinstance(node, ast.If)
                and isinstance(node.test, ast.Compare)
                and isinstance(node.test.left, ast.Name)
                and node.test.left.id == "__name__"
                and any(
                    isinstance(c, ast.Constant) and c.value == "__main__"
                    for c in node.test.comparators
                )
            ):
                found.add(f"bench/{path.name}")
    return found


def test_the_benchmark_scripts_are_found():
    assert {"bench/sandbox_timing.py", "bench/server_load.py"} <= scripts()
    assert "bench/common.py" not in scripts()


@pytest.mark.parametrize("env", ENVS)
def test_every_benchmark_script_is_run_by_the_tox_env(env):
    run = {
        match[1] for line in commands(env) if (match := re.match(r"python (bench/\S+\.py)", line))
    }
    assert scripts() <= run, f"[{env}] commands do not run {sorted(scripts() - run)}"
    assert run <= scripts(), f"[{env}] runs files that are not bench scripts: {run - scripts()}"


def test_bench_quick_is_bench_with_the_quick_switch():
    parser = tox()
    full, short = parser["testenv:bench"], parser["testenv:bench-quick"]
    assert commands("testenv:bench-quick") == commands("testenv:bench")
    for key in ("extras", "deps"):
        assert short[key].split() == full[key].split(), key
    assert set(full["set_env"].splitlines()) <= set(short["set_env"].splitlines())
    assert re.search(r"^\s*BENCH_QUICK\s*=\s*1\s*$", short["set_env"], re.MULTILINE)


def test_ci_runs_the_quick_benchmarks():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert "python3 -m tox -e bench-quick" in lines


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("yes", True), ("", False), ("0", False), ("false", False)],
)
def test_quick_mode_follows_the_switch(monkeypatch, value, expected):
    monkeypatch.setenv("BENCH_QUICK", value)
    assert common.quick() is expected


def test_quick_mode_is_off_without_the_switch(monkeypatch):
    monkeypatch.delenv("BENCH_QUICK", raising=False)
    assert common.quick() is False


def test_quick_results_never_overwrite_the_full_results(monkeypatch, tmp_path):
    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(common, "QUICK_RESULTS", tmp_path / "quick")
    monkeypatch.delenv("BENCH_QUICK", raising=False)
    full = common.write_results("demo", {"figure": 1})
    monkeypatch.setenv("BENCH_QUICK", "1")
    short = common.write_results("demo", {"figure": 2})
    assert full == tmp_path / "results" / "demo.json"
    assert short == tmp_path / "quick" / "demo.json"
    assert json.loads(full.read_text())["figure"] == 1
    assert "quick" not in json.loads(full.read_text())
    assert json.loads(short.read_text())["quick"] is True
