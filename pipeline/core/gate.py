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


PROMOTION_MARGINS = ("max_rmse_increase", "max_mae_increase", "max_r2_decrease")


def parse_margins(data: dict, source: str) -> dict[str, float]:
    """Validate model/promotion-gate.toml: exactly the known margins, non-negative numbers."""
    if set(data) != set(PROMOTION_MARGINS):
        raise ConfigError(f"{source}: set exactly {', '.join(PROMOTION_MARGINS)} "
                          f"(found {', '.join(sorted(data)) or 'none'})")  # fmt: skip
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{source}: {key} must be a number >= 0, got {value!r}")
    return {key: float(value) for key, value in data.items()}


def regressions(candidate: dict, deployed: dict, margins: dict[str, float]) -> list[str]:
    """How the candidate's metrics are worse than the deployed model's beyond the margins."""
    new, old = candidate["model"], deployed["model"]
    problems = []
    for metric, key in (("rmse", "max_rmse_increase"), ("mae", "max_mae_increase")):
        limit = old[metric] * (1 + margins[key])
        if new[metric] > limit:
            problems.append(f"{metric.upper()} {new[metric]:.4f} is worse than the deployed "
                            f"{old[metric]:.4f} by more than {margins[key]:.0%} "
                            f"(limit {limit:.4f})")  # fmt: skip
    floor = old["r2"] - margins["max_r2_decrease"]
    if new["r2"] < floor:
        problems.append(f"R2 {new['r2']:.4f} is below the deployed {old['r2']:.4f} by more "
                        f"than {margins['max_r2_decrease']} (floor {floor:.4f})")  # fmt: skip
    return problems
