"""Child processes the local sandbox starts: started in their own session, stopped as a group.

Used by tests and by `deploy-local`; a process started here never outlives the `with` block,
even when the block raises.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import subprocess
import time
from pathlib import Path

from pipeline.errors import PipelineError


class ManagedProcess:
    def __init__(
        self,
        args: list[str],
        log_path: Path,
        env: dict[str, str] | None = None,
        with_stdin: bool = False,
        pass_fds: tuple[int, ...] = (),
    ):
        self.args = args
        self.pass_fds = pass_fds
        self.log_path = log_path
        self.env = env
        self.with_stdin = with_stdin
        self.proc: subprocess.Popen | None = None

    def start(self, ready: re.Pattern, timeout: float) -> re.Match:
        """Start, then wait until a stdout line matches `ready`; its match is returned."""
        self.spawn()
        return self.wait_for(ready, timeout)

    def spawn(self) -> None:
        """Start the process without waiting for it (wait_for does)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.args,
                stdout=subprocess.PIPE,
                stderr=log,
                env=self.env,
                stdin=subprocess.PIPE if self.with_stdin else None,
                start_new_session=True,
                pass_fds=self.pass_fds,
            )

    def write_line(self, line: str) -> None:
        """Write one line to the process's stdin (started with `with_stdin`)."""
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def read_line(self, timeout: float) -> str:
        """The next stdout line, waiting at most `timeout` seconds."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                raise PipelineError(f"{self.args[:4]} gave no answer within {timeout:g}s")
        line = self.proc.stdout.readline().decode(errors="replace")
        if not line:
            raise PipelineError(f"{self.args[:4]} exited (status {self.proc.poll()})")
        return line

    def wait_for(self, ready: re.Pattern, timeout: float) -> re.Match:
        """Read stdout lines until one matches `ready`; stop the process if none does."""
        deadline = time.monotonic() + timeout
        seen = []
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            while (left := deadline - time.monotonic()) > 0:
                if not selector.select(left):
                    break
                line = self.proc.stdout.readline().decode(errors="replace")
                if not line:  # stdout closed: the process exited
                    break
                seen.append(line.rstrip())
                if match := ready.search(line):
                    return match
        self.stop()
        raise PipelineError(
            f"{' '.join(self.args[:4])} did not become ready within {timeout:g}s "
            f"(exit status {self.proc.returncode}). Output: {' | '.join(seen) or 'none'}. "
            f"Log: {self.log_path}\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM the whole process group, then SIGKILL what is left after `grace` seconds."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            _signal_group(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                _signal_group(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        _signal_group(self.proc.pid, signal.SIGKILL)  # stragglers the leader left behind
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
