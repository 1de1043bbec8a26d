"""`pipeline package`: build the reproducible model.tar.gz and its manifest.

The tarball holds model.joblib and signature.json at the root and code/inference.py,
written by pipeline.shared.tarballs, so its bytes depend only on those three files: the same
inputs give the same sha256 on any machine.

`use_cache` (deploy-local's default; `pipeline package` always packages): a build whose
inputs are all unchanged since the last one reuses its outputs (model.tar.gz, manifest.json,
statistics.json, constraints.json) instead of computing the golden examples, the monitoring
baseline and the tarball again. The key (pipeline.shared.results_cache) covers everything the
outputs are computed from: the model (as verified against metrics.json), metrics.json,
the signature, the golden inputs, the data channels, pipeline.toml, the handler and the
serving image's packages (model/), the pipeline's own code, the git state the manifest
records, and the serving image's packages and deflate as installed here with Python. A hit
needs every output still in build/ with the sha256 it was stored with; anything else
packages.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.core import manifest as manifest_core
from pipeline.core import signature as signature_core
from pipeline.core.versions import check_loadable
from pipeline.errors import ConfigError
from pipeline.settings import Settings
from pipeline.shared import config, results_cache
from pipeline.shared.context import Context
from pipeline.shared.environment import git_state, package_versions
from pipeline.shared.tarballs import write_tarball


@dataclass(frozen=True)
class PackageResult:
    artifact: Path
    manifest_file: Path
    manifest: dict
    cache_key: str = ""  # the inputs' key, when a kept build was looked for
    cached: bool = False  # reused from the last build of that key


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


def _outputs(settings: Settings) -> list[Path]:
    return [
        settings.artifact_file,
        settings.manifest_file,
        settings.statistics_file,
        settings.constraints_file,
    ]


def cache_key(settings: Settings, model_sha256: str, git: dict, installed: dict) -> str:
    """The key of everything a build's outputs are computed from."""
    channels = sorted(p for p in settings.channels_dir.rglob("*") if p.is_file())
    files = [
        settings.metrics_file,
        settings.signature_file,
        settings.golden_inputs_file,
        settings.config.config_file,
        *channels,
        *sorted(settings.model_dir.glob("*.py")),
        settings.serving_image_file,
        *results_cache.code_files(),
    ]
    parts = results_cache.file_parts(files, settings.infra_dir.parent)
    parts.update(
        {
            "model": model_sha256,
            "model_name": settings.model_name,
            "git": json.dumps(git, sort_keys=True),
            "python": sys.version,
            **_versions(installed),
        }
    )
    return results_cache.key(parts)


def _versions(installed: dict) -> dict[str, str]:
    """What results_cache checks an entry was made with: the packages that packaged, and
    the deflate (libdeflate) that compressed the tarball."""
    from importlib import metadata

    return {"packages": repr(sorted(installed.items())), "deflate": metadata.version("deflate")}


def run(ctx: Context, use_cache: bool = False) -> PackageResult:
    """Build the artifact and its manifest; with use_cache, reuse the last build of the same
    inputs if its outputs are intact."""
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
    installed = package_versions(sorted(image.packages))
    check_loadable(
        installed,
        image.packages,
        image.name,
        "the environment running `pipeline package`",
    )
    signature = config.read_json(settings.signature_file, "python -m pipeline train")
    golden_rows = config.read_json(settings.golden_inputs_file, "python -m pipeline train")
    git = git_state(settings.project_dir)
    key = ""
    if use_cache:
        key = cache_key(settings, metrics["model_sha256"], git, installed)
        stored = results_cache.load(settings, "package", key, _versions(installed))
        if results_cache.intact(stored, _outputs(settings), settings.build_dir):
            ctx.ui.progress(
                f"package: inputs unchanged since the last build (key {key[:12]}): its "
                "model.tar.gz, manifest and monitoring baseline are reused "
                "(--no-cache packages again)"
            )
            manifest = config.read_json(settings.manifest_file, "package")
            return PackageResult(
                settings.artifact_file, settings.manifest_file, manifest, key, cached=True
            )

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
    if key:
        outputs = results_cache.digests(_outputs(settings), settings.build_dir)
        results_cache.store(settings, "package", key, _versions(installed), {"outputs": outputs})
    return PackageResult(settings.artifact_file, settings.manifest_file, manifest, key)
