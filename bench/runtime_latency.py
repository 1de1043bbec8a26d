"""Sandbox runtime figures: time from CreateChangeSet to an InService endpoint (cold: the
first endpoint also starts the model-server zygote; warm: later ones), and single-row
invoke latency p50/p99 three ways in the same run: boto3 `invoke_endpoint` through the
gateway, a plain HTTP POST to the gateway, and a plain HTTP POST straight to the endpoint's
model server (the baseline). Quick mode (BENCH_QUICK=1): two endpoints (one cold, one
warm) and 20 requests a way, after 5 of warm-up."""

from __future__ import annotations

import http.client
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from bench.common import build_artifact, quick, quick_note, timed, write_results  # noqa: E402
from pipeline.local.sandbox import Sandbox  # noqa: E402

TEMPLATE = (ROOT / "tests" / "fixtures" / "templates" / "endpoint_stack.yaml").read_text()
ROW = (ROOT / "tests" / "fixtures" / "payloads" / "one_row_no_newline.csv").read_bytes()
# requests a way (in ROUNDS interleaved rounds), their warm-up, and stacks created (the first
# cold, the others warm)
REQUESTS, ROUNDS, WARM_UP, STACKS = (20, 1, 5, 2) if quick() else (1000, 10, 50, 4)


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[int(len(ordered) * 0.99)] * 1000,
        "n": len(ordered),
    }


def http_post(url: str, path: str):
    host, _, port = url.removeprefix("http://").partition(":")
    conn = http.client.HTTPConnection(host, int(port))

    def post():
        conn.request("POST", path, body=ROW, headers={"Content-Type": "text/csv"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status

    return post


def main() -> int:
    quick_note("runtime_latency", f"{STACKS} endpoints, {REQUESTS} requests a way after {WARM_UP}")
    settings = build_artifact()
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
        creates = []
        for i in range(STACKS):
            started = time.perf_counter()
            created = cfn.create_change_set(
                StackName=f"s{i}",
                ChangeSetName="c",
                ChangeSetType="CREATE",
                TemplateBody=TEMPLATE,
                Parameters=[
                    {"ParameterKey": "ModelData", "ParameterValue": "s3://artifacts/m/model.tar.gz"}
                ],
            )
            cfn.execute_change_set(ChangeSetName=created["Id"])
            cfn.get_waiter("stack_create_complete").wait(
                StackName=f"s{i}", WaiterConfig={"Delay": 0.1, "MaxAttempts": 1200}
            )
            creates.append(time.perf_counter() - started)
        outputs = cfn.describe_stacks(StackName="s0")["Stacks"][0]["Outputs"]
        endpoint = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "EndpointName")
        log = (sandbox.workdir / "sandbox.log").read_text()
        server_url = re.search(rf"endpoint {endpoint} variant \w+ serving \S+ at (\S+)", log).group(
            1
        )
        runtime = boto3.client("sagemaker-runtime", endpoint_url=sandbox.runtime_url, **options)

        def boto3_invoke():
            runtime.invoke_endpoint(EndpointName=endpoint, Body=ROW, ContentType="text/csv")[
                "Body"
            ].read()

        paths = {
            "boto3_via_gateway": boto3_invoke,
            "http_via_gateway": http_post(
                sandbox.runtime_url, f"/endpoints/{endpoint}/invocations"
            ),
            "http_direct_model_server": http_post(server_url, "/invocations"),
        }
        for fn in paths.values():
            timed(fn, WARM_UP)
        samples = {name: [] for name in paths}
        for _ in range(ROUNDS):  # interleaved rounds, so machine drift hits all three alike
            for name, fn in paths.items():
                samples[name] += timed(fn, REQUESTS // ROUNDS)
    figures = {
        "create_to_in_service_s": {
            "cold_first": creates[0],
            "warm_median": statistics.median(creates[1:]),
        },
        "invoke_latency": {name: percentiles(s) for name, s in samples.items()},
    }
    direct = figures["invoke_latency"]["http_direct_model_server"]
    for name, stats in figures["invoke_latency"].items():
        print(
            f"{name:<26} p50 {stats['p50_ms']:6.2f} ms  p99 {stats['p99_ms']:6.2f} ms  "
            f"(p50 {stats['p50_ms'] / direct['p50_ms']:.1f}x direct)"
        )
    print(
        f"create -> InService: first {creates[0]:.2f} s (starts the zygote), "
        f"then median {statistics.median(creates[1:]):.2f} s"
    )
    write_results("runtime_latency", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
