import math

import pytest

from pipeline.core import gate, metrics
from pipeline.errors import ConfigError

REGRESSION = {
    "model": {"rmse": 53.85, "mae": 42.79, "r2": 0.4526},
    "baseline": {"rmse": 73.22, "mae": 64.0, "r2": -0.01},
}
CLASSIFIER = {
    "model": {"accuracy": 0.96, "balanced_accuracy": 0.95, "log_loss": 0.12},
    "baseline": {"accuracy": 0.68, "balanced_accuracy": 0.5, "log_loss": 0.64},
}


def test_passing_metrics_have_no_failures():
    thresholds = {
        "max_rmse": 58,
        "max_mae": 47,
        "min_r2": 0.4,
        "min_rmse_improvement_over_baseline": 0.2,
    }
    assert gate.evaluate(REGRESSION, thresholds) == []


def test_failure_says_which_metric_and_by_how_much():
    (failure,) = gate.evaluate(REGRESSION, {"min_r2": 0.9})
    assert failure.key == "min_r2"
    assert failure.shortfall == pytest.approx(0.9 - 0.4526)
    assert str(failure) == "R2 0.4526 is below the minimum 0.9000 (min_r2) by 0.4474"


def test_max_threshold_failure_reads_above():
    (failure,) = gate.evaluate(REGRESSION, {"max_rmse": 50.0})
    assert "above the maximum 50.0000 (max_rmse) by 3.8500" in str(failure)


def test_improvement_follows_the_metric_direction():
    # lower is better for RMSE and log loss, higher for balanced accuracy
    assert gate.observed("min_rmse_improvement_over_baseline", REGRESSION) == pytest.approx(
        (73.22 - 53.85) / 73.22
    )
    assert gate.observed("min_log_loss_improvement_over_baseline", CLASSIFIER) == pytest.approx(
        (0.64 - 0.12) / 0.64
    )
    assert gate.observed(
        "min_balanced_accuracy_improvement_over_baseline", CLASSIFIER
    ) == pytest.approx(0.9)
    assert gate.evaluate(REGRESSION, {"min_rmse_improvement_over_baseline": 0.5})


def test_nan_metric_never_passes():
    nan = {"model": {"r2": math.nan}, "baseline": {"r2": 0.0}}
    assert gate.evaluate(nan, {"min_r2": 0.1}) and gate.evaluate(nan, {"max_r2": 0.1})


def test_gate_on_a_metric_the_model_lacks_is_a_config_error():
    with pytest.raises(ConfigError, match=r"\[gate\] min_roc_auc: this model has no roc_auc"):
        gate.evaluate(CLASSIFIER, {"min_roc_auc": 0.9})


@pytest.mark.parametrize(
    ("key", "metric"),
    [
        ("min_r2", "r2"),
        ("max_log_loss", "log_loss"),
        ("min_balanced_accuracy", "balanced_accuracy"),
        ("min_f1_macro_improvement_over_baseline", "f1_macro"),
        ("max_rmse_improvement_over_baseline", None),
        ("rmse", None),
    ],
)
def test_gate_keys_name_their_metric(key, metric):
    assert metrics.gate_metric(key) == metric


def test_promotion_margins_know_each_metric_direction():
    deployed = CLASSIFIER
    worse = {"model": {"accuracy": 0.94, "balanced_accuracy": 0.95, "log_loss": 0.13}}
    problems = gate.regressions(
        worse, deployed, {"max_accuracy_decrease": 0.01, "max_log_loss_increase": 0.05}
    )
    assert len(problems) == 2  # accuracy down 0.02 > 0.01; log loss up 8% > 5%
    assert "accuracy 0.9400 is worse than the deployed 0.9600 by more than 0.01" in problems[0]
    assert "log loss 0.1300" in problems[1]
    better = {"model": {"accuracy": 0.97, "balanced_accuracy": 0.96, "log_loss": 0.1}}
    assert gate.regressions(better, deployed, {}) == []


def test_a_metric_without_a_margin_may_not_get_worse():
    worse = {"model": {**REGRESSION["model"], "mae": 42.80}}
    assert gate.regressions(worse, REGRESSION, {"max_rmse_increase": 0.02}) == [
        "MAE 42.8000 is worse than the deployed 42.7900 by more than 0% (limit 42.7900)"
    ]


def test_margin_keys():
    assert metrics.margin_key("r2") == "max_r2_decrease"
    assert metrics.margin_key("rmse") == "max_rmse_increase"
