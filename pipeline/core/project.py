"""A model project: `pipeline.toml` validated into a `Project` (pure, stdlib only).

`parse(data, config_file)` checks every key, type and cross-key rule that can be checked
without reading data or touching AWS, and raises ConfigError naming the file and the key.
Checks that need the file system (entry point and data files exist) are in `check_files`;
those that need data or AWS are the train stage's. Relative paths resolve against the
folder of the config file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from pipeline.core import metrics as metrics_core
from pipeline.core import monitoring as monitoring_core
from pipeline.core import training as training_core
from pipeline.errors import ConfigError

DEFAULT_TEST_SIZE = 0.2
DEFAULT_SEED = 0
DATA_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
TASKS = ("regression", "classification")
# ProjectName prefixes stack, endpoint and alarm names (infra/endpoint.yaml); 20 characters
# leave room for "-staging" and the canary alarm suffixes within SageMaker's 63.
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$|^[a-z]$")
_MODEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_HYPERPARAMETER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")

# section -> {key: (required, description of the expected type)}
SCHEMA: dict[str, dict[str, tuple[bool, str]]] = {
    "project": {"name": (True, "string")},
    "model": {
        "name": (True, "string"),
        "task": (True, "string"),
        "entry_point": (True, "string"),
        "hyperparameters": (False, "table"),
    },
    "data": {
        "train": (True, "string"),
        "test": (False, "string"),
        "target": (True, "string"),
        "features": (False, "array of strings"),
        "test_size": (False, "number"),
        "seed": (False, "integer"),
    },
    "gate": {},  # min_/max_<metric>, checked against the task's metrics
    "promotion": {},  # max_<metric>_increase / max_<metric>_decrease
    "serving": {"probabilities": (False, "boolean")},
    "training": {},  # where training runs; keys and types checked by pipeline.core.training
    "monitor": {},  # drift thresholds; keys and types checked by pipeline.core.monitoring
}
REQUIRED_SECTIONS = ("project", "model", "data", "gate")


@dataclass(frozen=True)
class DataSource:
    """A data file: a local path (resolved) or an s3:// URI."""

    location: str
    format: str  # csv | parquet

    @property
    def is_s3(self) -> bool:
        return self.location.startswith("s3://")

    @property
    def name(self) -> str:
        return PurePosixPath(self.location).name


@dataclass(frozen=True)
class Project:
    config_file: Path
    name: str
    model_name: str
    task: str
    entry_point: Path
    hyperparameters: dict[str, str | int | float | bool]
    train: DataSource
    test: DataSource | None
    target: str
    features: tuple[str, ...] | None
    test_size: float
    seed: int
    gate: dict[str, float]
    promotion: dict[str, float] | None
    probabilities: bool = False
    training: training_core.TrainingConfig = field(default_factory=training_core.TrainingConfig)
    monitor: monitoring_core.MonitorConfig = field(default_factory=monitoring_core.MonitorConfig)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def folder(self) -> Path:
        return self.config_file.parent

    @property
    def params_dir(self) -> Path | None:
        """The project's own parameter files, when it carries them."""
        own = self.folder / "params"
        return own if own.is_dir() else None


def _where(source: str, section: str, key: str | None = None) -> str:
    return f"{source}: [{section}]" + (f" {key}" if key else "")


def _type_ok(value: object, expected: str) -> bool:
    if expected == "string":
        return isinstance(value, str)
    if expected == "table":
        return isinstance(value, dict)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected == "array of strings":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    raise AssertionError(expected)


def _check_shape(data: dict[str, Any], source: str) -> None:
    unknown = sorted(set(data) - set(SCHEMA))
    if unknown:
        raise ConfigError(
            f"{source}: unknown section(s) [{'], ['.join(unknown)}]; the file "
            f"takes [{'], ['.join(SCHEMA)}] (see the README)"
        )
    for section in REQUIRED_SECTIONS:
        if section not in data:
            raise ConfigError(
                f"{source}: missing section [{section}] (see the README's complete example)"
            )
    for section, keys in SCHEMA.items():
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: {section} must be a table [{section}]")
        if section in ("gate", "promotion", "training", "monitor"):
            continue
        extra = sorted(set(table) - set(keys))
        if extra:
            raise ConfigError(
                f"{_where(source, section, extra[0])}: unknown key; "
                f"[{section}] takes {', '.join(keys)}"
            )
        for key, (required, expected) in keys.items():
            if key not in table:
                if required:
                    raise ConfigError(
                        f"{_where(source, section, key)}: missing; set it to a {expected}"
                    )
                continue
            if not _type_ok(table[key], expected):
                raise ConfigError(
                    f"{_where(source, section, key)}: must be a {expected}, got {table[key]!r}"
                )


