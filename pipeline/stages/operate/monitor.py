"""`pipeline monitor --env E [--since 24h] [--until T]`: what E's endpoint received in a
window, compared with what its model learned.

The model is the environment's latest release; its manifest is read from the bucket and
trusted only after the build's signature verifies (pipeline.shared.deploying.artifact), and
its baseline (statistics.json beside the artifact) only if it hashes to what that manifest
says. The endpoint's capture files (`capture/<project>/<env>/<endpoint>/AllTraffic/yyyy/mm/
dd/hh/*.jsonl`, only the hours the window touches) are parsed by the model's handler with the
release's signature (pipeline.shared.captured) and each input column and the predictions are
compared with the baseline (pipeline.shared.drift) against `[monitor]` of pipeline.toml.
A window starting before the release is cut at the release: earlier requests were answered
by another model.

Verdicts: "not enough data" (fewer rows than min_rows: exit 0, never an alarm), "drift"
(a threshold breached: constraint_violations.json in Model Monitor's shape, exit 1) or "ok".
Writes build/monitor/<env>/report.json, report.html and, on drift, constraint_violations.json.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.core import environments, monitoring
from pipeline.errors import ConfigError
from pipeline.shared import account, captured, config, deploying, drift, records
from pipeline.shared.context import Context


@dataclass
class MonitorResult:
    report: dict[str, Any]
    folder: Path
    html: Path | None
    violations: Path | None

    @property
    def verdict(self) -> str:
        return str(self.report["verdict"])


def _baseline(ctx: Context, chosen: deploying.Artifact) -> dict[str, Any]:
    prefix = chosen.key.rsplit("/", 1)[0]
    expected = (chosen.manifest.get("monitoring") or {}).get("statistics.json")
    where = f"s3://{chosen.bucket}/{prefix}/statistics.json"
    if not expected:
        raise ConfigError(
            f"the build {chosen.digest[:12]} has no monitoring baseline (its manifest names no "
            "statistics.json; it was packaged before baselines existed): deploy a build "
            "packaged by this version of the pipeline, then monitor it"
        )
    data = ctx.s3.read(chosen.bucket, f"{prefix}/statistics.json")
    if hashlib.sha256(data).hexdigest() != expected:
        raise ConfigError(
            f"{where} does not hash to the sha256 its signed manifest records: it was changed "
            "after upload. Refusing to compare against it."
        )
    document: dict[str, Any] = json.loads(data)
    return document


def run(
    ctx: Context,
    environment: str,
    since: str = "24h",
    until: str | None = None,
    now: datetime | None = None,
) -> MonitorResult:
    settings, progress = ctx.settings, ctx.ui.progress
    environments.get(environment)  # ConfigError for an unknown one, before any AWS call
    thresholds = settings.config.monitor
    start, end = monitoring.window(since, until, now or datetime.now(UTC))
    bucket = account.output_for(ctx, "ArtifactBucketName")
    release = records.latest(settings, environment, ctx.s3, bucket)
    endpoint = release["outputs"]["EndpointName"]
    released = monitoring.inference_time(release["time"])
    notes = []
    if start < released:
        notes.append(
            f"the window starts before the release of {monitoring.utc_text(released)}; "
            "only requests since then are compared (the earlier ones met another model)"
        )
        start = released
    chosen = deploying.artifact(ctx, bucket, release["digest"])
    base = _baseline(ctx, chosen)
    signature = chosen.manifest["signature"]
    reader = captured.Reader(signature)
    names = [column["name"] for column in signature["inputs"]]
    window = captured.Window(names)
    prefix = monitoring.capture_prefix(f"capture/{settings.project}/{environment}", endpoint)
    objects = 0
    if start < end:
        for hour in monitoring.hour_prefixes(prefix, start, end):
            for key in ctx.s3.keys(bucket, hour):
                if not key.endswith(".jsonl"):
                    continue
                where = f"s3://{bucket}/{key}"
                objects += 1
                for line in captured.lines(ctx.s3.read(bucket, key), where):
                    reader.add(window, line, where, start, end)
        reader.finish(window)
    progress(
        f"{environment}: {window.requests} captured request(s), {window.rows} row(s) in "
        f"{objects} capture file(s) under s3://{bucket}/{prefix}"
    )
    report = _report(settings.project, environment, endpoint, start, end, base, window, thresholds)
    report["notes"] = notes
    report["min_rows"] = thresholds.min_rows
    if window.unreadable_answers:
        notes.append(f"{window.unreadable_answers} captured answer(s) could not be read")
    return _write(settings.monitor_dir(environment), report)


def _report(
    project: str,
    environment: str,
    endpoint: str,
    start: datetime,
    end: datetime,
    base: dict[str, Any],
    window: captured.Window,
    thresholds: monitoring.MonitorConfig,
) -> dict[str, Any]:
    features = {feature["name"]: feature for feature in base["features"]}
    kinds = {c: "number" if "numerical_statistics" in features[c] else "string" for c in features}
    missing = [name for name in [*window.names, monitoring.PREDICTION] if name not in features]
    if missing:
        raise ConfigError(f"the baseline has no statistics for {', '.join(missing)}")
    columns = [
        drift.compare(features[name], window.columns[name], thresholds, kinds[name])
        for name in window.names
    ]
    columns.append(
        drift.compare(
            features[monitoring.PREDICTION], window.predictions, thresholds, monitoring.PREDICTION
        )
    )
    refused = window.refused / window.requests if window.requests else None
    checks = [monitoring.check("refused_share", refused, thresholds.refused_threshold)]
    enough = window.rows >= thresholds.min_rows
    if not enough:  # too few rows for any verdict: shown, never an alarm
        for entry in [*columns, *checks]:
            entry["verdict"] = monitoring.NOT_ENOUGH
        for column in columns:
            for statistic in column["statistics"]:
                statistic["verdict"] = monitoring.NOT_ENOUGH
    return {
        "project": project,
        "environment": environment,
        "endpoint": endpoint,
        "window": {"since": monitoring.utc_text(start), "until": monitoring.utc_text(end)},
        "verdict": monitoring.overall(columns, checks) if enough else monitoring.NOT_ENOUGH,
        "requests": window.requests,
        "rows": window.rows,
        "refused": window.refused,
        "refusals": dict(window.reasons),
        "columns": monitoring.ordered(columns),
        "checks": checks,
    }


def _write(folder: Path, report: dict[str, Any]) -> MonitorResult:
    from pipeline.shared import monitor_report

    folder.mkdir(parents=True, exist_ok=True)
    config.write_json(folder / "report.json", report)
    html = monitor_report.write(report, folder)
    violations_file = folder / "constraint_violations.json"
    if violations_file.exists():
        violations_file.unlink()  # an earlier run's
    written = None
    if report["verdict"] == monitoring.DRIFT:
        config.write_json(violations_file, monitoring.violations(report))
        written = violations_file
    return MonitorResult(report, folder, html, written)
