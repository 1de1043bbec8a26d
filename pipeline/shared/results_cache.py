"""Results of slow checks (lint, the taskcat run) kept in the build folder under a key that
covers every input: the same key gives the same result without running the check again;
any input that changes makes a new key, and the check runs.

A key is the sha256 of a canonical list of named parts: the bytes of every input file
(templates, parameter files, the project config, the check's own code, checkov's policies
and pins) and the versions of the tools. An entry records its key and the versions it was
made with; one that does not match in full is ignored (never trusted across tool versions),
and a damaged one is a miss, not an error. One entry per check: `build/cache/<check>.json`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.settings import Settings

VERSION = 1  # of the entry format
PIPELINE_CODE = Path(__file__).resolve().parents[1]  # the pipeline package


def code_files() -> list[Path]:
    """The pipeline's own code: the key of a result it computes covers every file of it."""
    return sorted(PIPELINE_CODE.rglob("*.py"))


def file_parts(paths: Iterable[Path], root: Path) -> dict[str, str]:
    """name -> sha256 of each file (names relative to root where they lie under it)."""
    parts = {}
    for path in sorted(set(paths)):
        try:
            name = str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            name = str(path.resolve())
        parts[f"file:{name}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return parts


def digests(paths: Iterable[Path], root: Path) -> dict[str, str]:
    """name (relative to root) -> sha256 of each output a result left in the build folder."""
    from pipeline.shared.config import sha256_file

    return {str(path.relative_to(root)): sha256_file(path) for path in paths}


def intact(stored: Any, paths: Iterable[Path], root: Path) -> bool:
    """True if a stored result's outputs (`{"outputs": digests}`) are all still there, each
    with the sha256 it was stored with, and no others are named."""
    if not isinstance(stored, dict) or not stored.get("outputs"):
        return False
    try:
        return bool(digests(paths, root) == stored["outputs"])
    except OSError:
        return False


def key(parts: Mapping[str, str]) -> str:
    canonical = json.dumps(sorted(parts.items()), separators=(",", ":"))
    return hashlib.sha256(f"{VERSION}\n{canonical}".encode()).hexdigest()


def _file(settings: Settings, check: str) -> Path:
    return settings.cache_dir / f"{check}.json"


def load(settings: Settings, check: str, cache_key: str, versions: Mapping[str, str]) -> Any:
    """The cached result for this key and these tool versions, or None."""
    try:
        entry = json.loads(_file(settings, check).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict):
        return None
    if entry.get("format") != VERSION or entry.get("key") != cache_key:
        return None
    if entry.get("versions") != dict(versions):
        return None
    return entry.get("result")


def store(
    settings: Settings, check: str, cache_key: str, versions: Mapping[str, str], result: Any
) -> None:
    path = _file(settings, check)
    entry = {"format": VERSION, "key": cache_key, "versions": dict(versions), "result": result}
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(entry, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(
            f"{path.parent}: cannot keep results there ({exc.strerror or exc}); make it a "
            "writable folder, or set PIPELINE_CACHE_DIR to one (default <build dir>/cache)"
        ) from None
