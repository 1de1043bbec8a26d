"""Training jobs in the sandbox, driven with plain boto3 as a user's script would: they run
for real, with AWS's statuses, failure reasons, stops, names and logs."""

from __future__ import annotations

import io
import json
import tarfile
import time

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import sandbox_environment

BUCKET = "training-jobs-test"
ROLE = "arn:aws:iam::123456789012:role/sagemaker-execution"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"

SCRIPT = """
import argparse, json, os, sys, time
parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float)
parser.add_argument("--kind")
parser.add_argument("--mode", default="ok")
args = parser.parse_args()
rows = open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "data", "train.csv")).read().splitlines()
print(f"training on {len(rows)} rows with alpha={args.alpha} kind={args.kind}", flush=True)
if "MY_FLAG" in os.environ:
    print(f"MY_FLAG={os.environ['MY_FLAG']}", flush=True)
if args.mode == "raise":
    raise ValueError("alpha out of range")
if args.mode == "failure-file":
    with open(os.path.join(os.environ["SM_OUTPUT_DIR"], "failure"), "w") as handle:
        handle.write("the data has no target column")
    sys.exit(2)
if args.mode == "sleep":
    time.sleep(120)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as handle:
    json.dump({"alpha": args.alpha, "rows": len(rows),
               "hps": json.loads(os.environ["SM_HPS"])}, handle)
"""


def sourcedir() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = SCRIPT.encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def aws():
    with sandbox_environment():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="data/train/data/train.csv", Body=b"1,2\n3,4\n5,6\n")
        s3.put_object(Bucket=BUCKET, Key="source/sourcedir.tar.gz", Body=sourcedir())
        yield {"s3": s3, "sagemaker": boto3.client("sagemaker"), "logs": boto3.client("logs")}


def create(
    sagemaker, name: str, mode: str = "ok", max_runtime: int = 600, image: str = IMAGE, **extra
) -> None:
    sagemaker.create_training_job(
        **extra,
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        HyperParameters={
            "alpha": "0.5",
            "kind": '"ridge"',
            "mode": json.dumps(mode),
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": f'"s3://{BUCKET}/source/sourcedir.tar.gz"',
        },
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/data/train"}
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": max_runtime},
    )


