"""Drift monitoring decided from data alone: `[monitor]` of pipeline.toml, the window of
`pipeline monitor`, where data capture writes, verdicts, and the Model Monitor documents
(constraints.json, constraint_violations.json) the monitor writes and reads.

Facts (Amazon SageMaker Developer Guide):
- "Capture data from real-time endpoint": capture files are JSON Lines objects under
  `<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl`, the hour being the
  UTC hour of the capture; each line holds captureData.endpointInput / endpointOutput
  (observedContentType, mode, data, encoding CSV | JSON | BASE64) and eventMetadata
  (eventId, inferenceTime, inferenceId when the caller gave one), eventVersion.
- "Schema for Constraints (constraints.json file)" and "Schema for Violations
  (constraint_violations.json file)": the shapes written here (version 0; features with
  name, inferred_type, completeness, num_constraints / string_constraints; monitoring_config
  with distribution_constraints; violations of feature_name, constraint_check_type and
  description, the check types being data_type_check, completeness_check,
  baseline_drift_check, missing_column_check, extra_column_check, categorical_values_check).

Standard library and pipeline.errors only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.errors import ConfigError

OK, DRIFT, NOT_ENOUGH = "ok", "drift", "not enough data"
PREDICTION = "prediction"  # the name of the predictions' entry among the columns
VARIANT = "AllTraffic"  # infra/endpoint.yaml's one variant

# [monitor] key -> (default, what it is); every threshold is "larger is worse"
DEFAULTS: dict[str, tuple[float, str]] = {
    "min_rows": (100, "rows a window needs before any verdict (fewer: not enough data)"),
    "psi_threshold": (0.25, "population stability index above which a column drifted"),
    "ks_threshold": (0.3, "Kolmogorov-Smirnov statistic above which a number column drifted"),
    "unseen_threshold": (0.05, "share of rows with a category training never saw"),
    "refused_threshold": (0.05, "share of captured requests the handler refuses"),
    "missing_threshold": (0.05, "rise in a column's share of missing values over training"),
    "prediction_psi_threshold": (0.25, "population stability index of the predictions"),
}
MAX_WINDOW = timedelta(days=31)
_DURATION = re.compile(r"^([1-9][0-9]{0,4})([mhd])$")


@dataclass(frozen=True)
class MonitorConfig:
    min_rows: int = int(DEFAULTS["min_rows"][0])
    psi_threshold: float = DEFAULTS["psi_threshold"][0]
    ks_threshold: float = DEFAULTS["ks_threshold"][0]
    unseen_threshold: float = DEFAULTS["unseen_threshold"][0]
    refused_threshold: float = DEFAULTS["refused_threshold"][0]
    missing_threshold: float = DEFAULTS["missing_threshold"][0]
    prediction_psi_threshold: float = DEFAULTS["prediction_psi_threshold"][0]


def parse(table: Mapping[str, Any], source: str) -> MonitorConfig:
    """`[monitor]` of pipeline.toml (every key optional; ConfigError naming file and key)."""
    values: dict[str, Any] = {}
    for key, value in table.items():
        where = f"{source}: [monitor] {key}"
        if key not in DEFAULTS:
            raise ConfigError(f"{where}: unknown key; [monitor] takes {', '.join(DEFAULTS)}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: must be a number, got {value!r}")
        if key == "min_rows":
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{where}: must be a whole number of rows, 1 or more")
            values[key] = value
            continue
        bound = 10 if "psi" in key else 1  # PSI is unbounded; KS and shares are at most 1
        if not 0 < value <= bound:
            raise ConfigError(f"{where}: must be above 0 and at most {bound}, got {value!r}")
        values[key] = float(value)
    return MonitorConfig(**values)


# -- the window -----------------------------------------------------------------------------


def parse_time(text: str, now: datetime, option: str) -> datetime:
    """`--since 24h` / `--since 2026-12-07T10:00:00Z`: a duration back from now (m, h, d)
    or an ISO 8601 time (UTC unless it says otherwise)."""
    found = _DURATION.match(text)
    if found:
        amount, unit = int(found.group(1)), found.group(2)
        unit_name = {"m": "minutes", "h": "hours", "d": "days"}[unit]
        return now - timedelta(**{unit_name: amount})
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{option} {text!r}: give a duration (30m, 24h, 7d) or a time (2026-12-07T10:00:00Z)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def window(since: str, until: str | None, now: datetime) -> tuple[datetime, datetime]:
    start = parse_time(since, now, "--since").astimezone(UTC)
    end = parse_time(until, now, "--until").astimezone(UTC) if until else now.astimezone(UTC)
    if start >= end:
        raise ConfigError(f"--since {since!r} is not before --until {until or 'now'!r}")
    if end - start > MAX_WINDOW:
        raise ConfigError(f"the window is longer than {MAX_WINDOW.days} days; narrow --since")
    return start, end


def capture_prefix(bucket_prefix: str, endpoint: str) -> str:
    """The key prefix of an endpoint's capture files (no trailing slash on the input)."""
    return f"{bucket_prefix.rstrip('/')}/{endpoint}/{VARIANT}/"


