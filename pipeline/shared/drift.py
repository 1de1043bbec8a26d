"""Baseline statistics and drift statistics (numpy): what the training data and the model's
test-split predictions look like, in Model Monitor's statistics.json shape, and how far a
window of live values is from them.

statistics.json ("Schema for Statistics (statistics.json file)", SageMaker Developer Guide):
version 0; dataset.item_count; per feature name, inferred_type (Fractional | Integral |
String) and numerical_statistics (common.num_present / num_missing, mean, sum, std_dev, min,
max, distribution.kll with buckets of lower_bound, upper_bound, count, and a sketch of
parameters c, k and data) or string_statistics (common, distinct_count,
distribution.categorical.buckets of value, count). The guide materialises 10 buckets; so do
we, at the deciles of the training values (fewer when values tie). Our sketch data is one
list: the sorted values themselves when there are at most SKETCH_SIZE of them, else
SKETCH_SIZE evenly spaced quantiles; the Kolmogorov-Smirnov statistic is computed against it
(exact in the first case, within 1/SKETCH_SIZE in the second). The last feature is
`prediction`: the model's answers on the test split, as the handler renders them.

Drift: the population stability index over the baseline's buckets (numbers; live values
below the first bucket count in it, above the last in it) or categories (strings; one more
bucket for values training never saw), with shares floored at PSI_FLOOR so an empty bucket
does not make it infinite; the two-sample Kolmogorov-Smirnov statistic (the largest distance
between the two empirical distribution functions, as scipy.stats.ks_2samp computes it); for
strings, the share of live rows whose value training never saw.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from pipeline.core import monitoring

BUCKETS = 10
SKETCH_SIZE = 2000
PSI_FLOOR = 1e-4
INFERRED = {
    "number": "Fractional",
    "integer": "Integral",
    "boolean": "Integral",
    "string": "String",
}


def _numbers(values: Sequence[Any]) -> tuple[np.ndarray, int]:
    """The finite numbers among values, and how many were missing (None, NaN, '')."""
    present, missing = [], 0
    for value in values:
        if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
            missing += 1
            continue
        number = float(value)
        if math.isfinite(number):
            present.append(number)
        else:
            missing += 1
    return np.asarray(present, dtype=np.float64), missing


def _strings(values: Sequence[Any]) -> tuple[list[str], int]:
    present, missing = [], 0
    for value in values:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            missing += 1
        else:
            present.append(value if isinstance(value, str) else label_text(value))
    return present, missing


def label_text(value: Any) -> str:
    """A non-string label as text (as the handler keys it: its JSON form)."""
    import json

    return json.dumps(value)


def _edges(data: np.ndarray) -> np.ndarray:
    """The baseline's bucket edges (np.histogram's: [a, b) but the last [a, b]).

    A column of at most BUCKETS distinct values (booleans, small integer codes) gets one
    bucket per value, edges at the midpoints. Otherwise the deciles, so each bucket holds
    about a tenth of the training rows (equal-width buckets leave the tails nearly empty,
    and sampling noise alone then makes a large PSI), and a value holding a tenth of the
    rows or more (a point mass, such as the zeros of a zero-inflated column) gets a bucket
    of its own: merged into a decile's bucket, a change in its share would not show."""
    values, counts = np.unique(data, return_counts=True)
    if values.size == 1:
        return np.array([values[0], np.nextafter(values[0], np.inf)])
    if values.size <= BUCKETS:
        middles = (values[:-1] + values[1:]) / 2
        return np.concatenate([[values[0]], middles, [values[-1]]])
    edges = set(np.quantile(data, np.linspace(0, 1, BUCKETS + 1)).tolist())
    for value in values[counts >= data.size / BUCKETS]:
        edges.update((float(value), float(np.nextafter(value, np.inf))))
    return np.array(sorted(edges))


def feature(
    name: str, kind: str, values: Sequence[Any], domain: Sequence[str] = ()
) -> dict[str, Any]:
    """One statistics.json feature for a column of `kind` (a signature type, or
    "prediction-number" / "prediction-label"). `domain`: values a string column may take
    though none was seen (a model's classes), listed with count 0."""
    if kind in ("number", "integer", "boolean", "prediction-number"):
        data, missing = _numbers(values)
        inferred = "Fractional" if kind in ("number", "prediction-number") else "Integral"
        common = {"num_present": int(data.size), "num_missing": missing}
        if data.size == 0:
            return {
                "name": name,
                "inferred_type": inferred,
                "numerical_statistics": {"common": common},
            }
        low, high = float(data.min()), float(data.max())
        edges = _edges(data)
        counts = np.histogram(data, bins=edges)[0]
        ordered = np.sort(data)
        sketch = (
            ordered
            if ordered.size <= SKETCH_SIZE
            else np.quantile(ordered, np.linspace(0, 1, SKETCH_SIZE))
        )
        return {
            "name": name,
            "inferred_type": inferred,
            "numerical_statistics": {
                "common": common,
                "mean": float(data.mean()),
                "sum": float(data.sum()),
                "std_dev": float(data.std()),
                "min": low,
                "max": high,
                "distribution": {
                    "kll": {
                        "buckets": [
                            {
                                "lower_bound": float(edges[i]),
                                "upper_bound": float(edges[i + 1]),
                                "count": int(counts[i]),
                            }
                            for i in range(len(counts))
                        ],
                        "sketch": {
                            "parameters": {"c": 0.64, "k": SKETCH_SIZE},
                            "data": [sketch.tolist()],
                        },
                    }
                },
            },
        }
    strings, missing = _strings(values)
    counted = Counter(strings)
    for value in domain:
        counted.setdefault(value, 0)
    return {
        "name": name,
        "inferred_type": "String",
        "string_statistics": {
            "common": {"num_present": len(strings), "num_missing": missing},
            "distinct_count": sum(1 for count in counted.values() if count),
            "distribution": {
                "categorical": {
                    "buckets": [
                        {"value": value, "count": count}
                        for value, count in sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))
                    ]
                }
            },
        },
    }


