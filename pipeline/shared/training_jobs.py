"""Training as a SageMaker training job (`pipeline train --on sagemaker`).

The same script that `pipeline train` runs on this machine runs in the scikit-learn training
image (the serving image's repository and tag: pipeline.core.serving_image) as SageMaker's
Python SDK would start it: the project's source folder as a deterministic, content-addressed
`sourcedir.tar.gz`, the train and test channels (the split `pipeline train` made, so both
placements train on the same rows) as S3 prefixes, the hyperparameters JSON-encoded with
`sagemaker_program` and `sagemaker_submit_directory`, the bootstrap's training role
(SageMakerTrainingRoleArn: the build account's, separate from the endpoints' execution
role), the job's output encrypted with the artifact key (pipeline.core.training
.create_request). What it uploads lives in the artifact bucket:

    <output_prefix>/<model>/source/<sha256>/sourcedir.tar.gz
    <output_prefix>/<model>/data/<channel>/<sha256 of the channel>/<file>
    <output_prefix>/<model>/jobs/<job>/output/model.tar.gz      (written by SageMaker)
    <output_prefix>/<model>/checkpoints/<job>/                  (managed spot only)

The job is followed until it ends: status transitions and the job's CloudWatch log stream as
progress; Ctrl-C stops it (StopTrainingJob). A completed job's model.joblib is taken out of
its model.tar.gz; the caller evaluates, gates and packages it as any other.
"""

from __future__ import annotations

import collections
import hashlib
import json
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from pipeline.aws.logs import TRAINING_LOG_GROUP, Logs
from pipeline.aws.s3 import parse_uri
from pipeline.aws.sagemaker import SageMaker, TrainingJob
from pipeline.core import training as training_core
from pipeline.core.project import Project
from pipeline.core.serving_image import ServingImage
from pipeline.errors import ConfigError, PipelineError, TrainingFailed, VersionMismatch
from pipeline.shared import account, objects
from pipeline.shared.context import Context
from pipeline.shared.environment import blas_environment, git_state, reproducibility
from pipeline.shared.tarballs import write_tarball

MAX_SOURCE_BYTES = 100 * 1024 * 1024  # a source folder over this is refused (move data out)
LOG_TAIL = 20
FIRST_POLL, MAX_POLL = 1.0, 10.0  # seconds between DescribeTrainingJob calls, growing
SKIPPED_NAMES = {"__pycache__", "build"}
# The scikit-learn training images are built for x86-64 only; the job gets the BLAS pinning
# `pipeline train` uses there, so a job and a local run of the same inputs fit the same model.
IMAGE_MACHINE = "x86_64"


class TrainingInterrupted(PipelineError):
    """Ctrl-C while a job ran: the job was asked to stop."""


@dataclass(frozen=True)
class JobOutcome:
    name: str
    arn: str
    image: str
    model_file: Path
    billable_seconds: int | None
    seconds: float
    instance_type: str
    instance_count: int
    training_env: dict[str, str]
    reproducibility: dict[str, str | int | None]
    uploads: list[str] = field(default_factory=list)

    def to_metrics(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arn": self.arn,
            "image": self.image,
            "instance_type": self.instance_type,
            "instance_count": self.instance_count,
            "billable_seconds": self.billable_seconds,
            "seconds": round(self.seconds, 1),
        }


def source_files(project: Project, skip: set[Path]) -> dict[str, Path]:
    """The files of the entry point's folder that go into sourcedir.tar.gz (archive name ->
    path): everything but hidden files, caches, the build folder and the files in `skip`
    (the local data, which travels as channels). Symbolic links are refused: their target
    is outside what the tarball can describe."""
    folder = project.entry_point.parent
    files: dict[str, Path] = {}
    total = 0

    def walk(here: Path) -> Iterator[Path]:
        for path in sorted(here.iterdir()):
            if path.name.startswith(".") or path.name in SKIPPED_NAMES or path.suffix == ".pyc":
                continue
            if path.is_symlink():
                raise ConfigError(
                    f"{path}: a symbolic link in the training source folder {folder}; "
                    "replace it with the file itself, or move it out of the folder"
                )
            if path.is_dir():
                yield from walk(path)
            elif path.is_file() and path.resolve() not in skip:
                yield path

    for path in walk(folder):
        files[path.relative_to(folder).as_posix()] = path
        total += path.stat().st_size
    if total > MAX_SOURCE_BYTES:
        raise ConfigError(
            f"{folder}: the training source folder ([model] entry_point's folder) holds "
            f"{total} bytes, over {MAX_SOURCE_BYTES}; SageMaker gets it whole as "
            "sourcedir.tar.gz. Move data and other large files out of it (data travels as "
            "channels from [data])"
        )
    return files


