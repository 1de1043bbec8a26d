"""Shared set-up for the benchmarks: a freshly trained artifact and the results files."""

from __future__ import annotations

import json
import platform
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from pipeline.settings import Settings
from pipeline.shared.context import Context
from pipeline.stages.build import package, train

RESULTS = Path(__file__).resolve().parent / "results"


def build_artifact() -> Settings:
    """Train and package into a temporary build directory (the repo's build/ is left alone)."""
    root_config = Path(__file__).resolve().parent.parent / "pipeline.toml"
    settings = replace(
        Settings.from_env({}, config=root_config), build_dir=Path(tempfile.mkdtemp(prefix="bench-"))
    )
    train.run(Context(settings))
    package.run(Context(settings))
    return settings


def golden_row(settings: Settings) -> list:
    """The first golden example's input row of the built artifact's manifest."""
    manifest = json.loads(settings.manifest_file.read_text())
    return manifest["golden_examples"][0]["features"]


def timed(fn, n: int) -> list[float]:
    """Wall-clock seconds of `n` calls of `fn`."""
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def median(values: list[float]) -> float:
    return statistics.median(values)


def write_results(name: str, figures: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    figures = {
        "benchmark": name,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cpus",
        **figures,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {path}")
    return path


def patch_collections_mapping() -> None:
    """The one-line fix the serving image applies to sagemaker-containers on Python >= 3.10
    (its Dockerfile rewrites collections.Mapping to collections.abc.Mapping in _mapping.py);
    done here in memory so the installed package stays as PyPI ships it."""
    import collections
    import collections.abc

    collections.Mapping = collections.abc.Mapping
