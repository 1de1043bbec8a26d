"""Golden examples: request bodies built from a manifest and the check of the answers.

Pure and stdlib-only; shared by packaging, the smoke test and the taskcat checks. A golden
example is {"features": [values in signature order], "prediction": what the handler
answered in JSON}: a number (regression), a class label, or {"label", "probabilities"}.
"""

from __future__ import annotations

import json
import math
from typing import Any

from pipeline.core.signature import csv_cell

# Predictions of the same model file on the same inputs; only float formatting and BLAS
# summation order may differ between machines, far below this.
REL_TOLERANCE = 1e-9
ABS_TOLERANCE = 1e-9


def request_bodies(
    golden: list[dict[str, Any]], signature: dict[str, Any] | None = None
) -> dict[str, tuple[str, str]]:
    """The golden inputs as requests, {name: (content type, body)}: CSV and JSON rows in
    signature order, and (with a signature) JSON records keyed by column name."""
    rows = [example["features"] for example in golden]
    bodies = {
        "CSV": ("text/csv", "".join(",".join(map(csv_cell, row)) + "\n" for row in rows)),
        "JSON rows": ("application/json", json.dumps(rows)),
    }
    if signature is not None:
        names = [column["name"] for column in signature["inputs"]]
        records = [dict(zip(names, row, strict=True)) for row in rows]
        bodies["JSON records"] = ("application/json", json.dumps(records))
    return bodies


def _same(want: object, got: object) -> bool:
    if isinstance(want, bool) or isinstance(got, bool):
        return want is got
    if isinstance(want, int | float) and isinstance(got, int | float):
        return math.isclose(got, want, rel_tol=REL_TOLERANCE, abs_tol=ABS_TOLERANCE)
    if isinstance(want, dict) and isinstance(got, dict):
        return set(want) == set(got) and all(_same(want[k], got[k]) for k in want)
    return want == got


def mismatches(golden: list[dict[str, Any]], predictions: object) -> list[str]:
    """Every golden example whose answer is off; empty when all match. Numbers (predicted
    values, probabilities) match within the tolerance; labels exactly."""
    if not isinstance(predictions, list) or len(predictions) != len(golden):
        count = len(predictions) if isinstance(predictions, list) else "no list of"
        return [f"expected {len(golden)} predictions, got {count}"]
    problems: list[str] = []
    for number, (example, got) in enumerate(zip(golden, predictions, strict=True), start=1):
        want = example["prediction"]
        if not _same(want, got):
            problems.append(f"example {number}: expected {want!r}, got {got!r}")
    return problems
