"""Isolated environments for command-line tools whose pins clash with ours (checkov, taskcat).

Each tool gets a virtual environment under the tools directory (PIPELINE_TOOLS_DIR), created
on first use from the package registry with the requirements in `pipeline/tools/<tool>.txt`,
and re-created when that file changes. A lock file makes concurrent first uses wait for one
another instead of installing twice. This module owns creating those environments; it does
not know what the tools are for.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from pipeline.errors import PipelineError

COMPLETE_MARK = "pipeline-tool-env-complete"
# The project's own checkov policies (run inside checkov's environment).
CHECKOV_CHECKS = Path(__file__).resolve().parent / "checkov_checks"


def requirements(tool: str) -> str:
    spec = resources.files(__package__).joinpath(f"{tool}.txt")
    if not spec.is_file():
        raise PipelineError(f"no pinned requirements for tool {tool!r} (pipeline/tools/{tool}.txt)")
    return spec.read_text()


def environment(
    tool: str, tools_dir: Path, progress: Callable[[str], None], run: Callable = subprocess.run
) -> Path:
    """The bin/ directory of `tool`'s environment, created first if needed."""
    spec = requirements(tool)
    key = hashlib.sha256(f"{sys.version}\n{spec}".encode()).hexdigest()[:12]
    env = tools_dir / f"{tool}-{key}"
    if (env / COMPLETE_MARK).exists():
        return env / "bin"
    tools_dir.mkdir(parents=True, exist_ok=True)
    with open(tools_dir / f"{tool}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (env / COMPLETE_MARK).exists():  # another process finished it while we waited
            return env / "bin"
        shutil.rmtree(env, ignore_errors=True)  # a half-built one from an interrupted run
        progress(
            f"{tool}: creating its isolated environment in {env} (first use only; about a minute)"
        )
        spec_file = tools_dir / f"{tool}-{key}.txt"
        spec_file.write_text(spec)
        for command in (
            [sys.executable, "-m", "venv", str(env)],
            [
                str(env / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--requirement",
                str(spec_file),
            ],
        ):
            result = run(command, capture_output=True, text=True, check=False)
            if result.returncode:
                shutil.rmtree(env, ignore_errors=True)
                detail = (result.stderr or result.stdout).strip()[-1500:]
                raise PipelineError(
                    f"{tool}: could not create its environment ({' '.join(command[:4])} "
                    f"exited {result.returncode}); nothing was left behind. It needs the "
                    f"package registry. Output:\n{detail}"
                )
        (env / COMPLETE_MARK).write_text(spec)
        progress(f"{tool}: environment ready")
    return env / "bin"
