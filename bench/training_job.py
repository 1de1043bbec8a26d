"""Training-job figures: `pipeline train --on sagemaker` against the sandbox for the default
(diabetes) project, against `pipeline train` on this machine as the baseline, in turns in
the same run; and the job's own time from CreateTrainingJob to Completed (CreationTime to
TrainingEndTime, as DescribeTrainingJob reports them). No target: recorded for
trend-watching. `--runs N` (default 5). Quick mode (BENCH_QUICK=1): one run of each, and
no warm-up run of `train` first.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from bench.common import quick, quick_note, write_results  # noqa: E402
from pipeline.local.sandbox import Sandbox  # noqa: E402


def cli(env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", *args], env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"pipeline {' '.join(args)} failed:\n{result.stderr}")
    return time.perf_counter() - started


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "n": len(samples),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1 if quick() else 5)
    runs = parser.parse_args().runs
    quick_note("training_job", f"{runs} run(s) of each, no warm-up")
    local, on_job, job_seconds, ratios = [], [], [], []
    with Sandbox() as box, tempfile.TemporaryDirectory(prefix="bench-training-") as build:
        env = {
            **os.environ,
            **box.env,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "PIPELINE_BUILD_DIR": build,
        }
        cli(env, "bootstrap", "--account-role", "both")
        sagemaker = boto3.client(
            "sagemaker",
            endpoint_url=box.url,
            region_name=box.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        if not quick():
            cli(env, "train")  # warm-up: data cache, imports
        for _ in range(runs):
            here = cli(env, "train")
            there = cli(env, "train", "--on", "sagemaker")
            local.append(here)
            on_job.append(there)
            ratios.append(there / here)
            name = json.loads((Path(build) / "metrics.json").read_text())["training_job"]["name"]
            job = sagemaker.describe_training_job(TrainingJobName=name)
            assert job["TrainingJobStatus"] == "Completed", job
            job_seconds.append((job["TrainingEndTime"] - job["CreationTime"]).total_seconds())
    figures = {
        "train_local_s": summary(local),
        "train_on_sagemaker_s": summary(on_job),
        "ratio_on_sagemaker_to_local": summary(ratios),
        "job_create_to_completed_s": summary(job_seconds),
    }
    print(
        f"train (local): median {figures['train_local_s']['median']:.2f} s; "
        f"train --on sagemaker (sandbox): median {figures['train_on_sagemaker_s']['median']:.2f} s "
        f"({figures['ratio_on_sagemaker_to_local']['median']:.2f}x, n={runs}); "
        f"CreateTrainingJob -> Completed: median "
        f"{figures['job_create_to_completed_s']['median']:.2f} s"
    )
    write_results("training_job", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
