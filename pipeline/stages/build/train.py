"""`pipeline train`: run the project's training script in SageMaker script mode, evaluate the
model it writes on the test split, apply the quality gate, derive the model's signature.

The script runs in a subprocess with the variables SageMaker's training container sets
(SM_MODEL_DIR, SM_CHANNEL_TRAIN, SM_CHANNEL_TEST, SM_CHANNELS, SM_HPS, ...) and the
hyperparameters as `--name value` arguments, so the same file runs unchanged as a SageMaker
training job. The pipeline, not the script, evaluates and gates. Writes build/model.joblib,
build/metrics.json, build/signature.json and build/golden-inputs.json. A model that misses
the gate is never written, and any model or artifact left by an earlier run is removed, so
nothing stale can be packaged afterwards.

`--on sagemaker` (or `[training] on = "sagemaker"`) runs the same script as a SageMaker
training job instead (pipeline.shared.training_jobs) on the same channels; its model is then
evaluated, gated and written here exactly as a local one, and metrics.json names the job.

`use_cache` (deploy-local's default; `pipeline train` always trains): a local run whose
inputs are all unchanged since the last passing one reuses its outputs instead of training
again. Training is reproducible (pinned packages, seeds, pinned BLAS kernel and one thread),
so the same inputs give the same model bytes. The key (pipeline.shared.results_cache) covers
the files a training job would get as its source (the entry point's folder), pipeline.toml
(hyperparameters, [data], [gate]), every local data file, the pipeline's own code, the
serving image's pinned packages as installed, Python and the BLAS settings. Data in S3, or
a SageMaker training job, is never cached. A hit needs every output (model, metrics,
signature, golden inputs, data channels) still in build/ with the sha256 it was stored with,
and the gate passed by the stored metrics; anything else trains.
"""

from __future__ import annotations

import collections
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.core import gate
from pipeline.core import project as project_core
from pipeline.core import signature as signature_core
from pipeline.core import training as training_core
from pipeline.core.versions import check_loadable
from pipeline.errors import ConfigError, QualityGateFailed, TrainingFailed
from pipeline.settings import Settings
from pipeline.shared import config, dataset, results_cache
from pipeline.shared.context import Context
from pipeline.shared.environment import blas_environment, package_versions, reproducibility

if TYPE_CHECKING:
    from pipeline.shared.training_jobs import JobOutcome

N_GOLDEN = 5
LOG_TAIL = 20


@dataclass(frozen=True)
class TrainResult:
    metrics: dict
    model_file: Path
    model_sha256: str
    signature: dict
    cache_key: str = ""  # the inputs' key, when cached runs were looked for
    cached: bool = False  # reused from the last passing run of that key


def _remove_stale(settings: Settings) -> list[Path]:
    removed = []
    for path in (
        settings.model_file,
        settings.artifact_file,
        settings.manifest_file,
        settings.signature_file,
        settings.golden_inputs_file,
    ):
        if path.exists():
            path.unlink()
            removed.append(path)
    return removed


def _s3():
    from pipeline.aws.s3 import S3

    return S3()


def script_environment(
    channels: dict[str, Path], work: Path, hyperparameters: dict, entry_point: Path
) -> dict[str, str]:
    """The SM_* variables of SageMaker's training toolkit, for a single-host local run: the
    container's (pipeline.core.training.container_environment, /opt/ml at `work`), with the
    channels where this run wrote them."""
    env = training_core.container_environment(
        str(work),
        sorted(channels),
        hyperparameters,
        entry_point.name,
        str(entry_point.parent),
        os.cpu_count() or 1,
    )
    env["SM_INPUT_DIR"] = str(channels["train"].parent)
    for name, folder in channels.items():
        env[f"SM_CHANNEL_{name.upper()}"] = str(folder)
    return env


