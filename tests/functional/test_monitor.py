"""`pipeline monitor` against the sandbox, through the CLI: the release's baseline (checked
against its signed manifest), capture files in SageMaker's layout read back through the
handler, the verdicts (not enough data, ok, drift naming the column), the refused share,
constraint_violations.json and the report files. Capture files here are written as the data
capture writes them (tests/functional/test_data_capture.py holds the sandbox's capture to
that layout), so each case controls exactly what was "received"."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.shared import account
from pipeline.shared.context import Context, QuietUI
from pipeline.stages.account import bootstrap
from pipeline.stages.build import register, upload
from pipeline.stages.release import deploy
from tests.conftest import sandbox_environment
from tests.e2e.test_cli import pipeline


@pytest.fixture(scope="module")
def released(built):
    with sandbox_environment() as box:
        ctx = Context(built, QuietUI())
        bootstrap.run(ctx, "both", [], "", "")
        upload.run(ctx)
        register.run(ctx)
        result = deploy.run(ctx, "staging")
        yield ctx, result.outputs["EndpointName"], box


def line(body: bytes | str, content_type: str, when: datetime, answer: str = "[150.0]") -> bytes:
    if isinstance(body, bytes):
        data, encoding = base64.b64encode(body).decode(), "BASE64"
    else:
        data, encoding = body, "CSV" if content_type == "text/csv" else "JSON"
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": content_type,
                    "mode": "INPUT",
                    "data": data,
                    "encoding": encoding,
                },
                "endpointOutput": {
                    "observedContentType": "application/json",
                    "mode": "OUTPUT",
                    "data": answer,
                    "encoding": "JSON",
                },
            },
            "eventMetadata": {
                "eventId": str(uuid.uuid4()),
                "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "eventVersion": "0",
        }
    ).encode()


def put(ctx, endpoint: str, lines: list[bytes], when: datetime) -> None:
    bucket = account.output_for(ctx, "ArtifactBucketName")
    key = (
        f"capture/{ctx.settings.project}/staging/{endpoint}/AllTraffic/"
        f"{when:%Y/%m/%d/%H}/{uuid.uuid4()}.jsonl"
    )
    ctx.s3.put_new(bucket, key, b"\n".join(lines) + b"\n", "application/octet-stream")


def split_rows(built) -> list[list]:
    from pipeline.shared import traffic

    signature = json.loads(built.manifest_file.read_text())["signature"]
    return traffic.rows(built, signature)


def monitor(built, box, since: datetime, until: datetime):
    return pipeline(
        "monitor", "--env", "staging", "--since", since.isoformat(), "--until", until.isoformat(),
        env={**box.env, "PIPELINE_BUILD_DIR": str(built.build_dir)},
    )  # fmt: skip


def window(minutes: int) -> tuple[datetime, datetime, datetime]:
    """A window of its own, after the release, in the future of everything else here."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=minutes)
    return start, start + timedelta(seconds=30), start + timedelta(minutes=1)


def test_too_few_rows_is_not_enough_data_and_exits_0(built, released):
    ctx, endpoint, box = released
    since, when, until = window(10)
    rows = split_rows(built)[:20]
    put(ctx, endpoint, [line(",".join(map(str, r)), "text/csv", when) for r in rows], when)
    result = monitor(built, box, since, until)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "not enough data: 20 row(s) in 20 request(s)" in result.stdout
    folder = built.build_dir / "monitor" / "staging"
    assert (folder / "report.html").exists()
    assert not (folder / "constraint_violations.json").exists()


def test_the_test_split_passes_in_every_content_type(built, released):
    ctx, endpoint, box = released
    since, when, until = window(20)
    rows = split_rows(built)
    names = [c["name"] for c in json.loads(built.manifest_file.read_text())["signature"]["inputs"]]
    from pipeline.aws.sagemaker import SageMakerRuntime

    runtime, lines = SageMakerRuntime(), []

    def sent(body: bytes | str, content_type: str) -> bytes:
        answer = runtime.invoke(endpoint, body, content_type).decode()  # what it answered
        return line(body, content_type, when, answer)

    for i in range(0, len(rows), 3):  # CSV, JSON rows, JSON records, npy: the handler's types
        chunk = rows[i : i + 3]
        kind = i // 3 % 4
        if kind == 0:
            lines.append(sent("\n".join(",".join(map(str, r)) for r in chunk), "text/csv"))
        elif kind == 1:
            lines.append(sent(json.dumps(chunk), "application/json"))
        elif kind == 2:
            records = [dict(zip(names, r, strict=True)) for r in chunk]
            lines.append(sent(json.dumps(records), "application/json"))
        else:
            import io

            import numpy as np

            out = io.BytesIO()
            np.save(out, np.asarray(chunk, dtype=np.float64))
            lines.append(sent(out.getvalue(), "application/x-npy"))
    put(ctx, endpoint, lines * 2, when)
    result = monitor(built, box, since, until)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((built.build_dir / "monitor" / "staging" / "report.json").read_text())
    assert report["verdict"] == "ok" and report["refused"] == 0
    assert report["rows"] == 2 * len(rows)
    assert [c["name"] for c in report["columns"]] == [*names, "prediction"]


