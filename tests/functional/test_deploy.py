"""`pipeline deploy` / `smoke` / `releases` against a sandbox of their own.

Stage functions run in this process (the cfn-lint import alone costs seconds per CLI run);
the CLI is run where its exit code and output are the point.
"""

from __future__ import annotations

import http.server
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from pipeline.aws.cloudformation import CloudFormation
from pipeline.errors import ConfigError, PipelineError
from pipeline.shared import objects
from pipeline.shared import records as releases
from pipeline.shared.context import Context, QuietUI
from pipeline.shared.executor import preview_rows
from pipeline.stages.account import bootstrap
from pipeline.stages.build import register, upload
from pipeline.stages.release import deploy, smoke
from tests.artifacts import variant
from tests.conftest import sandbox_environment, terminal_rows
from tests.e2e.test_cli import pipeline

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sandbox():
    with sandbox_environment() as box:
        yield box


@pytest.fixture(scope="module")
def artifacts(sandbox, built, tmp_path_factory):
    """Uploaded digests: A and B (same model, so same predictions), WRONG (predictions off),
    UNLOADABLE (a numpy the serving image does not have: the endpoint fails to start), all
    registered in the model registry; UNREGISTERED, uploaded only."""
    root = tmp_path_factory.mktemp("variants")
    bootstrap.run(Context(built), "both", [], "", "")
    found = {
        "A": built,
        "B": variant(built, root / "b", "b"),
        "WRONG": variant(built, root / "w", "w", intercept_shift=5.0),
        "UNLOADABLE": variant(built, root / "u", "u", training_env={"numpy": "3.0.0"}),
    }
    digests = {}
    for name, settings in found.items():
        upload.run(Context(settings))
        register.run(Context(settings))
        digests[name] = objects.scan(settings.artifact_file).sha256
    unregistered = variant(built, root / "n", "n")
    upload.run(Context(unregistered))
    digests["UNREGISTERED"] = objects.scan(unregistered.artifact_file).sha256
    return digests


def run(built, env: str, digest: str, approve: bool | None = None, **kwargs):
    ctx = Context(built, QuietUI(approve), sleep=lambda _: time.sleep(0.05))
    return deploy.run(ctx, env, digest, **kwargs)


def history(built, env: str) -> list[dict]:
    return releases.history(built, env)


def test_create_via_cli_then_update_to_a_new_digest_then_a_no_op(built, artifacts):
    result = pipeline(
        "deploy",
        "--env",
        "dev",
        "--digest",
        artifacts["A"],
        env={"PIPELINE_BUILD_DIR": str(built.build_dir)},
    )
    assert result.returncode == 0, result.stderr
    assert "change set for diabetes-dev (CREATE" in result.stdout
    preview = terminal_rows(result.stdout, "resource")
    assert ["Endpoint", "AWS::SageMaker::Endpoint", "Add", "-"] in preview
    assert "VolumeKey" not in result.stdout  # dev is serverless: no volume key, no canary
    assert "EndpointName = diabetes-dev" in result.stdout
    assert "smoke: diabetes-dev: 5 examples x CSV, JSON rows, JSON records match" in result.stdout
    assert "release recorded: releases/diabetes/dev/" in result.stdout

    updated = run(built, "dev", artifacts["B"])
    rows = preview_rows(updated.change_set)
    assert ("Model", "AWS::SageMaker::Model", "Modify", "yes") in rows
    assert updated.outputs["ModelData"].endswith(f"/{artifacts['B']}/model.tar.gz")
    assert updated.smoke is not None and updated.release_key.startswith("releases/diabetes/dev/")

    again = run(built, "dev", artifacts["B"])
    assert again.no_changes and again.release_key is None
    assert again.plan.kind == "nothing" and again.change_set is None  # decided from state
    records = history(built, "dev")
    assert [r["digest"] for r in records] == [artifacts["A"], artifacts["B"]]
    latest = records[-1]
    assert latest["environment"] == "dev" and latest["kind"] == "deploy"
    assert latest["parameters"]["ModelDigest"] == artifacts["B"]
    assert latest["parameters"]["EndpointType"] == "Serverless"
    assert latest["outputs"]["EndpointName"] == "diabetes-dev"
    assert latest["manifest_key"].endswith(f"/{artifacts['B']}/manifest.json")
    assert len(latest["git_commit"]) == 40 and latest["actor"] and latest["time"]
    assert latest["model_package_arn"].endswith(f"/diabetes-linear/{latest['model_version']}")
    shown = pipeline("releases", "--env", "dev")
    assert shown.returncode == 0 and f'"digest": "{artifacts["B"]}"' in shown.stdout


