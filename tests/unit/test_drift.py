"""Drift statistics against independent references (scipy's two-sample KS on planted
data, the PSI formula written out), the baseline documents against Model Monitor's
documented shapes, and [monitor] / window parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from pipeline.core import monitoring
from pipeline.errors import ConfigError
from pipeline.shared import drift

RNG = np.random.default_rng(7)
CONFIG = monitoring.MonitorConfig()


def number_feature(values, name="x"):
    return drift.feature(name, "number", list(values))


@pytest.mark.parametrize("shift", [0.0, 0.3, 1.5])
def test_ks_is_scipys_two_sample_statistic_on_planted_data(shift):
    train = RNG.normal(0, 1, 800)
    live = RNG.normal(shift, 1, 300)
    column = drift.compare(number_feature(train), live.tolist(), CONFIG, "number")
    ks = next(s for s in column["statistics"] if s["statistic"] == "ks")["value"]
    assert ks == pytest.approx(stats.ks_2samp(train, live).statistic, abs=1e-12)


def test_ks_against_a_quantile_sketch_stays_within_its_resolution():
    train = RNG.normal(0, 1, 50_000)  # more than SKETCH_SIZE: quantiles are kept
    live = RNG.normal(0.2, 1.3, 2_000)
    base = number_feature(train)
    sketch = base["numerical_statistics"]["distribution"]["kll"]["sketch"]["data"][0]
    assert len(sketch) == drift.SKETCH_SIZE
    column = drift.compare(base, live.tolist(), CONFIG, "number")
    ks = next(s for s in column["statistics"] if s["statistic"] == "ks")["value"]
    assert ks == pytest.approx(stats.ks_2samp(train, live).statistic, abs=2 / drift.SKETCH_SIZE)


def reference_psi(expected, actual, floor=drift.PSI_FLOOR):
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        pe = max(e / sum(expected), floor)
        pa = max(a / sum(actual), floor)
        total += (pa - pe) * np.log(pa / pe)
    return total


def test_psi_over_the_baselines_buckets_counts_outliers_in_the_end_buckets():
    train = RNG.uniform(0, 10, 1000)
    live = np.concatenate([RNG.uniform(0, 10, 200), [-5.0, 50.0, 11.0]])  # three outside
    base = number_feature(train)
    column = drift.compare(base, live.tolist(), CONFIG, "number")
    buckets = base["numerical_statistics"]["distribution"]["kll"]["buckets"]
    expected = [b["count"] for b in buckets]
    edges = [buckets[0]["lower_bound"]] + [b["upper_bound"] for b in buckets]
    actual = np.histogram(np.clip(live, edges[0], edges[-1]), bins=edges)[0].tolist()
    assert column["live"]["counts"] == actual and sum(actual) == len(live)
    psi = next(s for s in column["statistics"] if s["statistic"] == "psi")["value"]
    assert psi == pytest.approx(reference_psi(expected, actual), rel=1e-12)


def test_a_planted_shift_drifts_and_the_same_distribution_does_not():
    train = RNG.normal(50, 10, 2000)
    same = drift.compare(number_feature(train), RNG.normal(50, 10, 1000).tolist(), CONFIG, "n")
    moved = drift.compare(number_feature(train), RNG.normal(65, 10, 1000).tolist(), CONFIG, "n")
    assert same["verdict"] == "ok" and moved["verdict"] == "drift"


def test_strings_psi_and_unseen_share():
    train = ["a"] * 60 + ["b"] * 30 + ["c"] * 10
    live = ["a"] * 40 + ["b"] * 40 + ["z"] * 20
    base = drift.feature("city", "string", train)
    column = drift.compare(base, live, CONFIG, "string")
    found = {s["statistic"]: s for s in column["statistics"]}
    assert found["unseen"]["value"] == pytest.approx(0.2) and found["unseen"]["verdict"] == "drift"
    expected, actual = [60, 30, 10, 0], [40, 40, 0, 20]  # a, b, c, then the unseen z
    assert found["psi"]["value"] == pytest.approx(reference_psi(expected, actual), rel=1e-12)
    assert column["live"]["categories"] == {"a": 40, "b": 40, "z": 20}


def test_statistics_json_has_model_monitors_documented_fields():
    document = drift.statistics(
        [("age", "number", [1.0, 2.0, None, 4.0]), ("city", "string", ["a", "b", None])], 4
    )
    assert document["version"] == 0 and document["dataset"] == {"item_count": 4}
    number, text = document["features"]
    assert number["inferred_type"] == "Fractional"
    numbers = number["numerical_statistics"]
    assert set(numbers) == {"common", "mean", "sum", "std_dev", "min", "max", "distribution"}
    assert numbers["common"] == {"num_present": 3, "num_missing": 1}
    assert numbers["mean"] == pytest.approx(7 / 3) and numbers["sum"] == 7.0
    assert numbers["std_dev"] == pytest.approx(np.std([1.0, 2.0, 4.0]))
    kll = numbers["distribution"]["kll"]
    assert len(kll["buckets"]) == 3  # three distinct values: a bucket each
    assert set(kll["buckets"][0]) == {"lower_bound", "upper_bound", "count"}
    assert set(kll["sketch"]) == {"parameters", "data"} and set(kll["sketch"]["parameters"]) == {
        "c",
        "k",
    }
    strings = text["string_statistics"]
    assert text["inferred_type"] == "String"
    assert strings["common"] == {"num_present": 2, "num_missing": 1}
    assert strings["distinct_count"] == 2
    assert strings["distribution"]["categorical"]["buckets"] == [
        {"value": "a", "count": 1},
        {"value": "b", "count": 1},
    ]


def test_constraints_and_violations_have_the_documented_shapes():
    document = drift.statistics([("age", "integer", [1, 2, 3]), ("city", "string", ["a"])], 3)
    constraints = monitoring.constraints(document, CONFIG)
    age, city = constraints["features"]
    assert age == {
        "name": "age",
        "inferred_type": "Integral",
        "num_constraints": {"is_non_negative": True},
        "completeness": 1.0,
    }
    assert city["string_constraints"] == {"domains": ["a"]}
    config = constraints["monitoring_config"]
    assert set(config) == {
        "evaluate_constraints",
        "emit_metrics",
        "datatype_check_threshold",
        "domain_content_threshold",
        "distribution_constraints",
    }
    assert config["distribution_constraints"]["comparison_threshold"] == CONFIG.ks_threshold
    report = {
        "rows": 500,
        "window": {"since": "a", "until": "b"},
        "columns": [
            {
                "name": "city",
                "statistics": [
                    monitoring.check("psi", 0.5, 0.2),
                    monitoring.check("unseen", 0.3, 0.05),
                ],
            },
            {"name": "age", "statistics": [monitoring.check("ks", 0.01, 0.2)]},
        ],
        "checks": [monitoring.check("refused_share", 0.2, 0.05)],
    }
    found = monitoring.violations(report)["violations"]
    assert [(v["feature_name"], v["constraint_check_type"]) for v in found] == [
        ("city", "baseline_drift_check"),
        ("city", "categorical_values_check"),
        ("", "data_type_check"),
    ]
    assert all(set(v) == {"feature_name", "constraint_check_type", "description"} for v in found)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"min_row": 5}, "unknown key"),
        ({"min_rows": 0}, "whole number of rows"),
        ({"min_rows": 2.5}, "whole number of rows"),
        ({"psi_threshold": "high"}, "must be a number"),
        ({"ks_threshold": 1.5}, "at most 1"),
        ({"unseen_threshold": 0}, "above 0"),
        ({"psi_threshold": True}, "must be a number"),
    ],
)
def test_bad_monitor_keys_name_the_file_and_key(table, message):
    with pytest.raises(ConfigError, match=message) as raised:
        monitoring.parse(table, "p/pipeline.toml")
    assert str(raised.value).startswith(f"p/pipeline.toml: [monitor] {next(iter(table))}")


def test_monitor_defaults_and_overrides():
    assert monitoring.parse({}, "x") == monitoring.MonitorConfig()
    assert monitoring.parse({"min_rows": 10, "psi_threshold": 0.5}, "x").min_rows == 10


def test_the_window_and_the_hours_it_touches():
    now = datetime(2026, 12, 7, 17, 30, tzinfo=UTC)
    start, end = monitoring.window("2h", None, now)
    assert (start, end) == (now - timedelta(hours=2), now)
    assert monitoring.window("2026-12-07T10:00:00Z", "2026-12-07T11:00:00", now)[0].hour == 10
    hours = list(monitoring.hour_prefixes("p/", start, end))
    assert hours == ["p/2026/12/07/15/", "p/2026/12/07/16/", "p/2026/12/07/17/"]
    for since, until, message in (
        ("yesterday", None, "give a duration"),
        ("1h", "2h", "is not before"),
        ("40d", None, "longer than 31 days"),
    ):
        with pytest.raises(ConfigError, match=message):
            monitoring.window(since, until, now)


def test_a_column_of_few_values_gets_a_bucket_per_value_and_its_shift_shows():
    """Booleans and small codes: merged into one decile bucket, a share that moves from 30%
    to 60% would leave PSI at 0."""
    train = [1.0] * 300 + [0.0] * 700
    base = drift.feature("flag", "boolean", train)
    buckets = base["numerical_statistics"]["distribution"]["kll"]["buckets"]
    assert [b["count"] for b in buckets] == [700, 300]
    moved = drift.compare(base, [1.0] * 600 + [0.0] * 400, CONFIG, "number")
    psi = next(s for s in moved["statistics"] if s["statistic"] == "psi")
    assert psi["value"] == pytest.approx(reference_psi([700, 300], [400, 600]))
    assert moved["verdict"] == "drift"
    one = drift.feature("constant", "number", [5.0] * 50)
    assert len(one["numerical_statistics"]["distribution"]["kll"]["buckets"]) == 1


def test_a_point_mass_gets_its_own_bucket():
    train = np.concatenate([np.zeros(920), RNG.uniform(1, 10, 80)])  # zero-inflated
    base = drift.feature("spend", "number", train.tolist())
    buckets = base["numerical_statistics"]["distribution"]["kll"]["buckets"]
    assert buckets[0]["count"] == 920 and buckets[0]["lower_bound"] == 0.0
    live = np.concatenate([np.zeros(720), RNG.uniform(1, 10, 280)])
    moved = drift.compare(base, live.tolist(), CONFIG, "number")
    assert next(s for s in moved["statistics"] if s["statistic"] == "psi")["verdict"] == "drift"


def test_missing_values_are_judged_against_trainings_share():
    base = drift.feature("age", "number", [1.0, 2.0, 3.0, None] * 50)  # 25% missing
    same = drift.compare(base, [1.0, 2.0, 3.0, None] * 40, CONFIG, "number")
    gone = drift.compare(base, [None] * 160, CONFIG, "number")
    missing = {c["name"]: c for c in (same, gone)}
    assert next(s for s in same["statistics"] if s["statistic"] == "missing")["value"] == 0.0
    check = next(s for s in gone["statistics"] if s["statistic"] == "missing")
    assert check["value"] == pytest.approx(0.75) and check["verdict"] == "drift"
    assert gone["verdict"] == "drift" and missing
    text = drift.feature("city", "string", ["a"] * 10)
    assert drift.compare(text, [None] * 10, CONFIG, "string")["verdict"] == "drift"


def test_a_class_never_predicted_on_the_test_split_is_not_unseen():
    base = drift.feature("prediction", "prediction-label", ["a"] * 70 + ["b"] * 30, ["a", "b", "c"])
    live = drift.compare(base, ["a"] * 64 + ["b"] * 30 + ["c"] * 6, CONFIG, monitoring.PREDICTION)
    unseen = next(s for s in live["statistics"] if s["statistic"] == "unseen")
    assert unseen["value"] == 0.0
    assert base["string_statistics"]["distinct_count"] == 2


def test_live_categories_kept_in_the_report_are_bounded():
    base = drift.feature("city", "string", ["a"] * 10)
    live = [f"v{i}" for i in range(5000)] + ["a"] * 10
    column = drift.compare(base, live, CONFIG, "string")
    kept = column["live"]["categories"]
    assert len(kept) == drift.MAX_LIVE_CATEGORIES + 1
    assert sum(kept.values()) == len(live)
    unseen = next(s for s in column["statistics"] if s["statistic"] == "unseen")
    assert unseen["value"] == pytest.approx(5000 / 5010)  # judged on every value


def test_deploy_locals_traffic_is_enough_that_sampling_alone_does_not_drift():
    """deploy-local sends the test rows to prod, which captures a random 20% of requests,
    and the monitor must find no drift. Simulated (seeded) on the iris example, the smallest
    shipped test split (45 rows, its own largest PSI against training 0.194): every one of
    200 samplings of the traffic `requests_for` asks for stays under the PSI and KS
    thresholds. (Ten times the test rows alone, 450, failed about one run in five.)"""
    import random

    import pandas as pd

    from pipeline.shared import traffic

    folder = Path(__file__).resolve().parents[2] / "examples" / "iris-species" / "data"
    train, test = (pd.read_parquet(folder / f"{s}.parquet") for s in ("train", "test"))
    columns = [c for c in train.columns if c != "species"]
    baseline = {c: drift.feature(c, "number", train[c].tolist()) for c in columns}
    config = monitoring.MonitorConfig()
    requests = traffic.requests_for(len(test), config.min_rows, 20)
    sent = traffic.draw(test[columns].values.tolist(), requests * traffic.ROWS_PER_REQUEST, 1)
    per_request = [
        sent[i : i + traffic.ROWS_PER_REQUEST]
        for i in range(0, len(sent), traffic.ROWS_PER_REQUEST)
    ]
    worst = 0.0
    for seed in range(200):
        sampler = random.Random(seed)
        captured = [row for batch in per_request if sampler.random() < 0.2 for row in batch]
        for position, name in enumerate(columns):
            column = drift.compare(
                baseline[name], [row[position] for row in captured], config, "feature"
            )
            assert column["verdict"] != monitoring.DRIFT, (seed, name, column)
            psi = next(c["value"] for c in column["statistics"] if c["statistic"] == "psi")
            worst = max(worst, psi)
    assert 0.15 < worst < config.psi_threshold  # the test split's own PSI is 0.194