def hour_prefixes(prefix: str, start: datetime, end: datetime) -> Iterator[str]:
    """The `yyyy/mm/dd/hh/` prefixes (UTC) of every hour the window touches."""
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    while hour < end:
        yield f"{prefix}{hour:%Y/%m/%d/%H}/"
        hour += timedelta(hours=1)


def inference_time(text: str) -> datetime:
    """A capture's inferenceTime, in UTC (a time without a zone is UTC, as SageMaker's are)."""
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


# -- verdicts -------------------------------------------------------------------------------


def check(statistic: str, value: float | None, threshold: float) -> dict[str, Any]:
    verdict = OK if value is None or value <= threshold else DRIFT
    return {"statistic": statistic, "value": value, "threshold": threshold, "verdict": verdict}


def overall(columns: Sequence[Mapping[str, Any]], checks: Sequence[Mapping[str, Any]]) -> str:
    drifted = any(c["verdict"] == DRIFT for c in columns) or any(
        c["verdict"] == DRIFT for c in checks
    )
    return DRIFT if drifted else OK


def ordered(columns: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drifted columns first, then the rest, each group in its given order."""
    return [c for c in columns if c["verdict"] == DRIFT] + [
        c for c in columns if c["verdict"] != DRIFT
    ]


def violations(report: Mapping[str, Any]) -> dict[str, Any]:
    """constraint_violations.json (Model Monitor's shape) for a report's breaches."""
    found = []
    for column in report["columns"]:
        for entry in column["statistics"]:
            if entry["verdict"] != DRIFT:
                continue
            kind = {
                "unseen": "categorical_values_check",
                "missing": "completeness_check",
            }.get(entry["statistic"], "baseline_drift_check")
            found.append(
                {
                    "feature_name": column["name"],
                    "constraint_check_type": kind,
                    "description": (
                        f"{entry['statistic']} {entry['value']:.4f} is above the threshold "
                        f"{entry['threshold']} ({report['rows']} rows from "
                        f"{report['window']['since']} to {report['window']['until']})"
                    ),
                }
            )
    for entry in report.get("checks", []):
        if entry["verdict"] == DRIFT:
            what = {
                "refused_share": "the handler refuses that share of the captured requests",
                "malformed_share": "that share of the capture lines cannot be read",
            }.get(entry["statistic"], entry["statistic"])
            found.append(
                {
                    "feature_name": "",
                    "constraint_check_type": "data_type_check",
                    "description": (
                        f"{entry['statistic']} {entry['value']:.4f} is above the threshold "
                        f"{entry['threshold']}: {what}"
                    ),
                }
            )
    return {"violations": found}


def constraints(statistics: Mapping[str, Any], config: MonitorConfig) -> dict[str, Any]:
    """constraints.json (Model Monitor's shape) for a baseline's statistics.json."""
    features = []
    for feature in statistics["features"]:
        entry: dict[str, Any] = {"name": feature["name"], "inferred_type": feature["inferred_type"]}
        if "numerical_statistics" in feature:
            common = feature["numerical_statistics"]["common"]
            minimum = feature["numerical_statistics"].get("min")
            entry["num_constraints"] = {"is_non_negative": minimum is not None and minimum >= 0}
        else:
            common = feature["string_statistics"]["common"]
            buckets = feature["string_statistics"]["distribution"]["categorical"]["buckets"]
            entry["string_constraints"] = {"domains": [b["value"] for b in buckets]}
        total = common["num_present"] + common["num_missing"]
        entry["completeness"] = common["num_present"] / total if total else 1.0
        features.append(entry)
    return {
        "version": 0,
        "features": features,
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",
            "datatype_check_threshold": config.refused_threshold,
            "domain_content_threshold": config.unseen_threshold,
            "distribution_constraints": {
                "perform_comparison": "Enabled",
                "comparison_threshold": config.ks_threshold,
                "comparison_method": "Robust",
                "categorical_comparison_threshold": config.psi_threshold,
                "categorical_drift_method": "LInfinity",
            },
        },
    }


def utc_text(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
