"""Shared fixtures: one trained and packaged build per test session, in a temp directory."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import joblib
import numpy as np
import pytest

from pipeline.settings import Settings
from pipeline.shared.context import Context

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Settings:
    """Settings whose build directory holds a trained model, metrics, artifact and manifest."""
    from pipeline.stages.build import package, train

    settings = replace(Settings.from_env({}), build_dir=tmp_path_factory.mktemp("build"))
    train.run(Context(settings))
    package.run(Context(settings))
    return settings


@pytest.fixture
def fresh_settings(tmp_path) -> Settings:
    return replace(Settings.from_env({}), build_dir=tmp_path / "build")


def payload_rows(payload: Path) -> np.ndarray:
    """The rows of a numeric (10-column) payload fixture, read without the handler."""
    if payload.suffix == ".csv":
        return np.loadtxt(payload, delimiter=",", ndmin=2)
    if payload.suffix == ".npy":
        return np.load(payload).reshape(-1, 10)
    doc = json.loads(payload.read_text())
    doc = doc["instances"] if isinstance(doc, dict) else doc
    return np.asarray(doc, dtype=float).reshape(-1, 10)


def expected_predictions(model_file: Path, payload: Path) -> np.ndarray:
    """What the joblib model, loaded directly, predicts for a payload fixture's rows."""
    rows = payload_rows(payload)
    model = joblib.load(model_file)
    names = getattr(model, "feature_names_in_", None)
    if names is not None:  # fitted on a DataFrame: give it one, with the same columns
        import pandas as pd

        rows = pd.DataFrame(rows, columns=list(names))
    return model.predict(rows)


@pytest.fixture(scope="session")
def shared_sandbox():
    """One sandbox for the functional modules that only add their own, uniquely named stacks,
    buckets and endpoints: each sandbox costs seconds to start, and its first endpoint more.
    Tests that stop, kill or reconfigure a sandbox start their own."""
    from pipeline.local.sandbox import Sandbox

    with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def bootstrapped(shared_sandbox) -> dict[str, str]:
    """The environment of the shared sandbox, bootstrapped (idempotent: a no-op if done)."""
    env = {
        **shared_sandbox.env,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "bootstrap", "--account-role", "both"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return env


@contextlib.contextmanager
def sandbox_environment(**options):
    """A sandbox of the caller's own, with the standard AWS variables of this process
    pointing at it (stages run in process reach it as a user's boto3 would)."""
    from pipeline.local.sandbox import Sandbox

    with Sandbox(**options) as box, pytest.MonkeyPatch.context() as patch:
        for key, value in box.env.items():
            patch.setenv(key, value)
        yield box


def process_gone(pid: int, timeout: float) -> bool:
    """Whether `pid` ends within `timeout` seconds. A killed process whose parent died with
    it is a zombie until init reaps it: that counts as gone."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        stat = Path(f"/proc/{pid}/stat")
        with contextlib.suppress(OSError):
            if stat.read_text().rsplit(")", 1)[-1].split()[:1] == ["Z"]:
                return True
        time.sleep(0.05)
    return False


def terminal_rows(stdout: str, first_header: str) -> list[list[str]]:
    """The rows of the terminal table (pipeline.cli.render.Table.terminal) whose header
    starts with `first_header`: columns are cut where the rule under the header puts them."""
    lines = stdout.splitlines()
    for i, line in enumerate(lines[:-1]):
        rule = lines[i + 1]
        if line.startswith(first_header) and rule.startswith("─"):
            spans, start = [], 0
            for part in rule.split("  "):
                spans.append((start, start + len(part)))
                start += len(part) + 2
            rows = []
            for row in lines[i + 2 :]:
                if not row.strip() or len(row) > start + 4096:
                    break
                cells = [row[a:b].strip() for a, b in spans[:-1]] + [row[spans[-1][0] :].strip()]
                if any(row[b : b + 2].strip() for _, b in spans[:-1]):
                    break  # not a row of this table: its text runs across a column gap
                rows.append(cells)
            return rows
    raise AssertionError(f"no table with a {first_header!r} column in:\n{stdout}")
