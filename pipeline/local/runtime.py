"""The local SageMaker runtime: endpoints in the sandbox really serve their artifact.

When the emulator creates or updates an endpoint, `LocalRuntime` resolves endpoint config ->
production variants -> model (image, ModelDataUrl, environment), fetches the artifact from
the emulator's S3 through pipeline.aws, starts one model server (the container contract,
`pipeline serve`) per variant and waits for /ping. Only then is the endpoint InService; any
failure makes it Failed with a FailureReason like AWS's. During an update the old servers
keep serving until the new ones answer /ping; on a failed update they simply stay.

moto_patches/runtime_hooks.py hooks this into moto's SageMaker backend (create, CloudFormation
update, delete); this module knows nothing of moto.
Model servers run in their own sessions and outlive the zygote that forked them (a new
zygote is started when the next server is needed); they die with the sandbox, which holds
the only write end of a "lifeline" pipe they watch. A crashed one is reported and restarted
on the next request. Invocations of endpoints whose config has a DataCaptureConfig are
captured by `capture` (pipeline/local/capture.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import os
import shutil
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.aws.errors import AwsError
from pipeline.aws.s3 import S3, parse_uri
from pipeline.core import provenance
from pipeline.core.serving_image import ServingImage
from pipeline.core.versions import check_loadable
from pipeline.errors import PipelineError
from pipeline.local import model_server
from pipeline.local.capture import CaptureConfig, DataCapture

PING_TIMEOUT_SECONDS = 120.0
log = logging.getLogger("pipeline.runtime")


class ProvisionFailed(Exception):
    """An endpoint could not be brought InService; `reason` is its FailureReason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VariantSpec:
    variant: str
    model_name: str
    image: str
    model_data_url: str
    environment: dict = field(default_factory=dict)
    # the endpoint config's data capture (None: nothing is captured); a deployment carries
    # the capture of the config it serves, so an update switches both together
    capture: CaptureConfig | None = None


@dataclass
class VariantServer:
    spec: VariantSpec
    artifact: Path
    log_path: Path
    env: dict
    process: model_server.ServerHandle
    url: str


