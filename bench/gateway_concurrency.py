"""Runtime gateway under load: 1,000 concurrent single-row InvokeEndpoint-shaped requests
(`POST /endpoints/<name>/invocations`, text/csv in, JSON out, one connection each, all
opened at once from loopback) fired at a sandbox endpoint through the gateway, and the same
1,000 fired at that endpoint's model server directly (`POST /invocations`, the baseline), in
the same run. Reports answered and correct counts, wall time, p50/p99 and the ratios.

    python bench/gateway_concurrency.py [--requests N]

Quick mode (BENCH_QUICK=1): 100 requests by default; every one must still be answered
correctly through the gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
import joblib  # noqa: E402
import pandas as pd  # noqa: E402

from bench.common import build_artifact, quick, quick_note, write_results  # noqa: E402
from pipeline.local.sandbox import Sandbox  # noqa: E402

TEMPLATE = (ROOT / "tests" / "fixtures" / "templates" / "endpoint_stack.yaml").read_text()
ROW = (ROOT / "tests" / "fixtures" / "payloads" / "one_row_no_newline.csv").read_bytes()
REQUESTS = 100 if quick() else 1000
CLIENT_TIMEOUT_SECONDS = 30.0


async def _one(host: str, port: int, path: str) -> tuple[float, int | None, bytes]:
    """One request on its own connection: (seconds, status or None on failure, body)."""
    started = time.perf_counter()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: text/csv\r\n"
        f"Accept: application/json\r\nContent-Length: {len(ROW)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    try:
        async with asyncio.timeout(CLIENT_TIMEOUT_SECONDS):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(head + ROW)
                await writer.drain()
                answer = await reader.read()  # Connection: close, so read to EOF
            finally:
                writer.close()
    except (OSError, TimeoutError):
        return time.perf_counter() - started, None, b""
    elapsed = time.perf_counter() - started
    status_line, _, rest = answer.partition(b"\r\n")
    _, _, body = rest.partition(b"\r\n\r\n")
    try:
        status = int(status_line.split(b" ")[1])
    except (IndexError, ValueError):
        return elapsed, None, b""
    return elapsed, status, body


async def _burst(url: str, path: str, n: int) -> tuple[float, list]:
    host, _, port = url.removeprefix("http://").partition(":")
    started = time.perf_counter()
    results = await asyncio.gather(*(_one(host, int(port), path) for _ in range(n)))
    return time.perf_counter() - started, results


def burst(url: str, path: str, n: int, expected: float) -> dict:
    wall, results = asyncio.run(_burst(url, path, n))
    answered = [r for r in results if r[1] is not None]
    correct = 0
    for _, status, body in answered:
        with contextlib.suppress(ValueError, IndexError, TypeError):
            correct += status == 200 and abs(json.loads(body)[0] - expected) < 1e-9
    times = sorted(r[0] for r in answered) or [float("nan")]
    return {
        "requests": n,
        "answered": len(answered),
        "correct": correct,
        "wall_s": wall,
        "p50_ms": statistics.median(times) * 1000,
        "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))] * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=REQUESTS)
    args = parser.parse_args()
    quick_note("gateway_concurrency", f"{args.requests} concurrent requests a way")
    settings = build_artifact()
    model = joblib.load(settings.model_file)
    row = [float(v) for v in ROW.decode().split(",")]
    expected = float(model.predict(pd.DataFrame([row], columns=model.feature_names_in_))[0])
    with Sandbox() as sandbox:
        options = {
            "region_name": sandbox.region,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        s3 = boto3.client("s3", endpoint_url=sandbox.url, **options)
        s3.create_bucket(Bucket="artifacts")
        s3.upload_file(str(settings.artifact_file), "artifacts", "m/model.tar.gz")
        cfn = boto3.client("cloudformation", endpoint_url=sandbox.url, **options)
        created = cfn.create_change_set(
            StackName="load",
            ChangeSetName="c",
            ChangeSetType="CREATE",
            TemplateBody=TEMPLATE,
            Parameters=[
                {"ParameterKey": "ModelData", "ParameterValue": "s3://artifacts/m/model.tar.gz"}
            ],
        )
        cfn.execute_change_set(ChangeSetName=created["Id"])
        cfn.get_waiter("stack_create_complete").wait(
            StackName="load", WaiterConfig={"Delay": 0.1, "MaxAttempts": 1200}
        )
        outputs = cfn.describe_stacks(StackName="load")["Stacks"][0]["Outputs"]
        endpoint = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "EndpointName")
        log = (sandbox.workdir / "sandbox.log").read_text()
        server_url = re.search(rf"endpoint {endpoint} variant \w+ serving \S+ at (\S+)", log).group(
            1
        )
        gateway_path = f"/endpoints/{endpoint}/invocations"
        burst(sandbox.runtime_url, gateway_path, 20, expected)  # warm-up, both paths
        burst(server_url, "/invocations", 20, expected)
        figures = {
            "direct_model_server": burst(server_url, "/invocations", args.requests, expected),
            "via_gateway": burst(sandbox.runtime_url, gateway_path, args.requests, expected),
        }
    direct, gateway = figures["direct_model_server"], figures["via_gateway"]
    figures["gateway_vs_direct"] = {
        key: gateway[key] / direct[key] for key in ("wall_s", "p50_ms", "p99_ms")
    }
    for name, stats in (("direct model server", direct), ("via gateway", gateway)):
        print(
            f"{name:<20} answered {stats['answered']:>5}/{stats['requests']}  "
            f"correct {stats['correct']:>5}  wall {stats['wall_s']:6.2f} s  "
            f"p50 {stats['p50_ms']:8.1f} ms  p99 {stats['p99_ms']:8.1f} ms"
        )
    ratio = figures["gateway_vs_direct"]
    print(
        f"gateway / direct: wall {ratio['wall_s']:.1f}x, p50 {ratio['p50_ms']:.1f}x, "
        f"p99 {ratio['p99_ms']:.1f}x"
    )
    write_results("gateway_concurrency", figures)
    return 0 if gateway["correct"] == gateway["requests"] else 1


if __name__ == "__main__":
    sys.exit(main())
