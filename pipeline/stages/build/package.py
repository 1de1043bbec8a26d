"""`pipeline package`: build the reproducible model.tar.gz and its manifest.

The tarball holds model.joblib and signature.json at the root and code/inference.py,
written by pipeline.shared.tarballs, so its bytes depend only on those three files: the same
inputs give the same sha256 on any machine.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.core import manifest as manifest_core
from pipeline.core import signature as signature_core
from pipeline.core.versions import check_loadable
from pipeline.errors import ConfigError
from pipeline.settings import Settings
from pipeline.shared import config
from pipeline.shared.context import Context
from pipeline.shared.environment import git_state, package_versions
from pipeline.shared.tarballs import write_tarball


@dataclass(frozen=True)
class PackageResult:
    artifact: Path
    manifest_file: Path
    manifest: dict


def _trained_metrics(settings: Settings) -> dict:
    metrics = config.read_json(settings.metrics_file, "python -m pipeline train")
    if not metrics.get("gate", {}).get("passed"):
        raise ConfigError(
            f"{settings.metrics_file}: the last training run failed its quality gate; "
            "fix the model or the gate and run `python -m pipeline train` again"
        )
    if not settings.model_file.exists():
        raise ConfigError(f"{settings.model_file}: not found; run `python -m pipeline train`")
    actual = config.sha256_file(settings.model_file)
    if actual != metrics.get("model_sha256"):
        raise ConfigError(
            f"{settings.model_file} (sha256 {actual}) is not the model recorded in "
            f"{settings.metrics_file} (model_sha256 {metrics.get('model_sha256')}); "
            "run `python -m pipeline train` again"
        )
    return metrics


def golden_examples(files: dict[str, Path], rows: list[list]) -> list[dict]:
    """Held-out rows with what the packaged handler answers for them (in JSON), computed by
    the very files that go into the artifact, loaded as the serving image loads them."""
    from model import inference

    with tempfile.TemporaryDirectory(prefix="pipeline-golden-") as folder:
        for name, source in files.items():
            if "/" not in name:
                shutil.copyfile(source, Path(folder) / name)
        loaded = inference.model_fn(folder)
        request = inference.input_fn(json.dumps(rows), "application/json")
        body, _ = inference.output_fn(inference.predict_fn(request, loaded), "application/json")
    answers = json.loads(body)
    if len(answers) != len(rows):
        raise ConfigError(
            f"the handler answered {len(answers)} predictions for {len(rows)} golden rows"
        )
    return [
        {"features": row, "prediction": answer} for row, answer in zip(rows, answers, strict=True)
    ]


def run(ctx: Context) -> PackageResult:
    settings = ctx.settings
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
    signature = config.read_json(settings.signature_file, "python -m pipeline train")
    golden_rows = config.read_json(settings.golden_inputs_file, "python -m pipeline train")
    git = git_state(settings.project_dir)

    files = {
        "model.joblib": settings.model_file,
        "signature.json": settings.signature_file,
        "code/inference.py": settings.inference_script,
    }
    golden = golden_examples(files, golden_rows["rows"])
    from pipeline.shared import baseline  # the monitoring baseline, covered by the manifest

    monitored = baseline.write(settings, signature, files)
    write_tarball(settings.artifact_file, files)
    sha256 = config.sha256_file(settings.artifact_file)
    manifest = manifest_core.build(
        project=settings.project,
        model_name=settings.model_name,
        sha256=sha256,
        size=settings.artifact_file.stat().st_size,
        serving_image=image.to_manifest(),
        training_env=training_env,
        metrics={k: metrics[k] for k in ("task", "data", "model", "baseline")},
        reproducibility=metrics.get("reproducibility", {}),
        signature=signature,
        signature_sha256=signature_core.digest(signature),
        git=git,
        golden_examples=golden,
        training_job=metrics.get("training_job"),
        monitoring=monitored,
    )
    config.write_json(settings.manifest_file, manifest)
    return PackageResult(settings.artifact_file, settings.manifest_file, manifest)
