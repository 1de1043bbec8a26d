"""Train the churn classifier: SageMaker script mode, run by the pipeline (or by SageMaker).

The pipeline runs `python train.py --C 1.0 --max_iter 1000` (the [model.hyperparameters] of
pipeline.toml) with SM_CHANNEL_TRAIN = a folder holding the training rows (a CSV with a
header: the features, then the target) and SM_MODEL_DIR = where model.joblib must go.
The pipeline evaluates the model, applies the gate and writes the signature itself.
"""

import argparse
import glob
import os

import joblib
import pandas as pd
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

TARGET = "churned"  # as [data] target in pipeline.toml


def read_channel(folder: str) -> pd.DataFrame:
    """Every CSV, then every Parquet file in the channel folder, each in name order."""
    paths = sorted(glob.glob(os.path.join(folder, "*.csv")))
    paths += sorted(glob.glob(os.path.join(folder, "*.parquet")))
    if not paths:
        raise SystemExit(f"no .csv or .parquet file in {folder}")
    frames = [pd.read_parquet(p) if p.endswith(".parquet") else pd.read_csv(p) for p in paths]
    return pd.concat(frames, ignore_index=True)


def build_model(C: float, max_iter: int) -> Pipeline:
    # Columns are chosen by dtype at fit time, so a new numeric or text column needs no edit.
    # handle_unknown="ignore": an account size never seen in training encodes as all zeros
    # instead of failing the request.
    text = make_column_selector(dtype_include=object)
    numbers = make_column_selector(dtype_exclude=object)
    features = ColumnTransformer(
        [
            ("text", OneHotEncoder(handle_unknown="ignore"), text),
            ("numbers", StandardScaler(), numbers),
        ]
    )
    # lbfgs has no randomness; random_state is fixed anyway so another solver stays deterministic.
    classifier = LogisticRegression(C=C, max_iter=max_iter, random_state=0)
    return Pipeline([("features", features), ("classifier", classifier)])


def main() -> None:
    # Hyperparameters arrive as strings on argv: argparse types turn them into numbers.
    # parse_args (not parse_known_args) so a misspelt hyperparameter fails the training job.
    parser = argparse.ArgumentParser()
    # SageMaker passes a one-letter hyperparameter as -C
    parser.add_argument("-C", "--C", type=float, default=1.0, help="inverse regularisation")
    parser.add_argument("--max_iter", type=int, default=1000)
    args = parser.parse_args()

    data = read_channel(os.environ["SM_CHANNEL_TRAIN"])
    X, y = data.drop(columns=[TARGET]), data[TARGET]
    # Fitted on a DataFrame, so the model keeps the column names (feature_names_in_).
    model = build_model(args.C, args.max_iter).fit(X, y)

    joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
    print(f"trained on {len(X)} rows, {X.shape[1]} features, classes {list(model.classes_)}")


if __name__ == "__main__":
    main()
