"""The embedded sandbox over real HTTP with plain boto3, as a user's own scripts reach it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import boto3
import pytest

from pipeline.errors import PipelineError
from pipeline.local import moto_patches
from pipeline.local.processes import ManagedProcess
from pipeline.local.sandbox import READY_LINE, Sandbox

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox() as running:
        yield running


@pytest.fixture
def aws(sandbox, monkeypatch):
    """Point plain boto3 at the sandbox through the standard variables only."""
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    for key, value in sandbox.env.items():
        monkeypatch.setenv(key, value)
    return boto3.Session()


def _up(state: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "sandbox", "up", *args],
        env={**os.environ, "PIPELINE_SANDBOX_STATE": str(state)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_boto3_reaches_the_sandbox_through_the_standard_variables(aws, sandbox):
    assert sandbox.url.startswith("http://127.0.0.1:")
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="sandbox-smoke")
    assert "sandbox-smoke" in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_the_context_manager_leaves_no_process_even_when_the_block_fails():
    box = Sandbox()
    with pytest.raises(RuntimeError, match="planted"), box:
        pgid = box.process.proc.pid
        raise RuntimeError("planted")
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)


def test_a_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _up(tmp_path / "state.json", "--port", str(port))
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_a_sandbox_that_does_not_come_up_in_time_is_a_clear_error(tmp_path):
    box = Sandbox(workdir=tmp_path, ready_timeout=0.01)
    with pytest.raises(PipelineError, match="did not become ready within 0.01s"):
        box.__enter__()
    assert not box.process.alive()


def test_up_prints_the_environment_and_down_stops_it(tmp_path):
    state = tmp_path / "state.json"
    env = {**os.environ, "PIPELINE_SANDBOX_STATE": str(state)}
    up = ManagedProcess(
        [sys.executable, "-m", "pipeline", "sandbox", "up", "--print-env"], tmp_path / "log", env
    )
    with up:
        url = up.start(READY_LINE, 30).group(1)
        exports = [up.proc.stdout.readline().decode() for _ in range(5)]
        assert f"export AWS_ENDPOINT_URL={url}\n" in exports
        assert any(re.match(r"export AWS_ACCESS_KEY_ID=\w+", line) for line in exports)
        again = _up(state)  # a second `up` is refused while the first runs
        assert again.returncode == 2 and "already running" in again.stderr
        down = subprocess.run(
            [sys.executable, "-m", "pipeline", "sandbox", "down"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert down.returncode == 0 and f"stopped the sandbox at {url}" in down.stdout
        assert up.proc.wait(10) == 0
    assert not state.exists()


# Put first on sys.path, it makes the interpreter behave as one without the `local` extra.
WITHOUT_MOTO = """
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("moto", "werkzeug"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, Block())
"""


def test_up_without_the_emulator_installed_names_the_fix_in_one_line(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(WITHOUT_MOTO)
    path = os.pathsep.join([str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "sandbox", "up", "--port", "0"],
        env={**os.environ, "PYTHONPATH": path, "PIPELINE_SANDBOX_STATE": str(tmp_path / "s")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: sandbox: the local sandbox needs the AWS emulator moto (not installed: moto); "
        "install it with pip install 'sagemaker-cfn-pipeline[local]' (or run it as "
        "`tox -e deploy-local`)"
    ]


def test_down_without_a_sandbox_says_so(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "sandbox", "down"],
        env={**os.environ, "PIPELINE_SANDBOX_STATE": str(tmp_path / "none.json")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and "no sandbox is running" in result.stdout


def test_emulator_version_is_the_one_the_corrections_were_checked_against():
    """Fails on every moto upgrade: re-check each correction in moto_patches against the new
    version (run tests/functional/test_moto_patches.py and tests/unit/test_moto_canaries.py),
    then move the pin."""
    import moto

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    pins = [d for d in project["optional-dependencies"]["local"] if d.startswith("moto")]
    assert pins == [f"moto[server,cloudformation]=={moto_patches.PINNED_MOTO_VERSION}"]
    assert not [d for d in project["dependencies"] if d.startswith("moto")]  # deploys: no moto
    assert moto.__version__ == moto_patches.PINNED_MOTO_VERSION


def _zygotes_of(pid: int) -> list[int]:
    """The `pipeline serve --zygote` processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[-1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid and b"--zygote" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_warm_sandbox_starts_the_model_server_zygote_before_any_endpoint(tmp_path):
    import time

    from tests.conftest import process_gone

    with Sandbox(workdir=tmp_path, warm_servers=True) as box:
        pid = box.process.proc.pid
        deadline = time.monotonic() + 60
        while not _zygotes_of(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        zygotes = _zygotes_of(pid)
        assert len(zygotes) == 1  # started with no endpoint asked for
    assert process_gone(zygotes[0], 15)  # and stopped with the sandbox
