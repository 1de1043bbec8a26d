"""The metrics the pipeline measures, per task, and what "better" means for each (pure).

The pipeline, not the user's training script, evaluates every model on the test split
(pipeline/shared/evaluate.py computes the numbers). This module owns their names, their
direction, and how a promotion margin is read for each: relative for error metrics whose
scale is the target's (RMSE, MAE, log loss), absolute for scores on a fixed scale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    higher_is_better: bool
    relative_margin: bool  # promotion margin is a fraction of the deployed value


_ALL = (
    Metric("rmse", "RMSE", False, True),
    Metric("mae", "MAE", False, True),
    Metric("r2", "R2", True, False),
    Metric("accuracy", "accuracy", True, False),
    Metric("balanced_accuracy", "balanced accuracy", True, False),
    Metric("f1_macro", "macro F1", True, False),
    Metric("roc_auc", "ROC AUC", True, False),
    Metric("log_loss", "log loss", False, True),
)
BY_NAME = {m.name: m for m in _ALL}
METRICS: dict[str, tuple[str, ...]] = {
    "regression": ("rmse", "mae", "r2"),
    "classification": ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss"),
}
# metrics.json: {"model": {metric: value}, "baseline": {metric: value}}
type Metrics = dict[str, dict[str, float]]
_GATE_KEY = re.compile(r"^(min|max)_([a-z0-9_]+?)(_improvement_over_baseline)?$")


def gate_metric(key: str) -> str | None:
    """The metric a gate key bounds (min_r2 -> r2), or None if it is not a gate key."""
    match = _GATE_KEY.match(key)
    if not match:
        return None
    bound, metric, improvement = match.groups()
    if improvement and bound != "min":
        return None
    return metric


def margin_key(metric: str) -> str:
    """The promotion key that bounds how much worse a metric may get."""
    return f"max_{metric}_{'decrease' if BY_NAME[metric].higher_is_better else 'increase'}"


def improvement(metric: str, model: float, baseline: float) -> float:
    """By what fraction of the baseline's value the model is better (negative: worse)."""
    gain = model - baseline if BY_NAME[metric].higher_is_better else baseline - model
    if baseline == 0:
        return float("inf") if gain > 0 else 0.0 if gain == 0 else float("-inf")
    return gain / abs(baseline)
