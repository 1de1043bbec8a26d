"""Version specifiers and the rule for "will this trained model load in the serving image".

Pure and stdlib-only. Only the subset of PEP 440 the serving-image file uses is supported:
release versions (`1.9.0`, `2.8.6.post2`) and comma-joined `==`, `>=`, `<=`, `>`, `<`, `!=`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.errors import ConfigError, VersionMismatch

_RELEASE = re.compile(r"^(\d+(?:\.\d+)*)")
_FINAL = re.compile(r"^\d+(?:\.\d+)*(?:\.post\d+)?$")
_CLAUSE = re.compile(r"^\s*(==|>=|<=|!=|>|<)\s*([0-9][0-9A-Za-z.+-]*)\s*$")


def release(version: str) -> tuple[int, ...]:
    """The numeric release part of a version: '2.8.6.post2' -> (2, 8, 6)."""
    match = _RELEASE.match(version.strip())
    if not match:
        raise ValueError(f"not a version: {version!r}")
    parts = tuple(int(p) for p in match.group(1).split("."))
    # Pad so that 1.9 == 1.9.0 when compared.
    return parts + (0,) * (4 - len(parts)) if len(parts) < 4 else parts


@dataclass(frozen=True)
class Clause:
    op: str
    version: str

    def admits(self, version: str) -> bool:
        have, want = release(version), release(self.version)
        return {
            "==": have == want,
            "!=": have != want,
            ">=": have >= want,
            "<=": have <= want,
            ">": have > want,
            "<": have < want,
        }[self.op]


@dataclass(frozen=True)
class Spec:
    text: str
    clauses: tuple[Clause, ...]

    def admits(self, version: str) -> bool:
        return all(c.admits(version) for c in self.clauses)

    @property
    def exact(self) -> str | None:
        for c in self.clauses:
            if c.op == "==":
                return c.version
        return None


def parse_spec(text: str, where: str) -> Spec:
    """Parse '==1.9.0' or '>=1.4.0,<2'. `where` names the file and key for the error."""
    clauses = []
    for part in text.split(","):
        match = _CLAUSE.match(part)
        if not match:
            raise ConfigError(
                f"{where}: cannot read version specifier {text!r}; "
                "write it as '==1.2.3' or a range like '>=1.4.0,<2'"
            )
        clauses.append(Clause(match.group(1), match.group(2)))
    return Spec(text, tuple(clauses))


def load_problem(package: str, running: str, image_spec: Spec) -> str | None:
    """Why a model pickled with `running` would not load (or would load wrongly) in the image.

    scikit-learn must match exactly: other versions only warn on load but may predict
    differently. numpy must have the same major version and not be newer than the image's:
    a pickle written by numpy 2 fails on numpy 1 ("No module named 'numpy._core'") and newer
    minors may write dtypes older ones cannot read. Other packages must fall in the image's range.
    """
    if not _FINAL.match(running.strip()):
        # Pre-releases, dev and local builds differ from the release the image pins.
        return (
            f"{package} {running} is a pre-release, dev or local build; "
            f"the image has {package} {image_spec.text}"
        )
    if package == "scikit-learn":
        exact = image_spec.exact
        if exact is None or release(running) != release(exact):
            return f"scikit-learn {running} is installed but the image has {image_spec.text}"
        return None
    if package == "numpy":
        exact = image_spec.exact
        if exact is None:
            # The image pins only a range: whatever it installs lies in it, so must ours.
            return (
                None
                if image_spec.admits(running)
                else (f"numpy {running} is installed but the image has numpy {image_spec.text}")
            )
        if release(running)[0] != release(exact)[0] or release(running) > release(exact):
            return (
                f"numpy {running} is installed but the image has numpy {image_spec.text}; "
                "training needs the same major version, not newer than the image's"
            )
        return None
    if not image_spec.admits(running):
        return f"{package} {running} is installed but the image has {package} {image_spec.text}"
    return None


def check_loadable(
    running: dict[str, str], image: dict[str, Spec], image_name: str, subject: str
) -> None:
    """Raise VersionMismatch naming every package of `subject` (an environment, as described
    in the message) whose version the image cannot load."""
    problems = []
    for package, spec in sorted(image.items()):
        if package not in running:
            problems.append(f"{package} is not recorded")
            continue
        problem = load_problem(package, running[package], spec)
        if problem:
            problems.append(problem)
    if problems:
        listed = "\n  - ".join(problems)
        raise VersionMismatch(
            f"{subject} has packages whose pickles would not load in {image_name}:\n"
            f"  - {listed}\n"
            "Fix: train in the pinned environment (`tox -e deploy-local` or "
            "`pip install -e .` from pyproject.toml), then run `python -m pipeline train` again."
        )
