"""The local SageMaker training runtime: training jobs in the sandbox really run.

When the emulator creates a training job, `LocalTrainer` runs it on a thread of the sandbox
as the scikit-learn training container would: a working folder with the container's
/opt/ml layout (input/config/{hyperparameters,resourceconfig,inputdataconfig}.json,
input/data/<channel>/ filled from the sandbox's S3, model/, output/, code/ from
`sagemaker_submit_directory`), the entry point (`sagemaker_program`) run with the SM_*
variables and `--name value` arguments of the training toolkit (pipeline.core.training),
its output written to CloudWatch Logs (group /aws/sagemaker/TrainingJobs, stream
`<job>/algo-1-<epoch seconds>`), /opt/ml/model packed to
`<output path>/<job>/output/model.tar.gz`.

Statuses follow DescribeTrainingJob: InProgress with the secondary statuses Starting,
Downloading, Training, Uploading, then Completed; Failed with a FailureReason (the script's
/opt/ml/output/failure, else the last line it wrote to stderr); a stop request, or running past
MaxRuntimeInSeconds, Stopping then Stopped (secondary status Stopped or MaxRuntimeExceeded).

It updates the emulator's job object (moto's FakeTrainingJob) through `JobRecord`, a small
interface moto_patches/sagemaker_training.py provides; this module knows nothing of moto.
"""

from __future__ import annotations

import collections
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pipeline.aws.logs import TRAINING_LOG_GROUP, Logs
from pipeline.aws.s3 import S3, parse_uri
from pipeline.core import training
from pipeline.core.serving_image import ServingImage
from pipeline.core.versions import check_loadable
from pipeline.errors import PipelineError

log = logging.getLogger("pipeline.training")
MAX_SOURCE_BYTES = 512 * 1024 * 1024  # an unpacked sourcedir over this is refused
TAIL_LINES = 20
FLUSH_SECONDS = 0.5  # a line reaches the job's log stream this soon after it was written


class JobRecord(Protocol):
    """What the trainer may change on the emulator's job."""

    def set_status(self, status: str, secondary: str, message: str) -> None: ...

    def finish(
        self, status: str, secondary: str, message: str, failure: str | None, billable_seconds: int
    ) -> None: ...


@dataclass
class JobSpec:
    name: str
    hyperparameters: dict[str, str]
    channels: dict[str, str]  # channel -> S3 prefix URI
    output_path: str
    instance_type: str
    instance_count: int
    max_runtime_seconds: int
    input_data_config: list[dict[str, Any]] = field(default_factory=list)
    image: str = ""  # AlgorithmSpecification.TrainingImage
    environment: dict[str, str] = field(default_factory=dict)  # the request's Environment


class _Stopped(Exception):
    def __init__(self, secondary: str, message: str):
        super().__init__(message)
        self.secondary, self.message = secondary, message


class _Failed(Exception):
    pass


