"""Sandbox endpoints that really serve their artifact, invoked with plain boto3."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import joblib
import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import ClientError

from pipeline.local.sandbox import Sandbox
from pipeline.shared.tarballs import write_tarball
from tests.artifacts import sign_in_bucket
from tests.conftest import FIXTURES, process_gone

TEMPLATE = (FIXTURES / "templates" / "endpoint_stack.yaml").read_text()
GOLDEN_ROWS = np.loadtxt(FIXTURES / "payloads" / "many_rows.csv", delimiter=",")


def named(model, rows):
    """The rows as the model was fitted: a DataFrame with its column names."""
    return pd.DataFrame(rows, columns=list(model.feature_names_in_))


BUCKET = "runtime-artifacts"


def _artifact(tmp: Path, name: str, model_file: Path, handler: Path, signature: Path) -> Path:
    dest = tmp / name
    dest.mkdir()
    write_tarball(
        dest / "model.tar.gz",
        {"model.joblib": model_file, "signature.json": signature, "code/inference.py": handler},
    )
    return dest / "model.tar.gz"


@pytest.fixture(scope="module")
def env(built, tmp_path_factory, shared_sandbox):
    """A sandbox with three artifacts: model A, model B (A shifted by +100), a broken one."""
    tmp = tmp_path_factory.mktemp("runtime")
    shifted = joblib.load(built.model_file)
    shifted.intercept_ += 100.0
    joblib.dump(shifted, tmp / "shifted.joblib")
    artifacts = {
        "a": built.artifact_file,
        "b": _artifact(
            tmp, "b", tmp / "shifted.joblib", built.inference_script, built.signature_file
        ),
        "broken": _artifact(
            tmp,
            "broken",
            built.model_file,
            FIXTURES / "handlers" / "broken_model_fn.py",
            built.signature_file,
        ),
    }
    sandbox = shared_sandbox
    options = {
        "region_name": sandbox.region,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    s3 = boto3.client("s3", endpoint_url=sandbox.url, **options)
    s3.create_bucket(Bucket=BUCKET)
    for key, path in artifacts.items():
        s3.upload_file(str(path), BUCKET, f"models/{key}/model.tar.gz")
    return {
        "sandbox": sandbox,
        "cfn": boto3.client("cloudformation", endpoint_url=sandbox.url, **options),
        "sagemaker": boto3.client("sagemaker", endpoint_url=sandbox.url, **options),
        "runtime": boto3.client("sagemaker-runtime", endpoint_url=sandbox.runtime_url, **options),
        "expected_a": joblib.load(built.model_file).predict(named(shifted, GOLDEN_ROWS)),
        "expected_b": shifted.predict(named(shifted, GOLDEN_ROWS)),
    }


def uri(key: str) -> str:
    return f"s3://{BUCKET}/models/{key}/model.tar.gz"


def deploy(cfn, stack: str, kind: str, model_data: str, image: str | None = None) -> None:
    parameters = [{"ParameterKey": "ModelData", "ParameterValue": model_data}]
    if image:
        parameters.append({"ParameterKey": "ImageURI", "ParameterValue": image})
    created = cfn.create_change_set(
        StackName=stack,
        ChangeSetName=f"{stack}-{time.time_ns()}",
        ChangeSetType=kind,
        TemplateBody=TEMPLATE,
        Parameters=parameters,
    )
    cfn.execute_change_set(ChangeSetName=created["Id"])


def stack_of(cfn, stack: str) -> dict:
    return cfn.describe_stacks(StackName=stack)["Stacks"][0]


def endpoint_of(cfn, stack: str) -> str:
    outputs = stack_of(cfn, stack)["Outputs"]
    return next(o["OutputValue"] for o in outputs if o["OutputKey"] == "EndpointName")


def invoke(runtime, endpoint: str, body=None, **extra) -> tuple[np.ndarray, dict]:
    body = body if body is not None else (FIXTURES / "payloads" / "many_rows.csv").read_bytes()
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint, Body=body, ContentType="text/csv", Accept="application/json", **extra
    )
    return np.asarray(json.loads(answer["Body"].read())), answer


@pytest.fixture(scope="module")
def served(env):
    """A stack created with model A."""
    deploy(env["cfn"], "served", "CREATE", uri("a"))
    assert stack_of(env["cfn"], "served")["StackStatus"] == "CREATE_COMPLETE"
    return endpoint_of(env["cfn"], "served")


def test_a_created_endpoint_serves_its_artifact(env, served):
    predictions, answer = invoke(env["runtime"], served)
    np.testing.assert_allclose(predictions, env["expected_a"], rtol=1e-12)
    assert answer["ContentType"] == "application/json"
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    status = env["sagemaker"].describe_endpoint(EndpointName=served)["EndpointStatus"]
    assert status == "InService"


def test_an_update_switches_to_the_new_model_only_when_it_is_ready(env, served):
    seen: list[str] = []
    stop = threading.Event()

    def keep_invoking():
        while not stop.is_set():
            predictions, _ = invoke(env["runtime"], served)
            # the same model within rounding (BLAS order may follow memory layout)
            seen.append(
                "a"
                if np.allclose(predictions, env["expected_a"], rtol=1e-12)
                else "b"
                if np.allclose(predictions, env["expected_b"], rtol=1e-12)
                else "?"
            )

    invoker = threading.Thread(target=keep_invoking)
    invoker.start()
    try:
        while not seen:
            time.sleep(0.05)
        deploy(env["cfn"], "served", "UPDATE", uri("b"))
        during = len(seen)
        time.sleep(0.5)
    finally:
        stop.set()
        invoker.join()
    assert stack_of(env["cfn"], "served")["StackStatus"] == "UPDATE_COMPLETE"
    assert "?" not in seen
    switch = seen.index("b")
    assert switch > 1 and set(seen[:switch]) == {"a"} and set(seen[switch:]) == {"b"}
    assert during > 1  # the old model answered while the update ran
    predictions, _ = invoke(env["runtime"], served)
    np.testing.assert_allclose(predictions, env["expected_b"], rtol=1e-12)


def test_a_failing_update_rolls_back_and_the_old_model_still_answers(env, served):
    before, _ = invoke(env["runtime"], served)
    deploy(env["cfn"], "served", "UPDATE", uri("broken"))
    assert stack_of(env["cfn"], "served")["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    events = env["cfn"].describe_stack_events(StackName="served")["StackEvents"]
    failed = [e for e in events if e["ResourceStatus"] == "UPDATE_FAILED"]
    assert failed[0]["LogicalResourceId"] == "Endpoint"
    assert "did not pass the ping health check" in failed[0]["ResourceStatusReason"]
    assert "planted failure" in failed[0]["ResourceStatusReason"]
    after, _ = invoke(env["runtime"], served)
    np.testing.assert_array_equal(after, before)


def test_a_missing_artifact_on_create_rolls_back_with_the_reason(env):
    deploy(env["cfn"], "missing", "CREATE", uri("does-not-exist"))
    assert stack_of(env["cfn"], "missing")["StackStatus"] == "ROLLBACK_COMPLETE"
    events = env["cfn"].describe_stack_events(StackName="missing")["StackEvents"]
    reason = next(e for e in events if e["ResourceStatus"] == "CREATE_FAILED")
    assert "Failed to download model data" in reason["ResourceStatusReason"]
    assert uri("does-not-exist") in reason["ResourceStatusReason"]


def test_an_image_the_sandbox_cannot_run_is_refused_by_name(env):
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-own-image:latest"
    deploy(env["cfn"], "other-image", "CREATE", uri("a"), image=image)
    assert stack_of(env["cfn"], "other-image")["StackStatus"] == "ROLLBACK_COMPLETE"
    events = env["cfn"].describe_stack_events(StackName="other-image")["StackEvents"]
    reason = next(e for e in events if e["ResourceStatus"] == "CREATE_FAILED")
    assert image in reason["ResourceStatusReason"]
    assert "sagemaker-scikit-learn:1.9-0-cpu-py3" in reason["ResourceStatusReason"]


def _clients(env) -> dict:
    options = {
        "endpoint_url": env["sandbox"].url,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    return {name: boto3.client(name, **options) for name in ("s3", "kms", "cloudformation")}


def test_an_artifact_trained_with_other_versions_is_refused(env, built, bootstrapped):
    manifest = json.loads(built.manifest_file.read_text())
    manifest["training_env"]["numpy"] = "1.26.4"
    clients = _clients(env)
    clients["s3"].upload_file(str(built.artifact_file), BUCKET, "models/old-numpy/model.tar.gz")
    body = json.dumps(manifest).encode()
    clients["s3"].put_object(Bucket=BUCKET, Key="models/old-numpy/manifest.json", Body=body)
    sign_in_bucket(clients, BUCKET, "models/old-numpy", built.artifact_file, body)
    deploy(env["cfn"], "old-numpy", "CREATE", uri("old-numpy"))
    assert stack_of(env["cfn"], "old-numpy")["StackStatus"] == "ROLLBACK_COMPLETE"
    events = env["cfn"].describe_stack_events(StackName="old-numpy")["StackEvents"]
    reason = next(e for e in events if e["ResourceStatus"] == "CREATE_FAILED")
    assert "numpy 1.26.4" in reason["ResourceStatusReason"]
    assert "sagemaker-scikit-learn:1.9-0-cpu-py3" in reason["ResourceStatusReason"]


def test_an_unknown_endpoint_is_a_validation_error(env):
    with pytest.raises(ClientError) as caught:
        invoke(env["runtime"], "no-such-endpoint")
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert error["Message"] == "Endpoint no-such-endpoint of account 123456789012 not found."


def test_an_oversize_body_is_refused(env, served):
    with pytest.raises(ClientError) as caught:
        invoke(env["runtime"], served, body=b"1" * (6291456 + 1))
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert "exceeds the 6291456-byte limit" in caught.value.response["Error"]["Message"]


def test_a_container_error_becomes_a_model_error(env, served):
    with pytest.raises(ClientError) as caught:
        invoke(env["runtime"], served, body=(FIXTURES / "payloads" / "bad_nan.csv").read_bytes())
    response = caught.value.response
    assert response["Error"]["Code"] == "ModelError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["OriginalStatusCode"] == 500
    assert "is not finite" in response["OriginalMessage"]


def test_a_killed_model_server_is_reported_and_restarted(env, served):
    log = env["sandbox"].workdir / "sandbox.log"
    pids = re.findall(
        rf"endpoint {served} variant AllTraffic serving .* \(pid (\d+)\)", log.read_text()
    )
    os.kill(int(pids[-1]), signal.SIGKILL)
    time.sleep(0.2)
    predictions, _ = invoke(env["runtime"], served)
    assert len(predictions) == len(GOLDEN_ROWS)
    assert re.search(rf"model server for endpoint {served} .* exited; restarting", log.read_text())


def test_a_thousand_concurrent_requests_all_get_correct_answers(env, served):
    """Each on its own connection, all opened at once (no timing asserted)."""
    row = (FIXTURES / "payloads" / "one_row_no_newline.csv").read_bytes()
    expected = json.loads(
        env["runtime"]
        .invoke_endpoint(EndpointName=served, Body=row, ContentType="text/csv")["Body"]
        .read()
    )
    host, _, port = env["sandbox"].runtime_url.removeprefix("http://").partition(":")
    head = (
        f"POST /endpoints/{served}/invocations HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: text/csv\r\nContent-Length: {len(row)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()

    async def one():
        async with asyncio.timeout(120):
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(head + row)
            answer = await reader.read()
            writer.close()
        status_line, _, rest = answer.partition(b"\r\n")
        return status_line, json.loads(rest.partition(b"\r\n\r\n")[2] or b"null")

    async def burst():
        return await asyncio.gather(*(one() for _ in range(1000)), return_exceptions=True)

    answers = asyncio.run(burst())
    failures = [
        a for a in answers if isinstance(a, BaseException) or a != (b"HTTP/1.1 200 OK", expected)
    ]
    assert not failures, f"{len(failures)} of 1000 failed, e.g. {failures[:3]}"


def _zygote_pids(log: Path) -> list[int]:
    return [
        int(pid)
        for pid in re.findall(r"model-server zygote started \(pid (\d+)\)", log.read_text())
    ]


def test_killing_the_zygote_leaves_running_endpoints_serving(env, served):
    log = env["sandbox"].workdir / "sandbox.log"
    zygote = _zygote_pids(log)[-1]
    before, _ = invoke(env["runtime"], served)
    restarts = log.read_text().count("exited; restarting")
    os.kill(zygote, signal.SIGKILL)
    time.sleep(0.5)  # what the zygote's death would do to its servers has happened by now
    after, _ = invoke(env["runtime"], served)
    np.testing.assert_array_equal(after, before)
    assert log.read_text().count("exited; restarting") == restarts  # served, not restarted
    deploy(env["cfn"], "after-zygote", "CREATE", uri("a"))  # needs a new zygote
    assert stack_of(env["cfn"], "after-zygote")["StackStatus"] == "CREATE_COMPLETE"
    predictions, _ = invoke(env["runtime"], endpoint_of(env["cfn"], "after-zygote"))
    np.testing.assert_allclose(predictions, env["expected_a"], rtol=1e-12)
    assert _zygote_pids(log)[-1] != zygote
    again, _ = invoke(env["runtime"], served)  # and the old endpoint still answers
    np.testing.assert_array_equal(again, before)


def test_model_servers_die_with_the_sandbox(built, tmp_path):
    with Sandbox() as sandbox:
        options = {
            "region_name": sandbox.region,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        s3 = boto3.client("s3", endpoint_url=sandbox.url, **options)
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(str(built.artifact_file), BUCKET, "models/a/model.tar.gz")
        deploy(
            boto3.client("cloudformation", endpoint_url=sandbox.url, **options),
            "dies",
            "CREATE",
            uri("a"),
        )
        pid = int(re.findall(r"\(pid (\d+)\)", (sandbox.workdir / "sandbox.log").read_text())[-1])
        os.kill(sandbox.process.proc.pid, signal.SIGKILL)  # no clean shutdown at all
        if not process_gone(pid, timeout=10):
            pytest.fail(f"model server pid {pid} outlived the sandbox")


def test_the_aws_cli_invokes_a_sandbox_endpoint_unchanged(env, served, tmp_path):
    aws = Path(sys.executable).with_name("aws")
    outfile = tmp_path / "out.json"
    cli_env = {
        **os.environ,
        **env["sandbox"].env,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    cli_env.pop("AWS_PROFILE", None)
    result = subprocess.run(
        [
            str(aws),
            "sagemaker-runtime",
            "invoke-endpoint",
            "--endpoint-name",
            served,
            "--content-type",
            "text/csv",
            "--body",
            f"fileb://{FIXTURES / 'payloads' / 'many_rows.csv'}",
            str(outfile),
        ],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["InvokedProductionVariant"] == "AllTraffic"
    assert len(json.loads(outfile.read_text())) == len(GOLDEN_ROWS)


def test_a_build_without_the_builds_signature_is_not_loaded(env, built, bootstrapped):
    """A self-consistent artifact and manifest that the build never signed: the endpoint
    fails before any model server extracts or loads it (a model file is code)."""
    clients = _clients(env)
    clients["s3"].upload_file(str(built.artifact_file), BUCKET, "models/unsigned/model.tar.gz")
    clients["s3"].upload_file(str(built.manifest_file), BUCKET, "models/unsigned/manifest.json")
    deploy(env["cfn"], "unsigned", "CREATE", uri("unsigned"))
    assert stack_of(env["cfn"], "unsigned")["StackStatus"] == "ROLLBACK_COMPLETE"
    events = env["cfn"].describe_stack_events(StackName="unsigned")["StackEvents"]
    reason = next(e for e in events if e["ResourceStatus"] == "CREATE_FAILED")
    assert "is not trusted" in reason["ResourceStatusReason"]
    assert "the build never signed it" in reason["ResourceStatusReason"]
