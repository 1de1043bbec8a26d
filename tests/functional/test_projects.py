"""Model projects: the script-mode contract, bad projects refused, and two projects side by
side in one sandbox."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.errors import ConfigError, PipelineError
from pipeline.settings import Settings
from pipeline.shared.context import Context
from pipeline.stages.build import train
from pipeline.stages.build.train import TrainingFailed
from tests.conftest import FIXTURES, sandbox_environment

PROJECTS = FIXTURES / "projects"
ROOT = Path(__file__).resolve().parents[2]


def settings_for(config: Path, build: Path) -> Settings:
    return replace(Settings.from_env({}, config=config), build_dir=build)


def test_script_gets_sagemaker_variables_hyperparameters_and_channels(tmp_path):
    settings = settings_for(PROJECTS / "hyperparameters" / "pipeline.toml", tmp_path)
    result = train.run(Context(settings))
    seen = json.loads((tmp_path / "training" / "output" / "data" / "seen.json").read_text())
    assert seen["argv"] == ["-C", "0.5", "--fit_intercept", "True", "--solver", "lbfgs"]
    env = seen["env"]
    assert json.loads(env["SM_HPS"]) == {"C": 0.5, "fit_intercept": True, "solver": "lbfgs"}
    assert json.loads(env["SM_CHANNELS"]) == ["test", "train"]
    assert env["SM_CHANNEL_TRAIN"].endswith("channels/train")
    assert env["SM_MODEL_DIR"].endswith("training/model")
    assert {"SM_OUTPUT_DATA_DIR", "SM_NUM_CPUS", "SM_HOSTS", "SM_CURRENT_HOST"} <= set(env)
    assert seen["test_files"] == ["test.csv"]
    assert result.signature["classes"] == [0, 1]
    assert [c["name"] for c in result.signature["inputs"]] == ["x", "y"]


def test_target_missing_from_the_data_is_refused_naming_the_key(tmp_path):
    settings = settings_for(PROJECTS / "target-not-in-data" / "pipeline.toml", tmp_path)
    with pytest.raises(ConfigError, match=r"\[data\] target: column 'churned' is not in .*tiny"):
        train.run(Context(settings))
    assert not (tmp_path / "training").exists()  # refused before the script ran


def test_failing_script_reports_status_reason_and_last_lines(tmp_path):
    settings = settings_for(PROJECTS / "failing-script" / "pipeline.toml", tmp_path)
    with pytest.raises(TrainingFailed) as caught:
        train.run(Context(settings))
    message = str(caught.value)
    assert "exited with status 3; no model was written" in message
    assert "Failure reason: ran out of patience" in message
    assert "epoch 29" in message and "epoch 9\n" not in message  # the last 20 lines only
    assert caught.value.exit_code == 1
    assert not settings.model_file.exists()


def test_script_that_writes_no_model_is_told_where_to_write_it(tmp_path):
    settings = settings_for(PROJECTS / "no-model" / "pipeline.toml", tmp_path)
    with pytest.raises(
        TrainingFailed,
        match=r"wrote no model.joblib in SM_MODEL_DIR \(it wrote "
        r"model.pkl\)",
    ):
        train.run(Context(settings))


def test_classifier_in_a_regression_project_is_refused(tmp_path):
    settings = settings_for(PROJECTS / "classifier-for-regression" / "pipeline.toml", tmp_path)
    with pytest.raises(ConfigError, match=r"task is regression, but the model is a classifier"):
        train.run(Context(settings))
    assert not settings.model_file.exists()


def test_unreachable_s3_data_is_refused_before_training(tmp_path):
    with sandbox_environment():
        settings = settings_for(PROJECTS / "unreachable-s3-data" / "pipeline.toml", tmp_path)
        with pytest.raises(
            ConfigError,
            match=r"\[data\] train: s3://no-such-bucket-for-"
            r"pipeline-tests/tiny.csv (does not exist|cannot be read)",
        ):
            train.run(Context(settings))
    assert not (tmp_path / "training").exists()


def test_data_in_s3_trains_like_the_same_local_file(tmp_path):
    import boto3

    local = settings_for(PROJECTS / "hyperparameters" / "pipeline.toml", tmp_path / "local")
    config = tmp_path / "s3project" / "pipeline.toml"
    config.parent.mkdir()
    (config.parent / "train.py").write_text((PROJECTS / "hyperparameters" / "train.py").read_text())
    config.write_text(
        (PROJECTS / "hyperparameters" / "pipeline.toml")
        .read_text()
        .replace('"../tiny.csv"', '"s3://pipeline-test-data/projects/tiny.csv"')
    )
    with sandbox_environment():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="pipeline-test-data")
        s3.upload_file(str(PROJECTS / "tiny.csv"), "pipeline-test-data", "projects/tiny.csv")
        remote = train.run(Context(settings_for(config, tmp_path / "remote")))
    assert remote.model_sha256 == train.run(Context(local)).model_sha256


def test_two_projects_deploy_side_by_side_in_one_account(tmp_path):
    from pipeline.shared import records as releases
    from pipeline.stages.account import bootstrap
    from pipeline.stages.build import package, register, upload
    from pipeline.stages.release import deploy, smoke

    with sandbox_environment():
        projects = {
            "diabetes": settings_for(ROOT / "pipeline.toml", tmp_path / "diabetes"),
            "churn": settings_for(
                ROOT / "examples" / "churn" / "pipeline.toml", tmp_path / "churn"
            ),
        }
        for settings in projects.values():
            bootstrap.run(Context(settings), "both", [], "", "")  # once per account
            train.run(Context(settings))
            package.run(Context(settings))
            upload.run(Context(settings))
            register.run(Context(settings))
            deploy.run(Context(settings), "dev")
        for name, settings in projects.items():
            # each endpoint still answers its own model's golden examples
            assert smoke.run(Context(settings), "dev").endpoint == f"{name}-dev"
            record = releases.latest(settings, "dev")
            assert record["project"] == name
            manifest = json.loads(settings.manifest_file.read_text())
            assert record["digest"] == manifest["artifact"]["sha256"]
        with pytest.raises(PipelineError, match="no release recorded for staging"):
            releases.latest(projects["churn"], "staging")


def test_text_target_in_a_regression_project_is_refused_before_training(tmp_path):
    settings = settings_for(PROJECTS / "text-target-for-regression" / "pipeline.toml", tmp_path)
    with pytest.raises(
        ConfigError,
        match=r"\[data\] target: 'churned' holds text \('yes'\); "
        "a regression target must be numbers",
    ):
        train.run(Context(settings))
    assert not (tmp_path / "training").exists()