def run_script(
    project: project_core.Project,
    channels: dict[str, Path],
    work: Path,
    progress: Callable[[str], None],
) -> Path:
    """Run the entry point; the path of the model.joblib it wrote."""
    model_dir, output_dir = work / "model", work / "output"
    for folder in (model_dir, output_dir / "data"):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    env = {
        **os.environ,
        **blas_environment(),
        **script_environment(channels, work, project.hyperparameters, project.entry_point),
    }
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(project.entry_point.parent), os.environ.get("PYTHONPATH")])
    )
    command = [
        sys.executable,
        str(project.entry_point),
        *project_core.hyperparameter_args(project.hyperparameters),
    ]
    progress(f"training: {' '.join([project.entry_point.name, *command[2:]])}")
    tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL)
    with subprocess.Popen(
        command,
        cwd=project.entry_point.parent,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            tail.append(line.rstrip("\n"))
            progress(f"  | {line.rstrip()}")
        code = process.wait()
    failure = output_dir / "failure"
    reason = failure.read_text(errors="replace").strip()[:2000] if failure.exists() else ""
    log = "\n  | ".join(tail)
    if code != 0:
        raise TrainingFailed(
            f"{project.entry_point} exited with status {code}; no model was written."
            + (f"\nFailure reason: {reason}" if reason else "")
            + (f"\nLast {len(tail)} lines:\n  | {log}" if tail else "")
        )
    model_file = model_dir / "model.joblib"
    if not model_file.is_file():
        written = sorted(p.name for p in model_dir.iterdir())
        raise TrainingFailed(
            f"{project.entry_point} finished but wrote no model.joblib in SM_MODEL_DIR "
            f"(it wrote {', '.join(written) or 'nothing'}); save the fitted estimator with "
            "joblib.dump(model, os.path.join(os.environ['SM_MODEL_DIR'], 'model.joblib'))"
        )
    return model_file


def _signature(project, data: dataset.Dataset, model, source: str) -> dict:
    feature_names = getattr(model, "feature_names_in_", None)
    classes = getattr(model, "classes_", None)
    if project.probabilities and not hasattr(model, "predict_proba"):
        raise ConfigError(
            f"{project.config_file}: [serving] probabilities = true, but "
            f"{source} has no predict_proba"
        )
    return signature_core.build(
        task=project.task,
        inputs=[dataset.describe(data.train, name) for name in data.features],
        target=dataset.describe(data.train, data.target),
        feature_names=[str(n) for n in feature_names] if feature_names is not None else None,
        n_features=getattr(model, "n_features_in_", None),
        classes=[dataset.json_value(c) for c in classes] if classes is not None else None,
        probabilities=project.probabilities,
        source=source,
    )


def cache_key(settings: Settings, training_env: dict[str, str]) -> tuple[str | None, str]:
    """The key of a local run's inputs, or None and why they cannot all be named."""
    from pipeline.shared.training_jobs import source_files  # boto3: only when caching

    project = settings.config
    sources = [project.train, *([project.test] if project.test else [])]
    if any(source.is_s3 for source in sources):
        return None, "the data is in S3"
    try:  # what a training job gets as its source: the entry point's folder
        files = list(source_files(project, skip=set()).values())
    except ConfigError as exc:
        return None, str(exc)
    files += [project.config_file, *(Path(source.location) for source in sources)]
    files += results_cache.code_files()
    files.append(settings.serving_image_file)
    parts = results_cache.file_parts(files, settings.infra_dir.parent)
    parts.update(
        {
            "python": sys.version,
            "machine": platform.machine(),
            **_versions(training_env),
            "reproducibility": repr(sorted(reproducibility().items())),
        }
    )
    return results_cache.key(parts), ""


def _outputs(settings: Settings) -> list[Path]:
    channels = sorted(p for p in settings.channels_dir.rglob("*") if p.is_file())
    return [
        settings.model_file,
        settings.metrics_file,
        settings.signature_file,
        settings.golden_inputs_file,
        *channels,
    ]


def _versions(training_env: dict[str, str]) -> dict[str, str]:
    """What results_cache checks an entry was made with: the packages that trained."""
    return {"training_env": repr(sorted(training_env.items()))}


def _reuse(settings: Settings, key: str, versions: dict[str, str]) -> TrainResult | None:
    """The outputs of the last passing run with this key, if build/ still holds them as
    they were written."""
    stored = results_cache.load(settings, "train", key, versions)
    if not results_cache.intact(stored, _outputs(settings), settings.build_dir):
        return None
    metrics = config.read_json(settings.metrics_file, "train")
    if not metrics.get("gate", {}).get("passed") or gate.evaluate(metrics, settings.config.gate):
        return None
    signature = config.read_json(settings.signature_file, "train")
    return TrainResult(
        metrics, settings.model_file, metrics["model_sha256"], signature, cache_key=key, cached=True
    )


def run(ctx: Context, on: str | None = None, use_cache: bool = False) -> TrainResult:
    """Train where `on` says (local | sagemaker; default: pipeline.toml's [training] on);
    with use_cache, reuse the last passing local run of the same inputs."""
    settings, progress = ctx.settings, ctx.ui.progress
    project = settings.config
    on = on or project.training.on
    if on not in training_core.PLACES:
        raise ConfigError(f"--on {on!r}: use local or sagemaker")
    image = config.load_serving_image(settings)
    training_env = package_versions(sorted(image.packages))
    key, why = None, "a SageMaker training job"
    if use_cache and on == "local":
        key, why = cache_key(settings, training_env)
    if key is not None:
        reused = _reuse(settings, key, _versions(training_env))
        if reused is not None:
            progress(
                f"train: inputs unchanged since the last passing run (key {key[:12]}): "
                "its model, metrics and signature are reused (--no-cache trains again)"
            )
            return reused
    elif use_cache:
        progress(f"train: not cached ({why}); training")
    if on == "sagemaker":
        # The job trains in the image; this process still loads its model to evaluate it.
        check_loadable(
            training_env,
            image.packages,
            image.name,
            "the environment running `pipeline train` (it evaluates the training job's model)",
        )
    dataset.check_reachable(project, _s3)  # exit 2 before anything is built
    # Imported only now: scikit-learn and pandas take seconds, and bad config should fail fast.
    import joblib

    from pipeline.shared import evaluate

    data = dataset.load(project, settings.build_dir / "data-cache", _s3)
    progress(
        f"data: {len(data.train)} training rows, {len(data.test)} test rows, "
        f"{len(data.features)} features, target {data.target!r}"
    )
    _remove_stale(settings)  # a failed run must not leave an older model to package
    if settings.metrics_file.exists():
        settings.metrics_file.unlink()
    channels = dataset.write_channels(data, project.train.format, settings.channels_dir)
    job: JobOutcome | None = None
    if on == "sagemaker":
        from pipeline.shared import training_jobs  # boto3: imported only when used

        job = training_jobs.run(ctx, project, image, channels, settings.build_dir / "training-job")
        written, training_env = job.model_file, job.training_env
    else:
        written = run_script(project, channels, settings.build_dir / "training", progress)
    source = f"the model written by {project.entry_point.name}"
    model = joblib.load(written)
    signature = _signature(project, data, model, source)
    X_test, y_test = data.test[data.features], data.test[data.target]
    try:
        metrics = evaluate.evaluate(
            model, project.task, data.train[data.features], data.train[data.target], X_test, y_test
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise TrainingFailed(
            f"{source} cannot be evaluated on the test split: {type(exc).__name__}: {exc}"
        ) from None
    metrics["data"] = {
        "train": data.train_file,
        "test": data.test_file,
        "n_train": len(data.train),
        "n_test": len(data.test),
    }
    metrics["task"] = project.task
    failures = gate.evaluate(metrics, project.gate)
    metrics["gate"] = {
        "file": str(project.config_file),
        "thresholds": project.gate,
        "passed": not failures,
        "failures": [str(f) for f in failures],
    }
    metrics["training_env"] = training_env
    metrics["reproducibility"] = job.reproducibility if job else reproducibility()
    metrics["training_job"] = job.to_metrics() if job else None

    settings.build_dir.mkdir(parents=True, exist_ok=True)
    if failures:
        removed = _remove_stale(settings)
        metrics["model_sha256"] = None
        config.write_json(settings.metrics_file, metrics)
        lines = "\n  - ".join(str(f) for f in failures)
        gone = f"\nRemoved stale: {', '.join(map(str, removed))}" if removed else ""
        raise QualityGateFailed(
            f"quality gate failed ([gate] of {project.config_file}); no model was written:\n"
            f"  - {lines}{gone}\nMetrics: {settings.metrics_file}"
        )

    tmp = settings.model_file.with_name(settings.model_file.name + ".tmp")
    shutil.copyfile(written, tmp)
    os.replace(tmp, settings.model_file)
    metrics["model_sha256"] = config.sha256_file(settings.model_file)
    golden = [
        [dataset.json_value(v) for v in row]
        for row in X_test.head(N_GOLDEN).itertuples(index=False, name=None)
    ]
    config.write_json(settings.signature_file, signature)
    config.write_json(settings.golden_inputs_file, {"rows": golden})
    config.write_json(settings.metrics_file, metrics)
    if key is not None:  # only a local run that passed its gate is kept
        results_cache.store(
            settings,
            "train",
            key,
            _versions(training_env),
            {"outputs": results_cache.digests(_outputs(settings), settings.build_dir)},
        )
    return TrainResult(
        metrics, settings.model_file, metrics["model_sha256"], signature, cache_key=key or ""
    )
