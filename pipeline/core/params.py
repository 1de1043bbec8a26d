"""Parameter files (infra/params/<env>.json) checked against the template's Parameters.

Pure and stdlib-only: the caller decodes the template and reads the files. Every problem
names the file, the key and the fix; the stage exits 2 before any AWS call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Filled by the pipeline at deploy time, never written in a parameter file: the artifact
# (from its manifest) and the account-specific role (from bootstrap outputs).
# ProjectName comes from pipeline.toml ([project] name), so two projects never share stacks.
PIPELINE_FILLED = frozenset({"ModelData", "ImageURI", "RoleARN", "ModelDigest", "ProjectName"})
# Tags the pipeline adds to every stack at deploy time (pipeline.stages.release.deploy).
PIPELINE_TAGS = ("project", "model-digest")

# CloudFormation quotas (AWS CloudFormation User Guide, "Understand CloudFormation quotas";
# Tag: key 1-128 characters, value 0-256, at most 50 tags per resource).
MAX_PARAMETER_VALUE_BYTES = 4096
MAX_TAG_KEY_CHARS = 128
MAX_TAG_VALUE_CHARS = 256
MAX_TAGS = 50
# A parameter file is a few hundred bytes; anything over this is refused before it is read.
MAX_FILE_BYTES = 1024 * 1024

# A template's Parameters section: {name: {"Type": ..., "Default": ..., ...}}.
type ParameterSpec = dict[str, Any]
type TemplateParameters = dict[str, ParameterSpec]

# Plain decimal notation only: no sign other than "-", no exponent, hex, "_", nan, inf or
# spaces, all of which Python's float() accepts and CloudFormation would get verbatim.
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")


@dataclass(frozen=True)
class Problem:
    source: str
    key: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source}: {self.key}" if self.key else self.source
        return f"{where}: {self.message}"


def _check_value(source: str, key: str, value: str, spec: ParameterSpec) -> list[Problem]:
    problems = []
    size = len(value.encode("utf-8"))
    if size > MAX_PARAMETER_VALUE_BYTES:
        return [
            Problem(
                source,
                key,
                f"is {size} bytes; CloudFormation takes at most "
                f"{MAX_PARAMETER_VALUE_BYTES} bytes per parameter value",
            )
        ]
    kind = spec.get("Type", "String")
    if kind == "Number":
        integral = _integer_valued(spec)
        if not _DECIMAL.fullmatch(value):
            example = "2" if integral else "2 or 0.5"
            return [
                Problem(
                    source,
                    key,
                    f"{value!r} is not a number; write plain decimal "
                    f'digits without spaces, e.g. "{example}"',
                )
            ]
        if integral and not _INTEGER.fullmatch(value):
            return [
                Problem(
                    source,
                    key,
                    f"{value!r} is not a whole number; the template's "
                    "MinValue/MaxValue/Default are integers, so write one, e.g. "
                    '"2"',
                )
            ]
        number = int(value) if integral else float(value)
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


def _integer_valued(spec: ParameterSpec) -> bool:
    """A Number whose MinValue, MaxValue and Default (those given) are all integers takes
    only integers (InstanceCount: 1.5 instances is a mistake, not a value)."""
    bounds = [spec[k] for k in ("MinValue", "MaxValue", "Default") if k in spec]
    return bool(bounds) and all(
        (isinstance(b, int) and not isinstance(b, bool))
        or (isinstance(b, str) and _INTEGER.fullmatch(b.strip()) is not None)
        for b in bounds
    )


def _kind(value: object) -> str:
    return {
        dict: "an object",
        list: "an array",
        type(None): "null",
        str: "a string",
        bool: "a boolean",
    }.get(type(value), "a number")


class _Object(dict[str, object]):
    """A decoded JSON object that remembers every key given more than once, in it or in the
    objects inside it (as dotted paths), including in a value that a later duplicate dropped."""

    duplicates: tuple[str, ...] = ()


def _nested(value: object) -> list[str]:
    if isinstance(value, _Object):
        return list(value.duplicates)
    if isinstance(value, list):
        return [f"{i}.{path}" for i, item in enumerate(value) for path in _nested(item)]
    return []


def _object(pairs: list[tuple[str, object]]) -> _Object:
    result, seen, found = _Object(pairs), set(), []
    for key, value in pairs:
        if key in seen:
            found.append(key)
        seen.add(key)
        found += [f"{key}.{path}" for path in _nested(value)]
    result.duplicates = tuple(dict.fromkeys(found))
    return result


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON; write numbers as strings of digits")


def decode(raw: bytes, source: str) -> tuple[object, list[Problem]]:
    """The document in a parameter file's bytes, or the problems that stop it being read:
    too large, not UTF-8, malformed JSON, a key given twice (at any level), NaN/Infinity."""
    if len(raw) > MAX_FILE_BYTES:
        return None, [
            Problem(
                source,
                None,
                f"is {len(raw)} bytes; a parameter file may be at "
                f"most {MAX_FILE_BYTES} bytes (1 MiB)",
            )
        ]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [
            Problem(
                source,
                None,
                f"is not UTF-8 (byte 0x{raw[exc.start]:02x} at "
                f"offset {exc.start}); save it as UTF-8",
            )
        ]
    if text.startswith("\ufeff"):
        return None, [
            Problem(source, None, "starts with a byte-order mark; save it as UTF-8 without a BOM")
        ]
    try:
        document = json.loads(text, object_pairs_hook=_object, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        return None, [
            Problem(
                source,
                None,
                f"malformed JSON at line {exc.lineno} column "
                f"{exc.colno}: {exc.msg}; fix the syntax",
            )
        ]
    except ValueError as exc:  # NaN, Infinity, -Infinity
        return None, [Problem(source, None, f"malformed JSON: {exc}")]
    duplicates = _nested(document)
    if duplicates:
        once = "appears more than once; JSON would silently keep the last one, so keep one"
        return None, [Problem(source, key, once) for key in duplicates]
    return document, []


def _check_tags(source: str, tags: object) -> list[Problem]:
    if not isinstance(tags, dict):
        return [
            Problem(
                source,
                "Tags",
                f"must be an object of tag names to strings, not "
                f"{_kind(tags)}; write {{}} for no tags",
            )
        ]
    problems = []
    for name, value in tags.items():
        where = f"Tags.{name}"
        if name in PIPELINE_TAGS:
            problems.append(
                Problem(
                    source,
                    where,
                    "is set by the pipeline at deploy time (from "
                    "pipeline.toml and the artifact); remove it",
                )
            )
        elif not 1 <= len(name) <= MAX_TAG_KEY_CHARS:
            problems.append(
                Problem(
                    source,
                    f"Tags.{name[:40]}...",
                    f"tag key is {len(name)} "
                    f"characters; CloudFormation takes 1 to "
                    f"{MAX_TAG_KEY_CHARS}",
                )
            )
        elif name.lower().startswith("aws:"):
            problems.append(
                Problem(source, where, "the aws: prefix is reserved for AWS; rename the tag")
            )
        if not isinstance(value, str):
            problems.append(Problem(source, where, f"must be a string, not {_kind(value)}"))
        elif len(value) > MAX_TAG_VALUE_CHARS:
            problems.append(
                Problem(
                    source,
                    where,
                    f"value is {len(value)} characters; "
                    f"CloudFormation takes at most "
                    f"{MAX_TAG_VALUE_CHARS}",
                )
            )
    total = len(set(tags) | set(PIPELINE_TAGS))
    if total > MAX_TAGS:
        problems.append(
            Problem(
                source,
                "Tags",
                f"{len(tags)} tags plus the pipeline's "
                f"{', '.join(PIPELINE_TAGS)} make {total}; CloudFormation "
                f"takes at most {MAX_TAGS} per stack",
            )
        )
    return problems


def check_file(
    template_parameters: TemplateParameters,
    document: object,
    source: str,
    environment: str | None = None,
) -> list[Problem]:
    """Problems of one parameter file: {"Parameters": {...}, "Tags": {...}}. `environment`,
    the file's name without .json, must be what EnvironmentName and Tags.environment say."""
    if not isinstance(document, dict):
        return [
            Problem(
                source,
                None,
                'must be an object {"Parameters": {...}, "Tags": {...}}, '
                f"not {_kind(document)}",
            )
        ]
    if not isinstance(document.get("Parameters"), dict):
        found = _kind(document["Parameters"]) if "Parameters" in document else "missing"
        return [
            Problem(
                source,
                "Parameters",
                "must be an object of parameter names to "
                'string values, e.g. {"InstanceCount": "1"}; it is '
                f"{found}",
            )
        ]
    unexpected = sorted(set(document) - {"Parameters", "Tags"})
    problems = [
        Problem(source, k, "unknown top-level key; keep only Parameters and Tags")
        for k in unexpected
    ]
    problems += _check_tags(source, document.get("Tags", {}))
    values = document["Parameters"]
    if environment is not None:
        problems += _check_environment(source, environment, template_parameters, document)
    for key, value in sorted(values.items()):
        if key in PIPELINE_FILLED:
            problems.append(
                Problem(
                    source,
                    key,
                    "is filled by the pipeline at deploy time (from "
                    "pipeline.toml, the manifest or bootstrap outputs); "
                    "remove it",
                )
            )
        elif key not in template_parameters:
            problems.append(
                Problem(
                    source, key, "is not a parameter of the template; remove it or fix its spelling"
                )
            )
        elif not isinstance(value, str):
            problems.append(Problem(source, key, f'{value!r} must be a string, e.g. "{value}"'))
        else:
            problems += _check_value(source, key, value, template_parameters[key])
    for key, spec in sorted(template_parameters.items()):
        if key not in values and key not in PIPELINE_FILLED and "Default" not in spec:
            problems.append(
                Problem(source, key, "is missing and the template has no default; add it")
            )
    return problems


