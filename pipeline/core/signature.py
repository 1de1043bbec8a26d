"""The model signature: what a model takes and answers, derived, never typed by hand (pure).

Built at training time from the training data's columns (name, type, missing values, the
categories of string columns) and the fitted model's own attributes (`feature_names_in_`,
`n_features_in_`, `classes_`); recorded in the manifest and shipped as signature.json in
model.tar.gz, where model/inference.py enforces it on every request.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pipeline.errors import ConfigError

SIGNATURE_VERSION = 1
TYPES = ("number", "integer", "boolean", "string")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # one of TYPES
    nullable: bool = False
    categories: tuple[str, ...] = ()  # string columns: the distinct values seen in training

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "nullable": self.nullable}
        if self.type == "string":
            out["categories"] = list(self.categories)
        return out


def build(
    *,
    task: str,
    inputs: list[Column],
    target: Column,
    feature_names: list[str] | None,
    n_features: int | None,
    classes: list[Any] | None,
    probabilities: bool,
    source: str,
) -> dict[str, Any]:
    """The signature; ConfigError when the fitted model disagrees with the data's columns.
    `source` names what produced the model, for messages."""
    names = [c.name for c in inputs]
    if feature_names is not None and list(feature_names) != names:
        raise ConfigError(
            f"{source}: the model was fitted on columns {list(feature_names)}, but the "
            f"project's features are {names}; fit on the channel's feature columns, in "
            "their order (or set [data] features)"
        )
    if n_features is not None and n_features != len(names):
        raise ConfigError(
            f"{source}: the model takes {n_features} inputs, but the project "
            f"has {len(names)} features ({', '.join(names)})"
        )
    if n_features is None and feature_names is None:
        raise ConfigError(
            f"{source}: the model records neither n_features_in_ nor "
            "feature_names_in_; is it a fitted scikit-learn estimator?"
        )
    signature: dict[str, Any] = {
        "signature_version": SIGNATURE_VERSION,
        "task": task,
        "inputs": [c.to_json() for c in inputs],
        "target": {"name": target.name, "type": target.type},
        "feature_names": feature_names is not None,
    }
    if task == "classification":
        if not classes:
            raise ConfigError(
                f"{source}: a classification model must have classes_ "
                "(fit a scikit-learn classifier)"
            )
        signature["classes"] = list(classes)
        signature["output"] = {"probabilities": probabilities}
    else:
        if classes:
            raise ConfigError(
                f"{source}: [model] task is regression, but the model is a "
                f"classifier (classes {list(classes)[:5]}); set task = "
                '"classification"'
            )
        signature["output"] = {"probabilities": False}
    return signature


def digest(signature: dict[str, Any]) -> str:
    """sha256 of the signature's canonical JSON: equal signatures, equal hashes."""
    text = json.dumps(signature, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def csv_cell(value: object) -> str:
    """One value as the handler reads it in CSV (missing: empty cell)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if any(ch in text for ch in ',"\n\r') or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text


def label_key(label: object) -> str:
    """The key of a class label in a probabilities object: the label itself if it is a
    string, else its JSON text (1 -> "1", True -> "true")."""
    return label if isinstance(label, str) else json.dumps(label)
