"""Promotion and rollback against a sandbox of their own: each unsafe move is refused, or
recovered, with nothing lost."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from pipeline.aws.cloudformation import CloudFormation
from pipeline.aws.s3 import S3
from pipeline.errors import ConfigError, PipelineError
from pipeline.shared import objects
from pipeline.shared import records as releases
from pipeline.shared.context import Context, QuietUI
from pipeline.stages.account import bootstrap
from pipeline.stages.build import register, upload
from pipeline.stages.operate import teardown
from pipeline.stages.release import deploy, promote, rollback, smoke
from pipeline.stages.release import registry as registry_stage
from tests.artifacts import variant
from tests.conftest import sandbox_environment

BUCKET = "sagemaker-pipeline-artifacts-123456789012-us-east-1"  # the shared bootstrap's


def ctx(settings, approve: bool | None = None) -> Context:
    """The stages' context, with an approval (or none) and a short poll."""
    return Context(settings, QuietUI(approve), sleep=lambda _: time.sleep(0.05))


@pytest.fixture(scope="module")
def sandbox():
    with sandbox_environment() as box:
        yield box


@pytest.fixture(scope="module")
def world(sandbox, built, tmp_path_factory):
    """A released in dev and promoted to staging; B (same model) uploaded, never released;
    WORSE (same predictions, metrics 10% worse) released in dev; WRONG uploaded."""
    root = tmp_path_factory.mktemp("promote")
    bootstrap.run(Context(built), "both", [], "", "")
    worse = variant(built, root / "worse", "worse")
    manifest = json.loads(worse.manifest_file.read_text())
    for metric in ("rmse", "mae"):
        manifest["metrics"]["model"][metric] *= 1.10
    worse.manifest_file.write_text(json.dumps(manifest))
    found = {
        "A": built,
        "B": variant(built, root / "b", "b"),
        "WORSE": worse,
        "WRONG": variant(built, root / "w", "w", intercept_shift=5.0),
    }
    digests = {}
    for name, settings in found.items():
        upload.run(Context(settings))
        register.run(Context(settings))
        digests[name] = objects.scan(settings.artifact_file).sha256
    deploy.run(ctx(built), "dev", digests["A"])
    promote.run(ctx(built), "dev", "staging", digests["A"])
    deploy.run(ctx(built), "dev", digests["WORSE"])
    return digests


def s3():
    return boto3.client("s3")


def test_a_skipped_environment_is_refused(built, world):
    with pytest.raises(ConfigError, match="prod is promoted from staging, not dev"):
        promote.run(ctx(built, True), "dev", "prod", world["A"])


def test_a_digest_never_released_in_the_source_is_refused(built, world):
    with pytest.raises(ConfigError, match=f"digest {world['B']} was never released in dev"):
        promote.run(ctx(built), "dev", "staging", world["B"])


def test_promotion_without_a_source_release_is_refused():
    with pytest.raises(ConfigError, match="staging has no release to promote; deploy it first"):
        promote.source_release([], "staging", None)


def test_prod_needs_an_approval(built, world):
    with pytest.raises(ConfigError, match="needs an approval"):
        promote.run(ctx(built), "staging", "prod", world["A"])
    # the model's approval, in the registry, comes first: a Pending version is refused
    pending = r"is PendingManualApproval, and prod takes only Approved"
    with pytest.raises(ConfigError, match=pending):
        promote.run(ctx(built, True), "staging", "prod", world["A"])
    assert CloudFormation().status("diabetes-prod") is None
    preview = promote.run(ctx(built), "staging", "prod", world["A"], dry_run=True)
    assert preview.dry_run and preview.release_key is None  # a preview needs no approval
    assert any("prod takes only Approved versions" in note for note in preview.notes)
    registry_stage.decide(ctx(built), "approve", world["A"], "tested in staging")
    with pytest.raises(ConfigError, match="prod is protected: rolling it back needs an approval"):
        rollback.run(ctx(built), "prod")
    with pytest.raises(PipelineError, match="not approved; the change set was deleted"):
        promote.run(ctx(built, False), "staging", "prod", world["A"])
    assert CloudFormation().status("diabetes-prod") is None


def test_a_regressed_model_is_stopped_by_the_gate_and_force_is_recorded(built, world):
    before = releases.history(built, "staging")
    with pytest.raises(promote.GateRegression, match="RMSE .* is worse than the deployed"):
        promote.run(ctx(built), "dev", "staging", world["WORSE"])
    assert releases.history(built, "staging") == before
    forced = promote.run(ctx(built), "dev", "staging", world["WORSE"], force=True)
    record = releases.latest(built, "staging")
    assert forced.release_key and record["digest"] == world["WORSE"]
    assert record["kind"] == "promote" and record["promoted_from"] == "dev"
    assert any("RMSE" in problem for problem in record["gate_override"])


