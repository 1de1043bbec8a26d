"""Benchmark 2: the model server under load.

Workload: single-row CSV requests (Accept: application/json) from 8 concurrent clients, a
fixed number of requests per run; a client keeps its connection while the server does, and
reconnects (inside the next request's latency) when the server closes it. Reported:
requests/s, p50 and p99 latency, and the peak RSS of the server's whole process tree.
Contenders, measured in the same run with the same worker count and the same inference.py:
- baseline: gunicorn with gevent workers running sagemaker-containers' Flask worker (the
  serving image's configuration, without the nginx in front of it);
- ours: `pipeline serve`, the contract as a WSGI app on gunicorn's sync workers;
- old: the hand-written asyncio server it replaced, run from git (commit OLD_COMMIT), so
  that its code need not stay in the package.
Runs alternate between contenders. Decision rule (issue 17): a hand-written server stays only
if gunicorn with our app cannot reach 1.5x the baseline's throughput with p99 no worse.
Quick mode (BENCH_QUICK=1): 200 requests per run after a 40-request warm-up, one round,
targets not judged (request errors still fail the run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    build_artifact,
    golden_row,
    median,
    quick,
    quick_note,
    results_dir,
    target,
    write_results,
)
from pipeline.local import model_server  # noqa: E402

CLIENTS = 8
# requests per client before a measured run, so that every worker has loaded its model
WARM_UP_PER_CLIENT = 5 if quick() else 50
OLD_COMMIT = "d782a51"  # the last commit with the hand-written HTTP server and arbiter
OLD_RUNNER = """
import importlib.util, logging, os, sys
from pathlib import Path
sys.path.insert(0, {root!r})
logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                    format="%(asctime)s %(levelname)s %(message)s")  # as `pipeline serve`
spec = importlib.util.spec_from_file_location("old_model_server", {module!r})
old = sys.modules["old_model_server"] = importlib.util.module_from_spec(spec)  # for dataclass
spec.loader.exec_module(old)
config = old.ServerConfig.from_env(dict(os.environ), host="127.0.0.1", port=int(sys.argv[2]))
old.serve(Path(sys.argv[1]), config, lambda port: print("listening on", port, flush=True))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request_bytes(port: int, row: list[float]) -> bytes:
    body = (",".join(repr(float(v)) for v in row) + "\n").encode()
    head = (
        f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: text/csv\r\nAccept: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _client(port: int, request: bytes, count: int, latencies: list[float]) -> int:
    reader = writer = None
    errors = 0
    try:
        for _ in range(count):
            started = time.perf_counter()
            if writer is None:  # first request, or the server closed the last connection
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length, close = 0, False
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
                close = close or line.lower() == b"connection: close"
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200") and not head.startswith(b"HTTP/1.0 200"):
                errors += 1
            if close:
                writer.close()
                reader = writer = None
    finally:
        if writer is not None:
            writer.close()
    return errors


async def _load(port: int, total: int, row: list) -> tuple[float, list[float], int]:
    request = request_bytes(port, row)
    latencies: list[float] = []
    started = time.perf_counter()
    errors = await asyncio.gather(
        *(_client(port, request, total // CLIENTS, latencies) for _ in range(CLIENTS))
    )
    return time.perf_counter() - started, latencies, sum(errors)


class PeakRss:
    """Samples the summed RSS of a process and its descendants every 20 ms; also the CPU
    seconds they used meanwhile (a figure other load on a shared machine disturbs less than
    requests/s)."""

    def __init__(self, pid: int):
        self.root = psutil.Process(pid)
        self.peak = 0
        self.cpu_seconds = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            total = 0
            for proc in [self.root, *self.root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += proc.memory_info().rss
            self.peak = max(self.peak, total)
            self._stop.wait(0.02)

    def _cpu(self) -> float:
        total = 0.0
        for proc in [self.root, *self.root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    def __enter__(self):
        self.cpu_seconds = -self._cpu()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.cpu_seconds += self._cpu()


def wait_ping(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if (
                model_server.request(f"http://127.0.0.1:{port}", "GET", "/ping", timeout=5)[0]
                == 200
            ):
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server on port {port} never answered /ping with 200; see the log")


def start_baseline(model_dir: Path, workers: int, log) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "BENCH_MODEL_DIR": str(model_dir), "SAGEMAKER_PROGRAM": "inference.py"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--timeout",
            "60",
            "-k",
            "gevent",
            "--pythonpath",
            str(ROOT),
            "-b",
            f"127.0.0.1:{port}",
            "--worker-connections",
            str(1000 * workers),
            "-w",
            str(workers),
            "--log-level",
            "info",
            "bench.baseline_app:main",
        ],
        stdout=log,
        stderr=log,
        env=env,
        start_new_session=True,
    )
    return proc, port


def start_ours(artifact: Path, workers: int, log) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline",
            "serve",
            "--artifact",
            str(artifact),
            "--port",
            str(port),
            "--unsigned",
        ],
        stdout=log,
        stderr=log,
        env=env,
        start_new_session=True,
    )
    return proc, port


def start_old(artifact: Path, runner: Path, workers: int, log) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers)}
    proc = subprocess.Popen(
        [sys.executable, str(runner), str(artifact), str(port)],
        stdout=log,
        stderr=log,
        env=env,
        start_new_session=True,
    )
    return proc, port


