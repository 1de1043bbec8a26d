import pytest

from pipeline.core import gate
from pipeline.errors import ConfigError

METRICS = {
    "model": {"rmse": 53.85, "mae": 42.79, "r2": 0.4526},
    "baseline": {"rmse": 73.22, "mae": 64.0, "r2": -0.01},
}


def test_passing_metrics_have_no_failures():
    thresholds = {
        "max_rmse": 58,
        "max_mae": 47,
        "min_r2": 0.4,
        "min_rmse_improvement_over_baseline": 0.2,
    }
    assert gate.evaluate(METRICS, thresholds) == []


def test_failure_says_which_metric_and_by_how_much():
    (failure,) = gate.evaluate(METRICS, {"min_r2": 0.9})
    assert failure.key == "min_r2"
    assert failure.shortfall == pytest.approx(0.9 - 0.4526)
    assert str(failure) == "R2 0.4526 is below the minimum 0.9000 (min_r2) by 0.4474"


def test_max_threshold_failure_reads_above():
    (failure,) = gate.evaluate(METRICS, {"max_rmse": 50.0})
    assert "above the maximum 50.0000 (max_rmse) by 3.8500" in str(failure)


def test_improvement_over_baseline_is_relative():
    assert gate.rmse_improvement(METRICS) == pytest.approx((73.22 - 53.85) / 73.22)
    assert gate.evaluate(METRICS, {"min_rmse_improvement_over_baseline": 0.5})


def test_unknown_key_names_file_and_key():
    with pytest.raises(ConfigError, match=r"gate.toml: unknown key\(s\) max_rsme"):
        gate.parse_thresholds({"max_rsme": 1.0}, "gate.toml")


def test_empty_gate_is_refused():
    with pytest.raises(ConfigError, match="cannot fail"):
        gate.parse_thresholds({}, "gate.toml")


@pytest.mark.parametrize("value", ["0.5", True, None])
def test_non_numeric_threshold_is_refused(value):
    with pytest.raises(ConfigError, match="min_r2 must be a number"):
        gate.parse_thresholds({"min_r2": value}, "gate.toml")