def settle(sagemaker, name: str, timeout: float = 60.0) -> tuple[dict, list[str]]:
    """The job once it ends, and every (status, secondary status) pair seen on the way."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        job = sagemaker.describe_training_job(TrainingJobName=name)
        pair = f"{job['TrainingJobStatus']}/{job['SecondaryStatus']}"
        if not seen or seen[-1] != pair:
            seen.append(pair)
        if job["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            return job, seen
        assert time.monotonic() < deadline, seen
        time.sleep(0.05)


def log_lines(logs, name: str) -> list[str]:
    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/"
    )["logStreams"]
    return [
        event["message"]
        for stream in streams
        for event in logs.get_log_events(
            logGroupName="/aws/sagemaker/TrainingJobs",
            logStreamName=stream["logStreamName"],
            startFromHead=True,
        )["events"]
    ]


def test_the_requests_environment_reaches_the_script_and_is_described(aws):
    """CreateTrainingJob's Environment: set in the container, returned by
    DescribeTrainingJob (moto drops it)."""
    create(aws["sagemaker"], "with-env", Environment={"OPENBLAS_NUM_THREADS": "1", "MY_FLAG": "on"})
    job, _ = settle(aws["sagemaker"], "with-env")
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["Environment"] == {"OPENBLAS_NUM_THREADS": "1", "MY_FLAG": "on"}
    assert any("MY_FLAG=on" in line for line in log_lines(aws["logs"], "with-env"))


def test_an_image_the_sandbox_does_not_emulate_fails_the_job_naming_it(aws):
    other = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5-cpu-py311"
    create(aws["sagemaker"], "other-image", image=other)
    job, _ = settle(aws["sagemaker"], "other-image")
    assert job["TrainingJobStatus"] == "Failed"
    reason = job["FailureReason"]
    assert reason.startswith(f"ClientError: the sandbox cannot run the training image '{other}'")
    assert "sagemaker-scikit-learn:1.9-0-cpu-py3" in reason


def test_a_job_runs_the_script_and_its_model_lands_under_the_job(aws):
    create(aws["sagemaker"], "completes")
    job, seen = settle(aws["sagemaker"], "completes")
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert seen[0].startswith("InProgress/") and seen[-1] == "Completed/Completed"
    transitions = [t["Status"] for t in job["SecondaryStatusTransitions"]]
    assert transitions == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    uri = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert uri == f"s3://{BUCKET}/output/completes/output/model.tar.gz"
    body = aws["s3"].get_object(Bucket=BUCKET, Key="output/completes/output/model.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(body["Body"].read()), mode="r:gz") as tar:
        model = json.loads(tar.extractfile("model.json").read())
    # hyperparameters decoded as the toolkit does; sagemaker_* ones never reach the script
    assert model == {"alpha": 0.5, "rows": 3, "hps": {"alpha": 0.5, "kind": "ridge", "mode": "ok"}}
    assert (
        job["BillableTimeInSeconds"] >= 1
        and "MetricDefinitions" not in job["AlgorithmSpecification"]
    )


def test_the_jobs_output_is_in_its_cloudwatch_log_stream(aws):
    create(aws["sagemaker"], "logged")
    settle(aws["sagemaker"], "logged")
    streams = aws["logs"].describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix="logged/"
    )["logStreams"]
    assert len(streams) == 1 and streams[0]["logStreamName"].startswith("logged/algo-1-")
    events = aws["logs"].get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs",
        logStreamName=streams[0]["logStreamName"],
        startFromHead=True,
    )["events"]
    assert "training on 3 rows with alpha=0.5 kind=ridge" in [e["message"] for e in events]


def test_a_script_that_raises_fails_the_job_with_the_exceptions_last_line(aws):
    create(aws["sagemaker"], "raises", mode="raise")
    job, _ = settle(aws["sagemaker"], "raises")
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"] == "AlgorithmError: ValueError: alpha out of range"
    assert "ModelArtifacts" not in job


def test_a_failure_file_is_the_failure_reason(aws):
    create(aws["sagemaker"], "failure-file", mode="failure-file")
    job, _ = settle(aws["sagemaker"], "failure-file")
    assert job["FailureReason"] == "AlgorithmError: the data has no target column"


def test_a_stopped_job_goes_through_stopping_to_stopped(aws):
    create(aws["sagemaker"], "stopped", mode="sleep")
    deadline = time.monotonic() + 30
    while (
        aws["sagemaker"].describe_training_job(TrainingJobName="stopped")["SecondaryStatus"]
        != "Training"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # what the script printed is in its log stream while it still runs, as on AWS
    deadline = time.monotonic() + 10
    while not any("training on 3 rows" in line for line in log_lines(aws["logs"], "stopped")):
        assert time.monotonic() < deadline, "the running job's output never reached its log"
        time.sleep(0.1)
    aws["sagemaker"].stop_training_job(TrainingJobName="stopped")
    assert aws["sagemaker"].describe_training_job(TrainingJobName="stopped")[
        "TrainingJobStatus"
    ] in ("Stopping", "Stopped")
    job, _ = settle(aws["sagemaker"], "stopped", timeout=30)
    assert job["TrainingJobStatus"] == "Stopped" and job["SecondaryStatus"] == "Stopped"
    with pytest.raises(ClientError, match="is in status Stopped"):
        aws["sagemaker"].stop_training_job(TrainingJobName="stopped")


def test_a_job_past_its_max_runtime_is_stopped_so(aws):
    create(aws["sagemaker"], "too-long", mode="sleep", max_runtime=1)
    job, _ = settle(aws["sagemaker"], "too-long", timeout=30)
    assert job["TrainingJobStatus"] == "Stopped"
    assert job["SecondaryStatus"] == "MaxRuntimeExceeded"


def test_a_name_in_use_is_refused(aws):
    create(aws["sagemaker"], "unique")
    with pytest.raises(ClientError) as refused:
        create(aws["sagemaker"], "unique")
    assert refused.value.response["Error"]["Code"] == "ResourceInUse"
    settle(aws["sagemaker"], "unique")