def test_a_shifted_column_drifts_exits_1_and_writes_violations(built, released):
    ctx, endpoint, box = released
    since, when, until = window(30)
    rows = split_rows(built)
    moved = [[r[0], r[1], r[2] + 1.0, *r[3:]] for r in rows]  # bmi: far beyond its range
    lines = [line(",".join(map(str, r)), "text/csv", when) for r in moved * 2]
    lines += [line("not,a,row", "text/csv", when)] * 3  # refused by the handler
    lines += [line("{}", "application/xml", when)]  # an unsupported type
    put(ctx, endpoint, lines, when)
    result = monitor(built, box, since, until)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "drift in bmi" in result.stderr and "Traceback" not in result.stderr
    folder = built.build_dir / "monitor" / "staging"
    violations = json.loads((folder / "constraint_violations.json").read_text())["violations"]
    assert {v["feature_name"] for v in violations} >= {"bmi"}
    assert {v["constraint_check_type"] for v in violations} <= {
        "baseline_drift_check",
        "categorical_values_check",
        "data_type_check",
    }
    report = json.loads((folder / "report.json").read_text())
    assert report["columns"][0]["name"] == "bmi"  # drifted first
    assert report["refused"] == 4 and report["requests"] == 2 * len(rows) + 4
    refused = report["checks"][0]
    assert refused["value"] == pytest.approx(4 / (2 * len(rows) + 4))
    assert report["refusals"] == {"InvalidInputError": 3, "UnsupportedFormatError": 1}


def test_a_baseline_changed_after_upload_is_refused(built, released):
    ctx, endpoint, box = released
    bucket = account.output_for(ctx, "ArtifactBucketName")
    manifest = json.loads(built.manifest_file.read_text())
    key = manifest["artifact"]["s3_key"].rsplit("/", 1)[0] + "/statistics.json"
    original = ctx.s3.read(bucket, key)
    import boto3

    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key=key, Body=original.replace(b'"version": 0', b'"version": 1'))
    try:
        since, _, until = window(40)
        result = monitor(built, box, since, until)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "does not hash to the sha256 its signed manifest records" in result.stderr
    finally:
        s3.put_object(Bucket=bucket, Key=key, Body=original)


def test_bad_windows_exit_2_before_any_aws_call(built):
    for args, message in (
        (["--since", "yesterday"], "give a duration"),
        (["--since", "1h", "--until", "2h"], "is not before"),
    ):
        result = pipeline(
            "monitor", "--env", "staging", *args,
            env={"PIPELINE_BUILD_DIR": str(built.build_dir), "AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
        )  # fmt: skip
        assert result.returncode == 2, result.stdout + result.stderr
        assert message in result.stderr


def test_csv_bodies_parsed_together_count_exactly_as_one_by_one(built):
    """The reader parses plain CSV bodies in batches; a batch holding a refused body, a
    header or a quote must give what parsing each alone gives."""
    from pipeline.shared import captured

    signature = json.loads(built.manifest_file.read_text())["signature"]
    names = [c["name"] for c in signature["inputs"]]
    when = datetime.now(UTC)
    rows = split_rows(built)
    bodies = [",".join(map(str, r)) for r in rows[:40]]
    bodies[5] = "1,2"  # too few cells: refused
    bodies[9] = ",".join(names) + "\n" + bodies[9]  # a header: parsed alone
    first, rest = bodies[12].split(",", 1)
    bodies[12] = f'"{first}",{rest}'  # a quoted cell: parsed alone
    bodies[20] = "x," + bodies[20]  # too many cells: refused
    lines = [line(b, "text/csv", when) for b in bodies]

    def read(batched: bool):
        reader = captured.Reader(signature)
        if not batched:
            reader._batchable = lambda *_: False
        window = captured.Window(names)
        for item in lines:
            reader.add(window, item, "test", when - timedelta(1), when + timedelta(1))
        reader.finish(window)
        return window

    together, alone = read(True), read(False)
    assert together.refused == alone.refused == 2
    assert together.rows == alone.rows == 38
    # the same rows (held-back bodies join the window when their batch is parsed: the order
    # differs, and no statistic depends on it)
    assert {k: sorted(v) for k, v in together.columns.items()} == {
        k: sorted(v) for k, v in alone.columns.items()
    }
    assert together.reasons == alone.reasons


def test_answers_are_read_as_the_handler_writes_them_and_bounded(built):
    """JSON, CSV and .npy answers; a regression answer that is not a number and an .npy
    header claiming more than it holds are unreadable, never a crash or an allocation."""
    import io

    import numpy as np

    from pipeline.shared import captured

    signature = json.loads(built.manifest_file.read_text())["signature"]
    reader = captured.Reader(signature)
    assert reader.answers(b"[1.5, 2.0]", "application/json") == [1.5, 2.0]
    assert reader.answers(b"1.5\n2.0\n", "text/csv; charset=utf-8") == [1.5, 2.0]
    out = io.BytesIO()
    np.save(out, np.array([1.5, 2.0]))
    assert reader.answers(out.getvalue(), "application/x-npy") == [1.5, 2.0]
    with pytest.raises(ValueError):
        reader.answers(b'["abc"]', "application/json")
    header = b"{'descr': '|V0', 'fortran_order': False, 'shape': (1000000000,), }"
    bomb = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
    with pytest.raises(ValueError):
        reader.answers(bomb, "application/x-npy")
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000000,), }"
    claims = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
    with pytest.raises(ValueError, match="claims"):
        reader.answers(claims, "application/x-npy")


