"""The project's data: read (local file or s3://), checked against the config, split, and
laid out as SageMaker channels for the training script.

Reading is pandas (CSV with a header, or Parquet); the split is scikit-learn's seeded
train_test_split, so the same data and seed give the same rows on every machine. Channel
files keep the source's format: `<channel>/<channel>.csv` or `.parquet`, holding the
features then the target. Nothing here decides a gate or writes a model.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.project import DataSource, Project
from pipeline.core.signature import Column
from pipeline.errors import ConfigError

# Values pandas reads as missing in CSV, and that the handler also reads as missing.
MISSING_CSV = [""]


@dataclass
class Dataset:
    train: object  # pandas.DataFrame: features then target
    test: object
    features: list[str]
    target: str
    train_file: str  # where each came from, for messages and the manifest
    test_file: str


def check_reachable(project: Project, s3_factory) -> None:
    """Every s3:// data URI exists and is readable (ConfigError naming the key otherwise)."""
    for key, source in (("train", project.train), ("test", project.test)):
        if source is not None and source.is_s3:
            s3_factory().probe(source.location, f"{project.config_file}: [data] {key}")


def _local_copy(source: DataSource, cache: Path, s3_factory) -> Path:
    if not source.is_s3:
        return Path(source.location)
    bucket, _, key = source.location[5:].partition("/")
    dest = cache / bucket / key
    s3_factory().download(bucket, key, dest)
    return dest


def _read(path: Path, source: DataSource, where: str):
    import pandas as pd

    try:
        if source.format == "csv":
            # No index column, no type guessing of dates; empty cells are missing values.
            frame = pd.read_csv(path, keep_default_na=False, na_values=MISSING_CSV)
        else:
            frame = pd.read_parquet(path)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise ConfigError(
            f"{where}: {source.location} cannot be read as {source.format.upper()}: {exc}"
        ) from None
    if frame.empty:
        raise ConfigError(f"{where}: {source.location} holds no rows")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: {source.location} has duplicate column names")
    frame.columns = names
    return frame


def _columns(project: Project, frame, where: str, location: str) -> list[str]:
    source = str(project.config_file)
    if project.target not in frame.columns:
        raise ConfigError(
            f"{source}: [data] target: column {project.target!r} is not in "
            f"{location} (columns: {', '.join(frame.columns)})"
        )
    if project.features is None:
        return [c for c in frame.columns if c != project.target]
    missing = [f for f in project.features if f not in frame.columns]
    if missing:
        raise ConfigError(
            f"{source}: [data] features: {missing[0]!r} is not a column of "
            f"{location} (columns: {', '.join(frame.columns)})"
        )
    return list(project.features)


def load(project: Project, cache: Path, s3_factory) -> Dataset:
    """Read, check and split the project's data (ConfigError names the file and the key)."""
    from sklearn.model_selection import train_test_split

    where = f"{project.config_file}: [data] train"
    train_path = _local_copy(project.train, cache, s3_factory)
    frame = _read(train_path, project.train, where)
    features = _columns(project, frame, where, project.train.location)
    if not features:
        raise ConfigError(
            f"{project.config_file}: [data]: {project.train.location} has no "
            "column besides the target; a model needs at least one input"
        )
    if frame[project.target].isna().any():
        row = int(frame[project.target].isna().to_numpy().argmax()) + 2  # header is line 1
        raise ConfigError(
            f"{where}: {project.train.location} row {row}: the target "
            f"{project.target!r} is missing; drop or fill such rows"
        )
    columns = [*features, project.target]
    if project.test is not None:
        test_where = f"{project.config_file}: [data] test"
        test = _read(_local_copy(project.test, cache, s3_factory), project.test, test_where)
        missing = [c for c in columns if c not in test.columns]
        if missing:
            raise ConfigError(
                f"{test_where}: column {missing[0]!r} of the training data is "
                f"not in {project.test.location}"
            )
        train, test = frame[columns], test[columns]
        test_file = project.test.location
    else:
        n_test = math.ceil(project.test_size * len(frame))
        if n_test < 1 or n_test >= len(frame):
            raise ConfigError(
                f"{project.config_file}: [data] test_size {project.test_size} "
                f"of {len(frame)} rows leaves no train or no test rows"
            )
        train, test = train_test_split(
            frame[columns], test_size=project.test_size, random_state=project.seed
        )
        test_file = f"{project.train.location} (test_size {project.test_size}, seed {project.seed})"
    if project.task == "regression" and column_type(frame[project.target]) == "string":
        sample = frame[project.target].dropna().iloc[0]
        raise ConfigError(
            f"{project.config_file}: [data] target: {project.target!r} holds "
            f"text ({sample!r}); a regression target must be numbers. For "
            'labels, set [model] task = "classification"'
        )
    if project.task == "classification" and train[project.target].nunique() < 2:
        raise ConfigError(
            f"{where}: the training rows hold one class only "
            f"({train[project.target].iloc[0]!r}); a classifier needs two"
        )
    return Dataset(
        train.reset_index(drop=True),
        test.reset_index(drop=True),
        features,
        project.target,
        project.train.location,
        test_file,
    )


def write_channels(dataset: Dataset, fmt: str, root: Path) -> dict[str, Path]:
    """train/ and test/ channel folders under `root`, each with one file of its rows."""
    if root.exists():
        shutil.rmtree(root)
    channels = {}
    for name, frame in (("train", dataset.train), ("test", dataset.test)):
        folder = root / name
        folder.mkdir(parents=True)
        if fmt == "csv":
            frame.to_csv(folder / f"{name}.csv", index=False)
        else:
            frame.to_parquet(folder / f"{name}.parquet", index=False)
        channels[name] = folder
    return channels


def column_type(series) -> str:
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "number"
    return "string"


def describe(frame, name: str) -> Column:
    """A column's signature entry, from the training rows."""
    series = frame[name]
    kind = column_type(series)
    nullable = bool(series.isna().any())
    categories: tuple = ()
    if kind == "string":
        values = series.dropna()
        odd = values[~values.map(lambda v: isinstance(v, str))]
        if len(odd):
            raise ConfigError(
                f"column {name!r} mixes text with {type(odd.iloc[0]).__name__} "
                "values; make it one type in the data"
            )
        categories = tuple(sorted(values.unique().tolist()))
    return Column(name, kind, nullable, categories)


def json_value(value):
    """A cell as a JSON value: numpy scalars to Python, NaN to None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def read_channel(root: Path, name: str):
    """The rows `write_channels` wrote for channel `name` (train or test) under `root`."""
    from pipeline.core.project import DataSource

    for suffix, fmt in ((".csv", "csv"), (".parquet", "parquet")):
        path = root / name / f"{name}{suffix}"
        if path.exists():
            return _read(path, DataSource(str(path), fmt), f"the {name} channel")
    raise ConfigError(f"{root / name} holds no {name} rows; run `python -m pipeline train` first")