def statistics(
    columns: Sequence[tuple[str, str, Sequence[Any]]], item_count: int
) -> dict[str, Any]:
    """statistics.json for (name, kind, values) columns."""
    return {
        "version": 0,
        "dataset": {"item_count": item_count},
        "features": [feature(name, kind, values) for name, kind, values in columns],
    }


# -- drift ----------------------------------------------------------------------------------


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two count vectors over the same buckets."""
    e = np.maximum(expected / max(expected.sum(), 1), PSI_FLOOR)
    a = np.maximum(actual / max(actual.sum(), 1), PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def ks(baseline_sorted: np.ndarray, live: np.ndarray) -> float:
    """The two-sample Kolmogorov-Smirnov statistic (scipy.stats.ks_2samp's D)."""
    live_sorted = np.sort(live)
    both = np.concatenate([baseline_sorted, live_sorted])
    first = np.searchsorted(baseline_sorted, both, side="right") / baseline_sorted.size
    second = np.searchsorted(live_sorted, both, side="right") / live_sorted.size
    return float(np.max(np.abs(first - second)))


def _bucket_counts(edges: np.ndarray, live: np.ndarray) -> np.ndarray:
    inner = edges[1:-1]  # values outside the baseline's range count in the end buckets
    return np.bincount(np.searchsorted(inner, live, side="right"), minlength=len(edges) - 1)


MAX_LIVE_CATEGORIES = 1000  # kept per column in the report; the rest summed, counted


def _missing_share(common: dict[str, Any]) -> float:
    total = common["num_present"] + common["num_missing"]
    return common["num_missing"] / total if total else 0.0


def compare(
    base: dict[str, Any], live_values: Sequence[Any], config: monitoring.MonitorConfig, kind: str
) -> dict[str, Any]:
    """One column of the report: its statistics against the thresholds, and the two
    distributions (the baseline's buckets or categories) for the page."""
    name = base["name"]
    psi_threshold = (
        config.prediction_psi_threshold if kind == monitoring.PREDICTION else config.psi_threshold
    )
    if "numerical_statistics" in base:
        stats = base["numerical_statistics"]
        data, live_missing = _numbers(live_values)
        kll = stats.get("distribution", {}).get("kll")
        if kll is None or data.size == 0:
            checks = [
                monitoring.check("psi", None, psi_threshold),
                monitoring.check("ks", None, config.ks_threshold),
            ]
            shown: dict[str, Any] = {"baseline": {"edges": [], "counts": []}}
            shown["live"] = {"edges": [], "counts": []}
        else:
            buckets = kll["buckets"]
            edges = np.array([buckets[0]["lower_bound"]] + [b["upper_bound"] for b in buckets])
            expected = np.array([b["count"] for b in buckets], dtype=np.float64)
            actual = _bucket_counts(edges, data).astype(np.float64)
            sketch = np.asarray(kll["sketch"]["data"][0], dtype=np.float64)
            checks = [
                monitoring.check("psi", psi(expected, actual), psi_threshold),
                monitoring.check("ks", ks(sketch, data), config.ks_threshold),
            ]
            shown = {
                "baseline": {"edges": edges.tolist(), "counts": expected.astype(int).tolist()},
                "live": {"edges": edges.tolist(), "counts": actual.astype(int).tolist()},
            }
        present = int(data.size)
    else:
        stats = base["string_statistics"]
        buckets = stats["distribution"]["categorical"]["buckets"]
        known = {b["value"]: b["count"] for b in buckets}
        strings, live_missing = _strings(live_values)
        counted = Counter(strings)
        unseen = sum(n for value, n in counted.items() if value not in known)
        names = list(known) + sorted(v for v in counted if v not in known)
        expected = np.array([known.get(v, 0) for v in names], dtype=np.float64)
        actual = np.array([counted.get(v, 0) for v in names], dtype=np.float64)
        has_live = bool(strings)
        checks = [
            monitoring.check("psi", psi(expected, actual) if has_live else None, psi_threshold),
            monitoring.check(
                "unseen", unseen / len(strings) if has_live else None, config.unseen_threshold
            ),
        ]
        kept = dict(counted.most_common(MAX_LIVE_CATEGORIES))
        if len(counted) > len(kept):  # an attacker's million distinct values stay bounded
            rest = len(counted) - len(kept)
            kept[f"(other: {rest} values)"] = sum(counted.values()) - sum(kept.values())
        shown = {"baseline": {"categories": dict(known)}, "live": {"categories": kept}}
        present = len(strings)
    total = present + live_missing
    missing = live_missing / total - _missing_share(stats["common"]) if total else None
    checks.append(monitoring.check("missing", missing, config.missing_threshold))
    verdict = monitoring.DRIFT if any(c["verdict"] == monitoring.DRIFT for c in checks) else "ok"
    return {"name": name, "kind": kind, "verdict": verdict, "statistics": checks, **shown}