def test_dry_run_on_a_new_stack_and_on_an_existing_one_leaves_nothing(built, artifacts):
    cfn = boto3.client("cloudformation")
    new = run(built, "staging", artifacts["A"], dry_run=True)
    assert new.change_set.kind == "CREATE" and not new.outputs
    assert CloudFormation().status("diabetes-staging") is None
    live = [
        s["StackName"]
        for s in cfn.list_stacks()["StackSummaries"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    ]
    assert "diabetes-staging" not in live
    existing = run(built, "dev", artifacts["A"], dry_run=True)  # dev runs B: a real change
    assert existing.change_set.kind == "UPDATE" and not existing.change_set.no_changes
    for change_set in (new.change_set, existing.change_set):
        with pytest.raises(ClientError):  # gone (moto says ValidationError, AWS NotFound)
            cfn.describe_change_set(ChangeSetName=change_set.id)
    assert (
        CloudFormation()
        .outputs("diabetes-dev")["ModelData"]
        .endswith(f"/{artifacts['B']}/model.tar.gz")
    )
    assert len(history(built, "dev")) == 2


def test_a_failed_create_is_deleted_and_created_again(built, artifacts):
    with pytest.raises(PipelineError, match=r"diabetes-staging failed \(ROLLBACK_COMPLETE\)"):
        run(built, "staging", artifacts["UNLOADABLE"])
    assert CloudFormation().status("diabetes-staging") == "ROLLBACK_COMPLETE"
    recovered = run(built, "staging", artifacts["A"])
    assert recovered.recreated
    assert any("ROLLBACK_COMPLETE" in note for note in recovered.notes)
    assert CloudFormation().status("diabetes-staging") == "CREATE_COMPLETE"


def test_a_failing_update_leaves_the_old_model_answering_and_records_nothing(built, artifacts):
    before = history(built, "dev")
    with pytest.raises(PipelineError) as failed:
        run(built, "dev", artifacts["UNLOADABLE"])
    assert "diabetes-dev failed (UPDATE_ROLLBACK_COMPLETE)" in str(failed.value)
    assert "numpy" in str(failed.value)  # the failing resource's reason
    answered = smoke.run(Context(built), "dev")  # the previous endpoint still serves B
    assert answered.endpoint == "diabetes-dev"
    assert (
        CloudFormation()
        .outputs("diabetes-dev")["ModelData"]
        .endswith(f"/{artifacts['B']}/model.tar.gz")
    )
    assert history(built, "dev") == before


def test_a_second_failed_update_lists_only_its_own_failures(built, artifacts):
    messages = []
    for _ in range(2):
        with pytest.raises(PipelineError) as failed:
            run(built, "dev", artifacts["UNLOADABLE"])
        messages.append(str(failed.value))
    events = boto3.client("cloudformation").describe_stack_events(StackName="diabetes-dev")
    history = [e for e in events["StackEvents"] if e["ResourceStatus"] == "UPDATE_FAILED"]
    assert len(history) >= 2  # the stack's history holds both failures (and earlier ones)
    assert messages[1].count("  - Endpoint: Endpoint diabetes-dev update failed") == 1
    assert "numpy" in messages[1] and messages[1] == messages[0]
    assert CloudFormation().status("diabetes-dev") == "UPDATE_ROLLBACK_COMPLETE"


def test_a_missing_digest_is_refused_and_nothing_changes(built, artifacts):
    missing = "0" * 64
    before = CloudFormation().stack("diabetes-staging")
    with pytest.raises(ConfigError, match=f"digest {missing} is not in the artifact bucket"):
        run(built, "staging", missing)
    assert CloudFormation().stack("diabetes-staging") == before


def test_an_unregistered_build_is_refused_before_cloudformation(built, artifacts):
    digest = artifacts["UNREGISTERED"]
    before = CloudFormation().stack("diabetes-staging")
    refused = pipeline(
        "deploy", "--env", "staging", "--digest", digest,
        env={"PIPELINE_BUILD_DIR": str(built.build_dir)},
    )  # fmt: skip
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"{digest} is not registered in the model registry" in refused.stderr
    assert "`python -m pipeline register`" in refused.stderr
    assert "Nothing was sent to CloudFormation" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert CloudFormation().stack("diabetes-staging") == before
    preview = run(built, "staging", digest, dry_run=True)  # a preview shows it, and says so
    assert any(
        note.startswith("not deployable as it stands:") and "is not registered" in note
        for note in preview.notes
    )
    assert CloudFormation().stack("diabetes-staging") == before


def test_the_smoke_test_fails_on_a_wrong_prediction_and_records_nothing(built, artifacts):
    before = releases.history(built, "staging")
    with pytest.raises(smoke.SmokeFailed) as failed:
        run(built, "staging", artifacts["WRONG"])
    message = str(failed.value)
    assert "predictions differ from the manifest's golden examples: example 1: expected" in message
    assert "No release was recorded" in message
    assert releases.history(built, "staging") == before


@pytest.mark.parametrize("dry_run", [False, True])
def test_deploy_to_a_protected_environment_is_refused_before_any_call(built, artifacts, dry_run):
    # prod takes only promotions of a staging release, with approval; a digest released in
    # dev (or anywhere) does not change that, and a dry run is no way around it either.
    with pytest.raises(
        ConfigError,
        match="prod is protected: it takes only a release of staging, promoted with an approval",
    ):
        run(built, "prod", artifacts["A"], dry_run=dry_run, approve=True)
    assert CloudFormation().status("diabetes-prod") is None


class CountingHandler(http.server.BaseHTTPRequestHandler):
    count = 0

    def do_POST(self):  # noqa: N802 (the http.server API)
        CountingHandler.count += 1
        self.send_response(500)
        self.end_headers()

    do_GET = do_PUT = do_HEAD = do_POST  # noqa: N815

    def log_message(self, *args):
        pass


def test_a_bad_parameter_file_exits_2_and_makes_no_aws_call(built, tmp_path):
    shutil.copytree(ROOT / "infra", tmp_path / "infra")
    bad = (ROOT / "tests" / "fixtures" / "params" / "unknown_key.json").read_bytes()
    (tmp_path / "infra" / "params" / "dev.json").write_bytes(bad)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CountingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = pipeline(
            "deploy",
            "--env",
            "dev",
            env={
                "AWS_ENDPOINT_URL": url,
                "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": url,
                "PIPELINE_INFRA_DIR": str(tmp_path / "infra"),
                "PIPELINE_BUILD_DIR": str(built.build_dir),
            },
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 2
    assert "InstanceCnt: is not a parameter of the template" in result.stderr
    assert CountingHandler.count == 0


def test_a_concurrent_deploy_is_refused_and_wait_waits_for_it(built, tmp_path):
    with sandbox_environment(stack_delay=1.5):
        bootstrap.run(Context(built), "both", [], "", "")
        upload.run(Context(built))
        register.run(Context(built))
        digest = objects.scan(built.artifact_file).sha256
        first = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "deploy", "--env", "dev", "--digest", digest],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            cfn = CloudFormation()
            deadline = time.monotonic() + 30
            while cfn.status("diabetes-dev") != "CREATE_IN_PROGRESS":
                assert time.monotonic() < deadline and first.poll() is None
                time.sleep(0.05)
            with pytest.raises(
                PipelineError,
                match="stack diabetes-dev is CREATE_IN_PROGRESS: another deployment is running",
            ):
                run(replace(built), "dev", digest)
            waited = run(built, "dev", digest, wait=True)
            assert waited.no_changes  # the first deploy finished, then nothing to do
        finally:
            output, _ = first.communicate(timeout=60)
        assert first.returncode == 0, output


def test_a_sandbox_that_dies_mid_deploy_exits_one_with_one_line(built):
    # Every stack operation of this sandbox takes 8 s (the bootstrap's too): the sandbox is
    # stopped within about a second of the deploy's stack going CREATE_IN_PROGRESS.
    with sandbox_environment(stack_delay=8) as box:
        bootstrap.run(Context(built), "both", [], "", "")
        upload.run(Context(built))
        register.run(Context(built))
        digest = objects.scan(built.artifact_file).sha256
        deploying = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "deploy", "--env", "dev", "--digest", digest],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            cfn = CloudFormation()
            deadline = time.monotonic() + 60
            while cfn.status("diabetes-dev") != "CREATE_IN_PROGRESS":
                assert time.monotonic() < deadline and deploying.poll() is None
                time.sleep(0.05)
            box.stop()  # the change set is running: the sandbox dies under the deploy
            _, err = deploying.communicate(timeout=120)
        finally:
            if deploying.poll() is None:
                deploying.kill()
    assert deploying.returncode == 1, err
    assert "Traceback" not in err and err.count("error: ") == 1
    assert err.splitlines()[-1].startswith(
        "error: deploy: stack diabetes-dev: lost track of the CREATE after executing its "
        "change set (cloudformation: cannot reach http://127.0.0.1:"
    ), err