def test_malformed_lines_are_counted_not_fatal_and_a_past_window_is_refused(built, released):
    ctx, endpoint, box = released
    since, when, until = window(50)
    rows = split_rows(built)
    good = [line(",".join(map(str, r)), "text/csv", when) for r in rows[:60]]
    bad = [b"not json", b'{"captureData": {"endpointInput": "x"}}', b"[1, 2]"] * 20
    put(ctx, endpoint, good + bad, when)
    result = monitor(built, box, since, until)
    assert "Traceback" not in result.stderr
    assert result.returncode == 1, result.stdout + result.stderr  # 60 of 120 lines malformed
    assert "malformed_share" in result.stderr
    report = json.loads((built.build_dir / "monitor" / "staging" / "report.json").read_text())
    assert report["malformed"] == 60 and report["requests"] == 60
    past = datetime.now(UTC) - timedelta(days=3)
    result = monitor(built, box, past, past + timedelta(hours=1))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "the window ends before staging's latest release" in result.stderr


def test_traffic_sends_every_drawn_row_once_through_the_endpoint(built, released):
    """deploy-local's traffic (several requests in flight at once): staging captures every
    request, so after a flush the capture holds each drawn row exactly once, in requests of
    ROWS_PER_REQUEST, and `pipeline monitor` reads them all."""
    from collections import Counter

    from pipeline.local.sandbox import flush_captures
    from pipeline.shared import traffic

    ctx, endpoint, box = released
    rows = split_rows(built)
    total = 40 * traffic.ROWS_PER_REQUEST + 7  # the last request is short
    time.sleep(1.0 - datetime.now(UTC).microsecond / 1e6)  # capture times are whole seconds
    started = datetime.now(UTC).replace(microsecond=0)
    assert traffic.send(endpoint, rows, total, seed=5) == 41
    flush_captures(box.runtime_url)
    ended = datetime.now(UTC) + timedelta(seconds=1)
    bucket = account.output_for(ctx, "ArtifactBucketName")
    prefix = f"capture/{ctx.settings.project}/staging/{endpoint}/AllTraffic/"
    captured = Counter()
    requests = 0
    for key in ctx.s3.keys(bucket, prefix):
        for raw in ctx.s3.read(bucket, key).splitlines():
            try:
                record = json.loads(raw)
                stamp = record["eventMetadata"]["inferenceTime"]
                when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            except (ValueError, KeyError, TypeError):
                continue  # malformed lines other tests planted, in windows of their own
            if not started <= when < ended:
                continue  # the deploy's smoke test, and other tests' windows (later ones)
            requests += 1
            for csv_line in record["captureData"]["endpointInput"]["data"].splitlines():
                captured[csv_line] += 1
    drawn = traffic.draw(rows, total, seed=5)
    expected = Counter(",".join("" if v is None else str(v) for v in row) for row in drawn)
    assert requests == 41
    assert captured == expected
