"""Sandbox figures: start time of `pipeline sandbox up` (launch to ready line) and the time
to create a Model -> EndpointConfig -> Endpoint stack through a change set (CreateChangeSet
to stack_create_complete), over several sandboxes. No target: recorded for trend-watching.

The stacks serve a real build, as a deploy does: the artifact is trained once, and each
sandbox is bootstrapped and gets it through `pipeline upload` (signed with the bootstrap's
key), so a create includes what the local runtime does for one (download, provenance and
version checks, a model server that answers /ping). The first create in a sandbox also
starts the runtime's model-server zygote; it is reported apart from the later ones.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from bench.common import build_artifact, environ, quick, quick_note, write_results  # noqa: E402
from pipeline.local.sandbox import Sandbox  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.shared.context import Context, QuietUI  # noqa: E402
from pipeline.stages.account import bootstrap  # noqa: E402
from pipeline.stages.build import upload  # noqa: E402

TEMPLATE = (ROOT / "tests" / "fixtures" / "templates" / "endpoint_stack.yaml").read_text()
# quick: one sandbox, and a second stack so that a later (warm) create is measured too
RUNS, STACKS_PER_RUN = (1, 2) if quick() else (5, 3)


def uploaded(sandbox: Sandbox, settings: Settings) -> tuple[str, str]:
    """Bootstrap the sandbox's account and upload the build there, as `pipeline bootstrap`
    and `pipeline upload` do: (the artifact's S3 URI, the SageMaker execution role)."""
    with environ(sandbox.env):
        ctx = Context(settings, QuietUI())
        outputs = bootstrap.run(ctx, "both", [], "", "")
        return upload.run(ctx).uri, outputs["SageMakerExecutionRoleArn"]


def create_stack(cfn, name: str, model_data: str, role: str) -> float:
    started = time.perf_counter()
    created = cfn.create_change_set(
        StackName=name,
        ChangeSetName="create",
        ChangeSetType="CREATE",
        TemplateBody=TEMPLATE,
        Parameters=[
            {"ParameterKey": "ModelData", "ParameterValue": model_data},
            {"ParameterKey": "RoleARN", "ParameterValue": role},
        ],
    )
    fast = {"Delay": 0.1, "MaxAttempts": 100}
    cfn.get_waiter("change_set_create_complete").wait(
        ChangeSetName=created["Id"], WaiterConfig=fast
    )
    cfn.execute_change_set(ChangeSetName=created["Id"])
    # the first create in a sandbox starts the model-server zygote: allow it 2 minutes
    cfn.get_waiter("stack_create_complete").wait(
        StackName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 1200}
    )
    return time.perf_counter() - started


def summary_ms(samples: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(samples) * 1000,
        "min": min(samples) * 1000,
        "max": max(samples) * 1000,
        "n": len(samples),
    }


def main() -> int:
    quick_note("sandbox_timing", f"{RUNS} sandbox, {STACKS_PER_RUN} stacks")
    settings = build_artifact()
    starts, firsts, laters = [], [], []
    for _ in range(RUNS):
        started = time.perf_counter()
        sandbox = Sandbox().start()
        starts.append(time.perf_counter() - started)
        try:
            model_data, role = uploaded(sandbox, settings)
            cfn = boto3.client(
                "cloudformation",
                endpoint_url=sandbox.url,
                region_name=sandbox.region,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            cfn.describe_stacks()  # the first call pays for client set-up, not the stack
            creates = [
                create_stack(cfn, f"stack-{i}", model_data, role) for i in range(STACKS_PER_RUN)
            ]
            firsts.append(creates[0])
            laters += creates[1:]
        finally:
            sandbox.stop()
    figures = {
        "sandbox_start_s": {
            "median": statistics.median(starts),
            "min": min(starts),
            "max": max(starts),
            "n": len(starts),
        },
        "stack_create_ms": summary_ms(firsts + laters),
        "stack_create_first_in_sandbox_ms": summary_ms(firsts),
        "stack_create_later_ms": summary_ms(laters),
    }
    print(
        f"sandbox start: median {figures['sandbox_start_s']['median']:.2f} s "
        f"(n={len(starts)}); stack create: first in a sandbox (starts the model-server "
        f"zygote) median {figures['stack_create_first_in_sandbox_ms']['median']:.1f} ms "
        f"(n={len(firsts)}), later ones median "
        f"{figures['stack_create_later_ms']['median']:.1f} ms (n={len(laters)})"
    )
    write_results("sandbox_timing", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
