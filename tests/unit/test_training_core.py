"""SageMaker training jobs decided from data (pipeline.core.training): the [training] section,
the request the SDK would send, and how the container's toolkit reads it back."""

from __future__ import annotations

import json

import pytest

from pipeline.core import training
from pipeline.errors import ConfigError

SOURCE = "/p/pipeline.toml"


def test_no_training_section_trains_locally_with_aws_defaults():
    config = training.parse({}, SOURCE)
    assert config.on == "local" and config.max_runtime_seconds == 24 * 3600
    assert config.instance_count == 1 and not config.spot


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [
        ({"on": "laptop"}, "on", 'use "local" or "sagemaker"'),
        ({"instance_type": "m5.large"}, "instance_type", 'like "ml.m5.large"'),
        ({"instance_count": 0}, "instance_count", "1 or more"),
        ({"volume_size_gb": 0}, "volume_size_gb", "1 to 16384"),
        ({"max_runtime_seconds": 28 * 24 * 3600 + 1}, "max_runtime_seconds", "28 days"),
        ({"max_wait_seconds": 7200}, "max_wait_seconds", "set spot = true"),
        ({"spot": True}, "max_wait_seconds", "missing; managed spot training needs it"),
        (
            {"spot": True, "max_runtime_seconds": 3600, "max_wait_seconds": 60},
            "max_wait_seconds",
            r"at least max_runtime_seconds \(3600\)",
        ),
        ({"output_prefix": "/training/"}, "output_prefix", "without leading or trailing"),
        ({"output_prefix": "a//b"}, "output_prefix", "single slashes"),
        ({"output_prefix": "train*"}, "output_prefix", "letters, digits and !_.'\\(\\)-"),
        ({"output_prefix": "models/training"}, "output_prefix", "not under models/"),
        ({"output_prefix": "releases"}, "output_prefix", "not under models/ or releases/"),
        ({"instances": 2}, "instances", "unknown key; \\[training\\] takes on, "),
        ({"spot": "yes"}, "spot", "must be a boolean, got 'yes'"),
        ({"instance_count": True}, "instance_count", "must be an integer, got True"),
    ],
)
def test_a_bad_training_key_is_refused_naming_file_key_and_fix(table, key, message):
    with pytest.raises(ConfigError, match=f"^{SOURCE}: \\[training\\] {key}: .*{message}"):
        training.parse(table, SOURCE)


def test_spot_with_a_wait_at_least_the_runtime_is_accepted():
    config = training.parse({"spot": True, "max_runtime_seconds": 60, "max_wait_seconds": 60}, "")
    assert config.spot and config.max_wait_seconds == 60


def test_hyperparameters_are_json_encoded_as_the_sdk_sends_them():
    encoded = training.encode_hyperparameters(
        {"alpha": 0.5, "max_depth": 3, "criterion": "gini", "fit_intercept": True},
        "train.py",
        "s3://b/source/abc/sourcedir.tar.gz",
    )
    assert encoded == {
        "alpha": "0.5",
        "max_depth": "3",
        "criterion": '"gini"',
        "fit_intercept": "true",
        "sagemaker_program": '"train.py"',
        "sagemaker_submit_directory": '"s3://b/source/abc/sourcedir.tar.gz"',
    }


def test_a_users_sagemaker_prefixed_hyperparameter_is_refused():
    with pytest.raises(ConfigError, match="'sagemaker_region'.*SageMaker's own; rename it"):
        training.encode_hyperparameters({"sagemaker_region": "x"}, "train.py", "s3://b/k")


def test_the_toolkit_decodes_json_and_keeps_what_is_not_json_raw():
    decoded = training.decode_hyperparameters(
        {"a": "0.5", "b": '"gini"', "c": "gini", "d": "[1, 2]", "e": "true", "f": "{oops"}
    )
    assert decoded == {"a": 0.5, "b": "gini", "c": "gini", "d": [1, 2], "e": True, "f": "{oops"}


def test_script_arguments_leave_out_sagemakers_own_and_print_values_as_the_toolkit():
    # sagemaker_training.mapping.to_cmd_args: str() of each value, "-x" for one letter,
    # a mapping as k=v pairs
    decoded = {
        "sagemaker_program": "train.py",
        "n": 3,
        "name": "x y",
        "on": True,
        "rate": 0.1,
        "ids": [1, 2],
        "opts": {"b": 2, "a": "x"},
        "k": None,
    }
    assert training.script_arguments(decoded) == [
        "--ids",
        "[1, 2]",
        "-k",
        "",
        "-n",
        "3",
        "--name",
        "x y",
        "--on",
        "True",
        "--opts",
        "a=x,b=2",
        "--rate",
        "0.1",
    ]


def test_what_is_encoded_comes_back_to_the_script_unchanged():
    given = {"alpha": 0.25, "criterion": "entropy", "depth": 4}
    encoded = training.encode_hyperparameters(given, "train.py", "s3://b/k")
    decoded = training.decode_hyperparameters(encoded)
    assert {k: v for k, v in decoded.items() if not k.startswith("sagemaker_")} == given
    assert decoded["sagemaker_program"] == "train.py"


