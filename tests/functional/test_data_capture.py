"""Data capture of sandbox endpoints (pipeline/local/capture.py), seen as a user sees it on
AWS: infra/endpoint.yaml deployed, invoked with plain boto3, the capture files read back
from S3 and compared byte for byte with the record SageMaker documents (SageMaker Developer
Guide, "Capture data from real-time endpoint"), apart from the generated eventId and the
inferenceTime, which are checked for their form."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from pipeline.local.sandbox import Sandbox
from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "capture-artifacts"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/sagemaker-execution"
KEY = re.compile(
    r"^(?P<folder>.+/AllTraffic/(?P<hour>\d{4}/\d{2}/\d{2}/\d{2}))/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.jsonl$"
)
EVENT_ID = re.compile(
    rb'"eventId":"([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})"'
)
INFERENCE_TIME = re.compile(rb'"inferenceTime":"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)"')
CSV_ROW = (FIXTURES / "payloads" / "one_row_no_newline.csv").read_bytes()
JSON_ROW = (FIXTURES / "payloads" / "one_row.json").read_bytes()
NPY_ROW = (FIXTURES / "payloads" / "one_row.npy").read_bytes()


def options(url: str) -> dict:
    return {
        "endpoint_url": url,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }


@pytest.fixture(scope="module")
def aws(built, shared_sandbox):
    """The shared sandbox with the build's artifact in BUCKET (the artifact bucket)."""
    manifest = json.loads(built.manifest_file.read_text())
    key = manifest["artifact"]["s3_key"]
    s3 = boto3.client("s3", **options(shared_sandbox.url))
    s3.create_bucket(Bucket=BUCKET)
    s3.upload_file(str(built.artifact_file), BUCKET, key)
    return {
        "s3": s3,
        "cfn": boto3.client("cloudformation", **options(shared_sandbox.url)),
        "sagemaker": boto3.client("sagemaker", **options(shared_sandbox.url)),
        "runtime": boto3.client("sagemaker-runtime", **options(shared_sandbox.runtime_url)),
        "model_data": f"s3://{BUCKET}/{key}",
        "digest": manifest["artifact"]["sha256"],
    }


def deploy(aws, env: str, endpoint: str, **overrides: str) -> dict:
    """infra/endpoint.yaml with infra/params/<env>.json (and `overrides`), as a deploy sends it."""
    document = json.loads((ROOT / "infra" / "params" / f"{env}.json").read_text())
    values = {
        **document["Parameters"],
        "ModelData": aws["model_data"],
        "ImageURI": IMAGE,
        "RoleARN": ROLE,
        "ModelDigest": aws["digest"],
        "ProjectName": "diabetes",
        "EndpointName": endpoint,
        **overrides,
    }
    created = aws["cfn"].create_change_set(
        StackName=endpoint,
        ChangeSetName="deploy",
        ChangeSetType="CREATE",
        TemplateBody=(ROOT / "infra" / "endpoint.yaml").read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
    )
    aws["cfn"].execute_change_set(ChangeSetName=created["Id"])
    stack = aws["cfn"].describe_stacks(StackName=endpoint)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack["StackStatus"]
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def objects(s3, prefix: str) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}


def wait_for_lines(s3, prefix: str, count: int, timeout: float = 20.0) -> dict[str, bytes]:
    deadline = time.monotonic() + timeout
    while True:
        found = objects(s3, prefix)
        lines = sum(body.count(b"\n") for body in found.values())
        if lines >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


def settled(s3, prefix: str, quiet: float = 5.0, timeout: float = 60.0) -> dict[str, bytes]:
    """The objects under `prefix` once no new one has appeared for `quiet` seconds (more
    than two of the sandbox's 2-second flushes)."""
    deadline = time.monotonic() + timeout
    found, since = objects(s3, prefix), time.monotonic()
    while time.monotonic() - since < quiet and time.monotonic() < deadline:
        time.sleep(0.5)
        again = objects(s3, prefix)
        if set(again) != set(found):
            found, since = again, time.monotonic()
    return found


def expected_line(
    event_id: bytes,
    inference_time: bytes,
    request: tuple[str, str, str],
    response: tuple[str, str, str],
    inference_id: str | None = None,
) -> bytes:
    """The documented record, written out field by field (not by the code under test):
    (observedContentType, data, encoding) of the request and of the response."""

    def side(name: str, mode: str, observed: tuple[str, str, str]) -> str:
        content_type, data, encoding = observed
        return (
            f'"{name}":{{"observedContentType":{json.dumps(content_type)},"mode":"{mode}",'
            f'"data":{json.dumps(data)},"encoding":"{encoding}"}}'
        )

    given = f'"inferenceId":{json.dumps(inference_id)},' if inference_id is not None else ""
    return (
        '{"captureData":{'
        + side("endpointInput", "INPUT", request)
        + ","
        + side("endpointOutput", "OUTPUT", response)
        + '},"eventMetadata":{"eventId":"'
        + event_id.decode()
        + '",'
        + given
        + '"inferenceTime":"'
        + inference_time.decode()
        + '"},"eventVersion":"0"}\n'
    ).encode()


