"""Every example project deployed end to end through `deploy-local --config`, as a user
runs it: the CLI as a subprocess, its own sandbox, three endpoints answering the golden
examples of a signature the pipeline derived."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_cli import pipeline
from tests.e2e.test_deploy_local import STAGES, _rows

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize(
    ("example", "project", "task", "train_on"),
    [
        ("churn", "churn", "classification", "local"),
        # the same run with the train stage as a SageMaker training job, run by the sandbox
        ("iris-species", "iris", "classification", "sagemaker"),
    ],
)
def test_example_project_deploys_to_three_endpoints(tmp_path, example, project, task, train_on):
    config = EXAMPLES / example / "pipeline.toml"
    build = tmp_path / "build"
    result = pipeline(
        "deploy-local",
        "--config",
        str(config),
        "--train-on",
        train_on,
        env={"PIPELINE_BUILD_DIR": str(build)},
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = _rows(result.stdout)
    assert list(rows) == list(STAGES)
    assert all(cells[1] == "ok" for cells in rows.values()), rows
    for env_name in ("dev", "staging", "prod"):
        stage = f"{'deploy' if env_name == 'dev' else 'promote'} {env_name}"
        assert rows[stage][2].startswith(
            f"{project}-{env_name}: smoke ok, release releases/{project}/{env_name}/"
        )
    manifest = json.loads((build / "manifest.json").read_text())
    assert manifest["project"] == project and manifest["signature"]["task"] == task
    job = manifest["training_job"]
    if train_on == "sagemaker":
        assert f"training job {job['name']}" in rows["train"][2]
        assert job["arn"].endswith(f":training-job/{job['name']}")
    else:
        assert job is None
    assert manifest["artifact"]["s3_key"].startswith(f"models/{manifest['model_name']}/")
