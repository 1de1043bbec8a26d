"""The quality gate ([gate] of pipeline.toml) and the promotion gate ([promotion]) (pure).

Thresholds are validated by pipeline.core.project; here they are checked against metrics
of the shape {"model": {metric: value}, "baseline": {metric: value}}.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.core.metrics import BY_NAME, Metrics, gate_metric, improvement, margin_key
from pipeline.errors import ConfigError


@dataclass(frozen=True)
class GateFailure:
    key: str
    metric: str
    value: float
    threshold: float

    @property
    def shortfall(self) -> float:
        return abs(self.value - self.threshold)

    def __str__(self) -> str:
        relation = "above the maximum" if self.key.startswith("max_") else "below the minimum"
        return (
            f"{self.metric} {self.value:.4f} is {relation} {self.threshold:.4f} "
            f"({self.key}) by {self.shortfall:.4f}"
        )


def observed(key: str, metrics: Metrics) -> float:
    """The value a gate key is checked against; ConfigError if the model has no such metric
    (roc_auc of a multi-class model, log_loss of one without predict_proba)."""
    metric = gate_metric(key)
    if metric is None or metric not in metrics["model"]:
        have = ", ".join(sorted(metrics["model"]))
        raise ConfigError(
            f"[gate] {key}: this model has no {metric} metric (it has {have}); "
            "remove the key or change the model"
        )
    value = metrics["model"][metric]
    if key.endswith("_improvement_over_baseline"):
        return improvement(metric, value, metrics["baseline"][metric])
    return value


def describe(key: str) -> str:
    metric = BY_NAME[gate_metric(key) or ""]
    if key.endswith("_improvement_over_baseline"):
        return f"{metric.label} improvement over the baseline"
    return metric.label


def evaluate(metrics: Metrics, thresholds: dict[str, float]) -> list[GateFailure]:
    """Every threshold the model misses; an empty list means the gate passed."""
    failures = []
    for key, threshold in sorted(thresholds.items()):
        value = observed(key, metrics)
        missed = value > threshold if key.startswith("max_") else value < threshold
        # NaN never passes: a metric that could not be computed is not a pass.
        if missed or value != value:
            failures.append(GateFailure(key, describe(key), value, threshold))
    return failures


def regressions(candidate: Metrics, deployed: Metrics, margins: dict[str, float]) -> list[str]:
    """How the candidate's metrics are worse than the deployed model's beyond the margins.
    Metrics without a margin key may not get worse at all; metrics either model lacks are
    not compared."""
    new, old = candidate["model"], deployed["model"]
    problems = []
    for name in sorted(set(new) & set(old)):
        metric = BY_NAME.get(name)
        if metric is None:
            continue
        margin = margins.get(margin_key(name), 0.0)
        if metric.higher_is_better:
            limit = old[name] * (1 - margin) if metric.relative_margin else old[name] - margin
            worse = new[name] < limit
        else:
            limit = old[name] * (1 + margin) if metric.relative_margin else old[name] + margin
            worse = new[name] > limit
        if worse:
            allowed = f"{margin:.0%}" if metric.relative_margin else f"{margin:g}"
            problems.append(
                f"{metric.label} {new[name]:.4f} is worse than the deployed "
                f"{old[name]:.4f} by more than {allowed} (limit {limit:.4f})"
            )
    return problems
