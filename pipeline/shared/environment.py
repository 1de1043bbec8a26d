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


# The BLAS kernel and thread count decide the last bits of a fit (LinearRegression's
# coefficients differ at ~1e-12 between OpenBLAS's Prescott and Haswell kernels), so the
# training process gets the most generic kernel of its architecture, which every CPU of that
# architecture runs, and one BLAS thread. Then the same data, script and seed give the same
# model.joblib bytes on any machine of the architecture, whatever kernel it would detect.
# OpenMP threads (scikit-learn's own parallel code) are left alone.
PINNED_BLAS_KERNEL = {"x86_64": "Prescott", "AMD64": "Prescott", "aarch64": "ARMV8"}


def reproducibility(machine: str | None = None) -> dict[str, str | int | None]:
    """The BLAS settings of a training process on `machine` (default: this one), as
    recorded in metrics and manifest."""
    machine = machine or platform.machine()
    return {
        "architecture": machine,
        "openblas_coretype": PINNED_BLAS_KERNEL.get(machine),
        "blas_threads": 1,
    }


def blas_environment(machine: str | None = None) -> dict[str, str]:
    """The variables that pin them, for a training process on `machine`."""
    pinned = reproducibility(machine)
    env = {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if pinned["openblas_coretype"]:
        env["OPENBLAS_CORETYPE"] = str(pinned["openblas_coretype"])
    return env


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
