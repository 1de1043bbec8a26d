"""`main`: parse, build the command's context, run it, and the one error boundary.

After pypa/build's `__main__._handle_build_error`: typed errors (pipeline.errors) map to
their exit codes with their one-line message, which says what to do; a botocore failure
that escaped the AWS wrappers is still one line; anything else is a bug: "internal error",
the traceback, where to report it, and its own exit code (INTERNAL_ERROR, 3), never 1,
which says a stage failed.

Exit codes: 0 success, 1 a stage failed, 2 bad usage or configuration (nothing was
changed), 3 an internal error; an interrupt (Ctrl-C) is a stage that did not finish, 1.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from pipeline.cli.parser import build_parser
from pipeline.cli.ui import TerminalUI
from pipeline.errors import INTERNAL_ERROR, PipelineError
from pipeline.settings import Settings
from pipeline.shared.context import Context

REPORT_BUGS = "an issue in this project's repository"


def _error(command: str, message: str) -> None:
    print(f"error: {command}: {message}", file=sys.stderr)


def _unexpected(command: str, exc: BaseException) -> int:
    """The last line of defence."""
    botocore = sys.modules.get("botocore.exceptions")  # loaded if botocore raised it
    if botocore and isinstance(exc, botocore.BotoCoreError | botocore.ClientError):
        from pipeline.aws.errors import translate

        error = translate(exc)
        _error(command, str(error))
        return error.exit_code
    traceback.print_exc(file=sys.stderr)
    _error(
        command,
        f"internal error ({type(exc).__name__}: {exc}): a bug in the pipeline, "
        f"not in its input; please report it with the traceback above as {REPORT_BUGS} "
        f"(exit {INTERNAL_ERROR})",
    )
    return INTERNAL_ERROR


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace, Context], None] = args.handler
    started = time.monotonic()
    try:
        settings = Settings.from_env(
            config=Path(args.config) if args.config else None, need_project=args.needs_project
        )
        ui = TerminalUI(approve=bool(getattr(args, "approve", False)))
        handler(args, Context(settings, ui))
    except PipelineError as exc:
        _error(args.command, str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _error(args.command, "interrupted")
        return 1
    except Exception as exc:
        return _unexpected(args.command, exc)
    if args.report_time:
        print(f"{args.command}: done in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return 0
