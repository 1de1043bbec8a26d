"""Sandbox figures: start time of `pipeline sandbox up` (launch to ready line) and the time
to create a Model -> EndpointConfig -> Endpoint stack through a change set (CreateChangeSet
to stack_create_complete), over several sandboxes. No target: recorded for trend-watching.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from bench.common import write_results  # noqa: E402
from pipeline.local.sandbox import Sandbox  # noqa: E402

TEMPLATE = (ROOT / "tests" / "fixtures" / "templates" / "endpoint_stack.yaml").read_text()
RUNS, STACKS_PER_RUN = 5, 3


def create_stack(cfn, name: str) -> float:
    started = time.perf_counter()
    created = cfn.create_change_set(
        StackName=name,
        ChangeSetName="create",
        ChangeSetType="CREATE",
        TemplateBody=TEMPLATE,
        Parameters=[{"ParameterKey": "ModelData", "ParameterValue": "s3://b/m/model.tar.gz"}],
    )
    fast = {"Delay": 0.1, "MaxAttempts": 100}
    cfn.get_waiter("change_set_create_complete").wait(
        ChangeSetName=created["Id"], WaiterConfig=fast
    )
    cfn.execute_change_set(ChangeSetName=created["Id"])
    cfn.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=fast)
    return time.perf_counter() - started


def main() -> int:
    starts, creates = [], []
    for _ in range(RUNS):
        started = time.perf_counter()
        sandbox = Sandbox().start()
        starts.append(time.perf_counter() - started)
        try:
            cfn = boto3.client(
                "cloudformation",
                endpoint_url=sandbox.url,
                region_name=sandbox.region,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            cfn.describe_stacks()  # the first call pays for client set-up, not the stack
            creates += [create_stack(cfn, f"stack-{i}") for i in range(STACKS_PER_RUN)]
        finally:
            sandbox.stop()
    figures = {
        "sandbox_start_s": {
            "median": statistics.median(starts),
            "min": min(starts),
            "max": max(starts),
            "n": len(starts),
        },
        "stack_create_ms": {
            "median": statistics.median(creates) * 1000,
            "min": min(creates) * 1000,
            "max": max(creates) * 1000,
            "n": len(creates),
        },
    }
    print(
        f"sandbox start: median {figures['sandbox_start_s']['median']:.2f} s "
        f"(n={len(starts)}); stack create: median {figures['stack_create_ms']['median']:.1f} "
        f"ms (n={len(creates)})"
    )
    write_results("sandbox_timing", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
