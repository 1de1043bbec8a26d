"""The CLI as a subprocess: exit codes, messages and files, the way users and CI run it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from tests.conftest import FIXTURES


def pipeline(*args, env=None, cwd=None, timeout=120):
    """Run the CLI; `env` adds to this process's environment (a None value removes a name)."""
    merged = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        env={name: value for name, value in merged.items() if value is not None},
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def cli_build(tmp_path_factory):
    build = tmp_path_factory.mktemp("cli") / "build"
    env = {"PIPELINE_BUILD_DIR": str(build)}
    trained = pipeline("train", env=env)
    packaged = pipeline("package", env=env)
    return build, env, trained, packaged


def test_train_then_package_exit_zero_and_write_the_build(cli_build):
    build, _, trained, packaged = cli_build
    assert trained.returncode == 0, trained.stderr
    assert packaged.returncode == 0, packaged.stderr
    assert "quality gate: passed" in trained.stdout
    manifest = json.loads((build / "manifest.json").read_text())
    assert manifest["artifact"]["sha256"] in packaged.stdout
    assert sorted(p.name for p in build.iterdir()) == [
        "channels",  # the data as the training script saw it
        "constraints.json",  # the monitoring baseline (Model Monitor's shapes)
        "golden-inputs.json",
        "manifest.json",
        "metrics.json",
        "model.joblib",
        "model.tar.gz",
        "signature.json",
        "statistics.json",
        "training",  # SM_MODEL_DIR and SM_OUTPUT_DIR of the script
    ]


def test_failing_gate_exits_one_naming_the_metric(cli_build, tmp_path):
    config = FIXTURES / "projects" / "unreachable-gate" / "pipeline.toml"
    env = {"PIPELINE_BUILD_DIR": str(tmp_path / "b")}
    result = pipeline("train", "--config", str(config), env=env)
    assert result.returncode == 1
    assert "min_r2" in result.stderr and "by 0.5374" in result.stderr
    assert not (tmp_path / "b" / "model.joblib").exists()


def test_bad_config_exits_two_before_building(tmp_path):
    config = FIXTURES / "configs" / "gate_nan.toml"
    env = {"PIPELINE_BUILD_DIR": str(tmp_path / "b")}
    for command in ("train", "package", "deploy", "lint"):
        args = ["--env", "dev"] if command == "deploy" else []
        result = pipeline(command, *args, "--config", str(config), env=env)
        assert result.returncode == 2, (command, result.stderr)
        assert f"{config}: [gate] max_rmse: must be a finite number" in result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "b").exists()


def test_image_uri_prints_the_uri():
    result = pipeline("image-uri", "--region", "eu-west-1")
    assert result.returncode == 0
    assert result.stdout == (
        "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3\n"
    )


def test_image_uri_unknown_region_exits_two():
    result = pipeline("image-uri", "--region", "mars-north-1")
    assert result.returncode == 2
    assert "no sagemaker-scikit-learn registry is known for region 'mars-north-1'" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("command", ["train", "package", "image-uri", "serve", "deploy-local"])
def test_every_subcommand_has_help(command):
    result = pipeline(command, "--help")
    assert result.returncode == 0 and len(result.stdout) > 200


def test_bad_usage_exits_two():
    assert pipeline("no-such-stage").returncode == 2


@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        (["deploy", "--env", "prod", "--digest", "a" * 64], "prod is protected: it takes only"),
        (["deploy", "--env", "prod", "--digest", "a" * 64, "--dry-run"], "prod is protected"),
        (
            ["promote", "--from", "dev", "--to", "prod", "--digest", "a" * 64, "--approve"],
            "prod is promoted from staging, not dev",
        ),
        (
            ["promote", "--from", "staging", "--to", "prod", "--digest", "a" * 64],
            "promoting to it needs an approval",
        ),
        (["rollback", "--env", "prod"], "rolling it back needs an approval"),
    ],
)
def test_protected_environment_changes_are_refused_before_anything_is_sent(args, refusal):
    # No sandbox and no credentials: a refusal that needed AWS would fail differently.
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert refusal in result.stderr and "Nothing was sent" in result.stderr


def no_aws(**env) -> dict:
    """No AWS variable of this process, no config files, no instance metadata; then `env`."""
    cleared = {name: None for name in os.environ if name.startswith("AWS_")}
    return {
        **cleared,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
        **env,
    }


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("case", "env", "says"),
    [
        (
            "no credentials",
            no_aws(),
            "cloudformation: no AWS credentials found; set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE",
        ),
        (
            "no region",
            no_aws(AWS_DEFAULT_REGION=None, AWS_ACCESS_KEY_ID="k", AWS_SECRET_ACCESS_KEY="s"),
            "no AWS region configured",
        ),
        (
            "unreachable endpoint",
            no_aws(
                AWS_ACCESS_KEY_ID="k",
                AWS_SECRET_ACCESS_KEY="s",
                AWS_ENDPOINT_URL=f"http://127.0.0.1:{closed_port()}",
            ),
            "cannot reach http://127.0.0.1:",
        ),
    ],
)
def test_missing_aws_configuration_exits_two_with_one_line(case, env, says):
    result = pipeline("releases", "--env", "dev", env=env)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: releases: ")
    assert says in result.stderr


def test_the_cli_leaves_as_a_normal_exit_does(tmp_path):
    """`python -m pipeline` skips the interpreter's teardown, never what an exit does:
    exit handlers run, output is flushed, and the command's status is the process's.
    (test_image_uri_prints_the_uri holds that buffered output through a pipe arrives.)"""
    script = (
        "import atexit, runpy, sys, concurrent.futures\n"
        "atexit.register(print, 'exit handler ran')\n"
        # an executor never shut down: a normal exit stops its idle worker, so must this one
        "kept = concurrent.futures.ThreadPoolExecutor(1)\n"
        "kept.submit(print, 'worker ran')\n"
        "sys.argv = ['pipeline', 'image-uri', '--region', 'nowhere-1']\n"
        "runpy.run_module('pipeline', run_name='__main__')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2  # the configuration error's status
    assert "nowhere-1" in result.stderr
    assert result.stdout.splitlines()[-1] == "exit handler ran"
    assert "worker ran" in result.stdout