class LocalTrainer:
    def __init__(
        self,
        workdir: Path,
        s3: S3 | None = None,
        logs: Logs | None = None,
        python: str = sys.executable,
        clock: Callable[[], float] = time.time,
        image: ServingImage | None = None,
    ):
        self.workdir = workdir
        self.image = image
        self._s3, self._logs = s3, logs
        self.python = python
        self.clock = clock
        self._lock = threading.Lock()
        self._stops: dict[str, threading.Event] = {}
        self._threads: dict[str, threading.Thread] = {}

    @property
    def s3(self) -> S3:
        if self._s3 is None:
            self._s3 = S3()
        return self._s3

    @property
    def logs(self) -> Logs:
        if self._logs is None:
            self._logs = Logs()
        return self._logs

    # -- control --------------------------------------------------------------------------
    def start(self, spec: JobSpec, record: JobRecord) -> None:
        stop = threading.Event()
        thread = threading.Thread(
            target=self._run, args=(spec, record, stop), name=f"training-{spec.name}", daemon=True
        )
        with self._lock:
            self._stops[spec.name] = stop
            self._threads[spec.name] = thread
        record.set_status("InProgress", "Starting", "Preparing the instances for training")
        thread.start()

    def stop(self, name: str, accepted: Callable[[], None] = lambda: None) -> bool:
        """Ask a running job to stop; False when it is not running (any more). `accepted`
        runs under the lock the job's end is recorded under, so it happens before that."""
        with self._lock:
            stop = self._stops.get(name)
            if stop is None:
                return False
            accepted()
            stop.set()
            return True

    def wait(self, name: str, timeout: float | None = None) -> None:
        with self._lock:
            thread = self._threads.get(name)
        if thread is not None:
            thread.join(timeout)

    def stop_all(self) -> None:
        with self._lock:
            names = list(self._stops)
        for name in names:
            self.stop(name)
        for name in names:
            self.wait(name, 30)

    # -- one job --------------------------------------------------------------------------
    def _run(self, spec: JobSpec, record: JobRecord, stop: threading.Event) -> None:
        root = self.workdir / spec.name
        started = self.clock()
        stream = f"{spec.name}/algo-1-{int(started)}"
        status, secondary, message, failure = (
            "Completed",
            "Completed",
            "Training job completed",
            None,
        )

        def advance(secondary: str, message: str) -> None:
            # under the lock a stop is accepted under: once Stopping, never InProgress again
            with self._lock:
                if not stop.is_set():
                    record.set_status("InProgress", secondary, message)

        try:
            self.logs.ensure_stream(TRAINING_LOG_GROUP, stream)
            advance("Downloading", "Downloading input data")
            program = self._prepare(spec, root)
            self._check(stop, started, spec)
            advance("Training", "Training image download completed. Training in progress.")
            self._train(spec, root, program, stream, stop, started)
            advance("Uploading", "Uploading generated training model")
            self._upload(spec, root)
        except _Stopped as stopped:
            with self._lock:
                record.set_status("Stopping", "Stopping", "Stopping the training job")
            status, secondary, message = "Stopped", stopped.secondary, stopped.message
        except _Failed as failed:
            status, secondary, message = "Failed", "Failed", "Training job failed"
            failure = str(failed)[:1024]
        except Exception as exc:  # the sandbox's own fault: say so, as AWS says InternalServerError
            log.exception("training job %s", spec.name)
            status, secondary, message = "Failed", "Failed", "Training job failed"
            failure = f"InternalServerError: {type(exc).__name__}: {exc}"[:1024]
        finally:
            billable = max(1, round(self.clock() - started))
            with self._lock:  # a stop accepted before this is overridden by the end
                self._stops.pop(spec.name, None)
                record.finish(status, secondary, message, failure, billable)
            shutil.rmtree(root, ignore_errors=True)

    def _check(self, stop: threading.Event, started: float, spec: JobSpec) -> None:
        if stop.is_set():
            raise _Stopped("Stopped", "Training job stopped")
        if self.clock() - started > spec.max_runtime_seconds:
            raise _Stopped(
                "MaxRuntimeExceeded",
                f"Training job stopped: MaxRuntimeInSeconds ({spec.max_runtime_seconds}) exceeded",
            )

    def _check_image(self, spec: JobSpec) -> None:
        """The sandbox runs jobs only in the image it emulates (model/serving-image.toml),
        and only when the Python running them has that image's package versions: a model
        it trains is then what the image would have trained."""
        if self.image is None:
            return
        known = {self.image.uri(region) for region in self.image.accounts}
        if spec.image not in known:
            raise _Failed(
                f"ClientError: the sandbox cannot run the training image '{spec.image}': it "
                f"emulates only {self.image.name} (model/serving-image.toml), from any "
                "region's registry"
            )
        from importlib import metadata

        try:
            running = {name: metadata.version(name) for name in sorted(self.image.packages)}
            check_loadable(running, self.image.packages, self.image.name, "the sandbox's Python")
        except (metadata.PackageNotFoundError, PipelineError) as exc:
            raise _Failed(
                f"ClientError: the sandbox's Python is not {self.image.name}'s environment, so "
                f"it cannot stand in for the image: {exc}"
            ) from None

    def _prepare(self, spec: JobSpec, root: Path) -> str:
        """The /opt/ml layout, filled; the entry point's name."""
        self._check_image(spec)
        decoded = training.decode_hyperparameters(spec.hyperparameters)
        program = decoded.get(training.PROGRAM)
        source = decoded.get(training.SUBMIT_DIRECTORY)
        if not isinstance(program, str) or not isinstance(source, str):
            raise _Failed(
                "AlgorithmError: script mode needs the hyperparameters sagemaker_program and "
                "sagemaker_submit_directory (the SageMaker SDK sets both)"
            )
        config = root / "input" / "config"
        for folder in (config, root / "model", root / "output" / "data", root / "code"):
            folder.mkdir(parents=True, exist_ok=True)
        (config / "hyperparameters.json").write_text(json.dumps(spec.hyperparameters))
        (config / "resourceconfig.json").write_text(
            json.dumps(
                {"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0"}
            )
        )
        (config / "inputdataconfig.json").write_text(
            json.dumps(
                {
                    c["ChannelName"]: {
                        "TrainingInputMode": "File",
                        "S3DistributionType": "FullyReplicated",
                        "RecordWrapperType": "None",
                    }
                    for c in spec.input_data_config
                }
            )
        )
        for channel, uri in spec.channels.items():
            self._download_prefix(uri, root / "input" / "data" / channel)
        self._unpack_source(source, root / "code")
        if not (root / "code" / program).is_file():
            raise _Failed(
                f"AlgorithmError: sagemaker_program {program!r} is not in the source {source}"
            )
        return program

    def _download_prefix(self, uri: str, into: Path) -> None:
        bucket, prefix = parse_uri(uri)
        into.mkdir(parents=True, exist_ok=True)
        keys = [k for k in self.s3.keys(bucket, prefix) if not k.endswith("/")]
        if not keys:
            raise _Failed(f"ClientError: no objects under the channel's S3 prefix {uri}")
        for key in keys:
            relative = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
            target = (into / relative).resolve()
            if into.resolve() not in target.parents:
                raise _Failed(f"ClientError: object key {key!r} leaves its channel folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            self.s3.download(bucket, key, target)

    def _unpack_source(self, uri: str, into: Path) -> None:
        bucket, key = parse_uri(uri)
        try:
            body = self.s3.read(bucket, key)
        except Exception as exc:
            raise _Failed(
                f"ClientError: cannot read sagemaker_submit_directory {uri}: {exc}"
            ) from None
        try:
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
                total = sum(m.size for m in tar.getmembers() if m.isfile())
                if total > MAX_SOURCE_BYTES:
                    raise _Failed(
                        f"ClientError: {uri} unpacks to {total} bytes, over {MAX_SOURCE_BYTES}"
                    )
                tar.extractall(into, filter="data")  # no links out, no absolute paths
        except (tarfile.TarError, OSError) as exc:
            raise _Failed(f"ClientError: {uri} is not a usable sourcedir.tar.gz: {exc}") from None

    def _train(
        self,
        spec: JobSpec,
        root: Path,
        program: str,
        stream: str,
        stop: threading.Event,
        started: float,
    ) -> None:
        decoded = training.decode_hyperparameters(spec.hyperparameters)
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AWS_", "PIPELINE_"))  # the job sees the container's world
        }
        env.update(
            training.container_environment(
                str(root),
                sorted(spec.channels),
                decoded,
                program,
                str(decoded[training.SUBMIT_DIRECTORY]),
                os.cpu_count() or 1,
            )
        )
        env.update(spec.environment)  # the request's Environment, as the container gets it
        env.update({"PYTHONUNBUFFERED": "1", "PYTHONPATH": str(root / "code")})
        command = [self.python, program, *training.script_arguments(decoded)]
        tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        process = subprocess.Popen(
            command,
            cwd=root / "code",
            env=env,
            text=True,
            errors="replace",
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        reader = threading.Thread(target=self._forward, args=(process, stream, tail), daemon=True)
        reader.start()
        try:
            while process.poll() is None:
                try:
                    self._check(stop, started, spec)
                except _Stopped:
                    self._terminate(process)
                    raise
                time.sleep(0.05)
        finally:
            reader.join(10)
        if process.returncode != 0:
            failure = root / "output" / "failure"
            reason = failure.read_text(errors="replace").strip() if failure.exists() else ""
            last = next((line for line in reversed(tail) if line.strip()), "")
            raise _Failed(
                f"AlgorithmError: {reason or last or f'exit status {process.returncode}'}"
            )

    def _forward(
        self, process: subprocess.Popen[str], stream: str, tail: collections.deque[str]
    ) -> None:
        """The script's lines to its log stream, at most FLUSH_SECONDS after they were
        written (a script that prints one line and then computes for an hour is followed as
        on AWS), in batches when it writes many."""
        assert process.stdout is not None
        pending: list[tuple[int, str]] = []
        lock, sending = threading.Lock(), threading.Lock()  # sending: batches stay in order
        done = threading.Event()

        def flush() -> None:
            with sending:
                with lock:
                    batch = pending[:]
                    pending.clear()
                if not batch:
                    return
                try:
                    self.logs.put(TRAINING_LOG_GROUP, stream, batch)
                except Exception:  # the sandbox stopping under a job: its last lines are lost
                    log.warning("training log %s: %d lines not written", stream, len(batch))

        def timer() -> None:
            while not done.wait(FLUSH_SECONDS):
                flush()

        flusher = threading.Thread(target=timer, name=f"log-{stream}", daemon=True)
        flusher.start()
        try:
            for line in process.stdout:
                text = line.rstrip("\n")
                tail.append(text)
                with lock:
                    pending.append((int(self.clock() * 1000), text))
                    full = len(pending) >= 1000
                if full:
                    flush()
        finally:
            done.set()
            flusher.join()
            flush()

    @staticmethod
    def _terminate(process: subprocess.Popen[str]) -> None:
        """SIGTERM to the script's whole session, then SIGKILL after a grace period, as the
        platform does on StopTrainingJob."""
        import signal

        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(grace)
                return
            except subprocess.TimeoutExpired:
                continue

    def _upload(self, spec: JobSpec, root: Path) -> None:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for path in sorted((root / "model").rglob("*")):
                tar.add(path, arcname=str(path.relative_to(root / "model")), recursive=False)
        bucket, key = parse_uri(training.model_artifact_uri(spec.output_path, spec.name))
        self.s3.put_new(bucket, key, buffer.getvalue(), "application/x-tar")


def now() -> datetime:
    return datetime.now(UTC)