def _tree_digest(entries: dict[str, str]) -> str:
    """One sha256 for a set of named files, from their names and digests."""
    return hashlib.sha256(json.dumps(sorted(entries.items())).encode()).hexdigest()


@dataclass
class _Uploader:
    ctx: Context
    bucket: str
    uploads: list[str] = field(default_factory=list)

    def file(self, key: str, path: Path, scanned: objects.Scan | None = None) -> str:
        local = scanned or objects.scan(path)
        sent = objects.put(self.ctx.s3, self.bucket, key, path, local, lambda _: None)
        uri = f"s3://{self.bucket}/{key}"
        self.ctx.ui.progress(f"  {'uploaded' if sent else 'already there'}: {uri}")
        self.uploads.append(uri)
        return uri


def _upload_source(up: _Uploader, prefix: str, files: dict[str, Path], work: Path) -> str:
    tarball = work / "sourcedir.tar.gz"
    work.mkdir(parents=True, exist_ok=True)
    write_tarball(tarball, files)
    scanned = objects.scan(tarball)
    return up.file(f"{prefix}/source/{scanned.sha256}/sourcedir.tar.gz", tarball, scanned)


def _upload_channels(up: _Uploader, prefix: str, channels: dict[str, Path]) -> dict[str, str]:
    uris = {}
    for channel, folder in sorted(channels.items()):
        files = {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*"))}
        files = {name: p for name, p in files.items() if p.is_file()}
        scans = {name: objects.scan(p) for name, p in files.items()}
        digest = _tree_digest({name: s.sha256 for name, s in scans.items()})
        base = f"{prefix}/data/{channel}/{digest}"
        for name, path in files.items():
            up.file(f"{base}/{name}", path, scans[name])
        uris[channel] = f"s3://{up.bucket}/{base}/"
    return uris


def _image_check(job: TrainingJob, image: ServingImage) -> dict[str, str]:
    """The framework versions the job trained with: its image decides them, and it must be
    the serving image, so the model loads where it is served."""
    if not job.image.endswith(f"/{image.name}"):
        raise VersionMismatch(
            f"training job {job.name} ran the image {job.image or '(none reported)'}, not the "
            f"serving image {image.name} (model/serving-image.toml); its model may not load "
            "where it is served. Nothing was packaged."
        )
    return {name: spec.exact for name, spec in sorted(image.packages.items()) if spec.exact}


CLOCK_SLACK = timedelta(minutes=5)  # S3's and SageMaker's clocks, and the upload's end


def _written_by_the_job(
    ctx: Context, job: TrainingJob, bucket: str, key: str, uri: str
) -> str | None:
    """The version of the job's model.tar.gz to load, refusing an object that was written
    more than once, or outside the job's run: a model file is code, and the prefix is
    writable by the account's training role, not only by this job."""
    info = ctx.s3.head(bucket, key)
    if info is None:
        raise TrainingFailed(f"training job {job.name} completed, but {uri} does not exist")
    versions = ctx.s3.versions(bucket, key)
    if len(versions) > 1:
        raise TrainingFailed(
            f"{uri} was written {len(versions)} times; SageMaker writes it once. Refusing to "
            "load it: find out who else wrote there. Nothing was packaged."
        )
    start = job.started or job.created
    written, ended = info.modified, job.ended
    if written and start and ended and not start - CLOCK_SLACK <= written <= ended + CLOCK_SLACK:
        raise TrainingFailed(
            f"{uri} was written at {written:%Y-%m-%d %H:%M:%S}, outside training job "
            f"{job.name}'s run ({start:%H:%M:%S} to {ended:%H:%M:%S}); refusing to load it. "
            "Nothing was packaged."
        )
    return info.version_id


def _extract_model(archive: Path, into: Path, uri: str) -> Path:
    """model.joblib out of the job's model.tar.gz (only that member, as a regular file)."""
    into.mkdir(parents=True, exist_ok=True)
    target = into / "model.joblib"
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            names = []
            for member in tar:
                name = member.name.removeprefix("./")
                names.append(name)
                if name != "model.joblib":
                    continue
                if not member.isfile():
                    raise TrainingFailed(f"{uri}: model.joblib is not a regular file")
                source = tar.extractfile(member)
                assert source is not None
                with source, target.open("wb") as out:
                    while chunk := source.read(1 << 20):
                        out.write(chunk)
                return target
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise TrainingFailed(f"{uri} is not a readable model.tar.gz: {exc}") from None
    raise TrainingFailed(
        f"{uri} holds no model.joblib (it holds {', '.join(names[:10]) or 'nothing'}); save "
        "the fitted estimator with joblib.dump(model, os.path.join(os.environ['SM_MODEL_DIR'], "
        "'model.joblib'))"
    )


class _Follower:
    """Shows a job's new status transitions and log lines; keeps the last lines."""

    def __init__(self, ctx: Context, logs: Logs, name: str, started: float):
        self.ctx, self.logs, self.name, self.started = ctx, logs, name, started
        self.shown_transitions = 0
        self.status = ""
        self.tokens: dict[str, str] = {}
        self.tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL)
        self.streams: list[str] = []

    def elapsed(self) -> str:
        seconds = int(time.monotonic() - self.started)
        return f"{seconds // 60}m{seconds % 60:02d}s"

    def show(self, job: TrainingJob) -> None:
        progress = self.ctx.ui.progress
        for transition in job.transitions[self.shown_transitions :]:
            progress(f"  {transition.status}: {transition.message} [{self.elapsed()}]")
        self.shown_transitions = max(self.shown_transitions, len(job.transitions))
        if job.status != self.status:
            self.status = job.status
            progress(f"training job {self.name}: {job.status} [{self.elapsed()}]")
        self.read_logs()

    def read_logs(self) -> None:
        try:
            streams = self.logs.streams(TRAINING_LOG_GROUP, f"{self.name}/")
        except PipelineError as exc:  # logs are progress, not the result: say so, go on
            self.ctx.ui.warn(f"cannot read the job's logs ({exc}); still waiting for the job")
            return
        self.streams = sorted(set(self.streams) | set(streams))
        for stream in self.streams:
            while True:
                token = self.tokens.get(stream)
                try:
                    messages, new_token = self.logs.read(TRAINING_LOG_GROUP, stream, token)
                except PipelineError as exc:  # throttled, say: the next poll reads on
                    self.ctx.ui.warn(f"cannot read {stream} ({exc}); still waiting for the job")
                    return
                self.tokens[stream] = new_token
                for message in messages:
                    self.tail.append(message)
                    self.ctx.ui.progress(f"  | {message}")
                if not messages or new_token == token:
                    break


