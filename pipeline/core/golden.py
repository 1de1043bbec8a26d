"""Golden examples: request bodies built from a manifest and the check of the answers.

Pure and stdlib-only; shared by the local check and the smoke test.
"""

from __future__ import annotations

import json
import math

# Predictions of the same model file on the same inputs; only float formatting and BLAS
# summation order may differ between machines, far below this.
REL_TOLERANCE = 1e-9
ABS_TOLERANCE = 1e-9


def request_bodies(golden: list[dict]) -> dict[str, str]:
    """The golden inputs as a CSV and a JSON request body."""
    rows = [example["features"] for example in golden]
    return {
        "text/csv": "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows),
        "application/json": json.dumps(rows),
    }


def mismatches(golden: list[dict], predictions: list[float]) -> list[str]:
    """Every golden example whose prediction is off; empty when all match."""
    if len(predictions) != len(golden):
        return [f"expected {len(golden)} predictions, got {len(predictions)}"]
    problems = []
    for number, (example, got) in enumerate(zip(golden, predictions, strict=True), start=1):
        want = example["prediction"]
        if not math.isclose(got, want, rel_tol=REL_TOLERANCE, abs_tol=ABS_TOLERANCE):
            problems.append(f"example {number}: expected {want!r}, got {got!r}")
    return problems
