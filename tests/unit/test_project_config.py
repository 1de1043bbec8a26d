"""pipeline.toml validation: one fixture per bad case, each refused naming the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core import project as project_core
from pipeline.errors import ConfigError
from pipeline.settings import Settings, load_project

CONFIGS = Path(__file__).parents[1] / "fixtures" / "configs"

# fixture -> (the key the message must name, a phrase of the reason)
BAD = {
    "unknown_section.toml": ("[extra]", "unknown section"),
    "unknown_key.toml": ("[model] entrypoint", "unknown key"),
    "wrong_type_test_size.toml": ("[data] test_size", "must be a number"),
    "missing_target.toml": ("[data] target", "missing"),
    "target_as_feature.toml": ("[data] features", "lists the target"),
    "features_empty.toml": ("[data] features", "empty"),
    "missing_entry_point.toml": ("[model] entry_point", "does not exist"),
    "missing_data_file.toml": ("[data] train", "does not exist"),
    "unsupported_data_format.toml": ("[data] train", "must end in .csv"),
    "gate_metric_of_other_task.toml": ("[gate] min_accuracy", "regression has no metric"),
    "gate_nan.toml": ("[gate] max_rmse", "finite"),
    "gate_infinite.toml": ("[gate] max_rmse", "finite"),
    "gate_empty.toml": ("[gate]", "cannot fail"),
    "gate_missing.toml": ("[gate]", "missing section"),
    "gate_not_a_number.toml": ("[gate] max_rmse", "must be a number"),
    "gate_not_a_gate_key.toml": ("[gate] most_rmse", "not a gate key"),
    "unknown_task.toml": ("[model] task", "'clustering'"),
    "bad_project_name.toml": ("[project] name", "lower-case"),
    "probabilities_for_regression.toml": ("[serving] probabilities", "classification"),
    "test_and_test_size.toml": ("[data] test_size", "not both"),
    "test_size_out_of_range.toml": ("[data] test_size", "between 0 and 1"),
    "promotion_wrong_direction.toml": ("[promotion] max_r2_increase", "max_r2_decrease"),
    "hyperparameter_not_scalar.toml": ("[model.hyperparameters] layers", "string, number"),
    "not_toml.toml": ("", "not valid TOML"),
    "hyperparameter_reserved.toml": ("[model.hyperparameters] sagemaker_program", "SageMaker's"),
    "training_unknown_key.toml": ("[training] instance", "unknown key"),
    "training_unknown_place.toml": ("[training] on", '"local" or "sagemaker"'),
    "training_spot_without_wait.toml": ("[training] max_wait_seconds", "missing"),
    "training_wrong_type.toml": ("[training] instance_count", "must be an integer"),
}


@pytest.mark.parametrize("fixture", sorted(BAD))
def test_bad_config_is_refused_naming_file_and_key(fixture):
    key, reason = BAD[fixture]
    with pytest.raises(ConfigError) as caught:
        load_project(CONFIGS / fixture)
    message = str(caught.value)
    assert str(CONFIGS / fixture) in message
    assert key in message
    assert reason in message
    assert caught.value.exit_code == 2


def test_every_bad_config_fixture_is_tested():
    fixtures = {p.name for p in CONFIGS.glob("*.toml")} - {"valid.toml"}
    assert fixtures == set(BAD)


def test_valid_config_resolves_paths_against_its_folder():
    project = load_project(CONFIGS / "valid.toml")
    assert project.entry_point == (CONFIGS / "train.py").resolve()
    assert project.train.location == str((CONFIGS / "data.csv").resolve())
    assert (project.name, project.model_name, project.task) == (
        "fixture",
        "fixture-model",
        "classification",
    )
    assert project.test is None and project.test_size == 0.2 and project.seed == 0


def test_build_dir_is_the_project_folder_unless_set():
    settings = Settings.from_env({}, config=CONFIGS / "valid.toml")
    assert settings.build_dir == (CONFIGS / "build").absolute()
    assert Settings.from_env(
        {"PIPELINE_BUILD_DIR": "/tmp/x"}, config=CONFIGS / "valid.toml"
    ).build_dir == Path("/tmp/x")


def test_missing_config_says_how_to_pass_one(tmp_path):
    with pytest.raises(ConfigError, match=r"no such file.*--config PATH"):
        Settings.from_env({}, config=tmp_path / "pipeline.toml")


def test_s3_data_uri_is_kept_and_must_name_a_key():
    data = {
        "project": {"name": "p"},
        "data": {"train": "s3://bucket/d.parquet", "target": "y"},
        "model": {"name": "m", "task": "regression", "entry_point": "t.py"},
        "gate": {"max_rmse": 1},
    }
    project = project_core.parse(data, Path("/x/pipeline.toml"))
    assert project.train.is_s3 and project.train.format == "parquet"
    data["data"]["train"] = "s3://bucket-only.csv"
    with pytest.raises(ConfigError, match=r"\[data\] train.*not an s3://bucket/key URI"):
        project_core.parse(data, Path("/x/pipeline.toml"))


def test_hyperparameters_become_sagemaker_style_arguments():
    args = project_core.hyperparameter_args({"n_estimators": 100, "lr": 0.1, "warm": True})
    assert args == ["--lr", "0.1", "--n_estimators", "100", "--warm", "True"]


def test_the_training_section_is_read_into_the_project():
    project = load_project(CONFIGS / "valid.toml")
    assert project.training.on == "local"  # no [training]: train here, as before
    data = {
        **project.raw,
        "training": {
            "on": "sagemaker",
            "instance_type": "ml.c5.2xlarge",
            "spot": True,
            "max_wait_seconds": 90000,
        },
    }
    parsed = project_core.parse(data, project.config_file)
    assert (parsed.training.on, parsed.training.instance_type) == ("sagemaker", "ml.c5.2xlarge")
    assert parsed.training.spot and parsed.training.max_wait_seconds == 90000
