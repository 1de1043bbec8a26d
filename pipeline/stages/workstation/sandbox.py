"""`pipeline sandbox up | down`: the embedded AWS sandbox (emulator) on this machine."""

from __future__ import annotations

from collections.abc import Callable

from pipeline.errors import ConfigError
from pipeline.local import sandbox
from pipeline.shared import config
from pipeline.shared.context import Context


def up(
    ctx: Context,
    port: int,
    region: str,
    on_ready: Callable[[dict], None],
    stack_delay: float = 0.0,
    warm_servers: bool = False,
) -> None:
    """Run until stopped; `on_ready(env)` gets the environment that reaches the sandbox."""
    if not 0 <= stack_delay < float("inf"):
        raise ConfigError(f"--stack-delay {stack_delay}: must be 0 (no delay) or more seconds")
    settings = ctx.settings
    image = config.load_serving_image(settings)
    sandbox.serve(
        "127.0.0.1",
        port,
        region,
        settings.sandbox_state,
        on_ready,
        image,
        stack_delay,
        warm_servers,
    )


def down(ctx: Context) -> str:
    return sandbox.stop_recorded(ctx.settings.sandbox_state)
