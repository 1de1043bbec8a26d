"""deploy-local's training cache (train.run(use_cache=True)): an unchanged local run is
reused, on real files; any input that changes, or an output that is no longer as it was
written, trains again."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from pipeline.settings import Settings
from pipeline.shared.context import Context
from pipeline.stages.build import train

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path) -> Settings:
    """A copy of the iris example (Parquet train and test files, its own script)."""
    folder = tmp_path / "iris"
    shutil.copytree(ROOT / "examples" / "iris-species", folder)
    return replace(
        Settings.from_env({}, config=folder / "pipeline.toml"), build_dir=folder / "build"
    )


def key(settings: Settings) -> str | None:
    image = train.config.load_serving_image(settings)
    return train.cache_key(settings, train.package_versions(sorted(image.packages)))[0]


def test_an_unchanged_run_is_reused_and_a_damaged_output_trains_again(project):
    first = train.run(Context(project), use_cache=True)
    assert not first.cached and first.cache_key
    again = train.run(Context(project), use_cache=True)
    assert again.cached and again.cache_key == first.cache_key
    assert again.model_sha256 == first.model_sha256
    assert again.metrics == first.metrics and again.signature == first.signature

    project.model_file.write_bytes(b"not the model that was trained")
    retrained = train.run(Context(project), use_cache=True)
    assert not retrained.cached
    assert train.config.sha256_file(project.model_file) == first.model_sha256

    # `pipeline train` (no cache) trains whatever is kept
    assert not train.run(Context(project)).cached


def test_the_key_covers_data_script_config_and_nothing_else(project):
    folder = project.config.folder
    before = key(project)
    assert before

    (folder / "NOTES.md").write_text("not read by training, but in the script's folder\n")
    with_notes = key(project)
    assert with_notes != before  # a training job would get it as source: it counts

    frame = pd.read_parquet(folder / "data" / "train.parquet")
    frame.iloc[0, 0] += 0.1
    frame.to_parquet(folder / "data" / "train.parquet")
    changed_data = key(project)
    assert changed_data != with_notes

    script = folder / "train.py"
    script.write_text(script.read_text() + "\n# a comment is a change\n")
    changed_script = key(project)
    assert changed_script != changed_data

    config = folder / "pipeline.toml"
    config.write_text(config.read_text().replace("min_accuracy = 0.90", "min_accuracy = 0.91"))
    changed_gate = key(project)
    assert changed_gate != changed_script

    project.build_dir.mkdir()  # inside the project folder, and never an input
    (project.build_dir / "model.joblib").write_bytes(b"an output")
    assert key(project) == changed_gate


def test_data_in_s3_is_never_cached(project):
    s3_train = replace(project.config.train, location="s3://bucket/iris/train.parquet")
    settings = replace(project, project_config=replace(project.config, train=s3_train))
    image = train.config.load_serving_image(settings)
    found, why = train.cache_key(settings, train.package_versions(sorted(image.packages)))
    assert found is None and "S3" in why
