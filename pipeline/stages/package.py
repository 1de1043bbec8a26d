"""`pipeline package`: build the reproducible model.tar.gz and its manifest.

The tarball holds model.joblib at the root and code/inference.py. Its bytes depend only on
those two files: entries are sorted, owners, modes and times are fixed, and the gzip header
carries no name or timestamp, so the same inputs give the same sha256 anywhere (with the same
zlib, which every CPython wheel bundles at a fixed level here).
"""

from __future__ import annotations

import gzip
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

import joblib

from model import inference
from model import train as model_train
from pipeline.core import manifest as manifest_core
from pipeline.core.versions import check_loadable
from pipeline.errors import ConfigError
from pipeline.settings import Settings
from pipeline.stages import config
from pipeline.stages.environment import git_state, package_versions
from pipeline.stages.train import sha256_file

FIXED_MTIME = 0  # 1970-01-01; any constant works, zero is the conventional choice
GZIP_LEVEL = 9


@dataclass(frozen=True)
class PackageResult:
    artifact: Path
    manifest_file: Path
    manifest: dict


def write_tarball(dest: Path, files: dict[str, Path]) -> None:
    """Write `files` (archive name -> source path) as a deterministic .tar.gz at `dest`."""
    dirs = sorted({str(Path(name).parent) for name in files} - {"."})
    tmp = dest.with_name(dest.name + ".tmp")
    with (
        tmp.open("wb") as raw,
        gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, mtime=FIXED_MTIME, compresslevel=GZIP_LEVEL
        ) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as tar,
    ):
        entries = [(d + "/", None) for d in dirs] + sorted(files.items())
        for name, source in sorted(entries):
            info = tarfile.TarInfo(name.rstrip("/") if source is None else name)
            info.mtime = FIXED_MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if source is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
                continue
            info.mode = 0o644
            info.size = source.stat().st_size
            with source.open("rb") as handle:  # streamed, never read whole into memory
                tar.addfile(info, handle)
    os.replace(tmp, dest)


def _trained_metrics(settings: Settings) -> dict:
    metrics = config.read_json(settings.metrics_file, "python -m pipeline train")
    if not metrics.get("gate", {}).get("passed"):
        raise ConfigError(
            f"{settings.metrics_file}: the last training run failed its quality gate; "
            "fix the model or the gate and run `python -m pipeline train` again"
        )
    if not settings.model_file.exists():
        raise ConfigError(f"{settings.model_file}: not found; run `python -m pipeline train`")
    actual = sha256_file(settings.model_file)
    if actual != metrics.get("model_sha256"):
        raise ConfigError(
            f"{settings.model_file} (sha256 {actual}) is not the model recorded in "
            f"{settings.metrics_file} (model_sha256 {metrics.get('model_sha256')}); "
            "run `python -m pipeline train` again"
        )
    return metrics


def golden_examples(model_file: Path) -> list[dict]:
    """Held-out inputs with the predictions this exact model file gives for them."""
    _, X_test, _, _ = model_train.load_split()
    inputs = model_train.golden_inputs(X_test)
    predictions = joblib.load(model_file).predict(inputs)
    return [
        {"features": row.tolist(), "prediction": float(pred)}
        for row, pred in zip(inputs, predictions, strict=True)
    ]


def run(settings: Settings) -> PackageResult:
    manifest_core.validate_model_name(settings.model_name)
    image = config.load_serving_image(settings)
    metrics = _trained_metrics(settings)
    training_env = metrics.get("training_env", {})
    check_loadable(
        training_env,
        image.packages,
        image.name,
        f"the training environment recorded in {settings.metrics_file}",
    )
    # The golden predictions are computed here, so this process must match the image too.
    check_loadable(
        package_versions(sorted(image.packages)),
        image.packages,
        image.name,
        "the environment running `pipeline package`",
    )
    git = git_state(settings.model_dir.parent)

    write_tarball(
        settings.artifact_file,
        {"model.joblib": settings.model_file, "code/inference.py": Path(inference.__file__)},
    )
    sha256 = sha256_file(settings.artifact_file)
    manifest = manifest_core.build(
        model_name=settings.model_name,
        sha256=sha256,
        size=settings.artifact_file.stat().st_size,
        serving_image=image.to_manifest(),
        training_env=training_env,
        metrics={k: metrics[k] for k in ("dataset", "split", "model", "baseline")},
        git=git,
        golden_examples=golden_examples(settings.model_file),
    )
    config.write_json(settings.manifest_file, manifest)
    return PackageResult(settings.artifact_file, settings.manifest_file, manifest)
