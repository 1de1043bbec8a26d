"""Regenerate the example data sets from scikit-learn's bundled data (no download).

    python examples/make_data.py        # writes the three files below, prints their sha256

Why: the examples must run offline and give the same model every time, so their data is
made once, from data scikit-learn ships, by fixed steps, and committed. Running this again
rewrites the files byte for byte (same scikit-learn, pandas and pyarrow versions as the
serving image: the CSV's float text and the Parquet writer's metadata could change with
them). Check with `git status` or the printed sha256s: nothing should change.

- churn/data/customers.csv: a binary "churned" yes/no table for the churn example. The
  rows are load_breast_cancer's 569 rows (malignant -> churned "yes"), with a few columns
  rescaled and renamed to customer-like names. It is a stand-in with a churn table's shape
  (names with spaces, integers, a string category, string labels), not real customer data.
- iris-species/data/train.parquet and test.parquet: load_iris with sklearn's own column
  names ("sepal length (cm)" ...) and the species name as the label, split 70/30,
  stratified, seed 0, so the example needs no split of its own.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent
CHURN_CSV = HERE / "churn" / "data" / "customers.csv"
IRIS_TRAIN = HERE / "iris-species" / "data" / "train.parquet"
IRIS_TEST = HERE / "iris-species" / "data" / "test.parquet"


def churn_frame() -> pd.DataFrame:
    cancer = load_breast_cancer(as_frame=True).frame
    # A size band from a numeric column: a string column the model must one-hot encode.
    band = np.select(
        [cancer["mean area"] < 500, cancer["mean area"] < 1000], ["small", "medium"], "large"
    )
    return pd.DataFrame(
        {
            "tenure months": cancer["mean texture"].round().astype("int64"),
            "support calls": (cancer["worst concave points"] * 40).round().astype("int64"),
            "monthly charges": (cancer["mean radius"] * 5).round(2),
            "session minutes": (cancer["mean smoothness"] * 300).round(2),
            "account size": band,
            # sklearn's target 0 is malignant: that is the "yes" (the positive) class here.
            "churned": np.where(cancer["target"] == 0, "yes", "no"),
        }
    )


def iris_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    iris = load_iris(as_frame=True)
    frame = iris.frame.drop(columns="target")
    frame["species"] = iris.target_names[iris.target]
    return train_test_split(frame, test_size=0.3, random_state=0, stratify=frame["species"])


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    # Built column by column, without the index or pandas' schema metadata, so the file
    # depends only on the values (and the pyarrow version that writes it).
    table = pa.table({name: frame[name].to_numpy() for name in frame.columns})
    pq.write_table(table, path, compression="snappy")


def main() -> None:
    CHURN_CSV.parent.mkdir(parents=True, exist_ok=True)
    churn_frame().to_csv(CHURN_CSV, index=False, lineterminator="\n")
    IRIS_TRAIN.parent.mkdir(parents=True, exist_ok=True)
    train, test = iris_frames()
    write_parquet(train, IRIS_TRAIN)
    write_parquet(test, IRIS_TEST)
    for path in (CHURN_CSV, IRIS_TRAIN, IRIS_TEST):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        print(f"{digest}  {path.relative_to(HERE)} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
