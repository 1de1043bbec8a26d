"""The default project's training script: LinearRegression on the diabetes data.

SageMaker script mode (the same file runs as a SageMaker training job): the training rows
are in the folder $SM_CHANNEL_TRAIN (CSV with a header: the features, then the target), the
fitted model goes to $SM_MODEL_DIR/model.joblib, and hyperparameters would arrive as
`--name value` arguments (this model has none). The pipeline, not this script, evaluates the
model on the test split and applies the quality gate. Fitting on a DataFrame records the
column names in the model (feature_names_in_), which the pipeline turns into the model's
signature. This module is a leaf: it never imports `pipeline`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import joblib
import pandas as pd
from sklearn.linear_model import LinearRegression

TARGET = "disease_progression"


def read_channel(folder: str) -> pd.DataFrame:
    files = sorted(Path(folder).glob("*.csv"))
    if not files:
        raise SystemExit(f"no .csv file in the training channel {folder}")
    return pd.concat([pd.read_csv(path) for path in files], ignore_index=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    args = parser.parse_args(argv)

    data = read_channel(args.train)
    model = LinearRegression().fit(data.drop(columns=[TARGET]), data[TARGET])
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))


if __name__ == "__main__":
    main()
