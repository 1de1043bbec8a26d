"""`pipeline register` and `pipeline registry` against the sandbox, as a user runs them: the
CLI as a subprocess, the build uploaded first, the versions read back through the table."""

from __future__ import annotations

import json

import pytest

from tests.conftest import terminal_rows
from tests.e2e.test_cli import pipeline
from tests.functional.test_upload import build_copy  # noqa: F401  (a fixture)


@pytest.fixture
def uploaded(bootstrapped, build_copy):  # noqa: F811
    env = {**bootstrapped, "PIPELINE_BUILD_DIR": str(build_copy)}
    result = pipeline("upload", env=env)
    assert result.returncode == 0, result.stderr
    return env, json.loads((build_copy / "manifest.json").read_text())


def table(stdout: str) -> dict[str, list[str]]:
    return {row[0]: row for row in terminal_rows(stdout, "version")}


def test_a_build_is_registered_once_then_approved_and_rejected_with_who_and_why(uploaded):
    env, manifest = uploaded
    digest = manifest["artifact"]["sha256"]
    first = pipeline("register", env=env)
    assert first.returncode == 0, first.stderr
    assert "registered: version " in first.stdout
    number = first.stdout.split("registered: version ", 1)[1].split()[0]
    again = pipeline("register", env=env)
    assert again.returncode == 0, again.stderr
    assert f"already registered: version {number} of diabetes-linear" in again.stdout

    listed = pipeline("registry", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    row = table(listed.stdout)[number]
    assert row[2] == digest[:12]
    assert "rmse" in row[4] and "r2" in row[4]

    approved = pipeline("registry", "approve", digest[:12], "--reason", "metrics fine", env=env)
    assert approved.returncode == 0, approved.stderr
    assert table(approved.stdout)[number][1] == "Approved"
    assert "approval: Approved by " in approved.stdout and ": metrics fine" in approved.stdout
    assert f"digest: {digest}" in approved.stdout  # approval keeps the version's metadata

    only_approved = pipeline("registry", "list", "--status", "Approved", env=env)
    assert number in table(only_approved.stdout)

    rejected = pipeline("registry", "reject", number, "--reason", "drift seen", env=env)
    assert rejected.returncode == 0, rejected.stderr
    assert table(rejected.stdout)[number][1] == "Rejected"
    none_approved = pipeline("registry", "list", "--status", "Approved", env=env)
    assert number not in none_approved.stdout.split()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("registry", "reject", "1"), "needs --reason TEXT"),
        (("registry", "show"), "needs VERSION|DIGEST"),
        (("registry", "show", "zz"), "neither a version number"),
        (("registry", "show", "999"), "has no version '999'"),
        (("registry", "list", "--status", "Good"), "--status 'Good': use Approved"),
    ],
)
def test_bad_registry_commands_exit_2_naming_the_fix(uploaded, args, message):
    env, _ = uploaded
    result = pipeline(*args, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_build_that_was_not_uploaded_is_not_registered(uploaded, build_copy):  # noqa: F811
    env, manifest = uploaded
    manifest["artifact"]["sha256"] = "0" * 64
    manifest["artifact"]["s3_key"] = f"models/diabetes-linear/{'0' * 64}/model.tar.gz"
    (build_copy / "manifest.json").write_text(json.dumps(manifest))
    result = pipeline("register", env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "run `python -m pipeline upload` first" in result.stderr


def test_register_shares_the_group_with_the_environment_accounts_once(built):
    """A build account listing environment accounts: register puts the group's resource
    policy (their GitHub roles read, prod's deploy role decides), once; every command then
    addresses the group by its ARN in the build account, as an environment account must."""
    import boto3

    from pipeline.shared import registry
    from pipeline.shared.context import Context, QuietUI
    from pipeline.stages.account import bootstrap
    from pipeline.stages.build import register, upload
    from tests.conftest import sandbox_environment

    with sandbox_environment():
        bootstrap.run(Context(built), "both", ["111111111111", "222222222222"], "", "")
        upload.run(Context(built))
        quiet = Context(built, QuietUI())
        first = register.run(quiet)
        assert first.shared == (
            "shared model package group diabetes-linear with account(s) 111111111111, 222222222222"
        )
        sagemaker = boto3.client("sagemaker")
        policy = json.loads(
            sagemaker.get_model_package_group_policy(ModelPackageGroupName="diabetes-linear")[
                "ResourcePolicy"
            ]
        )
        read, decide = policy["Statement"]
        assert read["Principal"]["AWS"] == [
            "arn:aws:iam::111111111111:root",
            "arn:aws:iam::222222222222:root",
        ]
        group_arn = sagemaker.describe_model_package_group(ModelPackageGroupName="diabetes-linear")[
            "ModelPackageGroupArn"
        ]
        assert read["Resource"][0] == group_arn
        assert decide["Condition"]["ArnLike"]["aws:PrincipalArn"] == [
            "arn:aws:iam::111111111111:role/diabetes-github-deploy-prod",
            "arn:aws:iam::222222222222:role/diabetes-github-deploy-prod",
        ]
        assert register.run(Context(built, QuietUI())).shared is None  # in place already
        assert registry.group_ref(quiet) == group_arn  # the build account's, by ARN
        assert [v.number for v in registry.versions(quiet)] == [first.version.number]