def old_runner(into: Path) -> Path:
    """The hand-written server from git, and a script that runs it."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{OLD_COMMIT}:pipeline/local/model_server.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = into / "old_model_server.py"
    module.write_text(source)
    runner = into / "run_old_model_server.py"
    runner.write_text(OLD_RUNNER.format(root=str(ROOT), module=str(module)))
    return runner


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, 15)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()


def run_once(kind: str, start, workers: int, total: int, log, row: list) -> dict:
    proc, port = start(workers, log)
    try:
        wait_ping(port, proc)
        asyncio.run(_load(port, CLIENTS * WARM_UP_PER_CLIENT, row))  # warm-up
        with PeakRss(proc.pid) as rss:
            elapsed, latencies, errors = asyncio.run(_load(port, total, row))
        latencies.sort()
        return {
            "server": kind,
            "requests": len(latencies),
            "errors": errors,
            "req_per_s": len(latencies) / elapsed,
            "p50_ms": latencies[len(latencies) // 2] * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
            "peak_rss_mb": rss.peak / 2**20,
            "server_cpu_ms_per_req": rss.cpu_seconds * 1000 / max(len(latencies), 1),
        }
    finally:
        stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests", type=int, default=200 if quick() else 12000, help="requests per run"
    )
    parser.add_argument(
        "--rounds", type=int, default=1 if quick() else 3, help="runs of each server"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--quick", action="store_true", help="a short run: 2000 requests per run, 3 rounds"
    )
    parser.add_argument(
        "--without-old", action="store_true", help=f"skip the hand-written server of {OLD_COMMIT}"
    )
    args = parser.parse_args()
    if args.quick:
        args.requests, args.rounds = 2000, 3
    quick_note("server_load", f"{args.requests} requests per run, {args.rounds} round(s)")

    settings = build_artifact()
    model_dir = Path(tempfile.mkdtemp(prefix="bench-model-"))
    model_server.extract(settings.artifact_file, model_dir)
    log_path = results_dir() / "server_load.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    starts = {
        "baseline": lambda w, log: start_baseline(model_dir, w, log),
        "ours": lambda w, log: start_ours(settings.artifact_file, w, log),
    }
    if not args.without_old:
        runner = old_runner(Path(tempfile.mkdtemp(prefix="bench-old-server-")))
        starts["old"] = lambda w, log: start_old(settings.artifact_file, runner, w, log)
    runs = {kind: [] for kind in starts}
    print(
        f"{CLIENTS} clients, {args.requests} requests per run, {args.workers} workers, "
        f"{args.rounds} rounds"
    )
    with log_path.open("w") as log:
        for round_number in range(1, args.rounds + 1):
            for kind in starts:
                result = run_once(
                    kind, starts[kind], args.workers, args.requests, log, golden_row(settings)
                )
                runs[kind].append(result)
                print(
                    f"round {round_number} {kind:<8} {result['req_per_s']:>8.0f} req/s  "
                    f"p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms  "
                    f"peak RSS {result['peak_rss_mb']:6.1f} MB  "
                    f"CPU {result['server_cpu_ms_per_req']:5.2f} ms/req  errors {result['errors']}"
                )
    summary = {
        kind: {
            key: round(median([r[key] for r in results]), 2)
            for key in ("req_per_s", "p50_ms", "p99_ms", "peak_rss_mb", "server_cpu_ms_per_req")
        }
        for kind, results in runs.items()
    }
    for kind, figures in summary.items():
        print(
            f"median {kind:<8} {figures['req_per_s']:>8.0f} req/s  p50 {figures['p50_ms']:6.2f} ms"
            f"  p99 {figures['p99_ms']:6.2f} ms  peak RSS {figures['peak_rss_mb']:6.1f} MB  "
            f"CPU {figures['server_cpu_ms_per_req']:5.2f} ms/req  "
            f"({figures['req_per_s'] / summary['baseline']['req_per_s']:.2f}x baseline req/s)"
        )
    ratio = summary["ours"]["req_per_s"] / summary["baseline"]["req_per_s"]
    p99_ratio = summary["ours"]["p99_ms"] / summary["baseline"]["p99_ms"]
    print(
        f"median: ours {summary['ours']['req_per_s']:.0f} req/s vs baseline "
        f"{summary['baseline']['req_per_s']:.0f} req/s = {ratio:.2f}x {target('>= 1.5x')}; "
        f"p99 {summary['ours']['p99_ms']:.2f} ms vs {summary['baseline']['p99_ms']:.2f} ms "
        f"= {p99_ratio:.2f}x {target('<= 1')}"
    )
    write_results(
        "server_load",
        {
            "clients": CLIENTS,
            "requests_per_run": args.requests,
            "workers": args.workers,
            "rounds": args.rounds,
            "median": summary,
            "throughput_ratio": round(ratio, 2),
            "p99_ratio": round(p99_ratio, 2),
            "old_commit": OLD_COMMIT,
            "runs": runs,
        },
    )
    errors = sum(r["errors"] for results in runs.values() for r in results)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
