"""Shared fixtures: one trained and packaged build per test session, in a temp directory."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

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