def _wait(ctx: Context, sagemaker: SageMaker, follower: _Follower) -> TrainingJob:
    delay = FIRST_POLL
    while True:
        job = sagemaker.describe_training_job(follower.name)
        follower.show(job)
        if job.ended_status:
            return job
        ctx.sleep(delay)
        delay = min(MAX_POLL, delay * 1.5)


def run(
    ctx: Context, project: Project, image: ServingImage, channels: dict[str, Path], work: Path
) -> JobOutcome:
    """Start the training job, follow it, and return its model.joblib (in `work/model`)."""
    from pipeline.aws import identity

    settings, progress = ctx.settings, ctx.ui.progress
    config = project.training
    image_uri = image.uri(identity.region())
    bucket = account.output_for(ctx, "ArtifactBucketName")
    role = account.output_for(ctx, "SageMakerTrainingRoleArn")
    kms_key = account.output_for(ctx, "ArtifactKeyArn")
    allowed = account.output_for(ctx, "TrainingPrefix")
    if config.output_prefix != allowed:
        raise ConfigError(
            f"{project.config_file}: [training] output_prefix = {config.output_prefix!r}, but "
            f"the bootstrap gives training jobs the prefix {allowed!r} (its TrainingPrefix "
            "parameter; the roles may use no other). Set output_prefix to it, or bootstrap "
            "with that TrainingPrefix."
        )
    commit = git_state(settings.project_dir)["commit"]
    local_data = {
        Path(source.location).resolve()
        for source in (project.train, project.test)
        if source is not None and not source.is_s3
    }
    try:  # the request's limits, checked before anything is uploaded
        training_core.encode_hyperparameters(
            project.hyperparameters, project.entry_point.name, "s3://bucket/key"
        )
    except ConfigError as exc:
        raise ConfigError(f"{project.config_file}: [model.hyperparameters] {exc}") from None
    files = source_files(project, local_data)
    prefix = f"{config.output_prefix}/{project.model_name}"

    up = _Uploader(ctx, bucket)
    progress(f"uploading the training source ({len(files)} files) and data channels")
    submit = _upload_source(up, prefix, files, work)
    channel_uris = _upload_channels(up, prefix, channels)
    hyperparameters = training_core.encode_hyperparameters(
        project.hyperparameters, project.entry_point.name, submit
    )
    inputs = _tree_digest({"source": submit, **channel_uris, **hyperparameters})
    name = training_core.job_name(
        project.model_name, inputs, time.strftime("%Y%m%d%H%M%S", time.gmtime())
    )
    output_path = f"s3://{bucket}/{prefix}/jobs"
    request = training_core.create_request(
        name=name,
        image=image_uri,
        role_arn=role,
        config=config,
        hyperparameters=hyperparameters,
        channels=channel_uris,
        output_path=output_path,
        tags={"project": project.name, "model": project.model_name, "git-commit": commit},
        checkpoint_uri=f"s3://{bucket}/{prefix}/checkpoints/{name}/" if config.spot else None,
        environment=blas_environment(IMAGE_MACHINE),
        kms_key=kms_key,
    )
    if config.instance_count > 1:
        ctx.ui.warn(
            f"[training] instance_count = {config.instance_count}: the scikit-learn container "
            "runs the script on every instance; only a script that splits the work itself "
            "gains from more than one (the sandbox runs one)"
        )
    sagemaker = ctx.sagemaker
    started = time.monotonic()
    follower = _Follower(ctx, ctx.logs, name, started)
    try:
        arn = sagemaker.create_training_job(request)
        progress(
            f"training job {name} created ({config.instance_count} x {config.instance_type}, "
            f"image {image.name}, at most {config.max_runtime_seconds}s); Ctrl-C stops it"
        )
        job = _wait(ctx, sagemaker, follower)
    except KeyboardInterrupt:
        stopped = sagemaker.stop_training_job(name)
        raise TrainingInterrupted(
            f"interrupted: training job {name} "
            + (
                "was asked to stop (StopTrainingJob); it ends as Stopped. "
                if stopped
                else "was not running (not created, or already ended). "
            )
            + "Nothing was packaged."
        ) from None
    except PipelineError as exc:  # e.g. the credentials expired while the job runs
        raise TrainingFailed(
            f"lost track of training job {name}: {exc}\nIt may still be running (and billing): "
            f"check it with `aws sagemaker describe-training-job --training-job-name {name}`, "
            f"stop it with `aws sagemaker stop-training-job --training-job-name {name}`. "
            "Nothing was packaged."
        ) from None
    seconds = time.monotonic() - started
    if job.status != "Completed":
        follower.read_logs()
        lines = "\n  | ".join(follower.tail)
        where = f"CloudWatch Logs {TRAINING_LOG_GROUP}, stream {name}/..."
        what = (
            f"failed: {job.failure_reason or '(no FailureReason)'}"
            if job.status == "Failed"
            else f"was stopped ({job.secondary})"
        )
        raise TrainingFailed(
            f"training job {name} {what}. Nothing was packaged."
            + (f"\nLast {len(follower.tail)} log lines:\n  | {lines}" if follower.tail else "")
            + f"\nLogs: {where}"
        )
    progress(
        f"training job {name}: Completed in {seconds:.1f}s, billable "
        f"{job.billable_seconds if job.billable_seconds is not None else '?'}s"
    )
    training_env = _image_check(job, image)
    uri = training_core.model_artifact_uri(output_path, name)
    if job.model_artifacts != uri:  # a model file is code: load only what this job wrote
        raise TrainingFailed(
            f"training job {name} reports its model at {job.model_artifacts}, not at {uri} "
            "where SageMaker writes it; refusing to load it. Nothing was packaged."
        )
    archive = work / "output" / "model.tar.gz"
    artifact_bucket, key = parse_uri(uri)
    version = _written_by_the_job(ctx, job, artifact_bucket, key, uri)
    ctx.s3.download(artifact_bucket, key, archive, version)
    model_file = _extract_model(archive, work / "model", uri)
    return JobOutcome(
        name=name,
        arn=arn,
        image=job.image,
        model_file=model_file,
        billable_seconds=job.billable_seconds,
        seconds=seconds,
        instance_type=config.instance_type,
        instance_count=config.instance_count,
        training_env=training_env,
        reproducibility=reproducibility(IMAGE_MACHINE),
        uploads=up.uploads,
    )