def test_a_real_time_endpoint_captures_csv_json_and_binary_as_documented(aws):
    outputs = deploy(aws, "staging", "capture-staging")  # staging captures 100 %
    config = aws["sagemaker"].describe_endpoint_config(
        EndpointConfigName=outputs["EndpointConfigName"]
    )
    key_id = aws["cfn"].describe_stack_resource(
        StackName="capture-staging", LogicalResourceId="VolumeKey"
    )["StackResourceDetail"]["PhysicalResourceId"]
    key_arn = f"arn:aws:kms:us-east-1:123456789012:key/{key_id.rsplit('/', 1)[-1]}"
    assert config["DataCaptureConfig"] == {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{BUCKET}/capture/diabetes/staging",
        "KmsKeyId": key_arn,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {
            "CsvContentTypes": ["text/csv"],
            "JsonContentTypes": ["application/json"],
        },
    }
    before = datetime.now(UTC).replace(microsecond=0)
    answers = []
    for body, content_type, accept, extra in (
        (CSV_ROW, "text/csv", "application/json", {}),
        (JSON_ROW, "application/json", "text/csv", {"InferenceId": "ticket-42"}),
        (NPY_ROW, "application/x-npy", "application/x-npy", {}),
    ):
        answer = aws["runtime"].invoke_endpoint(
            EndpointName="capture-staging",
            Body=body,
            ContentType=content_type,
            Accept=accept,
            **extra,
        )
        answers.append((answer["ContentType"], answer["Body"].read()))
    after = datetime.now(UTC)

    prefix = "capture/diabetes/staging/capture-staging/"
    found = wait_for_lines(aws["s3"], prefix, 3)
    lines = {}
    for key, body in found.items():
        match = KEY.match(key)
        assert match, key
        assert match["folder"].startswith(prefix)
        head = aws["s3"].head_object(Bucket=BUCKET, Key=key)
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_arn)
        assert body.endswith(b"\n")
        for line in body.splitlines(keepends=True):
            (when,) = INFERENCE_TIME.findall(line)
            # filed under the hour of the invocation
            assert when[:13].replace(b"-", b"/").replace(b"T", b"/").decode() == match["hour"]
            assert (
                before
                <= datetime.strptime(when.decode(), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
                <= after
            )
            observed = json.loads(line)["captureData"]["endpointInput"]["observedContentType"]
            lines[observed] = line
    assert sorted(lines) == ["application/json", "application/x-npy", "text/csv"]

    def ids(line):
        return EVENT_ID.findall(line)[0], INFERENCE_TIME.findall(line)[0]

    (csv_type, csv_answer), (json_type, json_answer), (npy_type, npy_answer) = answers
    assert lines["text/csv"] == expected_line(
        *ids(lines["text/csv"]),
        ("text/csv", CSV_ROW.decode(), "CSV"),
        (csv_type, csv_answer.decode(), "JSON"),
    )
    assert lines["application/json"] == expected_line(
        *ids(lines["application/json"]),
        ("application/json", JSON_ROW.decode(), "JSON"),
        (json_type, json_answer.decode(), "CSV"),
        inference_id="ticket-42",
    )
    assert lines["application/x-npy"] == expected_line(
        *ids(lines["application/x-npy"]),
        ("application/x-npy", base64.b64encode(NPY_ROW).decode(), "BASE64"),
        (npy_type, base64.b64encode(npy_answer).decode(), "BASE64"),
    )
    assert len({ids(line)[0] for line in lines.values()}) == 3  # one event id each
    assert b"inferenceId" not in lines["text/csv"] + lines["application/x-npy"]


def _endpoint_with_capture(aws, name: str, percent: int) -> str:
    """An endpoint whose config captures `percent` % (by the API: the template leaves a
    DataCaptureConfig out at 0 %), under capture/<name>."""
    aws["sagemaker"].create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": aws["model_data"]},
    )
    aws["sagemaker"].create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "ModelName": name,
                "VariantName": "AllTraffic",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": percent,
            "DestinationS3Uri": f"s3://{BUCKET}/capture/{name}",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        },
    )
    aws["sagemaker"].create_endpoint(EndpointName=name, EndpointConfigName=name)
    assert aws["sagemaker"].describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
    return name


