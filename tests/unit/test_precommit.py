""".pre-commit-config.yaml runs the linters of `tox -e lint` at the versions tox.ini pins, so
the two cannot drift apart."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def lint_env() -> configparser.SectionProxy:
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini")
    return tox["testenv:lint"]


def tox_pins() -> dict[str, str]:
    """{package: version spec} of the lint environment's deps (`ruff==0.14.*` -> 0.14.*)."""
    pins = {}
    for line in lint_env()["deps"].splitlines():
        if match := re.fullmatch(r"\s*([A-Za-z0-9_.-]+)==(\S+)\s*", line):
            pins[match[1].lower()] = match[2]
    return pins


def repos() -> list[dict]:
    return yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"]


def matches(version: str, spec: str) -> bool:
    """`0.14.14` matches `0.14.*` and `0.14.14`."""
    return version == spec or (spec.endswith(".*") and version.startswith(spec[:-1]))


@pytest.mark.parametrize(
    ("repo", "package"),
    [
        ("https://github.com/astral-sh/ruff-pre-commit", "ruff"),
        ("https://github.com/python-jsonschema/check-jsonschema", "check-jsonschema"),
    ],
)
def test_precommit_repo_rev_matches_the_tox_pin(repo, package):
    (found,) = [r for r in repos() if r["repo"] == repo]
    version = found["rev"].removeprefix("v")
    spec = tox_pins()[package]
    assert matches(version, spec), f"{repo} rev {found['rev']}: tox.ini pins {package}=={spec}"


def test_precommit_local_hooks_pin_what_tox_pins():
    pins = tox_pins()
    local = [hook for r in repos() if r["repo"] == "local" for hook in r["hooks"]]
    assert {hook["id"] for hook in local} == {"mypy", "actionlint", "zizmor"}
    for hook in local:
        (dependency,) = hook["additional_dependencies"]
        package, spec = dependency.split("==")
        assert pins[package] == spec, f"hook {hook['id']}: {dependency}; tox.ini: {pins}"


def test_precommit_hooks_run_the_tox_lint_commands():
    commands = lint_env()["commands"]
    hooks = {hook["id"]: hook for r in repos() for hook in r["hooks"]}
    assert "ruff check ." in commands and "ruff-check" in hooks
    assert "ruff format --check ." in commands and hooks["ruff-format"]["args"] == ["--check"]
    assert "--builtin-schema vendor.github-workflows" in commands
    assert {"check-github-workflows", "check-github-actions"} <= set(hooks)
    for local in ("mypy", "actionlint", "zizmor --offline .github"):
        assert re.search(rf"^{re.escape(local)}$", commands, re.MULTILINE), local
        assert local in {hook["entry"] for hook in hooks.values() if "entry" in hook}
