"""`pipeline monitor` on 100,000 captured requests: its time against the time to list and
read the same capture files alone (the floor any monitor pays), in turns in the same run,
against the sandbox. The files are written as SageMaker's data capture writes them (one
JSON line per request, CSV input of one test row, JSON output), 5,000 lines per object, in
the hour before now. No target: recorded for trend-watching. `--requests N` (default
100000), `--runs N` (default 3). Quick mode (BENCH_QUICK=1): 5,000 requests (one object),
one run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import build_artifact, quick, quick_note, write_results  # noqa: E402
from pipeline.local.sandbox import Sandbox  # noqa: E402
from pipeline.shared import account, traffic  # noqa: E402
from pipeline.shared.context import Context, QuietUI  # noqa: E402
from pipeline.stages.account import bootstrap  # noqa: E402
from pipeline.stages.build import register, upload  # noqa: E402
from pipeline.stages.operate import monitor  # noqa: E402
from pipeline.stages.release import deploy  # noqa: E402

PER_OBJECT = 5000


def capture_line(row: list, when: datetime) -> str:
    body = ",".join("" if v is None else repr(v) for v in row)
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": body,
                    "encoding": "CSV",
                },
                "endpointOutput": {
                    "observedContentType": "application/json",
                    "mode": "OUTPUT",
                    "data": "[150.0]",
                    "encoding": "JSON",
                },
            },
            "eventMetadata": {
                "eventId": str(uuid.uuid4()),
                "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "eventVersion": "0",
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=PER_OBJECT if quick() else 100_000)
    parser.add_argument("--runs", type=int, default=1 if quick() else 3)
    args = parser.parse_args()
    quick_note("monitor_capture", f"{args.requests} requests, {args.runs} run(s)")
    settings = build_artifact()
    with Sandbox() as box:
        import os

        os.environ.update(box.env)
        ctx = Context(settings, QuietUI())
        bootstrap.run(ctx, "both", [], "", "")
        upload.run(ctx)
        register.run(ctx)
        deployed = deploy.run(ctx, "dev")
        endpoint = deployed.outputs["EndpointName"]
        signature = json.loads(settings.manifest_file.read_text())["signature"]
        rows = traffic.rows(settings, signature)
        bucket = account.output_for(ctx, "ArtifactBucketName")
        when = datetime.now(UTC) + timedelta(seconds=5)  # after the release
        prefix = f"capture/{settings.project}/dev/{endpoint}/AllTraffic/{when:%Y/%m/%d/%H}/"
        written = 0
        while written < args.requests:
            count = min(PER_OBJECT, args.requests - written)
            lines = [capture_line(rows[(written + i) % len(rows)], when) for i in range(count)]
            ctx.s3.put_new(
                bucket, f"{prefix}{uuid.uuid4()}.jsonl", ("\n".join(lines) + "\n").encode(), "x"
            )
            written += count
        since = (when - timedelta(minutes=1)).isoformat()
        until = (when + timedelta(minutes=1)).isoformat()

        def read_only() -> float:
            started = time.perf_counter()
            total = 0
            for key in ctx.s3.keys(bucket, prefix):
                total += len(ctx.s3.read(bucket, key))
            assert total > 0
            return time.perf_counter() - started

        def monitored() -> float:
            started = time.perf_counter()
            report = monitor.run(ctx, "dev", since, until).report
            assert report["requests"] == args.requests, report["requests"]
            return time.perf_counter() - started

        reads, monitors, ratios = [], [], []
        monitored()  # warm-up: imports
        for _ in range(args.runs):
            r, m = read_only(), monitored()
            reads.append(r)
            monitors.append(m)
            ratios.append(m / r)
    figures = {
        "requests": args.requests,
        "read_files_s": statistics.median(reads),
        "monitor_s": statistics.median(monitors),
        "ratio_monitor_to_read": statistics.median(ratios),
        "runs": args.runs,
    }
    print(
        f"monitor of {args.requests} captured requests: median {figures['monitor_s']:.2f} s; "
        f"reading the files alone {figures['read_files_s']:.2f} s "
        f"(ratio {figures['ratio_monitor_to_read']:.1f}x, n={args.runs})"
    )
    write_results("monitor_capture", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
