"""`pipeline sandbox up | down`: the embedded AWS sandbox (emulator) on this machine."""

from __future__ import annotations

from collections.abc import Callable

from pipeline.local import sandbox
from pipeline.settings import Settings


def up(settings: Settings, port: int, region: str, on_ready: Callable[[dict], None]) -> None:
    """Run until stopped; `on_ready(env)` gets the environment that reaches the sandbox."""
    sandbox.serve(
        "127.0.0.1", port, region, settings.sandbox_state,
        lambda url: on_ready(sandbox.environment(url, region)),
    )  # fmt: skip


def down(settings: Settings) -> str:
    return sandbox.stop_recorded(settings.sandbox_state)
