"""Rendering for people and for GitHub: one table renderer, one writer for the job.

`Table` is rendered two ways: `terminal()` (aligned columns under a rule, colour on a TTY
unless NO_COLOR is set) for stdout, `markdown()` for $GITHUB_STEP_SUMMARY. `Job` appends to
$GITHUB_STEP_SUMMARY and $GITHUB_OUTPUT when they are set (in GitHub Actions) and does
nothing otherwise. `ProgressBar` draws byte progress on stderr.

Must not import any stage.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

RULE = "─"
GOOD = frozenset({"ok", "pass", "passed", "success"})
BAD = frozenset({"FAIL", "failed", "failure", "error"})
_GREEN, _RED, _BOLD, _RESET = "\033[32m", "\033[31m", "\033[1m", "\033[0m"


def _cell(value: object) -> str:
    # one line per cell: a newline would break both the alignment and the markdown row
    return str(value).replace("\r", " ").replace("\n", " ")


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    title: str | None = None
    right: frozenset[int] = field(default_factory=frozenset)  # right-aligned columns

    @classmethod
    def of(
        cls,
        header: Sequence[str],
        rows: Sequence[Sequence[object]],
        title: str | None = None,
        right: Sequence[int] = (),
    ) -> Table:
        width = len(header)
        cells = tuple(tuple(_cell(c) for c in row) for row in rows)
        for row in cells:
            if len(row) != width:
                raise ValueError(f"row {row} has {len(row)} cells, the header {width}")
        return cls(tuple(header), cells, title, frozenset(right))

    def terminal(self, colour: bool = False) -> str:
        widths = [max([len(h)] + [len(r[i]) for r in self.rows]) for i, h in enumerate(self.header)]

        def line(cells: Sequence[str], paint: bool) -> str:
            out = []
            for i, (text, width) in enumerate(zip(cells, widths, strict=True)):
                padded = text.rjust(width) if i in self.right else text.ljust(width)
                if paint and text in GOOD:
                    padded = f"{_GREEN}{padded}{_RESET}"
                elif paint and text in BAD:
                    padded = f"{_RED}{padded}{_RESET}"
                out.append(padded)
            return "  ".join(out).rstrip()

        head = line(self.header, False)
        lines = [f"{_BOLD}{head}{_RESET}" if colour else head]
        lines.append("  ".join(RULE * w for w in widths))
        lines += [line(row, colour) for row in self.rows]
        if self.title:
            lines.insert(0, f"{self.title}:")
        return "\n".join(lines)

    def markdown(self) -> str:
        def escape(text: str) -> str:
            return text.replace("|", "\\|")

        align = ["---:" if i in self.right else "---" for i in range(len(self.header))]
        lines = ["| " + " | ".join(map(escape, self.header)) + " |", "|" + "|".join(align) + "|"]
        lines += ["| " + " | ".join(map(escape, row)) + " |" for row in self.rows]
        return ("### " + self.title + "\n\n" if self.title else "") + "\n".join(lines)


def colour_enabled(stream: TextIO, environ: Mapping[str, str] = os.environ) -> bool:
    """Colour on a terminal only, and never with NO_COLOR set (https://no-color.org)."""
    return stream.isatty() and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"


class Job:
    """GitHub Actions' files for this step, when they are set."""

    def __init__(self, environ: Mapping[str, str] = os.environ):
        self.summary_file = environ.get("GITHUB_STEP_SUMMARY")
        self.output_file = environ.get("GITHUB_OUTPUT")

    def summary(self, markdown: str) -> None:
        if self.summary_file:
            with open(self.summary_file, "a", encoding="utf-8") as handle:
                handle.write(markdown.rstrip("\n") + "\n\n")

    def outputs(self, values: Mapping[str, str]) -> None:
        for key, value in values.items():
            if "\n" in key + value:
                raise ValueError(f"step output {key} holds a newline")
        if self.output_file:
            with open(self.output_file, "a", encoding="utf-8") as handle:
                handle.writelines(f"{key}={value}\n" for key, value in values.items())


class ProgressBar:
    """Bytes sent so far, on stderr: a redrawn bar on a terminal, else a line per 10%."""

    def __init__(self, label: str, total: int, stream: TextIO = sys.stderr):
        self.label, self.total, self.stream = label, max(total, 1), stream
        self.done, self.started, self.last_decile = 0, time.monotonic(), -1
        self.tty = stream.isatty()

    def __call__(self, count: int) -> None:
        self.done += count
        fraction = min(self.done / self.total, 1.0)
        rate = self.done / max(time.monotonic() - self.started, 1e-9) / 1e6
        text = (
            f"{self.label} [{'#' * int(fraction * 30):<30}] {fraction:6.1%} "
            f"{self.done / 1e6:.1f}/{self.total / 1e6:.1f} MB {rate:.1f} MB/s"
        )
        if self.tty:
            self.stream.write("\r" + text + ("\n" if self.done >= self.total else ""))
        elif int(fraction * 10) > self.last_decile:
            self.last_decile = int(fraction * 10)
            self.stream.write(text + "\n")
        self.stream.flush()
