"""Shared fixtures: one trained and packaged build per test session, in a temp directory."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import joblib
import numpy as np
import pytest

from pipeline.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Settings:
    """Settings whose build directory holds a trained model, metrics, artifact and manifest."""
    from pipeline.stages import package, train

    settings = replace(Settings.from_env({}), build_dir=tmp_path_factory.mktemp("build"))
    train.run(settings)
    package.run(settings)
    return settings


@pytest.fixture
def fresh_settings(tmp_path) -> Settings:
    return replace(Settings.from_env({}), build_dir=tmp_path / "build")


def expected_predictions(model_file: Path, payload: Path) -> np.ndarray:
    """What the joblib model, loaded directly, predicts for a payload fixture's rows."""
    if payload.suffix == ".csv":
        rows = np.loadtxt(payload, delimiter=",", ndmin=2)
    elif payload.suffix == ".npy":
        rows = np.load(payload).reshape(-1, 10)
    else:
        doc = json.loads(payload.read_text())
        doc = doc["instances"] if isinstance(doc, dict) else doc
        rows = np.asarray(doc, dtype=float).reshape(-1, 10)
    return joblib.load(model_file).predict(rows)


@pytest.fixture(scope="session")
def shared_sandbox():
    """One sandbox for the functional modules that only add their own, uniquely named stacks,
    buckets and endpoints: each sandbox costs seconds to start, and its first endpoint more.
    Tests that stop, kill or reconfigure a sandbox start their own."""
    from pipeline.local.sandbox import Sandbox

    with Sandbox() as sandbox:
        yield sandbox