def test_the_request_is_script_mode_file_input_with_every_channel_as_a_prefix():
    config = training.parse({"on": "sagemaker", "instance_type": "ml.c5.xlarge"}, SOURCE)
    request = training.create_request(
        name="job-1",
        image="img:1",
        role_arn="arn:aws:iam::1:role/r",
        config=config,
        hyperparameters={"sagemaker_program": '"train.py"'},
        channels={"train": "s3://b/d/train/", "test": "s3://b/d/test/"},
        output_path="s3://b/training/diabetes",
        tags={"project": "diabetes", "model": "m", "git-commit": "abc"},
    )
    assert [c["ChannelName"] for c in request["InputDataConfig"]] == ["test", "train"]
    source = request["InputDataConfig"][1]["DataSource"]["S3DataSource"]
    assert source == {
        "S3DataType": "S3Prefix",
        "S3Uri": "s3://b/d/train/",
        "S3DataDistributionType": "FullyReplicated",
    }
    assert request["AlgorithmSpecification"] == {
        "TrainingImage": "img:1",
        "TrainingInputMode": "File",
    }
    assert request["ResourceConfig"]["InstanceType"] == "ml.c5.xlarge"
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}
    assert "CheckpointConfig" not in request and request["EnableManagedSpotTraining"] is False
    assert {t["Key"] for t in request["Tags"]} == {"project", "model", "git-commit"}


def test_a_spot_request_carries_its_wait_limit_and_checkpoint_prefix():
    config = training.parse({"spot": True, "max_wait_seconds": 90000}, SOURCE)
    request = training.create_request(
        name="j",
        image="i",
        role_arn="r",
        config=config,
        hyperparameters={},
        channels={},
        output_path="s3://b/o",
        tags={},
        checkpoint_uri="s3://b/checkpoints/j",
    )
    assert request["StoppingCondition"]["MaxWaitTimeInSeconds"] == 90000
    assert request["CheckpointConfig"] == {"S3Uri": "s3://b/checkpoints/j"}


def test_job_names_keep_digest_and_time_and_fit_sagemakers_limit():
    name = training.job_name("m" * 70, "0123456789abcdef", "20261207120000")
    assert len(name) == 63 and name.endswith("-01234567-20261207120000")
    assert training.job_name("diabetes-linear", "ab" * 32, "20261207120000") == (
        "diabetes-linear-abababab-20261207120000"
    )


def test_the_model_lands_under_the_job_in_the_output_path():
    assert training.model_artifact_uri("s3://b/out/", "job") == "s3://b/out/job/output/model.tar.gz"


def test_the_container_environment_points_into_its_root_and_names_the_channels():
    decoded = {"sagemaker_program": "train.py", "alpha": 0.5, "kind": "ridge"}
    env = training.container_environment(
        "/opt/ml", ["train", "test"], decoded, "train.py", "s3://b/k.tar.gz", 2
    )
    assert env["SM_CHANNEL_TRAIN"] == "/opt/ml/input/data/train"
    assert env["SM_MODEL_DIR"] == "/opt/ml/model" and env["SM_MODULE_NAME"] == "train"
    assert json.loads(env["SM_HPS"]) == {"alpha": 0.5, "kind": "ridge"}
    assert json.loads(env["SM_USER_ARGS"]) == ["--alpha", "0.5", "--kind", "ridge"]
    assert env["SM_HP_KIND"] == "ridge" and env["SM_HP_ALPHA"] == "0.5"
    assert json.loads(env["SM_CHANNELS"]) == ["test", "train"]


def test_the_output_is_encrypted_with_the_given_key_and_the_environment_is_sent():
    request = training.create_request(
        name="m-12345678-20261207000000",
        image="img",
        role_arn="arn:aws:iam::1:role/r",
        config=training.parse({}, SOURCE),
        hyperparameters={},
        channels={"train": "s3://b/t/"},
        output_path="s3://b/training/m/jobs",
        tags={},
        environment={"B": "2", "A": "1"},
        kms_key="arn:aws:kms:us-east-1:1:key/k",
    )
    assert request["OutputDataConfig"] == {
        "S3OutputPath": "s3://b/training/m/jobs",
        "KmsKeyId": "arn:aws:kms:us-east-1:1:key/k",
    }
    assert request["Environment"] == {"A": "1", "B": "2"}


def test_hyperparameters_beyond_create_training_jobs_limits_are_refused():
    with pytest.raises(ConfigError, match="'notes': 2602 characters .* at most 2500"):
        training.encode_hyperparameters({"notes": "x" * 2600}, "train.py", "s3://b/k")
    many = {f"h{i}": i for i in range(99)}
    with pytest.raises(ConfigError, match="99 hyperparameters; .* at most 100"):
        training.encode_hyperparameters(many, "train.py", "s3://b/k")
    training.encode_hyperparameters({f"h{i}": i for i in range(98)}, "train.py", "s3://b/k")
