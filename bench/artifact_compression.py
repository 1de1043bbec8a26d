"""model.tar.gz compression: the pinned libdeflate writer (pipeline/shared/tarballs.py) against
the earlier stored-block format and against `gzip -6` (Python's gzip module over the
system's zlib, level 6), on a model.joblib of about --size-mb MB (default 200): a random
forest grown until its pickle reaches the size (tree arrays: thresholds, values, child
indices, as a large tree model holds). Size and wall time of each, in turns in the same run;
ratios against gzip -6. No target: recorded for trend-watching. BENCH_QUICK=1: 20 MB, one run.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import shutil
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import quick, quick_note, write_results  # noqa: E402
from pipeline.shared import tarballs  # noqa: E402


def big_model(dest: Path, size_mb: int) -> None:
    import joblib
    import numpy as np
    from sklearn.ensemble import RandomForestRegressor

    rng = np.random.default_rng(0)
    rows = 20_000
    X = rng.normal(size=(rows, 10))
    y = X @ rng.normal(size=10) + rng.normal(size=rows)
    trees = 1
    while True:
        model = RandomForestRegressor(n_estimators=trees, random_state=0, n_jobs=1).fit(X, y)
        joblib.dump(model, dest)
        size = dest.stat().st_size
        if size >= size_mb * 1_000_000:
            return
        trees = max(trees + 1, int(trees * size_mb * 1_000_000 / size) + 1)


def stored(dest: Path, files: dict[str, Path]) -> None:
    original = tarballs.DeflateGzip
    tarballs.DeflateGzip = _Stored  # type: ignore[misc,assignment]
    try:
        tarballs.write_tarball(dest, files)
    finally:
        tarballs.DeflateGzip = original  # type: ignore[misc]


class _Stored(tarballs.StoredGzip):
    pass


def gzip6(dest: Path, files: dict[str, Path]) -> None:
    with (
        dest.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as out,
        tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar,
    ):
        for name, source in sorted(files.items()):
            tar.add(source, arcname=name)


def main() -> int:
    parser = argparse.ArgumentParser()
    short = quick()
    parser.add_argument("--size-mb", type=int, default=20 if short else 200)
    parser.add_argument("--runs", type=int, default=1 if short else 3)
    args = parser.parse_args()
    quick_note("artifact_compression", f"a {args.size_mb} MB model, {args.runs} run")
    work = Path(tempfile.mkdtemp(prefix="bench-compression-"))
    try:
        model = work / "model.joblib"
        big_model(model, args.size_mb)
        files = {"model.joblib": model}
        writers = {"libdeflate": tarballs.write_tarball, "stored": stored, "gzip-6": gzip6}
        seconds: dict[str, list[float]] = {name: [] for name in writers}
        sizes, digests = {}, {}
        for _ in range(args.runs):
            for name, write in writers.items():
                dest = work / f"{name}.tar.gz"
                started = time.perf_counter()
                write(dest, files)
                seconds[name].append(time.perf_counter() - started)
                sizes[name] = dest.stat().st_size
                digests.setdefault(name, set()).add(hashlib.sha256(dest.read_bytes()).hexdigest())
                with tarfile.open(dest) as tar:  # each one is a model.tar.gz SageMaker reads
                    assert tar.extractfile("model.joblib").read() == model.read_bytes()
        assert len(digests["libdeflate"]) == 1, "the libdeflate writer must be reproducible"
        base = sizes["gzip-6"]
        figures = {
            "model_bytes": model.stat().st_size,
            "runs": args.runs,
            **{
                name: {
                    "bytes": sizes[name],
                    "seconds_median": statistics.median(seconds[name]),
                    "size_vs_gzip6": sizes[name] / base,
                    "time_vs_gzip6": statistics.median(seconds[name])
                    / statistics.median(seconds["gzip-6"]),
                }
                for name in writers
            },
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for name in writers:
        f = figures[name]
        print(
            f"{name:10s} {f['bytes'] / 1e6:8.1f} MB ({f['size_vs_gzip6']:.2f}x gzip -6 size) "
            f"in {f['seconds_median']:.2f} s ({f['time_vs_gzip6']:.2f}x gzip -6 time)"
        )
    print(f"model.joblib {figures['model_bytes'] / 1e6:.1f} MB, n={args.runs}")
    write_results("artifact_compression", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
