"""`pipeline lint` on the repository's infra/ and on copies with planted faults."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import botocore.client
import pytest

from pipeline.errors import ConfigError
from pipeline.settings import Settings
from pipeline.shared import params as params_files
from pipeline.shared.context import Context
from pipeline.stages.verify import lint
from tests.conftest import FIXTURES, process_gone, terminal_rows
from tests.e2e.test_cli import pipeline

INFRA = Path(__file__).resolve().parents[2] / "infra"


@pytest.fixture(scope="module")
def linted(tmp_path_factory) -> tuple[Settings, lint.LintResult]:
    """One lint (nothing reused) of a byte-identical copy of the repository's infra/, its
    results kept in a folder of its own."""
    root = tmp_path_factory.mktemp("linted")
    shutil.copytree(INFRA, root / "infra")
    settings = replace(
        Settings.from_env({}), infra_dir=root / "infra", cache_dir_path=root / "kept"
    )
    return settings, lint.run(Context(settings), use_cache=False)


def kept_copy(linted, folder: Path) -> Settings:
    """The linted checkout's infra/ and kept results, copied to `folder` (as a CI job's
    workspace is a copy of the checkout)."""
    settings, _ = linted
    shutil.copytree(settings.infra_dir, folder / "infra")
    shutil.copytree(settings.cache_dir, folder / "kept")
    return replace(settings, infra_dir=folder / "infra", cache_dir_path=folder / "kept")


def test_every_template_and_parameter_file_passes_lint(linted):
    _, result = linted
    assert not result.cached and all(not t.reused for t in result.tools)
    assert [(r.tool, r.findings) for r in result.tools] == [
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
    assert ["parameter files", "1", "FAIL"] in terminal_rows(result.stdout, "tool")


def refused(settings: Settings, target: Path, key: str | None, message: str) -> list[str]:
    """The problems of validate_params, after checking one names `target`, `key`, `message`."""
    problems = [str(p) for p in lint.validate_params(settings)]
    prefix = f"{target}: {key}: " if key else f"{target}: "
    assert any(p.startswith(prefix) and message in p for p in problems), problems
    return problems


NOT_A_NUMBER = "is not a number; write plain decimal digits without spaces"


@pytest.mark.parametrize(
    ("fixture", "value"),
    [
        ("number_nan.json", "nan"),
        ("number_inf.json", "inf"),
        ("number_underscore.json", "1_0"),
        ("number_hex.json", "0x10"),
        ("number_exponent.json", "1e3"),
    ],
)
def test_number_not_in_plain_decimal_is_refused(infra_copy, fixture, value):
    refused(infra_copy, plant(infra_copy, fixture), "InstanceCount", f"{value!r} {NOT_A_NUMBER}")


def test_number_with_spaces_is_refused(infra_copy):
    target = plant(infra_copy, "number_whitespace.json")
    refused(infra_copy, target, "InstanceCount", f"' 2 ' {NOT_A_NUMBER}")


def test_fraction_for_an_integer_number_is_refused(infra_copy):
    target = plant(infra_copy, "number_fraction_for_integer.json")
    refused(infra_copy, target, "InstanceCount", "'1.5' is not a whole number")


@pytest.mark.parametrize(
    ("fixture", "key"),
    [
        ("duplicate_parameter.json", "Parameters.InstanceCount"),
        ("duplicate_top_level_key.json", "Tags"),
        ("duplicate_tag.json", "Tags.environment"),
    ],
)
def test_duplicate_key_is_refused_naming_it(infra_copy, fixture, key):
    target = plant(infra_copy, fixture)
    problems = refused(infra_copy, target, key, "appears more than once")
    assert [p for p in problems if p.startswith(f"{target}: ")] == [
        f"{target}: {key}: appears more than once; JSON would silently keep the last one, so "
        "keep one"
    ]


def test_null_parameters_is_refused(infra_copy):
    target = plant(infra_copy, "parameters_null.json")
    refused(infra_copy, target, "Parameters", "must be an object of parameter names")


def test_null_tags_is_refused(infra_copy):
    target = plant(infra_copy, "tags_null.json")
    refused(infra_copy, target, "Tags", "must be an object of tag names to strings, not null")


def test_top_level_array_is_refused(infra_copy):
    target = plant(infra_copy, "top_level_array.json")
    refused(
        infra_copy,
        target,
        None,
        'must be an object {"Parameters": {...}, "Tags": {...}}, not an array',
    )


def test_non_utf8_file_is_refused(infra_copy):
    target = plant(infra_copy, "not_utf8.json")
    refused(infra_copy, target, None, "is not UTF-8 (byte 0xe9 at offset")


def test_dangling_symlink_is_refused(infra_copy):
    target = infra_copy.params_dir / "dev.json"
    target.unlink()
    target.symlink_to("gone.json")
    refused(infra_copy, target, None, "is a symlink to gone.json, which does not exist")


def test_directory_named_like_a_parameter_file_is_refused(infra_copy):
    target = infra_copy.params_dir / "dev.json"
    target.unlink()
    target.mkdir()
    refused(infra_copy, target, None, "is a directory, not a parameter file")


def test_unreadable_file_is_refused(infra_copy, monkeypatch):
    target = infra_copy.params_dir / "dev.json"
    target.chmod(0)
    if os.access(target, os.R_OK):  # root reads anything: make the read fail as it would

        def unreadable(path):
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(params_files, "_read", unreadable)
    refused(infra_copy, target, None, "cannot be read (Permission denied)")


def test_symlink_to_another_environments_file_is_refused(infra_copy):
    target = infra_copy.params_dir / "dev.json"
    target.unlink()
    target.symlink_to("prod.json")
    refused(infra_copy, target, None, "resolves to")
    assert "the file of another environment" in str(lint.validate_params(infra_copy)[0])


def test_hard_link_to_another_environments_file_is_refused(infra_copy):
    target = infra_copy.params_dir / "staging.json"
    target.unlink()
    target.hardlink_to(infra_copy.params_dir / "prod.json")
    refused(infra_copy, target, None, "is the same file as")


def test_environment_name_of_another_environment_is_refused(infra_copy):
    target = plant(infra_copy, "environment_name_of_another_environment.json")
    refused(
        infra_copy,
        target,
        "EnvironmentName",
        "is 'prod' but this is the file of environment 'dev'; set it to \"dev\"",
    )


def test_environment_tag_of_another_environment_is_refused(infra_copy):
    target = plant(infra_copy, "environment_tag_of_another_environment.json")
    refused(
        infra_copy,
        target,
        "Tags.environment",
        "is 'prod' but this is the file of environment 'dev'",
    )


def test_parameter_value_over_4096_bytes_is_refused(infra_copy):
    target = plant(infra_copy, "parameter_value_too_long.json")
    refused(
        infra_copy,
        target,
        "InstanceType",
        "is 4106 bytes; CloudFormation takes at most 4096 bytes per parameter value",
    )


def test_tag_key_over_128_characters_is_refused(infra_copy):
    target = plant(infra_copy, "tag_key_too_long.json")
    refused(infra_copy, target, f"Tags.{'k' * 40}...", "tag key is 129 characters")


def test_tag_value_over_256_characters_is_refused(infra_copy):
    target = plant(infra_copy, "tag_value_too_long.json")
    refused(
        infra_copy,
        target,
        "Tags.owner",
        "value is 257 characters; CloudFormation takes at most 256",
    )


def test_more_than_50_tags_with_the_pipelines_are_refused(infra_copy):
    target = plant(infra_copy, "too_many_tags.json")
    refused(
        infra_copy,
        target,
        "Tags",
        "49 tags plus the pipeline's project, model-digest make "
        "51; CloudFormation takes at most 50 per stack",
    )


def test_file_over_1_mib_is_refused_before_it_is_read(infra_copy, monkeypatch):
    target = infra_copy.params_dir / "dev.json"
    os.truncate(target, 200 * 1024 * 1024)  # sparse: 200 MB of zero bytes, never written

    read = params_files._read

    def never_the_big_one(path):
        assert path != target, f"{path} was read"
        return read(path)

    monkeypatch.setattr(params_files, "_read", never_the_big_one)
    problems = refused(
        infra_copy,
        target,
        None,
        "is 209715200 bytes; a parameter file may be at most 1048576 bytes (1 MiB)",
    )
    assert [p for p in problems if p.startswith(str(target))] == [problems[0]]


BAD_FILES = sorted(p.name for p in (FIXTURES / "params").glob("*.json"))


@pytest.mark.parametrize("fixture", BAD_FILES)
def test_bad_parameter_file_stops_deploy_before_any_aws_call(infra_copy, monkeypatch, fixture):
    from pipeline.stages.release import deploy

    def no_aws(*args, **kwargs):
        raise AssertionError("an AWS call was attempted")

    # every AWS call of every client goes through here
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", no_aws)
    target = plant(infra_copy, fixture)
    with pytest.raises(ConfigError, match="nothing was sent to AWS") as raised:
        deploy.run(Context(infra_copy), "dev")
    assert str(target) in str(raised.value)


def test_symlink_to_another_environments_file_exits_two_from_deploy(infra_copy, tmp_path):
    target = infra_copy.params_dir / "dev.json"
    target.unlink()
    target.symlink_to("prod.json")
    nowhere = "http://127.0.0.1:9"  # nothing listens: any AWS call would fail, not exit 2
    result = pipeline(
        "deploy",
        "--env",
        "dev",
        env={
            "AWS_ENDPOINT_URL": nowhere,
            "PIPELINE_INFRA_DIR": str(infra_copy.infra_dir),
            "PIPELINE_BUILD_DIR": str(tmp_path / "build"),
        },
    )
    assert result.returncode == 2, result.stderr
    assert f"{target}: resolves to " in result.stderr
    assert "nothing was sent to AWS" in result.stderr and "Traceback" not in result.stderr


def test_a_planted_template_error_fails_cfn_lint(infra_copy):
    template = infra_copy.endpoint_template
    template.write_text(
        template.read_text().replace("Type: AWS::SageMaker::Model", "Type: AWS::SageMaker::Modle")
    )
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


def test_lint_results_are_kept_by_their_inputs_and_any_change_lints_again(infra_copy, tmp_path):
    settings = replace(infra_copy, build_dir=tmp_path / "build")
    first = lint.run(Context(settings))
    assert not first.cached and not first.failed and len(first.cache_key) == 64
    cached = pipeline(
        "lint",
        env={
            "PIPELINE_INFRA_DIR": str(settings.infra_dir),
            "PIPELINE_BUILD_DIR": str(settings.build_dir),
        },
    )
    assert cached.returncode == 0, cached.stdout + cached.stderr
    assert f"cached: the result for inputs {first.cache_key[:12]}" in cached.stdout
    assert [r.tool for r in lint.run(Context(settings)).tools] == [r.tool for r in first.tools]
    # one byte of one input: a new key, linted again (and the finding is found)
    target = settings.params_dir / "dev.json"
    target.write_text(target.read_text().replace('"InstanceType"', '"InstanceTyp"', 1))
    changed = lint.run(Context(settings))
    assert not changed.cached and changed.cache_key != first.cache_key
    assert changed.failed and changed.failed[0].tool == "parameter files"
    assert not lint.run(Context(settings), use_cache=False).cached


def test_a_linter_is_killed_with_its_children_when_lint_is_stopped(tmp_path):
    """deploy-local stops lint when a stage before lint's step fails: the linter's whole
    process group is killed at once (no orphan keeps linting), and LintStopped says so."""
    import os
    import sys
    import threading
    import time

    child_pid = tmp_path / "child.pid"
    script = (
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(child_pid)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    cancel = threading.Event()
    started = time.monotonic()
    timer = threading.Timer(1.0, cancel.set)
    timer.start()
    try:
        with pytest.raises(lint.LintStopped, match="stopped before it finished"):
            lint._run([sys.executable, "-c", script], cancel)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 10
    pid = int(child_pid.read_text())
    if not process_gone(pid, timeout=5):
        os.kill(pid, 9)
        pytest.fail(f"the linter's child {pid} outlived the stop")
    # without a cancel, it is subprocess.run: output and status as they were
    done = lint._run([sys.executable, "-c", "print('out'); raise SystemExit(3)"], None)
    assert (done.returncode, done.stdout) == (3, "out\n")


def test_after_a_template_changes_each_linter_runs_only_on_that_template(linted, tmp_path):
    """The whole result's key changes with any template; each linter's findings for each
    template are kept under that template's own key, so only the changed one is linted
    again, and what is found in it is found."""
    settings = kept_copy(linted, tmp_path)
    first = lint.run(Context(settings))  # the copy's key is the original's
    assert first.cached and first.cache_key == linted[1].cache_key and not first.failed
    others = [t for t in lint.templates(settings) if t != str(settings.endpoint_template)]
    assert len(others) == len(lint.templates(settings)) - 1

    template = settings.endpoint_template
    template.write_text(template.read_text() + "\n# a comment is a change\n")
    changed = lint.run(Context(settings))
    assert not changed.cached and changed.cache_key != first.cache_key
    by_tool = {t.tool: t for t in changed.tools}
    assert by_tool["cfn-lint"].reused == others and by_tool["checkov"].reused == others
    assert not changed.failed

    template.write_text(
        template.read_text().replace("Type: AWS::SageMaker::Model", "Type: AWS::SageMaker::Modle")
    )
    planted = lint.run(Context(settings))
    found = {t.tool: t for t in planted.tools}["cfn-lint"]
    assert found.reused == others
    assert any(
        f.startswith(f"{template}:") and "AWS::SageMaker::Modle" in f for f in found.findings
    )
    # the planted finding is kept with its template, and reported again from the cache
    again = {t.tool: t for t in lint.run(Context(settings)).tools}["cfn-lint"]
    assert again.findings == found.findings


def test_which_templates_a_linter_is_given(linted, tmp_path):
    """_per_template with a recording linter: --no-cache gives it every template; otherwise
    only those without kept findings; findings it cannot tell apart by template (a crash)
    keep nothing, so the next run gives it those templates again."""
    settings = kept_copy(linted, tmp_path)
    paths = lint.templates(settings)
    versions = lint.inputs(settings)[1]
    given: list[list[str] | None] = []

    def recording(answer):
        def run(only):
            given.append(only)
            return answer(only)

        return run

    clean = recording(lambda only: [])
    lint._per_template(
        settings, "cfn-lint", clean, versions, use_cache=False, rules=lint._rules(settings)
    )
    assert given == [paths]
    given.clear()
    kept = lint._per_template(
        settings, "cfn-lint", clean, versions, use_cache=True, rules=lint._rules(settings)
    )
    assert given == [] and kept.reused == paths and kept.findings == []

    template = str(settings.endpoint_template)
    settings.endpoint_template.write_text(settings.endpoint_template.read_text() + "\n# x\n")
    crashed = recording(lambda only: ["cfn-lint exited 2: something broke"])
    result = lint._per_template(
        settings, "cfn-lint", crashed, versions, use_cache=True, rules=lint._rules(settings)
    )
    assert given == [[template]] and result.findings == ["cfn-lint exited 2: something broke"]
    given.clear()
    lint._per_template(
        settings, "cfn-lint", clean, versions, use_cache=True, rules=lint._rules(settings)
    )
    assert given == [[template]]  # nothing was kept for it by the run that crashed


def test_kept_findings_name_the_files_where_the_checkout_now_is(linted, tmp_path):
    """A checkout copied elsewhere (a CI job's workspace) has the same key, and a kept
    finding names the template in the copy, not where it was linted first."""
    first_root, second_root = tmp_path / "one", tmp_path / "two"
    one = kept_copy(linted, first_root)
    template = first_root / "infra" / "endpoint.yaml"
    template.write_text(
        template.read_text().replace("Type: AWS::SageMaker::Model", "Type: AWS::SageMaker::Modle")
    )
    shutil.copytree(first_root / "infra", second_root / "infra")
    two = replace(one, infra_dir=second_root / "infra")
    found = lint.run(Context(one))
    assert not found.cached and found.failed
    kept = lint.run(Context(two))
    assert kept.cached and kept.cache_key == found.cache_key
    findings = {t.tool: t.findings for t in kept.tools}["cfn-lint"]
    assert findings and all(
        f.startswith(f"{second_root / 'infra' / 'endpoint.yaml'}:") for f in findings
    )
