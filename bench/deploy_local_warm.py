"""deploy-local, warm: the whole command (`python -m pipeline deploy-local`) run again with
nothing changed, against the same command with nothing reused, in the same run.

- baseline: `--no-cache` (train, package, lint and taskcat run) with bytecode never written
  (PYTHONDONTWRITEBYTECODE=1, as tox.ini had it before 2026-12-07: every process compiled
  moto, botocore, scikit-learn and pandas from source);
- warm: after one priming run, with train, package, lint and taskcat reused from build/cache/ and
  bytecode cached under PYTHONPYCACHEPREFIX (what tox.ini sets now).

Each run starts its own sandbox and build folder (a fresh temporary one per mode), so the two
never share a cache. Then the warm run once more with one template changed (a comment added
to a copy of infra/endpoint.yaml): lint and taskcat run again, train does not (target
<= 15 s). Also the sandbox's start alone (launch to its ready line), with and
without the bytecode cache. Issue 21's target: warm deploy-local <= 8 s, sandbox <= 1.5 s
(judged only in a full run, never in BENCH_QUICK).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import median, quick, quick_note, target, write_results  # noqa: E402
from pipeline.local.sandbox import Sandbox  # noqa: E402

RUNS = 1 if quick() else 3
TARGET_SECONDS, SANDBOX_TARGET_SECONDS, CHANGED_TARGET_SECONDS = 8.0, 1.5, 15.0
INFRA = Path(tempfile.mkdtemp(prefix="bench-infra-")) / "infra"  # a copy: one is changed


def bytecode_env(cached: bool, prefix: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PIPELINE_BUILD_DIR",)}
    if cached:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(prefix)
    else:
        env.pop("PYTHONPYCACHEPREFIX", None)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def deploy_local(build: Path, env: dict[str, str], *options: str) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "deploy-local", *options],
        cwd=ROOT,
        env={**env, "PIPELINE_BUILD_DIR": str(build), "PIPELINE_INFRA_DIR": str(INFRA)},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"deploy-local failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return seconds


def sandbox_start(env: dict[str, str]) -> float:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        started = time.perf_counter()
        box = Sandbox().start()
        ready = time.perf_counter() - started
        box.stop()
        return ready
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main() -> int:
    shutil.copytree(ROOT / "infra", INFRA)
    shutil.copy(ROOT / ".taskcat.yml", INFRA.parent / ".taskcat.yml")
    try:
        return measure()
    finally:
        shutil.rmtree(INFRA.parent, ignore_errors=True)


def measure() -> int:
    quick_note("deploy_local_warm", f"{RUNS} run(s) of each; the baseline is skipped")
    with tempfile.TemporaryDirectory(prefix="bench-deploy-local-") as tmp:
        work = Path(tmp)
        # the bytecode cache tox keeps for this environment, as a user's warm run has it
        # (a new one only outside tox): priming need not compile every library again
        kept = os.environ.get("PYTHONPYCACHEPREFIX")
        cached_env = bytecode_env(True, Path(kept) if kept else work / "pycache")
        plain_env = bytecode_env(False, work / "pycache")
        figures: dict[str, object] = {}
        prime = deploy_local(work / "warm", cached_env)  # fills build/cache and the bytecode
        warm = [deploy_local(work / "warm", cached_env) for _ in range(RUNS)]
        figures["prime_seconds"] = round(prime, 2)
        figures["warm_seconds"] = round(median(warm), 2)
        template = INFRA / "endpoint.yaml"
        template.write_text(template.read_text() + "\n# changed by bench/deploy_local_warm.py\n")
        changed = deploy_local(work / "warm", cached_env)
        figures["changed_template_seconds"] = round(changed, 2)
        sandbox_cached = [sandbox_start(cached_env) for _ in range(RUNS)]
        figures["sandbox_ready_seconds"] = round(median(sandbox_cached), 2)
        line = f"deploy-local warm: median {median(warm):.2f} s (priming run {prime:.1f} s)"
        print(
            f"deploy-local warm, one template changed: {changed:.2f} s "
            f"{target(f'<= {CHANGED_TARGET_SECONDS:g} s')}"
            + ("" if quick() else f": {'met' if changed <= CHANGED_TARGET_SECONDS else 'NOT met'}")
        )
        if not quick():
            baseline = [
                deploy_local(work / f"baseline-{i}", plain_env, "--no-cache") for i in range(RUNS)
            ]
            sandbox_plain = [sandbox_start(plain_env) for _ in range(RUNS)]
            figures["baseline_seconds"] = round(median(baseline), 2)
            figures["warm_over_baseline"] = round(median(warm) / median(baseline), 3)
            figures["sandbox_ready_no_bytecode_seconds"] = round(median(sandbox_plain), 2)
            line += (
                f"; --no-cache without bytecode: {median(baseline):.2f} s "
                f"({median(warm) / median(baseline):.2f}x); "
                f"{target(f'warm <= {TARGET_SECONDS:g} s')}: "
                f"{'met' if median(warm) <= TARGET_SECONDS else 'NOT met'}"
            )
        print(line)
        sandbox_line = f"sandbox ready: median {median(sandbox_cached):.2f} s"
        if not quick():
            sandbox_line += (
                f" (without bytecode {median(sandbox_plain):.2f} s, "
                f"{median(sandbox_cached) / median(sandbox_plain):.2f}x); "
                f"{target(f'<= {SANDBOX_TARGET_SECONDS:g} s')}: "
                f"{'met' if median(sandbox_cached) <= SANDBOX_TARGET_SECONDS else 'NOT met'}"
            )
        print(sandbox_line)
        write_results("deploy_local_warm", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
