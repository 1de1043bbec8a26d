"""`pipeline train`: fit, evaluate, apply the quality gate, write model.joblib and metrics.json.

A model that misses the gate is never written, and any model or artifact left in the build
directory by an earlier run is removed, so nothing stale can be packaged afterwards.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.core import gate
from pipeline.errors import QualityGateFailed
from pipeline.settings import Settings
from pipeline.stages import config
from pipeline.stages.environment import package_versions


@dataclass(frozen=True)
class TrainResult:
    metrics: dict
    model_file: Path
    model_sha256: str


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _remove_stale(settings: Settings) -> list[Path]:
    removed = []
    for path in (settings.model_file, settings.artifact_file, settings.manifest_file):
        if path.exists():
            path.unlink()
            removed.append(path)
    return removed


def run(settings: Settings) -> TrainResult:
    thresholds = config.load_gate(settings)  # bad config fails before any work
    image = config.load_serving_image(settings)
    training_env = package_versions(sorted(image.packages))
    # Imported only now: scikit-learn takes seconds to import, and a bad config should fail fast.
    import joblib

    from model import train as model_train

    X_train, X_test, y_train, y_test = model_train.load_split()
    model = model_train.fit(X_train, y_train)
    metrics = model_train.evaluate(model, y_train, X_test, y_test)
    failures = gate.evaluate(metrics, thresholds)
    metrics["gate"] = {
        "file": settings.quality_gate_file.name,
        "thresholds": thresholds,
        "passed": not failures,
        "failures": [str(f) for f in failures],
    }
    metrics["training_env"] = training_env

    settings.build_dir.mkdir(parents=True, exist_ok=True)
    if failures:
        removed = _remove_stale(settings)
        metrics["model_sha256"] = None
        config.write_json(settings.metrics_file, metrics)
        lines = "\n  - ".join(str(f) for f in failures)
        gone = f"\nRemoved stale: {', '.join(map(str, removed))}" if removed else ""
        raise QualityGateFailed(
            f"quality gate failed ({settings.quality_gate_file}); no model was written:\n"
            f"  - {lines}{gone}\nMetrics: {settings.metrics_file}"
        )

    tmp = settings.model_file.with_name(settings.model_file.name + ".tmp")
    joblib.dump(model, tmp)
    os.replace(tmp, settings.model_file)
    metrics["model_sha256"] = sha256_file(settings.model_file)
    config.write_json(settings.metrics_file, metrics)
    return TrainResult(metrics, settings.model_file, metrics["model_sha256"])