def _data_source(value: str, folder: Path, source: str, key: str) -> DataSource:
    where = _where(source, "data", key)
    if not value.strip():
        raise ConfigError(f"{where}: empty; give a CSV or Parquet file (path or s3:// URI)")
    if value.startswith("s3://"):
        bucket, _, object_key = value[5:].partition("/")
        if not bucket or not object_key:
            raise ConfigError(f"{where}: {value!r} is not an s3://bucket/key URI")
        location = value
    elif "://" in value:
        raise ConfigError(f"{where}: {value!r}: only local paths and s3:// URIs are supported")
    else:
        location = str((folder / value).resolve())
    suffix = PurePosixPath(value).suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise ConfigError(
            f"{where}: {value!r} must end in .csv (CSV with a header), .parquet or .pq (Parquet)"
        )
    return DataSource(location, DATA_SUFFIXES[suffix])


def _finite(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{where}: must be a finite number, got {value!r}")
    return float(value)


def _gate(table: dict[str, Any], task: str, source: str) -> dict[str, float]:
    if not table:
        raise ConfigError(
            f"{source}: [gate] sets no thresholds; a gate that checks nothing "
            "cannot fail. Set at least one min_<metric> or max_<metric> for "
            f"{task}: {', '.join(metrics_core.METRICS[task])}"
        )
    thresholds = {}
    for key, value in table.items():
        where = _where(source, "gate", key)
        metric = metrics_core.gate_metric(key)
        if metric is None:
            raise ConfigError(
                f"{where}: not a gate key; use min_<metric>, max_<metric> or "
                "min_<metric>_improvement_over_baseline"
            )
        if metric not in metrics_core.METRICS[task]:
            raise ConfigError(
                f"{where}: {task} has no metric {metric!r}; its metrics are "
                f"{', '.join(metrics_core.METRICS[task])}"
            )
        thresholds[key] = _finite(value, where)
    return thresholds


def _promotion(table: dict[str, Any], task: str, source: str) -> dict[str, float]:
    margins = {}
    for key, value in table.items():
        where = _where(source, "promotion", key)
        expected = {metrics_core.margin_key(m): m for m in metrics_core.METRICS[task]}
        if key not in expected:
            raise ConfigError(
                f"{where}: not a promotion margin for {task}; use {', '.join(sorted(expected))}"
            )
        margin = _finite(value, where)
        if margin < 0:
            raise ConfigError(f"{where}: must be >= 0, got {value!r}")
        margins[key] = margin
    return margins


def parse(data: dict[str, Any], config_file: Path) -> Project:
    """Validate a parsed pipeline.toml; `config_file` is its (absolute) path."""
    source = str(config_file)
    _check_shape(data, source)
    project, model, data_table = data["project"], data["model"], data["data"]
    folder = config_file.parent

    if not _PROJECT.match(project["name"]):
        raise ConfigError(
            f"{_where(source, 'project', 'name')}: {project['name']!r}: use 1-20 "
            "lower-case letters, digits and hyphens, starting with a letter "
            "(it prefixes stack and endpoint names)"
        )
    if not _MODEL.match(model["name"]):
        raise ConfigError(
            f"{_where(source, 'model', 'name')}: {model['name']!r}: use 1-63 "
            "lower-case letters, digits and hyphens (it is part of S3 keys and "
            "SageMaker names)"
        )
    task = model["task"]
    if task not in TASKS:
        raise ConfigError(
            f"{_where(source, 'model', 'task')}: {task!r}: use "
            f"{' or '.join(repr(t) for t in TASKS)}"
        )
    entry = model["entry_point"]
    if not entry.endswith(".py"):
        raise ConfigError(
            f"{_where(source, 'model', 'entry_point')}: {entry!r} must be a Python script (.py)"
        )
    hyperparameters = model.get("hyperparameters", {})
    for key, value in hyperparameters.items():
        where = f"{source}: [model.hyperparameters] {key}"
        if not _HYPERPARAMETER.match(key):
            raise ConfigError(
                f"{where}: not usable as a --{key} argument; use letters, digits, _ . -"
            )
        if key.startswith(training_core.RESERVED_PREFIX):
            raise ConfigError(
                f"{where}: names starting with {training_core.RESERVED_PREFIX!r} are "
                "SageMaker's own (script mode sets them); rename it"
            )
        if not isinstance(value, str | int | float | bool):
            raise ConfigError(f"{where}: must be a string, number or boolean, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{where}: must be finite, got {value!r}")

    target = data_table["target"]
    if not target:
        raise ConfigError(f"{_where(source, 'data', 'target')}: empty; name the target column")
    features = data_table.get("features")
    if features is not None:
        if not features:
            raise ConfigError(
                f"{_where(source, 'data', 'features')}: empty; list the input "
                "columns, or leave the key out to use every column but the "
                "target"
            )
        if target in features:
            raise ConfigError(
                f"{_where(source, 'data', 'features')}: lists the target "
                f"{target!r}; a model cannot take its own answer as an input"
            )
        duplicates = sorted({f for f in features if features.count(f) > 1})
        if duplicates:
            raise ConfigError(
                f"{_where(source, 'data', 'features')}: {duplicates[0]!r} is listed twice"
            )
    test = data_table.get("test")
    if test is not None and "test_size" in data_table:
        raise ConfigError(
            f"{_where(source, 'data', 'test_size')}: set either test (a test "
            "file) or test_size (a split of train), not both"
        )
    test_size = float(data_table.get("test_size", DEFAULT_TEST_SIZE))
    if not (math.isfinite(test_size) and 0 < test_size < 1):
        raise ConfigError(
            f"{_where(source, 'data', 'test_size')}: must be between 0 and 1 "
            f"(exclusive), got {data_table.get('test_size')!r}"
        )
    seed = data_table.get("seed", DEFAULT_SEED)
    if not 0 <= seed < 2**32:
        raise ConfigError(f"{_where(source, 'data', 'seed')}: must be in 0..2**32-1, got {seed}")

    serving = data.get("serving", {})
    probabilities = serving.get("probabilities", False)
    if probabilities and task != "classification":
        raise ConfigError(
            f"{_where(source, 'serving', 'probabilities')}: only a "
            "classification model has class probabilities"
        )
    promotion = data.get("promotion")
    return Project(
        config_file=config_file,
        name=project["name"],
        model_name=model["name"],
        task=task,
        entry_point=(folder / entry).resolve(),
        hyperparameters=dict(hyperparameters),
        train=_data_source(data_table["train"], folder, source, "train"),
        test=_data_source(test, folder, source, "test") if test is not None else None,
        target=target,
        features=tuple(features) if features is not None else None,
        test_size=test_size,
        seed=seed,
        gate=_gate(data["gate"], task, source),
        promotion=_promotion(promotion, task, source) if promotion is not None else None,
        probabilities=probabilities,
        training=training_core.parse(data.get("training", {}), source),
        monitor=monitoring_core.parse(data.get("monitor", {}), source),
        raw=data,
    )


def missing_files(project: Project) -> list[str]:
    """Problems with the local files the project names (entry point, local data)."""
    source = str(project.config_file)
    problems = []
    if not project.entry_point.is_file():
        problems.append(
            f"{_where(source, 'model', 'entry_point')}: {project.entry_point} "
            "does not exist; write the training script there or fix the path"
        )
    for key, data in (("train", project.train), ("test", project.test)):
        if data is not None and not data.is_s3 and not Path(data.location).is_file():
            problems.append(f"{_where(source, 'data', key)}: {data.location} does not exist")
    return problems


def hyperparameter_args(hyperparameters: Mapping[str, object]) -> list[str]:
    """`--name value` arguments as SageMaker's training toolkit passes them
    (pipeline.core.training.script_arguments), for a local run of the same script."""
    return training_core.script_arguments(hyperparameters)
