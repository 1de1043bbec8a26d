"""The quality gate: thresholds read from model/quality-gate.toml, checked against metrics.

Pure and stdlib-only; reading the file is the caller's job.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.errors import ConfigError

# threshold key -> the metric it bounds, as named in messages. "max_" keys are upper bounds.
KNOWN_THRESHOLDS = {
    "max_rmse": "RMSE",
    "max_mae": "MAE",
    "min_r2": "R2",
    "min_rmse_improvement_over_baseline": "RMSE improvement over the mean baseline",
}


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


def parse_thresholds(data: dict, source: str) -> dict[str, float]:
    """Validate the gate file's content. `source` names the file for error messages."""
    unknown = sorted(set(data) - set(KNOWN_THRESHOLDS))
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) {', '.join(unknown)}; "
            f"the gate understands {', '.join(sorted(KNOWN_THRESHOLDS))}"
        )
    if not data:
        raise ConfigError(f"{source}: no thresholds set; a gate that checks nothing cannot fail")
    thresholds = {}
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{source}: {key} must be a number, got {value!r}")
        thresholds[key] = float(value)
    return thresholds


def rmse_improvement(metrics: dict) -> float:
    """Fraction by which the model's RMSE beats the mean-predictor baseline's."""
    baseline = metrics["baseline"]["rmse"]
    return (baseline - metrics["model"]["rmse"]) / baseline if baseline else 0.0


def evaluate(metrics: dict, thresholds: dict[str, float]) -> list[GateFailure]:
    """Every threshold the model misses; an empty list means the gate passed."""
    observed = {
        "max_rmse": metrics["model"]["rmse"],
        "max_mae": metrics["model"]["mae"],
        "min_r2": metrics["model"]["r2"],
        "min_rmse_improvement_over_baseline": rmse_improvement(metrics),
    }
    failures = []
    for key, threshold in sorted(thresholds.items()):
        value = observed[key]
        missed = value > threshold if key.startswith("max_") else value < threshold
        if missed:
            failures.append(GateFailure(key, KNOWN_THRESHOLDS[key], value, threshold))
    return failures
