"""The pipeline's own evaluation of a fitted model on the test split, with its baseline.

regression: RMSE, MAE, R2; baseline: the training mean.
classification: accuracy, balanced accuracy, macro F1, ROC AUC (binary, from predict_proba
or decision_function), log loss (when predict_proba exists); baseline: the most frequent
training class (its probabilities: the training class frequencies).
Metric names and directions live in pipeline.core.metrics.
"""

from __future__ import annotations

import numpy as np


def _regression(y_true, y_pred) -> dict[str, float]:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    return {
        "rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "r2": float(r2_score(y_true, y_pred)),
    }


def _classification(y_true, y_pred, scores, proba, classes) -> dict[str, float]:
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        f1_score,
        log_loss,
        roc_auc_score,
    )

    out = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
    }
    if len(classes) == 2 and scores is not None and len(set(y_true)) == 2:
        out["roc_auc"] = float(roc_auc_score(y_true == classes[1], scores))
    if proba is not None:
        out["log_loss"] = float(log_loss(y_true, proba, labels=list(classes)))
    return out


def evaluate(model, task: str, X_train, y_train, X_test, y_test) -> dict:
    """{"model": metrics, "baseline": metrics} on the test split."""
    if task == "regression":
        baseline = np.full(len(y_test), float(np.mean(y_train)))
        return {
            "model": _regression(y_test, model.predict(X_test)),
            "baseline": _regression(y_test, baseline),
        }
    classes = np.asarray(model.classes_)
    y_true = np.asarray(y_test)
    proba = model.predict_proba(X_test) if hasattr(model, "predict_proba") else None
    if proba is not None:
        scores = proba[:, 1] if len(classes) == 2 else None
    elif hasattr(model, "decision_function") and len(classes) == 2:
        scores = model.decision_function(X_test)
    else:
        scores = None
    values, counts = np.unique(np.asarray(y_train), return_counts=True)
    majority = values[np.argmax(counts)]
    frequency = {v: c / counts.sum() for v, c in zip(values.tolist(), counts, strict=True)}
    prior = np.array([frequency.get(c, 0.0) for c in classes.tolist()])
    base_proba = np.tile(prior, (len(y_true), 1)) if proba is not None else None
    base_scores = np.full(len(y_true), prior[1]) if scores is not None else None
    return {
        "model": _classification(y_true, model.predict(X_test), scores, proba, classes),
        "baseline": _classification(
            y_true,
            np.full(len(y_true), majority, dtype=object)
            if classes.dtype == object
            else np.full(len(y_true), majority),
            base_scores,
            base_proba,
            classes,
        ),
    }
