"""Reading the repository's config files (TOML, JSON) into validated objects.

Reading is kept apart from validating: the pure parsers live in pipeline.core.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pipeline.core import serving_image
from pipeline.core.checksums import sha256_stream
from pipeline.errors import ConfigError
from pipeline.settings import Settings


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None


def read_json(path: Path, produced_by: str) -> dict[str, Any]:
    """Read a JSON file that a stage writes; `produced_by` is the command that makes it."""
    try:
        document: dict[str, Any] = json.loads(path.read_text())
        return document
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found; run `{produced_by}` first") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc}); run `{produced_by}` again") from None


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write atomically, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def load_serving_image(settings: Settings) -> serving_image.ServingImage:
    path = settings.serving_image_file
    return serving_image.parse(read_toml(path), str(path))


def sha256_file(path: Path) -> str:
    """The file's hex SHA-256, read in bounded chunks."""
    with path.open("rb") as handle:
        return sha256_stream(handle)
