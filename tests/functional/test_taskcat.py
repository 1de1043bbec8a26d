"""`pipeline test` (taskcat) against the shared sandbox, as a user runs it."""

from __future__ import annotations

import shutil
from pathlib import Path

import boto3
import pytest

from tests.conftest import terminal_rows
from tests.e2e.test_cli import pipeline

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def uploaded(bootstrapped, built):
    env = {**bootstrapped, "PIPELINE_BUILD_DIR": str(built.build_dir)}
    result = pipeline("upload", env=env)
    assert result.returncode == 0, result.stderr
    return env


def leftovers(env: dict[str, str]) -> tuple[list[str], list[str]]:
    """taskcat stacks not deleted, and endpoints of taskcat tests still there."""
    options = {
        "endpoint_url": env["AWS_ENDPOINT_URL"],
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    stacks = boto3.client("cloudformation", **options).list_stacks()["StackSummaries"]
    endpoints = boto3.client("sagemaker", **options).list_endpoints()["Endpoints"]
    return (
        [
            s["StackName"]
            for s in stacks
            if s["StackName"].startswith("tCaT-") and s["StackStatus"] != "DELETE_COMPLETE"
        ],
        [e["EndpointName"] for e in endpoints if e["EndpointName"].startswith("diabetes-tc-")],
    )


def test_taskcat_passes_one_test_per_environment_and_deletes_its_stacks(uploaded):
    result = pipeline("test", env=uploaded)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = terminal_rows(result.stdout, "test")
    assert {row[0] for row in rows if row[-1] == "pass"} == {"dev", "staging", "prod"}
    for row in rows:
        assert row[3] == "CREATE_COMPLETE, outputs, InService, golden invocation"
    assert leftovers(uploaded) == ([], [])
    assert "creating 3 test stacks" in result.stdout
    # the same inputs again: the passing run is reported, marked cached; no stack is made
    again = pipeline("test", env=uploaded)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "cached: the passing run for inputs " in again.stdout
    assert "creating 3 test stacks" not in again.stdout
    assert {row[0] for row in terminal_rows(again.stdout, "test") if row[-1] == "pass"} == {
        "dev",
        "staging",
        "prod",
    }


def test_a_failing_template_fails_taskcat_and_leaves_nothing_behind(uploaded, tmp_path):
    shutil.copytree(ROOT / "infra", tmp_path / "infra")
    shutil.copy(ROOT / ".taskcat.yml", tmp_path / ".taskcat.yml")
    template = tmp_path / "infra" / "endpoint.yaml"
    # An image the serving runtime refuses: the endpoint fails, so every stack rolls back.
    other_image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/other:1"
    template.write_text(
        template.read_text().replace("Image: !Ref ImageURI", f"Image: {other_image}")
    )
    result = pipeline("test", env={**uploaded, "PIPELINE_INFRA_DIR": str(tmp_path / "infra")})
    assert result.returncode == 1
    verdicts = [row[-1] for row in terminal_rows(result.stdout, "test")]
    assert verdicts and set(verdicts) == {"FAIL"}
    assert "ROLLBACK_COMPLETE" in result.stdout
    assert "NOT deleted" not in result.stdout
    assert leftovers(uploaded) == ([], [])
