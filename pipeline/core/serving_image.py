"""The serving image the model targets (model/serving-image.toml), as validated data.

Pure and stdlib-only: `parse` takes the already-loaded TOML mapping.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from pipeline.core.versions import Spec, parse_spec
from pipeline.errors import ConfigError

REQUIRED_PACKAGES = ("scikit-learn", "numpy", "scipy", "joblib")
DEFAULT_DOMAIN = "amazonaws.com"


@dataclass(frozen=True)
class ServingImage:
    repository: str
    tag: str
    python: str
    packages: dict[str, Spec]
    accounts: dict[str, str]
    domains: dict[str, str]

    @property
    def name(self) -> str:
        return f"{self.repository}:{self.tag}"

    def uri(self, region: str) -> str:
        account = self.accounts.get(region)
        if account is None:
            close = difflib.get_close_matches(region, list(self.accounts), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"no {self.repository} registry is known for region {region!r}.{hint} "
                f"Known regions: {', '.join(sorted(self.accounts))} "
                "(table: model/serving-image.toml, [registry.accounts])."
            )
        prefixes = [p for p in self.domains if region.startswith(p)]
        domain = self.domains[max(prefixes, key=len)] if prefixes else DEFAULT_DOMAIN
        return f"{account}.dkr.ecr.{region}.{domain}/{self.repository}:{self.tag}"

    def to_manifest(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "tag": self.tag,
            "python": self.python,
            "packages": {name: spec.text for name, spec in sorted(self.packages.items())},
        }


def _require[T](data: dict[str, Any], key: str, kind: type[T], source: str) -> T:
    value = data.get(key)
    if not isinstance(value, kind):
        raise ConfigError(
            f"{source}: key {key!r} must be a {kind.__name__}, got {value!r}; "
            "see the comments in model/serving-image.toml for the expected layout"
        )
    return value


def parse(data: dict[str, Any], source: str) -> ServingImage:
    packages_raw = _require(data, "packages", dict, source)
    missing = [p for p in REQUIRED_PACKAGES if p not in packages_raw]
    if missing:
        raise ConfigError(
            f"{source}: [packages] lacks {', '.join(missing)}; record what the image ships"
        )
    packages = {
        name: parse_spec(
            _require(packages_raw, name, str, f"{source} [packages]"), f"{source} [packages] {name}"
        )
        for name in packages_raw
    }
    registry = _require(data, "registry", dict, source)
    accounts = _require(registry, "accounts", dict, f"{source} [registry]")
    for region, account in accounts.items():
        if not (isinstance(account, str) and account.isdigit() and len(account) == 12):
            raise ConfigError(
                f"{source} [registry.accounts] {region}: {account!r} is not a 12-digit account id"
            )
    return ServingImage(
        repository=_require(data, "repository", str, source),
        tag=_require(data, "tag", str, source),
        python=_require(data, "python", str, source),
        packages=packages,
        accounts=dict(accounts),
        domains=dict(registry.get("domains", {})),
    )
