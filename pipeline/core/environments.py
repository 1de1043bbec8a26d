"""The environments, declared once: their promotion order and which are protected (pure).

Every path that changes a stack asks this module, so the rules hold however a change is
made: `deploy` (never into a protected environment), `promote` (only from the previous
environment's release; a protected target needs an approval), `rollback` (a protected
environment needs an approval) and the workflows, which run those commands.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.errors import ConfigError


@dataclass(frozen=True)
class Environment:
    name: str
    protected: bool  # reachable only by promotion of the previous environment's release,
    # with an approval (GitHub: the environment's required reviewers)


DECLARED = (
    Environment("dev", protected=False),
    Environment("staging", protected=False),
    Environment("prod", protected=True),
)
NAMES = tuple(e.name for e in DECLARED)  # promotion order; no environment is skipped


def get(name: str) -> Environment:
    for environment in DECLARED:
        if environment.name == name:
            return environment
    raise ConfigError(f"unknown environment {name!r}; the environments are {' → '.join(NAMES)}")


def source_of(target: str) -> str:
    """The environment a target is promoted from."""
    position = NAMES.index(get(target).name)
    if position == 0:
        raise ConfigError(
            f"{target} is not promoted into; it is deployed "
            f"(`python -m pipeline deploy --env {target}`); promotion goes "
            f"{' → '.join(NAMES)}"
        )
    return NAMES[position - 1]


def check_deploy(target: str) -> None:
    """`deploy` may not change a protected environment: it takes only promotions."""
    if get(target).protected:
        source = source_of(target)
        raise ConfigError(
            f"{target} is protected: it takes only a release of {source}, promoted with an "
            f"approval (`python -m pipeline promote --from {source} --to {target} --digest D "
            f"--approve`; `--dry-run` previews it). Nothing was sent."
        )


def check_promotion(source: str, target: str, approved: bool, dry_run: bool = False) -> None:
    """The order holds, and a protected target has an approval unless nothing will change."""
    expected = source_of(target)
    get(source)
    if source != expected:
        raise ConfigError(
            f"{target} is promoted from {expected}, not {source}: "
            f"{' → '.join(NAMES)}, none skipped. Nothing was sent."
        )
    if get(target).protected and not approved and not dry_run:
        raise ConfigError(
            f"{target} is protected: promoting to it needs an approval "
            "(--approve, or run it at a terminal to confirm after the preview). "
            "Nothing was sent."
        )


def check_rollback(target: str, approved: bool, dry_run: bool = False) -> None:
    """A protected environment goes back to its own earlier release only with approval."""
    if get(target).protected and not approved and not dry_run:
        raise ConfigError(
            f"{target} is protected: rolling it back needs an approval "
            "(--approve, or run it at a terminal to confirm after the preview). "
            "Nothing was sent."
        )
