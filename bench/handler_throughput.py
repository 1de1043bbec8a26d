"""Benchmark 1: handler throughput at the largest request SageMaker accepts.

Workload: about 6 MB of CSV rows (just under the 6291456-byte limit) through
input_fn -> predict_fn -> output_fn, in rows per second.
Baseline, measured in the same run on the same rows and model: the stock container's
default path, i.e. sagemaker-containers' default CSV decoder and default encoder, exactly as
sagemaker_sklearn_container.serving's default_input_fn / default_output_fn use them
(decode, then astype(float32); encode to the Accept type).
Target: at least 4x the baseline.
Second baseline, same run: the numeric-only handler that model/inference.py replaced, frozen in
bench/baseline_inference.py, on the same rows and model. The signature-driven handler, given a
10-number-column signature, must stay within 10% of it (ratio >= 0.9).
Quick mode (BENCH_QUICK=1): one round instead of 7, targets not judged.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.common import (  # noqa: E402
    build_artifact,
    median,
    patch_collections_mapping,
    quick,
    quick_note,
    target,
    timed,
    write_results,
)
from model import inference  # noqa: E402

LIMIT = 6291456
ROUNDS = 1 if quick() else 7
FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def load_baseline_handler():
    """The numeric-only handler as it was before signatures (bench/baseline_inference.py)."""
    path = Path(__file__).resolve().parent / "baseline_inference.py"
    spec = importlib.util.spec_from_file_location("baseline_inference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_signature(build_dir: Path) -> None:
    """The diabetes model's signature: 10 number columns, fitted on an array."""
    signature = {
        "signature_version": 1,
        "task": "regression",
        "inputs": [{"name": name, "type": "number", "nullable": False} for name in FEATURES],
        "target": {"name": "target", "type": "number"},
        "feature_names": False,
    }
    (build_dir / "signature.json").write_text(json.dumps(signature))


def make_payload(build_dir: Path) -> tuple[str, int]:
    """Held-out rows, repeated, with full float precision: the largest body under the limit."""
    import csv

    with (build_dir / "channels" / "test" / "test.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    lines = [",".join(repr(float(row[name])) for name in FEATURES) + "\n" for row in rows]
    body, rows = [], 0
    size = 0
    while True:
        line = lines[rows % len(lines)]
        if size + len(line) > LIMIT:
            break
        body.append(line)
        size += len(line)
        rows += 1
    return "".join(body), rows


def main() -> int:
    quick_note("handler_throughput", f"{ROUNDS} round")
    patch_collections_mapping()
    from sagemaker_containers.beta.framework import encoders

    settings = build_artifact()
    if not (settings.build_dir / "signature.json").exists():
        write_signature(settings.build_dir)
    served = inference.model_fn(str(settings.build_dir))
    model = served.model
    baseline = load_baseline_handler()
    old_model = baseline.model_fn(str(settings.build_dir))
    payload, rows = make_payload(settings.build_dir)
    print(f"payload: {len(payload)} bytes, {rows} rows of {served.signature.width} features")

    def handler(module, loaded):
        def for_accept(accept):
            return lambda: module.output_fn(
                module.predict_fn(module.input_fn(payload, "text/csv"), loaded), accept
            )

        return for_accept

    ours = handler(inference, served)
    old = handler(baseline, old_model)

    def stock(accept):
        def run():
            data = encoders.decode(payload, "text/csv").astype(np.float32)
            return encoders.encode(model.predict(data), accept)

        return run

    # Same answers, up to the float32 cast the stock default applies.
    ours_rows = inference.features(inference.input_fn(payload, "text/csv"), served.signature)
    stock_pred = encoders.decode(payload, "text/csv").astype(np.float32)
    diff = float(np.max(np.abs(model.predict(ours_rows) - model.predict(stock_pred))))
    # The old handler's answers, exactly.
    assert ours("application/json")() == old("application/json")()

    figures = {"payload_bytes": len(payload), "rows": rows, "rounds": ROUNDS, "results": {}}
    for accept in ("application/json", "text/csv"):
        timings = {"ours": [], "stock": [], "old": []}
        for _ in range(ROUNDS):  # interleaved, so drift on a shared machine hits all alike
            timings["ours"] += timed(ours(accept), 1)
            timings["old"] += timed(old(accept), 1)
            timings["stock"] += timed(stock(accept), 1)
        ours_rps = rows / median(timings["ours"])
        old_rps = rows / median(timings["old"])
        stock_rps = rows / median(timings["stock"])
        figures["results"][accept] = {
            "ours_rows_per_s": round(ours_rps),
            "stock_rows_per_s": round(stock_rps),
            "ratio": round(ours_rps / stock_rps, 2),
            "old_handler_rows_per_s": round(old_rps),
            "ratio_vs_old_handler": round(ours_rps / old_rps, 3),
            "ours_median_s": round(median(timings["ours"]), 4),
            "old_handler_median_s": round(median(timings["old"]), 4),
            "stock_median_s": round(median(timings["stock"]), 4),
        }
        print(
            f"Accept {accept:<17} ours {ours_rps:>10,.0f} rows/s   stock {stock_rps:>10,.0f} "
            f"rows/s   ratio {ours_rps / stock_rps:.2f}x {target('>= 4x')}"
        )
        print(
            f"Accept {accept:<17} ours {ours_rps:>10,.0f} rows/s   old handler "
            f"{old_rps:>10,.0f} rows/s   ratio {ours_rps / old_rps:.3f} {target('>= 0.9')}"
        )
    figures["max_abs_prediction_diff_vs_stock_float32"] = diff
    print(f"max |prediction difference| vs the stock float32 path: {diff:.3g}")
    write_results("handler_throughput", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
