"""Creating the isolated tool environments: reuse, and no half-built environment left."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pipeline import tools
from pipeline.errors import PipelineError


class FakeRunner:
    """Stands in for subprocess.run: venv creates the directory, pip succeeds or fails."""

    def __init__(self, pip_exit: int = 0):
        self.commands: list[list[str]] = []
        self.pip_exit = pip_exit

    def __call__(self, command, **_):
        self.commands.append(command)
        if command[1:3] == ["-m", "venv"]:
            (Path(command[3]) / "bin").mkdir(parents=True)
            return subprocess.CompletedProcess(command, 0, "", "")
        return subprocess.CompletedProcess(command, self.pip_exit, "", "No matching distribution")


def test_an_environment_is_created_once_then_reused(tmp_path):
    runner = FakeRunner()
    first = tools.environment("checkov", tmp_path, progress=lambda _: None, run=runner)
    second = tools.environment("checkov", tmp_path, progress=lambda _: None, run=runner)
    assert first == second and first.name == "bin"
    assert len(runner.commands) == 2  # venv + pip, the first time only
    assert runner.commands[1][-2:] == ["--requirement", str(first.parent) + ".txt"]


def test_a_failed_install_leaves_nothing_behind_and_says_why(tmp_path):
    with pytest.raises(PipelineError, match="No matching distribution") as caught:
        tools.environment("checkov", tmp_path, progress=lambda _: None, run=FakeRunner(1))
    assert "nothing was left behind" in str(caught.value)
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]


def test_an_unknown_tool_is_refused(tmp_path):
    with pytest.raises(PipelineError, match="no pinned requirements for tool 'nope'"):
        tools.environment("nope", tmp_path, progress=lambda _: None, run=FakeRunner())
