"""The terminal's UI for stages (pipeline.shared.context.UI): progress lines on stdout,
tables aligned on the terminal and in markdown in the job summary, and confirmations
(--approve, else a typed `yes` at a terminal, else none can be given)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from pipeline.cli.render import Job, Table, colour_enabled


class TerminalUI:
    def __init__(
        self,
        approve: bool = False,
        stdout: TextIO | None = None,
        stdin: TextIO | None = None,
        ask: Callable[[str], str] = input,
        job: Job | None = None,
    ):
        self.stdout = stdout or sys.stdout
        stdin = stdin or sys.stdin
        self.approve = approve
        self.interactive = stdin.isatty()
        self.can_confirm = approve or self.interactive
        self.ask = ask
        self.job = job or Job()

    def progress(self, message: str) -> None:
        print(message, file=self.stdout, flush=True)

    def warn(self, message: str) -> None:
        print(f"warning: {message}", file=sys.stderr, flush=True)

    def show(self, table: Table) -> None:
        print(table.terminal(colour_enabled(self.stdout)), file=self.stdout, flush=True)
        self.job.summary(table.markdown())

    def table(self, title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        self.show(Table.of(header, rows, title))

    def confirm(self, question: str) -> bool:
        if self.approve:
            self.progress(f"{question} approved (--approve)")
            return True
        if not self.interactive:
            return False
        return self.ask(f"{question} type 'yes' to approve: ").strip() == "yes"