def test_sampling_takes_about_the_percentage_and_zero_takes_nothing(aws):
    """200 requests at 50 %: the count is Binomial(200, 0.5), sd 7.1; 60..140 is more than
    5.6 sd either side, so this fails by chance about once in 10^8 runs."""
    off = _endpoint_with_capture(aws, "capture-zero", 0)
    half = _endpoint_with_capture(aws, "capture-half", 50)
    for name in (off, half):
        for _ in range(200):
            aws["runtime"].invoke_endpoint(EndpointName=name, Body=CSV_ROW, ContentType="text/csv")
    found = settled(aws["s3"], f"capture/{half}/")
    captured = sum(body.count(b"\n") for body in found.values())
    assert 60 <= captured <= 140, captured
    assert objects(aws["s3"], f"capture/{off}/") == {}  # invoked first: flushed long ago


def _invoke_captured(box: Sandbox, model_data: str, count: int) -> None:
    sagemaker = boto3.client("sagemaker", **options(box.url))
    runtime = boto3.client("sagemaker-runtime", **options(box.runtime_url))
    sagemaker.create_model(
        ModelName="m",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": model_data},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[
            {
                "ModelName": "m",
                "VariantName": "AllTraffic",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        DataCaptureConfig={
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": f"s3://{BUCKET}/capture/stopping",
            "CaptureOptions": [{"CaptureMode": "Input"}],
        },
    )
    sagemaker.create_endpoint(EndpointName="stopping", EndpointConfigName="c")
    for _ in range(count):
        runtime.invoke_endpoint(EndpointName="stopping", Body=CSV_ROW, ContentType="text/csv")


def test_what_is_captured_is_written_when_the_sandbox_stops(aws, shared_sandbox, monkeypatch):
    """A sandbox whose S3 calls go to the shared sandbox (AWS_ENDPOINT_URL_S3), so its writes
    can be read after it is gone, and whose periodic flush would come only after an hour:
    what is in S3 after it stopped was written by its stop."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", shared_sandbox.url)
    monkeypatch.setenv("PIPELINE_SANDBOX_CAPTURE_FLUSH_SECONDS", "3600")
    box = Sandbox().start()
    try:
        monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
        _invoke_captured(box, aws["model_data"], 5)
        time.sleep(1.0)  # a periodic flush, were it short, would have written by now
        assert objects(aws["s3"], "capture/stopping/") == {}
    finally:
        returncode = box.stop()
    assert returncode == 0  # stopped by its SIGTERM, not killed after the grace period
    found = objects(aws["s3"], "capture/stopping/")
    lines = [line for body in found.values() for line in body.splitlines()]
    assert len(lines) == 5
    # no CaptureContentTypeHeader in this config: base64, SageMaker's default
    assert {json.loads(line)["captureData"]["endpointInput"]["data"] for line in lines} == {
        base64.b64encode(CSV_ROW).decode()
    }


def test_a_sandbox_writes_its_last_captures_to_its_own_s3_before_it_stops(built, monkeypatch):
    """With its own emulator's S3 (the usual set-up), the last write happens while that
    emulator still answers: the sandbox's log shows it written, not refused. (The bytes go
    with the emulator; the test above reads them from a sandbox that outlives the writer.)"""
    monkeypatch.setenv("PIPELINE_SANDBOX_CAPTURE_FLUSH_SECONDS", "3600")  # only the stop writes
    with Sandbox() as box:
        s3 = boto3.client("s3", **options(box.url))
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(str(built.artifact_file), BUCKET, "models/m/model.tar.gz")
        _invoke_captured(box, f"s3://{BUCKET}/models/m/model.tar.gz", 3)
    log = (box.workdir / "sandbox.log").read_text()
    assert re.search(
        rf"data capture: 3 record\(s\) to s3://{BUCKET}/capture/stopping/stopping/", log
    ), log[-3000:]
    assert "not written" not in log


def test_a_flush_request_writes_what_is_captured_at_once(built, monkeypatch):
    """`POST /_sandbox/capture/flush` on the runtime gateway (deploy-local's monitor steps
    use it): every capture buffered so far is in S3 when it answers, with no periodic flush
    to wait for; a second one has nothing left to write."""
    from pipeline.local.sandbox import flush_captures

    monkeypatch.setenv("PIPELINE_SANDBOX_CAPTURE_FLUSH_SECONDS", "3600")
    with Sandbox() as box:
        s3 = boto3.client("s3", **options(box.url))
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(str(built.artifact_file), BUCKET, "models/m/model.tar.gz")
        _invoke_captured(box, f"s3://{BUCKET}/models/m/model.tar.gz", 4)
        assert objects(s3, "capture/stopping/") == {}
        assert flush_captures(box.runtime_url) == 4
        written = objects(s3, "capture/stopping/").values()
        assert sum(len(body.splitlines()) for body in written) == 4
        assert flush_captures(box.runtime_url) == 0
        # the gateway's other paths still answer as SageMaker Runtime does
        status, body = post(f"{box.runtime_url}/_sandbox/other")
        assert status == 404 and b"/endpoints/{EndpointName}/invocations" in body


def post(url: str) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, b"", method="POST")) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
