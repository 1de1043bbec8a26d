"""`pipeline sandbox up | down`: the embedded AWS sandbox (emulator) on this machine."""

from __future__ import annotations

from collections.abc import Callable

from pipeline.errors import ConfigError
from pipeline.local import sandbox
from pipeline.settings import Settings
from pipeline.shared import config


def up(settings: Settings, port: int, region: str, on_ready: Callable[[dict], None],
       stack_delay: float = 0.0) -> None:  # fmt: skip
    """Run until stopped; `on_ready(env)` gets the environment that reaches the sandbox."""
    if not 0 <= stack_delay < float("inf"):
        raise ConfigError(f"--stack-delay {stack_delay}: must be 0 (no delay) or more seconds")
    image = config.load_serving_image(settings)
    sandbox.serve("127.0.0.1", port, region, settings.sandbox_state, on_ready, image, stack_delay)


def down(settings: Settings) -> str:
    return sandbox.stop_recorded(settings.sandbox_state)
