"""`pipeline lint` on the repository's infra/ and on copies with planted faults."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.settings import Settings
from pipeline.stages import lint
from tests.conftest import FIXTURES
from tests.e2e.test_cli import pipeline

INFRA = Path(__file__).resolve().parents[2] / "infra"


def test_every_template_and_parameter_file_passes_lint():
    results = lint.run(Settings.from_env({}))
    assert [(r.tool, r.findings) for r in results] == [
        ("cfn-lint", []),
        ("checkov", []),
        ("parameter files", []),
    ]


@pytest.fixture
def infra_copy(tmp_path) -> Settings:
    shutil.copytree(INFRA, tmp_path / "infra")
    return replace(Settings.from_env({}), infra_dir=tmp_path / "infra")


def plant(settings: Settings, fixture: str) -> Path:
    """Replace dev.json with a bad-parameter fixture."""
    target = settings.params_dir / "dev.json"
    target.write_bytes((FIXTURES / "params" / fixture).read_bytes())
    return target


@pytest.mark.parametrize(
    ("fixture", "key", "message"),
    [
        ("unknown_key.json", "InstanceCnt", "is not a parameter of the template"),
        ("missing_key.json", "EnvironmentName", "is missing and the template has no default"),
        ("wrong_type.json", "InstanceCount", "'two' is not a number"),
        ("not_a_string.json", "InstanceCount", "2 must be a string"),
        ("not_allowed_value.json", "EndpointType", "'Batch' is not one of RealTime, Serverless"),
        ("bad_pattern.json", "EndpointName", "does not match AllowedPattern"),
        ("below_min.json", "InstanceCount", "0 is below MinValue 1"),
        ("pipeline_filled_key.json", "ModelData", "is filled by the pipeline"),
        ("malformed.json", None, "malformed JSON at line"),
    ],
)
def test_a_bad_parameter_file_is_named_with_its_key(infra_copy, fixture, key, message):
    target = plant(infra_copy, fixture)
    problems = lint.validate_params(infra_copy)
    prefix = f"{target}: {key}: " if key else f"{target}: "
    assert any(str(p).startswith(prefix) and message in str(p) for p in problems), problems


def test_keys_that_differ_between_environments_are_refused(infra_copy):
    target = plant(infra_copy, "fewer_keys.json")
    problems = [str(p) for p in lint.validate_params(infra_copy)]
    assert f"{target}: CanaryWaitSeconds: is set in another environment's file" in problems[0]


def test_bad_parameters_exit_two_from_the_cli(infra_copy):
    plant(infra_copy, "unknown_key.json")
    result = pipeline("lint", env={"PIPELINE_INFRA_DIR": str(infra_copy.infra_dir)})
    assert result.returncode == 2
    assert "InstanceCnt: is not a parameter of the template" in result.stdout
    assert "| parameter files | 1 | FAIL |" in result.stdout


def test_a_planted_template_error_fails_cfn_lint(infra_copy):
    template = infra_copy.endpoint_template
    template.write_text(template.read_text().replace(
        "Type: AWS::SageMaker::Model", "Type: AWS::SageMaker::Modle"))  # fmt: skip
    findings = lint.cfn_lint(infra_copy)
    assert any("AWS::SageMaker::Modle" in f for f in findings), findings


@pytest.fixture(scope="module")
def planted_checkov_findings(tmp_path_factory) -> tuple[Path, list[str]]:
    """One checkov run over three templates, each planting one violation."""
    infra = tmp_path_factory.mktemp("planted") / "infra"
    infra.mkdir()
    for name in ("unencrypted_bucket.yaml", "wildcard_iam_action.yaml", "skip_without_reason.yaml"):
        shutil.copy(FIXTURES / "templates" / name, infra / name)
    settings = replace(Settings.from_env(), infra_dir=infra)
    return infra, lint.checkov(settings, progress=print)


def test_an_unencrypted_bucket_fails_the_projects_sse_kms_policy(planted_checkov_findings):
    infra, findings = planted_checkov_findings
    mine = [f for f in findings if f.startswith(f"{infra / 'unencrypted_bucket.yaml'}: ")]
    assert mine == [
        f"{infra / 'unencrypted_bucket.yaml'}: AWS::S3::Bucket.PlainBucket: CKV_PIPELINE_1 "
        "Ensure the S3 bucket encrypts by default with SSE-KMS"
    ]


def test_a_wildcard_iam_action_fails_checkov(planted_checkov_findings):
    infra, findings = planted_checkov_findings
    prefix = f"{infra / 'wildcard_iam_action.yaml'}: AWS::IAM::ManagedPolicy.EverythingPolicy: "
    ids = {f.removeprefix(prefix).split()[0] for f in findings if f.startswith(prefix)}
    # permissions management, privilege escalation and unconstrained writes, at least
    assert {"CKV_AWS_109", "CKV_AWS_110", "CKV_AWS_111"} <= ids, findings


def test_a_skip_without_a_reason_is_a_finding(planted_checkov_findings):
    infra, findings = planted_checkov_findings
    assert (
        f"{infra / 'skip_without_reason.yaml'}: AWS::SNS::Topic.Topic: CKV_AWS_26 is "
        "skipped without a reason; add a `comment` to its Metadata.checkov.skip entry" in findings
    )
