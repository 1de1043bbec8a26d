"""The parameter files (<env>.json) and the endpoint template's Parameters, read safely.

Every command that sends parameters (lint, deploy, promote, rollback, teardown, taskcat)
reads them here, once, before any AWS call; the pure checks are in pipeline.core.params.
Templates are decoded with cfn-lint's decoder, which understands !Ref and the short forms.
Must not import any stage.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from pipeline.core.params import (
    MAX_FILE_BYTES,
    PIPELINE_FILLED,
    Problem,
    check_file,
    check_same_keys,
    decode,
)
from pipeline.errors import ConfigError
from pipeline.settings import Settings


def template_parameters(settings: Settings, template_file: Path | None = None) -> dict[str, Any]:
    """The Parameters of a template (default: the endpoint template), decoded as cfn-lint
    decodes them (ConfigError naming the file when it cannot be)."""
    from cfnlint.decode import decode

    path = template_file or settings.endpoint_template
    template, matches = decode(str(path))
    if matches or template is None:
        details = "; ".join(str(m) for m in matches) or "could not be decoded"
        raise ConfigError(f"{path}: {details}")
    return dict(template.get("Parameters", {}))


def _read(path: Path) -> bytes:
    """At most MAX_FILE_BYTES + 1 bytes, so a huge file is never read whole."""
    with open(path, "rb") as handle:
        return handle.read(MAX_FILE_BYTES + 1)


def _read_params_file(
    path: Path, seen: dict[tuple[int, int], Path]
) -> tuple[object, list[Problem]]:
    """The bytes of one <env>.json decoded, or why not: a dangling symlink, a directory or
    other non-file, a file too large (refused before it is read), one that cannot be read,
    or one that is another environment's file under this name (a symlink or hard link)."""
    source = str(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        target = os.readlink(path) if path.is_symlink() else "nothing"
        return None, [
            Problem(
                source,
                None,
                f"is a symlink to {target}, which does not exist; remove it or point it at a file",
            )
        ]
    except OSError as exc:
        return None, [Problem(source, None, f"cannot be read ({exc.strerror}); fix it")]
    if stat.S_ISDIR(info.st_mode):
        return None, [
            Problem(source, None, "is a directory, not a parameter file; remove or rename it")
        ]
    if not stat.S_ISREG(info.st_mode):
        return None, [
            Problem(source, None, "is not a regular file; a parameter file is a JSON file")
        ]
    if info.st_size > MAX_FILE_BYTES:
        return None, [
            Problem(
                source,
                None,
                f"is {info.st_size} bytes; a parameter file may be "
                f"at most {MAX_FILE_BYTES} bytes (1 MiB)",
            )
        ]
    real = path.resolve()
    if real.stem != path.stem:
        return None, [
            Problem(
                source,
                None,
                f"resolves to {real}, the file of another "
                f"environment; give {path.stem} its own file",
            )
        ]
    identity = (info.st_dev, info.st_ino)
    if identity in seen:
        return None, [
            Problem(
                source, None, f"is the same file as {seen[identity]}; give {path.stem} its own file"
            )
        ]
    seen[identity] = path
    try:
        raw = _read(path)
    except OSError as exc:
        return None, [
            Problem(source, None, f"cannot be read ({exc.strerror}); fix its permissions")
        ]
    return decode(raw, source)


def load_params(settings: Settings) -> tuple[dict[str, dict[str, Any]], list[Problem]]:
    """Every <env>.json, read once: {environment: document} and the problems of all of them
    (checked against the endpoint template's Parameters and against each other)."""
    parameters = template_parameters(settings)
    files = sorted(settings.params_dir.glob("*.json"))
    if not files:
        return {}, [Problem(str(settings.params_dir), None, "no <env>.json parameter files")]
    problems: list[Problem] = []
    documents: dict[str, Any] = {}  # a top-level array too: check_file reports it
    seen: dict[tuple[int, int], Path] = {}
    for path in files:
        document, found = _read_params_file(path, seen)
        problems += found
        if found:
            continue
        documents[str(path)] = document
        problems += check_file(parameters, document, str(path), environment=path.stem)
    problems += check_same_keys(documents, set(parameters) - PIPELINE_FILLED)
    return {Path(s).stem: d for s, d in documents.items()}, problems


def validate_params(settings: Settings) -> list[Problem]:
    return load_params(settings)[1]
