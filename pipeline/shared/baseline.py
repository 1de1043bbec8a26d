"""The monitoring baseline of a build, written at package time beside the artifact:
statistics.json (the training rows' input columns, then the model's predictions on the test
split as the packaged handler answers them) and constraints.json (the thresholds of
`[monitor]`), both in Model Monitor's shapes (pipeline.shared.drift, pipeline.core.monitoring).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pipeline.core import monitoring
from pipeline.settings import Settings
from pipeline.shared import dataset, drift


def prediction_kind(signature: dict[str, Any]) -> str:
    return "prediction-number" if signature["task"] == "regression" else "prediction-label"


def statistics(settings: Settings, signature: dict[str, Any], files: dict[str, Path]) -> dict:
    from model import inference
    from pipeline.shared.captured import Reader

    train = dataset.read_channel(settings.channels_dir, "train")
    test = dataset.read_channel(settings.channels_dir, "test")
    inputs = signature["inputs"]
    columns: list[tuple[str, str, list[Any]]] = [
        (c["name"], c["type"], [dataset.json_value(v) for v in train[c["name"]].tolist()])
        for c in inputs
    ]
    rows = [
        [dataset.json_value(v) for v in row]
        for row in test[[c["name"] for c in inputs]].itertuples(index=False, name=None)
    ]
    with tempfile.TemporaryDirectory(prefix="pipeline-baseline-") as folder:
        for name, source in files.items():
            if "/" not in name:
                shutil.copyfile(source, Path(folder) / name)
        loaded = inference.model_fn(folder)
        request = inference.input_fn(json.dumps(rows), "application/json")
        answer, kind = inference.output_fn(
            inference.predict_fn(request, loaded), "application/json"
        )
    predicted = Reader(signature).answers(answer.encode("utf-8"), kind)
    document = drift.statistics(columns, item_count=len(train))
    # every class the model may answer is a known category, predicted on the test split or not
    classes = [
        v if isinstance(v, str) else drift.label_text(v) for v in signature.get("classes") or []
    ]
    document["features"].append(
        drift.feature(monitoring.PREDICTION, prediction_kind(signature), predicted, classes)
    )
    return document


def write(settings: Settings, signature: dict[str, Any], files: dict[str, Path]) -> dict[str, str]:
    """Write statistics.json and constraints.json into the build folder; their sha256."""
    from pipeline.shared import config

    document = statistics(settings, signature, files)
    config.write_json(settings.statistics_file, document)
    config.write_json(
        settings.constraints_file, monitoring.constraints(document, settings.config.monitor)
    )
    return {
        "statistics.json": config.sha256_file(settings.statistics_file),
        "constraints.json": config.sha256_file(settings.constraints_file),
    }
