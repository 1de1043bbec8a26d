"""What a YAML review of .github/ would miss: every step runs a real command, jobs run in
the promotion order, and each deploy job's environment matches its role and its target."""

from __future__ import annotations

import configparser
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

from pipeline import cli

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = {
    p.stem: yaml.safe_load(p.read_text()) for p in (ROOT / ".github/workflows").glob("*.yml")
}
ACTION = yaml.safe_load((ROOT / ".github/actions/setup-tox/action.yml").read_text())
RELEASE_ORDER = ["build", "template-tests", "dev", "staging", "prod-preview", "prod"]
SAMPLES = {
    "DIGEST": "a" * 64,
    "TTL_HOURS": "24",
    "ENVIRONMENT": "dev",
    "CONFIRM": "dev",
    "TRAIN_ON": "local",
    "VERSION": "3",
    "REASON": "prod deploy approved in https://github.com/o/r/actions/runs/1",
    "SINCE": "24h",
}
SETUP_REQUIREMENTS = ".github/actions/setup-tox/requirements.txt"
SETUP_LINE = f"python -m pip install --require-hashes --only-binary :all: -r {SETUP_REQUIREMENTS}"


def tox_envs() -> set[str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini")
    return {s.removeprefix("testenv:") for s in parser.sections() if s.startswith("testenv")}


def steps():
    for name, workflow in WORKFLOWS.items():
        for job_name, job in workflow["jobs"].items():
            for step in job["steps"]:
                yield name, job_name, job, step


def run_commands():
    return [(w, j, job, step) for w, j, job, step in steps() if "run" in step]


def test_every_run_step_is_tox_or_a_pipeline_command_that_parses():
    parser, envs = cli.build_parser(), tox_envs()
    assert run_commands(), "no run steps found"
    for workflow, job, _, step in run_commands():
        command = step["run"]
        for name in re.findall(r"\$(\w+)", command):  # every variable comes from the step
            assert name in step.get("env", {}), f"{workflow}.{job}: ${name} is not set"
            command = command.replace(f"${name}", SAMPLES[name])
        words = shlex.split(command)
        if words == ["tox"]:  # the README's test command: the default environments
            continue
        assert words[:2] == ["tox", "-e"], f"{workflow}.{job}: {step['run']}"
        assert words[2] in envs, f"{workflow}.{job}: no tox environment {words[2]}"
        if words[2] == "pipeline":
            assert words[3] == "--"
            args = words[4:]
            parsed = parser.parse_args(args)  # exits (fails the test) for an unknown command
            assert parsed.command == args[0]
        else:
            assert len(words) == 3, f"{workflow}.{job}: {step['run']}"
    action_runs = [s["run"] for s in ACTION["runs"]["steps"] if "run" in s]
    assert action_runs == [SETUP_LINE]


def unpinned(requirements: str) -> list[str]:
    """Requirements of a pip file that are not `name==version` with at least one hash."""
    text = re.sub(r"\\\n", " ", requirements)  # continuation lines
    entries = [line.split("#")[0].strip() for line in text.splitlines()]
    return [
        e
        for e in entries
        if e
        and not re.fullmatch(
            r"[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!-]+( +--hash=sha256:[0-9a-f]{64})+", e
        )
    ]


def test_setup_tox_installs_only_pinned_hashed_tools():
    requirements = (ROOT / SETUP_REQUIREMENTS).read_text()
    assert unpinned(requirements) == []
    names = {line.split("==")[0] for line in requirements.splitlines() if "==" in line}
    assert {"tox", "tox-uv", "virtualenv", "uv"} <= names  # dependencies too, not just tox


def test_an_unpinned_or_unhashed_tool_is_found():
    from tests.conftest import FIXTURES

    planted = (FIXTURES / "requirements" / "setup_tox_unpinned.txt").read_text()
    assert unpinned(planted) == ["tox>=4.20", "tox-uv==1.37.1"]


def needs(job: dict) -> list[str]:
    value = job.get("needs", [])
    return [value] if isinstance(value, str) else list(value)


def test_release_jobs_run_in_promotion_order_each_after_the_previous():
    jobs = WORKFLOWS["release"]["jobs"]
    assert list(jobs) == RELEASE_ORDER
    for previous, job in zip(RELEASE_ORDER, RELEASE_ORDER[1:], strict=False):
        assert previous in needs(jobs[job]), f"{job} must need {previous}"


def test_the_build_trains_where_the_train_on_variable_says_else_locally():
    train = [
        s for s in WORKFLOWS["release"]["jobs"]["build"]["steps"] if " train" in s.get("run", "")
    ]
    assert [s["run"] for s in train] == ['tox -e pipeline -- train --on "$TRAIN_ON"']
    assert train[0]["env"] == {"TRAIN_ON": "${{ vars.TRAIN_ON || 'local' }}"}


def test_the_build_registers_the_upload_in_the_model_registry_after_uploading_it():
    runs = [s.get("run", "") for s in WORKFLOWS["release"]["jobs"]["build"]["steps"]]
    upload = runs.index("tox -e pipeline -- upload")
    register = runs.index("tox -e pipeline -- register")
    assert register == upload + 1, runs
    build = WORKFLOWS["release"]["jobs"]["build"]
    step = build["steps"][register]
    assert step["id"] == "register"
    for name in ("model_version", "model_package_arn"):  # a dispatched version's otherwise
        assert build["outputs"][name] == (
            f"${{{{ steps.register.outputs.{name} || steps.chosen.outputs.{name} }}}}"
        )
    for name, job in WORKFLOWS["release"]["jobs"].items():  # only the build role registers
        if name != "build":
            assert not any(" register" in s.get("run", "") for s in job["steps"]), name


def test_only_the_prod_job_uses_the_prod_environment():
    users = [(w, j) for w, j, job, _ in steps() if job.get("environment") == "prod"]
    assert set(users) == {("release", "prod")}


def test_each_deploy_job_environment_matches_its_role_and_its_target():
    for workflow, job_name, job, step in steps():
        role = (step.get("with") or {}).get("role-to-assume")
        if role is None:
            continue
        environment = job.get("environment")
        if role == "${{ vars.DEPLOY_ROLE_ARN }}":  # defined per GitHub environment
            assert environment, f"{workflow}.{job_name}: a deploy role outside an environment"
        else:
            assert environment is None, f"{workflow}.{job_name}: {role} in {environment}"
        for other in job["steps"]:
            targets = re.findall(r"--(?:env|to) (\w+)", other.get("run", ""))
            for target in targets:
                if environment and not environment.startswith("${{"):
                    assert target == environment, f"{workflow}.{job_name}: {other['run']}"
        assert (step.get("with") or {}).get("role-skip-session-tagging") is True


def test_every_deploy_gets_the_build_jobs_digest_explicitly():
    jobs = WORKFLOWS["release"]["jobs"]
    for name in RELEASE_ORDER[1:]:
        commands = [
            s
            for s in jobs[name]["steps"]
            if "run" in s and re.search(r" (test|deploy|promote) ", s["run"])
        ]
        assert commands, f"{name} runs no stage"
        for step in commands:
            assert '--digest "$DIGEST"' in step["run"]
            assert step["env"]["DIGEST"] == "${{ needs.build.outputs.digest }}"
        assert "build" in needs(jobs[name])
    outputs = jobs["build"]["outputs"]
    assert outputs["digest"] == "${{ steps.upload.outputs.digest || steps.chosen.outputs.digest }}"


def test_a_dispatched_version_replaces_the_build_and_keeps_its_approval():
    """workflow_dispatch `version`: the build job resolves that registered version instead of
    building; the prod job approves in the registry only a version it built."""
    release = WORKFLOWS["release"]
    dispatch = release.get("on", release.get(True))["workflow_dispatch"]
    assert dispatch["inputs"]["version"]["default"] == ""
    build = release["jobs"]["build"]["steps"]
    building = [
        s for s in build if re.search(r" (train|package|upload|register)\b", s.get("run", ""))
    ]
    assert len(building) == 4 and all(s["if"] == "${{ !inputs.version }}" for s in building)
    (chosen,) = [s for s in build if s.get("id") == "chosen"]
    assert chosen["if"] == "${{ inputs.version }}"
    assert chosen["run"] == 'tox -e pipeline -- registry show "$VERSION"'
    assert chosen["env"]["VERSION"] == "${{ inputs.version }}"  # never inlined in the script
    prod = [s.get("run", "") for s in release["jobs"]["prod"]["steps"]]
    approve = next(i for i, r in enumerate(prod) if "registry approve" in r)
    promote = next(i for i, r in enumerate(prod) if " promote " in r)
    assert approve < promote
    step = release["jobs"]["prod"]["steps"][approve]
    assert step["if"] == "${{ !inputs.version }}"
    assert step["env"]["DIGEST"] == "${{ needs.build.outputs.digest }}"
    assert "actions/runs/${{ github.run_id }}" in step["env"]["REASON"]
    others = [j for j in release["jobs"] if j != "prod"]
    for name in others:  # only the prod job decides
        assert not any(
            "registry approve" in s.get("run", "") for s in release["jobs"][name]["steps"]
        )


def test_hygiene_permissions_pins_checkout_and_concurrency():
    pinned = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")
    for name, workflow in WORKFLOWS.items():
        assert workflow["permissions"] == {}, name
    uses = [(f"{w}.{j}", s) for w, j, _, s in steps() if "uses" in s] + [
        ("setup-tox", s) for s in ACTION["runs"]["steps"] if "uses" in s
    ]
    for where, step in uses:
        if step["uses"].startswith("./"):
            continue
        assert pinned.match(step["uses"]), f"{where}: {step['uses']} is not pinned to a SHA"
        if step["uses"].startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False, where
    text = "\n".join(p.read_text() for p in (ROOT / ".github").rglob("*.yml"))
    for line in text.splitlines():
        if "@" in line and "uses:" in line and "./" not in line:
            assert re.search(r"@[0-9a-f]{40}  # v\d+\.\d+\.\d+$", line), line
    for name in ("dev", "staging", "prod"):
        group = WORKFLOWS["release"]["jobs"][name]["concurrency"]
        assert group == {"group": f"deploy-{name}", "cancel-in-progress": False}


def test_no_run_step_inlines_an_expression():
    """Inputs and outputs reach a script through its env, never spliced into its text."""
    for workflow, job, _, step in run_commands():
        assert "${{" not in step["run"], f"{workflow}.{job}: {step['run']}"


def uses(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses", "").startswith(f"{action}@")]


def test_the_monitor_reports_prod_daily_and_on_demand_with_the_prod_preview_role():
    """monitor.yml (issue 20): read-only (the prod preview role, no GitHub environment),
    `monitor --env prod` over the input window (24h when scheduled), failing on drift (no
    continue-on-error anywhere), and the report uploaded even then."""
    monitor = WORKFLOWS["monitor"]
    triggers = monitor.get("on", monitor.get(True))
    assert [len(c["cron"].split()) for c in triggers["schedule"]] == [5]
    since = triggers["workflow_dispatch"]["inputs"]["since"]
    assert since["default"] == "24h" and since["type"] == "string"
    assert list(monitor["jobs"]) == ["prod"]
    job = monitor["jobs"]["prod"]
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert "environment" not in job
    (credentials,) = uses(job, "aws-actions/configure-aws-credentials")
    assert credentials["with"]["role-to-assume"] == "${{ vars.PROD_PREVIEW_ROLE_ARN }}"
    release_build = WORKFLOWS["release"]["jobs"]["build"]
    (release_credentials,) = uses(release_build, "aws-actions/configure-aws-credentials")
    assert credentials["uses"] == release_credentials["uses"]  # the same pinned SHA
    runs = [s for s in job["steps"] if "run" in s]
    assert [s["run"] for s in runs] == ['tox -e pipeline -- monitor --env prod --since "$SINCE"']
    assert runs[0]["env"] == {"SINCE": "${{ inputs.since || '24h' }}"}
    assert "if" not in runs[0]
    assert "continue-on-error" not in job
    assert not any("continue-on-error" in s for s in job["steps"])
    names = [s.get("uses", s.get("run", "")) for s in job["steps"]]
    (upload,) = uses(job, "actions/upload-artifact")
    assert names.index(upload["uses"]) > names.index(runs[0]["run"])
    assert upload["if"] == "${{ !cancelled() }}"  # also after a drift (exit 1)
    assert upload["with"]["path"] == "build/monitor/prod/report.html"


def test_every_workflow_is_linted():
    """tox -e lint validates each workflow file against GitHub's schema."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini")
    commands = parser.get("testenv:lint", "commands")
    line = next(c for c in commands.splitlines() if "vendor.github-workflows" in c)
    linted = {Path(word).stem for word in line.split() if word.endswith(".yml")}
    assert linted == set(WORKFLOWS)


@pytest.mark.parametrize(
    ("needs_json", "code"),
    [
        ('{"lint": {"result": "success"}, "test": {"result": "success"}}', 0),
        ('{"lint": {"result": "success"}, "test": {"result": "skipped"}}', 1),
        ('{"lint": {"result": "failure"}}', 1),
        ("{}", 2),
    ],
)
def test_all_green_fails_unless_every_needed_job_succeeded(monkeypatch, needs_json, code):
    monkeypatch.setenv("NEEDS", needs_json)
    assert cli.main(["all-green"]) == code


def test_only_the_environments_that_start_a_sandbox_install_the_emulator():
    """moto is the `local` extra: the deploy jobs' `pipeline` environment never installs it;
    every environment that starts a sandbox does (the default one through `test`)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini")

    def extras(env: str) -> set[str]:
        section = f"testenv:{env}" if env else "testenv"
        return set(parser.get(section, "extras", fallback=parser.get("testenv", "extras")).split())

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "sagemaker-cfn-pipeline[local]" in pyproject["optional-dependencies"]["test"]
    assert "local" not in extras("pipeline") | extras("lint")
    for env in ("deploy-local", "bench", "workflows"):
        assert "local" in extras(env), env
    assert "test" in extras("")


def test_every_replaced_action_has_its_stand_in():
    from pipeline.stages.workstation import workflows

    for action, standin in workflows.pinned_actions(ROOT).items():
        folder = workflows.STANDINS / standin
        assert (folder / "action.yml").is_file(), f"{action}: no stand-in at {folder}"


def test_under_act_the_test_job_collects_the_suite_it_does_not_run_it_again(tmp_path):
    """ci.yml's test job runs `tox`; under act the py312 environment only collects (the suite
    ran in this checkout already), with the same ignores as tox.ini's own command, and the
    result row says how many tests were collected."""
    from pipeline.stages.workstation import workflows

    command = workflows.act_command(
        Path("/act"), ROOT / ".github/workflows/ci.yml", tmp_path, ROOT, tmp_path / "env"
    )
    envs = [command[i + 1] for i, arg in enumerate(command) if arg == "--env"]
    override = next(e for e in envs if e.startswith("TOX_OVERRIDE="))
    key, _, value = override.removeprefix("TOX_OVERRIDE=").partition("=")
    assert key == "testenv:py312.commands"
    assert "--collect-only" in value.split()
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini")
    assert "py312" in parser.get("tox", "env_list")
    ignores = {a for a in parser.get("testenv", "commands").split() if a.startswith("--ignore")}
    assert ignores and ignores <= set(value.split())

    run = workflows.WorkflowRun("ci", 1.0, 0, log=tmp_path / "ci.log")
    lines = [
        # as act passes pytest's output on, colours included
        "[ci/test        ]   | \x1b[32m\x1b[32m1020 tests collected\x1b[0m"
        "\x1b[32m in 14.11s\x1b[0m\n",
        "[ci/test        ] 🏁  Job succeeded\n",
        "[ci/lint        ] 🏁  Job succeeded\n",
    ]
    assert [workflows.read_line(run, line) for line in lines] == [None, "test", "lint"]
    assert ("ci", "test", "succeeded (suite collected, 1020 tests; not run again)") in (
        workflows.rows([run])
    )
    assert ("ci", "lint", "succeeded") in workflows.rows([run])


def test_the_jobs_under_act_keep_results_where_this_checkout_does(tmp_path):
    """`pipeline workflows` gives the jobs this checkout's cache folder, and the tox
    environments whose commands keep results (lint; deploy-local; pipeline) let it through
    to the CLI, which keeps its results there."""
    from pipeline.settings import Settings
    from pipeline.shared import results_cache
    from pipeline.stages.workstation import workflows

    command = workflows.act_command(
        Path("/act"),
        ROOT / ".github/workflows/ci.yml",
        tmp_path,
        ROOT,
        tmp_path / "env",
        tmp_path / "kept",
    )
    envs = [command[i + 1] for i, arg in enumerate(command) if arg == "--env"]
    assert f"PIPELINE_CACHE_DIR={tmp_path / 'kept'}" in envs
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini")
    for env in ("testenv:lint", "testenv:deploy-local", "testenv:pipeline"):
        passed = parser.get(env, "pass_env").split()
        assert "PIPELINE_CACHE_DIR" in passed or "PIPELINE_*" in passed, env

    settings = Settings.from_env(
        {
            "PIPELINE_BUILD_DIR": str(tmp_path / "build"),
            "PIPELINE_CACHE_DIR": str(tmp_path / "kept"),
        }
    )
    results_cache.store(settings, "lint", "k", {}, {"passed": True})
    assert (tmp_path / "kept" / "lint.json").is_file()
    assert not (tmp_path / "build").exists()
    assert Settings.from_env({"PIPELINE_BUILD_DIR": str(tmp_path / "b")}).cache_dir == (
        tmp_path / "b" / "cache"
    )
