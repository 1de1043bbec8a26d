"""`pipeline train --on sagemaker` against the sandbox, as a user runs it: the CLI as a
subprocess, a real training job (the sandbox runs it), the model evaluated, gated and
packaged as a local one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from tests.e2e.test_cli import pipeline

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = ROOT / "tests" / "fixtures" / "projects"


def clients(env: dict[str, str]):
    session = boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )
    url = env["AWS_ENDPOINT_URL"]
    return session.client("sagemaker", endpoint_url=url), session.client("logs", endpoint_url=url)


def job_log(logs, name: str) -> list[str]:
    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/"
    )["logStreams"]
    assert len(streams) == 1, streams
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs",
        logStreamName=streams[0]["logStreamName"],
        startFromHead=True,
    )["events"]
    return [e["message"] for e in events]


def test_the_default_project_trains_as_a_job_and_packages_its_model(bootstrapped, built, tmp_path):
    env = {**bootstrapped, "PIPELINE_BUILD_DIR": str(tmp_path)}
    trained = pipeline("train", "--on", "sagemaker", env=env, timeout=300)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    job = metrics["training_job"]
    assert f"training job: {job['name']} ({job['arn']})" in trained.stdout
    for status in ("Starting", "Downloading", "Training", "Uploading", "Completed"):
        assert f"  {status}: " in trained.stdout, status
    # the job gets the BLAS pinning of a local run: the same inputs fit the same bytes
    local = json.loads(built.metrics_file.read_text())
    assert metrics["model_sha256"] == local["model_sha256"]
    assert metrics["gate"]["passed"] and metrics["training_env"]["scikit-learn"] == "1.9.0"

    sagemaker, _ = clients(bootstrapped)
    described = sagemaker.describe_training_job(TrainingJobName=job["name"])
    assert described["TrainingJobStatus"] == "Completed"
    assert described["AlgorithmSpecification"]["TrainingImage"].endswith(
        "/sagemaker-scikit-learn:1.9-0-cpu-py3"
    )
    hps = described["HyperParameters"]
    assert hps["sagemaker_program"] == '"train.py"'
    submit = json.loads(hps["sagemaker_submit_directory"])
    assert submit.startswith("s3://") and "/training/diabetes-linear/source/" in submit
    assert submit.endswith("/sourcedir.tar.gz")
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"] for c in described["InputDataConfig"]
    }
    assert sorted(channels) == ["test", "train"]
    assert all(c["S3DataType"] == "S3Prefix" for c in channels.values())
    assert "/training/diabetes-linear/data/train/" in channels["train"]["S3Uri"]
    assert described["Environment"]["OPENBLAS_CORETYPE"] == "Prescott"
    # the build account's training role (bootstrap), not the endpoints' execution role
    assert described["RoleArn"].endswith(":role/sagemaker-pipeline-sagemaker-training")
    assert described["OutputDataConfig"]["KmsKeyId"].startswith("arn:aws:kms:")
    assert described["OutputDataConfig"]["S3OutputPath"].endswith("/training/diabetes-linear/jobs")
    tags = {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=job["arn"])["Tags"]}
    assert tags["project"] == "diabetes" and tags["model"] == "diabetes-linear"
    assert len(tags["git-commit"]) == 40

    packaged = pipeline("package", env=env, timeout=300)
    assert packaged.returncode == 0, packaged.stderr
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["training_job"]["arn"] == job["arn"]
    assert manifest["training_job"]["name"] == job["name"]

    # a second run uploads nothing new: source and data keys name their content
    again = pipeline("train", "--on", "sagemaker", env=env, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "  uploaded: " not in again.stdout and again.stdout.count("already there: ") == 3


def test_the_script_sees_what_a_local_run_sees(bootstrapped, tmp_path):
    """Hyperparameters as the training toolkit passes them, the same as `train` on this
    machine gives the script."""
    config = PROJECTS / "hyperparameters" / "pipeline.toml"
    env = {**bootstrapped, "PIPELINE_BUILD_DIR": str(tmp_path)}
    trained = pipeline("train", "--on", "sagemaker", "--config", str(config), env=env, timeout=300)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    name = json.loads((tmp_path / "metrics.json").read_text())["training_job"]["name"]
    _, logs = clients(bootstrapped)
    seen = next(line for line in job_log(logs, name) if line.startswith("seen: "))
    seen = json.loads(seen.removeprefix("seen: "))
    assert seen["argv"] == ["-C", "0.5", "--fit_intercept", "True", "--solver", "lbfgs"]
    assert json.loads(seen["env"]["SM_HPS"]) == {"C": 0.5, "fit_intercept": True, "solver": "lbfgs"}
    assert seen["env"]["SM_HP_FIT_INTERCEPT"] == "true"  # env values as compact JSON
    assert json.loads(seen["env"]["SM_CHANNELS"]) == ["test", "train"]
    assert seen["test_files"] == ["test.csv"]
    assert "  | seen: " in trained.stdout  # the log stream followed as progress


def test_a_failed_job_gives_its_reason_and_last_lines_and_nothing_is_written(
    bootstrapped, tmp_path
):
    config = PROJECTS / "failing-script" / "pipeline.toml"
    env = {**bootstrapped, "PIPELINE_BUILD_DIR": str(tmp_path)}
    failed = pipeline("train", "--on", "sagemaker", "--config", str(config), env=env, timeout=300)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "failed: AlgorithmError: ran out of patience" in failed.stderr
    assert "Last 20 log lines:" in failed.stderr
    assert "epoch 29" in failed.stderr and "epoch 9\n" not in failed.stderr
    assert "Traceback" not in failed.stderr
    assert not (tmp_path / "model.joblib").exists() and not (tmp_path / "metrics.json").exists()


def test_ctrl_c_stops_the_job(bootstrapped, tmp_path):
    config = PROJECTS / "slow-script" / "pipeline.toml"  # [training] on = "sagemaker"
    env = {**os.environ, **bootstrapped, "PIPELINE_BUILD_DIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "train", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen = []
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)
            if "| training started" in line:
                break
        else:
            pytest.fail("the job never started: " + "".join(seen) + process.stderr.read())
        name = next(
            line.split()[2]
            for line in seen
            if line.startswith("training job ") and "created" in line
        )
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 1, stderr
    assert f"training job {name} was asked to stop (StopTrainingJob)" in stderr
    assert "Traceback" not in stderr
    sagemaker, _ = clients(bootstrapped)
    deadline = time.monotonic() + 60
    while (job := sagemaker.describe_training_job(TrainingJobName=name))[
        "TrainingJobStatus"
    ] != "Stopped":
        assert job["TrainingJobStatus"] in ("Stopping", "InProgress"), job
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert not (tmp_path / "model.joblib").exists()


def test_an_output_prefix_the_bootstrap_does_not_allow_is_refused_before_any_upload(
    bootstrapped, tmp_path
):
    project = PROJECTS / "hyperparameters"
    config = tmp_path / "pipeline.toml"
    config.write_text(
        (project / "pipeline.toml")
        .read_text()
        .replace('entry_point = "train.py"', f'entry_point = "{project / "train.py"}"')
        .replace('train = "../tiny.csv"', f'train = "{PROJECTS / "tiny.csv"}"')
        + '\n[training]\non = "sagemaker"\noutput_prefix = "elsewhere"\n'
    )
    env = {**bootstrapped, "PIPELINE_BUILD_DIR": str(tmp_path / "build")}
    refused = pipeline("train", "--config", str(config), env=env, timeout=300)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"{config}: [training] output_prefix = 'elsewhere'" in refused.stderr
    assert "bootstrap gives training jobs the prefix 'training'" in refused.stderr
    assert "uploaded" not in refused.stdout


def test_a_jobs_model_written_twice_or_outside_its_run_is_not_loaded(bootstrapped):
    """The job's output prefix is writable by the account's training role, not only by this
    job: a model.tar.gz with a second version, or written after the job ended, is refused."""
    from datetime import timedelta

    from pipeline.aws.s3 import S3
    from pipeline.aws.sagemaker import TrainingJob
    from pipeline.errors import TrainingFailed
    from pipeline.settings import Settings
    from pipeline.shared import training_jobs
    from pipeline.shared.context import Context

    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    s3 = session.client("s3", endpoint_url=bootstrapped["AWS_ENDPOINT_URL"])
    bucket, key = "job-outputs-test", "training/m/jobs/j/output/model.tar.gz"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key=key, Body=b"the job's model")
    written = s3.head_object(Bucket=bucket, Key=key)["LastModified"]

    def job(start, end):
        return TrainingJob(
            "j",
            "arn",
            "Completed",
            "Completed",
            (),
            "img",
            None,
            f"s3://{bucket}/{key}",
            1,
            start,
            start,
            end,
        )

    ctx = Context(Settings.from_env({}))
    ctx.__dict__["s3"] = S3(s3)  # the cached wrapper, on this sandbox
    during = job(written - timedelta(minutes=1), written + timedelta(seconds=1))
    assert training_jobs._written_by_the_job(ctx, during, bucket, key, "u") == first["VersionId"]
    later = job(written - timedelta(hours=2), written - timedelta(hours=1))
    with pytest.raises(TrainingFailed, match="outside training job j's run"):
        training_jobs._written_by_the_job(ctx, later, bucket, key, "u")
    s3.put_object(Bucket=bucket, Key=key, Body=b"someone else's model")
    with pytest.raises(TrainingFailed, match="was written 2 times; SageMaker writes it once"):
        training_jobs._written_by_the_job(ctx, during, bucket, key, "u")