class LocalRuntime:
    def __init__(self, workdir: Path, image: ServingImage, s3: S3 | None = None):
        self.workdir = workdir
        self.image = image
        self._s3 = s3
        self._lock = threading.RLock()
        self._deployments: dict[str, dict[str, VariantServer]] = {}
        self._serial = itertools.count(1)
        # Bumped whenever an endpoint's deployment changes, so that the gateway's short-lived
        # cache of endpoint statuses is never older than the last activation or retirement.
        self.generation = 0
        # Model servers are forked by one warm "zygote" process that has the serving
        # libraries imported, so each starts in a fraction of a second. It is started from
        # this long-lived thread: its parent-death signal follows the thread that started it.
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-spawner")
        self._zygote: model_server.Zygote | None = None
        # Model servers stop when this pipe reaches end of file: only this process holds the
        # write end (not inheritable), so it closes when the sandbox exits, however it exits.
        self._lifeline_read, self._lifeline_write = os.pipe()
        # What endpoints with a DataCaptureConfig capture (the gateway records, capture.py
        # writes to S3); closed first by stop_all, so nothing captured is lost.
        self.capture = DataCapture(lambda: self.s3)

    @property
    def s3(self) -> S3:
        if self._s3 is None:
            self._s3 = S3()
        return self._s3

    # -- images and artifacts -------------------------------------------------------
    def check_image(self, image: str, variant: str) -> None:
        known = {self.image.uri(region) for region in self.image.accounts}
        if image not in known:
            raise ProvisionFailed(
                f"The sandbox cannot run image '{image}' for production variant {variant}: "
                f"it emulates only {self.image.name} (model/serving-image.toml), from any "
                "region's registry."
            )

    def _check_provenance(self, bucket: str, key: str, artifact: Path, variant: str) -> None:
        """A model file is code: an artifact with a manifest beside it (a pipeline build) is
        loaded only if the build's signature (provenance.json) verifies with the account's
        bootstrap signing key. Without a manifest, nothing claims it is a build (as today,
        its versions are not checked either, and a warning says so)."""
        prefix = key.rsplit("/", 1)[0] if "/" in key else ""
        try:
            manifest = self.s3.read(bucket, f"{prefix}/manifest.json") if prefix else None
        except AwsError:
            manifest = None
        if manifest is None:
            return
        from pipeline.aws.cloudformation import CloudFormation
        from pipeline.aws.kms import Kms
        from pipeline.settings import BOOTSTRAP_STACK

        try:
            signed = self.s3.read(bucket, f"{prefix}/{provenance.FILE}")
        except AwsError:
            signed = None
        sha = hashlib.sha256()
        with artifact.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                sha.update(chunk)
        try:
            trusted = CloudFormation().outputs(BOOTSTRAP_STACK).get("SigningKeyArn")
            if not trusted:
                raise provenance.ProvenanceError(
                    f"artifact {sha.hexdigest()} is not trusted: no signing key to verify it "
                    f"with (stack {BOOTSTRAP_STACK} has no SigningKeyArn output)"
                )
            message, signature = provenance.check_files(
                signed,
                digest=sha.hexdigest(),
                manifest_bytes=manifest,
                trusted_key=trusted,
                where=f"s3://{bucket}/{prefix}/{provenance.FILE}",
            )
            if not Kms().verify(trusted, message, signature, provenance.ALGORITHM):
                raise provenance.ProvenanceError(
                    f"artifact {sha.hexdigest()} is not trusted: its signature does not "
                    f"verify with {trusted}"
                )
        except PipelineError as exc:
            raise ProvisionFailed(f"Production variant {variant}: {exc}") from None

    def _check_versions(self, bucket: str, key: str, variant: str) -> None:
        manifest_key = key.rsplit("/", 1)[0] + "/manifest.json" if "/" in key else None
        try:
            raw = self.s3.read(bucket, manifest_key) if manifest_key else None
        except AwsError:
            raw = None
        if raw is None:
            log.warning(
                "no manifest.json beside s3://%s/%s: framework versions not checked", bucket, key
            )
            return
        import json

        training_env = json.loads(raw).get("training_env", {})
        try:
            check_loadable(
                training_env,
                self.image.packages,
                self.image.name,
                f"the artifact s3://{bucket}/{key} (its manifest.json)",
            )
        except PipelineError as exc:
            raise ProvisionFailed(f"Production variant {variant}: {exc}") from None

    # -- starting and stopping servers ---------------------------------------------
    def _zygote_running(self) -> model_server.Zygote:
        """The zygote, started (or started again) if it is not running. Only ever called on
        the spawner thread."""
        if self._zygote is None or not self._zygote.alive():
            if self._zygote is not None:
                log.error("the model-server zygote exited; starting a new one")
                self._zygote.stop()
            self._zygote = model_server.Zygote(
                self.workdir / "zygote.log",
                {model_server.DIE_WITH_PARENT_ENV: "1"},
                lifeline=self._lifeline_read,
            )
            log.info("model-server zygote started (pid %d)", self._zygote.process.proc.pid)
        return self._zygote

    def warm(self) -> None:
        """Start the zygote now, in the background, rather than when the first endpoint
        needs a server (its imports take a second or two): for a sandbox that will serve
        endpoints soon. A zygote that fails to start here is logged, and started again on
        first use."""

        def done(started: Future) -> None:
            if started.exception() is not None:
                log.error("the model-server zygote did not start: %s", started.exception())

        self._spawner.submit(self._zygote_running).add_done_callback(done)

    def _launch(self, artifact: Path, env: dict) -> model_server.ServerHandle:
        """Fork a model server for `artifact` from the zygote (started on first use)."""

        def spawn() -> model_server.ServerHandle:
            log_path = artifact.parent / "model-server.log"
            try:
                return self._zygote_running().spawn(artifact, env, log_path)
            except (OSError, PipelineError):
                if self._zygote is not None and self._zygote.alive():
                    raise
                # It died between the check and the request: once more, with a new one.
                return self._zygote_running().spawn(artifact, env, log_path)

        return self._spawner.submit(spawn).result()

    def _wait_ping(self, url: str, process: model_server.ServerHandle, variant: str) -> None:
        deadline = time.monotonic() + PING_TIMEOUT_SECONDS
        detail = "no answer"
        while time.monotonic() < deadline and process.alive():
            try:
                status, _, body = model_server.request(url, "GET", "/ping", timeout=30)
            except OSError as exc:
                detail = str(exc)
                time.sleep(0.1)
                continue
            if status == 200:
                return
            detail = f"/ping answered {status}: {body.decode(errors='replace')[:300]}"
            break
        raise ProvisionFailed(
            f"The primary container for production variant {variant} did not pass the ping "
            f"health check. Please check the model server log for this endpoint ({detail})."
        )

    def _start(self, endpoint: str, spec: VariantSpec) -> VariantServer:
        self.check_image(spec.image, spec.variant)
        try:
            bucket, key = parse_uri(spec.model_data_url)
        except ValueError as exc:
            raise ProvisionFailed(f"Production variant {spec.variant}: {exc}") from None
        server_dir = self.workdir / endpoint / f"{spec.variant}-{next(self._serial)}"
        artifact = server_dir / "model.tar.gz"
        try:
            self.s3.download(bucket, key, artifact)
        except AwsError:
            raise ProvisionFailed(
                f'Failed to download model data for container "{spec.variant}" from URL: '
                f'"{spec.model_data_url}". Please ensure that there is an object located at '
                "the URL and that the role passed to CreateModel has permissions to download "
                "the model."
            ) from None
        self._check_provenance(bucket, key, artifact, spec.variant)
        self._check_versions(bucket, key, spec.variant)
        env = {"SAGEMAKER_MODEL_SERVER_WORKERS": "1", **spec.environment}
        try:
            process = self._launch(artifact, env)
        except PipelineError as exc:
            raise ProvisionFailed(
                f"The primary container for production variant {spec.variant} did not start: "
                f"{str(exc).splitlines()[0]}"
            ) from None
        try:
            self._wait_ping(process.url, process, spec.variant)
        except ProvisionFailed:
            process.stop()
            raise
        log.info(
            "endpoint %s variant %s serving %s at %s (pid %d)",
            endpoint,
            spec.variant,
            spec.model_data_url,
            process.url,
            process.pid,
        )
        return VariantServer(spec, artifact, process.log_path, env, process, process.url)

    def provision(self, endpoint: str, specs: list[VariantSpec]) -> dict[str, VariantServer]:
        """Start and health-check a server per variant; all or nothing."""
        started: dict[str, VariantServer] = {}
        try:
            for spec in specs:
                started[spec.variant] = self._start(endpoint, spec)
        except BaseException:
            self._stop(started)
            raise
        return started

    def activate(self, endpoint: str, deployment: dict[str, VariantServer]) -> None:
        """Route the endpoint to `deployment`; stop whatever served it before."""
        with self._lock:
            old = self._deployments.get(endpoint)
            self._deployments[endpoint] = deployment
            self.generation += 1
        if old:
            self._stop(old)

    def retire(self, endpoint: str) -> None:
        with self._lock:
            old = self._deployments.pop(endpoint, None)
            self.generation += 1
        if old:
            self._stop(old)

    def _stop(self, deployment: dict[str, VariantServer]) -> None:
        for server in deployment.values():
            server.process.stop()
            shutil.rmtree(server.artifact.parent, ignore_errors=True)

    def route(self, endpoint: str, variant: str | None = None) -> VariantServer | None:
        """The server for a request, restarting it first if it has died."""
        with self._lock:
            deployment = self._deployments.get(endpoint)
            if not deployment:
                return None
            server = deployment.get(variant) if variant else next(iter(deployment.values()))
            if server is None or server.process.alive():
                return server
            log.error(
                "model server for endpoint %s variant %s (pid %d) exited; restarting",
                endpoint,
                server.spec.variant,
                server.process.pid,
            )
            server.process.stop()
            process = self._launch(server.artifact, server.env)
            self._wait_ping(process.url, process, server.spec.variant)
            server.process, server.url = process, process.url
            return server

    def stop_all(self) -> None:
        """Write what is captured, then stop every server. The sandbox calls `capture.close()`
        while its emulator still answers; here it is a no-op then, and a last attempt
        otherwise."""
        self.capture.close()
        with self._lock:
            deployments, self._deployments = list(self._deployments.values()), {}
        for deployment in deployments:  # every server winds down at once, then each is waited
            for server in deployment.values():
                server.process.terminate()
        for deployment in deployments:
            self._stop(deployment)
        self._spawner.shutdown(wait=True)
        if self._zygote is not None:
            self._zygote.stop()
        for fd in (self._lifeline_write, self._lifeline_read):
            with contextlib.suppress(OSError):
                os.close(fd)
