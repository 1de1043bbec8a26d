"""What the running Python environment is: package versions and the git commit."""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError


def package_versions(names: Iterable[str]) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            raise ConfigError(
                f"package {name} is not installed in {platform.python_version()} "
                "environment; install the project (`pip install -e .`) or use tox"
            ) from None
    return versions


Runner = Callable[[list[str]], subprocess.CompletedProcess[str]]


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False)


def git_state(repo: Path, run: Runner = _run) -> dict[str, Any]:
    """{'commit': sha, 'dirty': bool} for the checkout the model and its code come from."""
    head = run(["git", "-C", str(repo), "rev-parse", "HEAD"])
    if head.returncode != 0:
        raise ConfigError(
            f"cannot read the git commit of {repo}: {head.stderr.strip() or 'git failed'}. "
            "Package from a git clone with at least one commit, so the manifest can name it."
        )
    status = run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"])
    return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}
