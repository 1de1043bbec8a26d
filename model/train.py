"""Fit and evaluate the model: LinearRegression on scikit-learn's bundled diabetes data set.

Pure functions plus a `main()` that prints the evaluation. This module is a leaf: it never
imports `pipeline`. Writing artifacts and applying the quality gate is `pipeline train`'s job.
"""

from __future__ import annotations

import json
import sys

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split

DATASET = "sklearn.datasets.load_diabetes"
SEED = 42
TEST_SIZE = 0.2
N_FEATURES = 10
N_GOLDEN = 5


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X_train, X_test, y_train, y_test): a fixed split of the bundled data (no download)."""
    X, y = load_diabetes(return_X_y=True)
    return train_test_split(X, y, test_size=TEST_SIZE, random_state=SEED)


def fit(X_train: np.ndarray, y_train: np.ndarray) -> LinearRegression:
    return LinearRegression().fit(X_train, y_train)


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return {
        "rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "r2": float(r2_score(y_true, y_pred)),
    }


def evaluate(model, y_train, X_test, y_test) -> dict:
    """Metrics on the held-out split for the model and for a mean-of-training-targets baseline."""
    baseline = np.full(len(y_test), float(np.mean(y_train)))
    return {
        "dataset": DATASET,
        "split": {"test_size": TEST_SIZE, "seed": SEED, "n_test": int(len(y_test))},
        "model": regression_metrics(y_test, model.predict(X_test)),
        "baseline": regression_metrics(y_test, baseline),
    }


def golden_inputs(X_test: np.ndarray, n: int = N_GOLDEN) -> np.ndarray:
    """The first `n` held-out rows: fixed inputs whose predictions the manifest records."""
    return X_test[:n]


def main() -> int:
    X_train, X_test, y_train, y_test = load_split()
    model = fit(X_train, y_train)
    print(json.dumps(evaluate(model, y_train, X_test, y_test), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