def _check_environment(
    source: str, environment: str, template_parameters: TemplateParameters, document: dict[str, Any]
) -> list[Problem]:
    """<env>.json deploys <env>: a file that names another environment would send that
    environment's settings to this one's stack."""
    problems = []
    spec = template_parameters.get("EnvironmentName")
    if spec is not None:
        value = document["Parameters"].get("EnvironmentName", spec.get("Default"))
        if isinstance(value, str) and value != environment:
            problems.append(
                Problem(
                    source,
                    "EnvironmentName",
                    f"is {value!r} but this is the "
                    f"file of environment {environment!r}; set it to "
                    f'"{environment}"',
                )
            )
    tags = document.get("Tags")
    value = tags.get("environment") if isinstance(tags, dict) else None
    if isinstance(value, str) and value != environment:
        problems.append(
            Problem(
                source,
                "Tags.environment",
                f"is {value!r} but this is the "
                f"file of environment {environment!r}; set it to "
                f'"{environment}"',
            )
        )
    return problems


def check_same_keys(
    documents: Mapping[str, object], known: set[str] | None = None
) -> list[Problem]:
    """Every environment's file must set the same keys, so a difference is always a value.
    Keys outside `known` (the template's) are left to check_file, which says to remove them.
    Documents that are not the expected shape are left out (check_file reports them)."""
    keysets = {
        source: set(doc["Parameters"])
        for source, doc in documents.items()
        if isinstance(doc, dict) and isinstance(doc.get("Parameters"), dict)
    }
    union = set().union(*keysets.values()) if keysets else set()
    if known is not None:
        union &= known
    return [
        Problem(
            source,
            key,
            "is set in another environment's file but not here; add it "
            "(every environment's file has the same keys)",
        )
        for source, keys in sorted(keysets.items())
        for key in sorted(union - keys)
    ]


def stack_parameters(
    template_parameters: TemplateParameters, file_values: dict[str, str], filled: dict[str, str]
) -> dict[str, str]:
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
