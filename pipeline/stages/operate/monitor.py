"""`pipeline monitor --env E [--since 24h] [--until T]`: what E's endpoint received in a
window, compared with what its model learned.

The model is the environment's latest release; its manifest is read from the bucket and
trusted only after the build's signature verifies (pipeline.shared.deploying.signed: the
model's bytes are not read, nothing here loads them), and
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
    if end <= released:
        raise ConfigError(
            f"the window ends before {environment}'s latest release "
            f"({monitoring.utc_text(released)}, {release['digest'][:12]}): monitor compares "
            "what the serving model received with its own baseline; choose a window after it"
        )
    if start < released:
        notes.append(
            f"the window starts before the release of {monitoring.utc_text(released)}; "
            "only requests since then are compared (the earlier ones met another model)"
        )
        start = released
    chosen = deploying.signed(ctx, bucket, release["digest"])
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
                found = ctx.s3.head(bucket, key)
                if found is not None and found.size > captured.MAX_OBJECT_BYTES:
                    raise ConfigError(
                        f"{where} is {found.size} bytes, more than the "
                        f"{captured.MAX_OBJECT_BYTES} a capture object may have here"
                    )
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
        notes.append(
            f"{window.unreadable_answers} captured answer(s) could not be read: their rows' "
            "predictions count as missing"
        )
    if window.malformed:
        notes.append(f"{window.malformed} capture line(s) are not capture records: skipped")
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
    # the predictions are the last feature (an input column may be named "prediction" too)
    *inputs, predicted = base["features"]
    features = {feature["name"]: feature for feature in inputs}
    kinds = {c: "number" if "numerical_statistics" in features[c] else "string" for c in features}
    missing = [name for name in window.names if name not in features]
    if missing:
        raise ConfigError(f"the baseline has no statistics for {', '.join(missing)}")
    columns = [
        drift.compare(features[name], window.columns[name], thresholds, kinds[name])
        for name in window.names
    ]
    # a row whose answer could not be read has a missing prediction
    answers = window.predictions + [None] * max(0, window.rows - len(window.predictions))
    columns.append(drift.compare(predicted, answers, thresholds, monitoring.PREDICTION))
    lines = window.requests + window.malformed
    checks = [
        monitoring.check(
            "refused_share",
            window.refused / window.requests if window.requests else None,
            thresholds.refused_threshold,
        ),
        monitoring.check(
            "malformed_share",
            window.malformed / lines if lines else None,
            thresholds.refused_threshold,
        ),
    ]
    # too few rows for a verdict on the columns: shown, never an alarm; the shares of refused
    # and malformed requests are judged once there are min_rows requests (every request
    # refused leaves no rows at all, and must not pass as "not enough data")
    enough = window.rows >= thresholds.min_rows
    if not enough:
        for column in columns:
            column["verdict"] = monitoring.NOT_ENOUGH
            for statistic in column["statistics"]:
                statistic["verdict"] = monitoring.NOT_ENOUGH
    if window.requests + window.malformed < thresholds.min_rows:
        for entry in checks:
            entry["verdict"] = monitoring.NOT_ENOUGH
    judged = monitoring.overall(columns, checks)
    return {
        "project": project,
        "environment": environment,
        "endpoint": endpoint,
        "window": {"since": monitoring.utc_text(start), "until": monitoring.utc_text(end)},
        "verdict": judged if enough or judged == monitoring.DRIFT else monitoring.NOT_ENOUGH,
        "requests": window.requests,
        "rows": window.rows,
        "refused": window.refused,
        "refusals": dict(window.reasons),
        "malformed": window.malformed,
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
