"""Benchmark 1: handler throughput at the largest request SageMaker accepts.

Workload: about 6 MB of CSV rows (just under the 6291456-byte limit) through
input_fn -> predict_fn -> output_fn, in rows per second.
Baseline, measured in the same run on the same rows and model: the stock container's
default path, i.e. sagemaker-containers' default CSV decoder and default encoder, exactly as
sagemaker_sklearn_container.serving's default_input_fn / default_output_fn use them
(decode, then astype(float32); encode to the Accept type).
Target: at least 4x the baseline.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.common import (  # noqa: E402
    build_artifact,
    median,
    patch_collections_mapping,
    timed,
    write_results,
)
from model import inference  # noqa: E402
from model import train as model_train  # noqa: E402

LIMIT = 6291456
ROUNDS = 7


def make_payload() -> tuple[str, int]:
    """Held-out rows, repeated, with full float precision: the largest body under the limit."""
    _, X_test, _, _ = model_train.load_split()
    lines = [",".join(repr(float(v)) for v in row) + "\n" for row in X_test]
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
    patch_collections_mapping()
    from sagemaker_containers.beta.framework import encoders

    settings = build_artifact()
    model = inference.model_fn(str(settings.build_dir))
    payload, rows = make_payload()
    print(f"payload: {len(payload)} bytes, {rows} rows of {inference.N_FEATURES} features")

    def ours(accept):
        return lambda: inference.output_fn(
            inference.predict_fn(inference.input_fn(payload, "text/csv"), model), accept
        )

    def stock(accept):
        def run():
            data = encoders.decode(payload, "text/csv").astype(np.float32)
            return encoders.encode(model.predict(data), accept)

        return run

    # Same answers, up to the float32 cast the stock default applies.
    ours_pred = np.asarray(inference.input_fn(payload, "text/csv"))
    stock_pred = encoders.decode(payload, "text/csv").astype(np.float32)
    diff = float(np.max(np.abs(model.predict(ours_pred) - model.predict(stock_pred))))

    figures = {"payload_bytes": len(payload), "rows": rows, "rounds": ROUNDS, "results": {}}
    for accept in ("application/json", "text/csv"):
        timings = {"ours": [], "stock": []}
        for _ in range(ROUNDS):  # interleaved, so drift on a shared machine hits both alike
            timings["ours"] += timed(ours(accept), 1)
            timings["stock"] += timed(stock(accept), 1)
        ours_rps = rows / median(timings["ours"])
        stock_rps = rows / median(timings["stock"])
        figures["results"][accept] = {
            "ours_rows_per_s": round(ours_rps),
            "stock_rows_per_s": round(stock_rps),
            "ratio": round(ours_rps / stock_rps, 2),
            "ours_median_s": round(median(timings["ours"]), 4),
            "stock_median_s": round(median(timings["stock"]), 4),
        }
        print(
            f"Accept {accept:<17} ours {ours_rps:>10,.0f} rows/s   stock {stock_rps:>10,.0f} "
            f"rows/s   ratio {ours_rps / stock_rps:.2f}x (target >= 4x)"
        )
    figures["max_abs_prediction_diff_vs_stock_float32"] = diff
    print(f"max |prediction difference| vs the stock float32 path: {diff:.3g}")
    write_results("handler_throughput", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
