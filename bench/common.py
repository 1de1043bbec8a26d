"""Shared set-up for the benchmarks: a freshly trained artifact, the results files and the
quick mode.

Quick mode (`BENCH_QUICK=1`, as `tox -e bench-quick` and `.ci/run` set it): every benchmark
runs once with few rounds and requests, to show that it still works. Its figures are not
measurements: no target is judged on them, and they are written to build/bench-quick/, never
over bench/results/ (the record of full runs). Checks of correctness (answers, errors) still
apply.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from pipeline.settings import Settings
from pipeline.shared.context import Context
from pipeline.stages.build import package, train

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
QUICK_RESULTS = ROOT / "build" / "bench-quick"
QUICK_ENV = "BENCH_QUICK"


def quick() -> bool:
    """True when BENCH_QUICK is set to anything but empty, 0, false or no."""
    return os.environ.get(QUICK_ENV, "").strip().lower() not in ("", "0", "false", "no")


def results_dir() -> Path:
    """Where this run's results go: bench/results/, or build/bench-quick/ in quick mode."""
    return QUICK_RESULTS if quick() else RESULTS


def quick_note(name: str, what: str) -> None:
    """In quick mode, say so first: what is shortened, and that no target is judged."""
    if quick():
        print(
            f"{name}: quick run ({QUICK_ENV}=1: {what}); the figures below are not "
            f"measurements and no target is judged; results go to {QUICK_RESULTS}",
            flush=True,
        )


def target(text: str) -> str:
    """How a printed figure names its target: '(target >= 4x)', or in quick mode
    '(target >= 4x: not judged in a quick run)'."""
    return f"(target {text}: not judged in a quick run)" if quick() else f"(target {text})"


@contextlib.contextmanager
def environ(values: dict[str, str]):
    """os.environ with `values` set (stages run in this process reach a sandbox through the
    standard AWS variables, as a user's boto3 would); restored afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def build_artifact() -> Settings:
    """Train and package into a temporary build directory (the repo's build/ is left alone)."""
    root_config = ROOT / "pipeline.toml"
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
    """bench/results/<name>.json; in quick mode build/bench-quick/<name>.json, marked quick."""
    folder = results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    figures = {
        "benchmark": name,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
        **({"quick": True} if quick() else {}),
        **figures,
    }
    path = folder / f"{name}.json"
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
