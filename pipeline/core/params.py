"""Parameter files (infra/params/<env>.json) checked against the template's Parameters.

Pure and stdlib-only: the caller decodes the template and reads the files. Every problem
names the file, the key and the fix; the stage exits 2 before any AWS call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Filled by the pipeline at deploy time, never written in a parameter file: the artifact
# (from its manifest) and the account-specific role (from bootstrap outputs).
# ProjectName comes from pipeline.toml ([project] name), so two projects never share stacks.
PIPELINE_FILLED = frozenset({"ModelData", "ImageURI", "RoleARN", "ModelDigest", "ProjectName"})


@dataclass(frozen=True)
class Problem:
    source: str
    key: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source}: {self.key}" if self.key else self.source
        return f"{where}: {self.message}"


def _check_value(source: str, key: str, value: str, spec: dict) -> list[Problem]:
    problems = []
    kind = spec.get("Type", "String")
    if kind == "Number":
        try:
            number = float(value)
        except ValueError:
            return [Problem(source, key, f'{value!r} is not a number; write digits, e.g. "2"')]
        if "MinValue" in spec and number < float(spec["MinValue"]):
            problems.append(Problem(source, key, f"{value} is below MinValue {spec['MinValue']}"))
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            problems.append(Problem(source, key, f"{value} is above MaxValue {spec['MaxValue']}"))
    else:
        if "MinLength" in spec and len(value) < int(spec["MinLength"]):
            problems.append(Problem(source, key, f"shorter than MinLength {spec['MinLength']}"))
        if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
            problems.append(Problem(source, key, f"longer than MaxLength {spec['MaxLength']}"))
        pattern = spec.get("AllowedPattern")
        if pattern is not None and not re.fullmatch(pattern, value):
            problems.append(
                Problem(source, key, f"{value!r} does not match AllowedPattern {pattern}")
            )
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(a) for a in allowed]:
        choices = ", ".join(str(a) for a in allowed)
        problems.append(Problem(source, key, f"{value!r} is not one of {choices}"))
    return problems


def check_file(template_parameters: dict, document: object, source: str) -> list[Problem]:
    """Problems of one parameter file: {"Parameters": {...}, "Tags": {...}}."""
    if not isinstance(document, dict) or not isinstance(document.get("Parameters"), dict):
        return [Problem(source, None, 'must be an object {"Parameters": {...}, "Tags": {...}}')]
    unexpected = sorted(set(document) - {"Parameters", "Tags"})
    problems = [Problem(source, k, "unknown top-level key; keep only Parameters and Tags")
                for k in unexpected]  # fmt: skip
    tags = document.get("Tags", {})
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        problems.append(Problem(source, "Tags", "must map tag names to strings"))
    elif "project" in tags:
        problems.append(Problem(source, "Tags.project", "is set by the pipeline from [project] "
                                "name in pipeline.toml; remove it"))  # fmt: skip
    values = document["Parameters"]
    for key, value in sorted(values.items()):
        if key in PIPELINE_FILLED:
            problems.append(Problem(source, key, "is filled by the pipeline at deploy time (from "
                                    "pipeline.toml, the manifest or bootstrap outputs); "
                                    "remove it"))  # fmt: skip
        elif key not in template_parameters:
            problems.append(Problem(source, key, "is not a parameter of the template; remove it "
                                    "or fix its spelling"))  # fmt: skip
        elif not isinstance(value, str):
            problems.append(Problem(source, key, f'{value!r} must be a string, e.g. "{value}"'))
        else:
            problems += _check_value(source, key, value, template_parameters[key])
    for key, spec in sorted(template_parameters.items()):
        if key not in values and key not in PIPELINE_FILLED and "Default" not in spec:
            problems.append(Problem(source, key, "is missing and the template has no default; "
                                    "add it"))  # fmt: skip
    return problems


def check_same_keys(documents: dict[str, dict], known: set[str] | None = None) -> list[Problem]:
    """Every environment's file must set the same keys, so a difference is always a value.
    Keys outside `known` (the template's) are left to check_file, which says to remove them."""
    keysets = {source: set(doc.get("Parameters", {})) for source, doc in documents.items()}
    union = set().union(*keysets.values()) if keysets else set()
    if known is not None:
        union &= known
    return [
        Problem(source, key, "is set in another environment's file but not here; add it "
                "(every environment's file has the same keys)")
        for source, keys in sorted(keysets.items()) for key in sorted(union - keys)
    ]  # fmt: skip


def stack_parameters(template_parameters: dict, file_values: dict[str, str],
                     filled: dict[str, str]) -> dict[str, str]:  # fmt: skip
    """Every template parameter with an explicit value: the pipeline's, the file's, or the
    template default. Never "use previous value": a key removed from a file takes the
    default, and a key with no default must be somewhere (check_file reports it first)."""
    values = {}
    for key, spec in template_parameters.items():
        if key in filled:
            values[key] = filled[key]
        elif key in file_values:
            values[key] = file_values[key]
        elif "Default" in spec:
            values[key] = str(spec["Default"])
        else:
            raise ValueError(f"parameter {key} has no value and no default")
    return values
