"""Drift reports as `pipeline monitor` builds them (the REPORT contract of issue 20), for the
tests of pipeline.shared.monitor_report: a sample with drifted and steady columns of every
kind, and hostile names and categories."""

from __future__ import annotations

import copy
from typing import Any

SCRIPT_NAME = "<script>alert(1)</script>"
IMG_CATEGORY = '"><img src=x onerror=alert(1)>'


def number(name: str, verdict: str, baseline: list[int], live: list[int], **stats) -> dict:
    edges = [float(i * 10) for i in range(len(baseline) + 1)]
    return {
        "name": name,
        "kind": "number",
        "verdict": verdict,
        "statistics": [
            {"statistic": "psi", "value": stats.get("psi", 0.03), "threshold": 0.2,
             "verdict": stats.get("psi_verdict", "ok")},
            {"statistic": "ks", "value": stats.get("ks", 0.05), "threshold": 0.1,
             "verdict": stats.get("ks_verdict", "ok")},
        ],
        "baseline": {"edges": edges, "counts": baseline},
        "live": {"edges": edges, "counts": live},
    }  # fmt: skip


def string(name: str, verdict: str, baseline: dict, live: dict, **stats) -> dict:
    return {
        "name": name,
        "kind": "string",
        "verdict": verdict,
        "statistics": [
            {"statistic": "psi", "value": stats.get("psi", 0.01), "threshold": 0.2,
             "verdict": stats.get("psi_verdict", "ok")},
            {"statistic": "unseen", "value": stats.get("unseen", 0.0), "threshold": 0.05,
             "verdict": stats.get("unseen_verdict", "ok")},
        ],
        "baseline": {"categories": baseline},
        "live": {"categories": live},
    }  # fmt: skip


def sample() -> dict[str, Any]:
    """Five inputs in signature order (two drifted, not first) and the prediction."""
    columns = [
        number("age", "ok", [10, 20, 40, 20, 10], [12, 18, 41, 19, 10]),
        number(
            "bmi", "drift", [5, 25, 40, 25, 5], [1, 5, 20, 40, 34], psi=0.61, psi_verdict="drift"
        ),
        string("region", "ok", {"north": 50, "south": 30, "east": 20}, {"north": 48, "south": 52}),
        string(
            "sex",
            "drift",
            {"f": 60, "m": 40},
            {"f": 30, "m": 20, "x": 50},
            unseen=0.5,
            unseen_verdict="drift",
        ),
        number("bp", "ok", [0, 0, 0], [0, 0, 0], psi=None, ks=None),  # no live rows
        {
            **number("prediction", "ok", [30, 40, 30], [28, 44, 28]),
            "kind": "prediction",
        },
    ]
    return {
        "project": "diabetes",
        "environment": "prod",
        "endpoint": "diabetes-prod",
        "window": {"since": "2026-12-06T17:00:00Z", "until": "2026-12-07T17:00:00Z"},
        "verdict": "drift",
        "requests": 1200,
        "rows": 3400,
        "refused": 12,
        "min_rows": 100,
        "columns": columns,
        "checks": [
            {"statistic": "refused_share", "value": 0.01, "threshold": 0.05, "verdict": "ok"}
        ],
    }


def hostile() -> dict[str, Any]:
    """The sample with a column named like a script, a category that closes an attribute,
    and a column with more distinct live values than the page draws."""
    report = copy.deepcopy(sample())
    report["project"] = "<b>proj</b>"
    report["columns"][0]["name"] = SCRIPT_NAME
    sex = report["columns"][3]
    sex["live"]["categories"][IMG_CATEGORY] = 25
    many = {f"value-{i:05d}-" + "x" * 200: 1 for i in range(5000)}
    report["columns"][2]["live"]["categories"].update(many)
    report["columns"][2]["verdict"] = "drift"
    return report