def test_a_smoke_failure_during_promotion_keeps_the_targets_release_and_rollback_restores(
    built, world
):
    # A dev release of an artifact that then predicts wrongly in staging: written as the
    # deploy writes it (a smoke that passed in dev, e.g. on another image build).
    key_prefix = f"models/diabetes-linear/{world['WRONG']}/"
    releases.write(
        S3(),
        BUCKET,
        {
            "project": "diabetes",
            "environment": "dev",
            "digest": world["WRONG"],
            "artifact_key": key_prefix + "model.tar.gz",
            "manifest_key": key_prefix + "manifest.json",
            "parameters": {},
            "outputs": {},
            "git_commit": "test",
            "time": releases.now().isoformat(),
            "actor": "test",
            "kind": "deploy",
        },
    )
    before = releases.latest(built, "staging")
    with pytest.raises(smoke.SmokeFailed, match="No release was recorded"):
        promote.run(ctx(built), "dev", "staging", world["WRONG"], force=True)
    assert releases.latest(built, "staging") == before  # the target keeps its release
    with pytest.raises(smoke.SmokeFailed):
        smoke.run(ctx(built), "staging")  # it serves the wrong model now...

    restored = rollback.run(ctx(built), "staging")  # ...until rolled back
    assert restored.digest == before["digest"]
    assert smoke.run(ctx(built), "staging").endpoint == "diabetes-staging"
    record = releases.latest(built, "staging")
    assert record["kind"] == "rollback" and record["rolled_back_from"] == world["WRONG"]
    assert record["parameters"] == before["parameters"]


def test_a_tampered_artifact_is_refused_and_a_missing_one_too(built, world):
    key = f"models/diabetes-linear/{world['B']}/model.tar.gz"
    original = s3().get_object(Bucket=BUCKET, Key=key)["Body"].read()
    s3().put_object(Bucket=BUCKET, Key=key, Body=original + b"tampered")
    with pytest.raises(PipelineError, match="changed after upload. Refusing to deploy it"):
        deploy.run(ctx(built), "dev", world["B"])
    s3().delete_object(Bucket=BUCKET, Key=key)
    with pytest.raises(ConfigError, match="is not in the artifact bucket"):
        deploy.run(ctx(built), "dev", world["B"])
    assert (
        CloudFormation()
        .outputs("diabetes-dev")["ModelData"]
        .endswith(f"/{world['WORSE']}/model.tar.gz")
    )


# These run last in this module: they delete its stacks.


def test_teardown_needs_the_environment_typed_again_then_deletes_its_stack(built, world):
    with pytest.raises(
        ConfigError, match="does not match --env 'dev'; type the environment's name"
    ):
        teardown.run_teardown(ctx(built), "dev", "staging")
    assert CloudFormation().status("diabetes-dev") is not None
    preview = teardown.run_teardown(ctx(built), "dev", "dev", dry_run=True)
    assert preview.outcome.plan.actions == ("delete-stack",) and preview.outcome.dry_run
    assert CloudFormation().status("diabetes-dev") is not None  # a dry run deletes nothing
    assert "deleted diabetes-dev" in teardown.run_teardown(ctx(built), "dev", "dev").message
    assert CloudFormation().status("diabetes-dev") is None
    assert releases.history(built, "dev")  # release records are kept


def test_sweep_deletes_only_stale_project_stacks_and_estimates_the_saving(built, world):
    assert teardown.run_sweep(ctx(built), ttl_hours=1000).swept == []  # nothing is that old
    shown = teardown.run_sweep(ctx(built), ttl_hours=0, dry_run=True)
    assert [s.stack for s in shown.swept] == ["diabetes-staging"]
    assert CloudFormation().status("diabetes-staging") is not None  # a dry run deletes nothing
    swept = teardown.run_sweep(ctx(built), ttl_hours=0).swept
    assert [s.stack for s in swept] == ["diabetes-staging"]  # never the bootstrap stack
    assert swept[0].hourly_cost == pytest.approx(0.115)  # RealTime, 1 x ml.m5.large
    assert CloudFormation().status("sagemaker-pipeline-bootstrap") == "CREATE_COMPLETE"


def test_a_rejected_version_goes_nowhere_and_rollback_passes_over_it(built, world):
    """Last in the module: it rejects WORSE and WRONG for good."""
    registry_stage.decide(ctx(built), "reject", world["WORSE"], "regressed in staging")
    registry_stage.decide(ctx(built), "reject", world["WRONG"], "wrong predictions")
    with pytest.raises(ConfigError, match="is Rejected in the model registry"):
        promote.run(ctx(built), "dev", "staging", world["WORSE"], force=True)
    deploy.run(ctx(built), "dev", world["A"])  # dev's releases: A, WORSE, WRONG, A
    quiet = ctx(built)
    with pytest.raises(ConfigError, match="no earlier release to roll back to"):
        rollback.run(quiet, "dev")  # WORSE and WRONG, the other ones, are Rejected
    assert any("skipping the release of" in m and "Rejected" in m for m in quiet.ui.messages)
    assert releases.latest(built, "dev")["digest"] == world["A"]
    assert releases.latest(built, "dev")["model_package_arn"].endswith("/diabetes-linear/1")
