"""`pipeline serve`: the local model server for an artifact (runs until stopped)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from pipeline.local import model_server


def run(artifact: Path, host: str, port: int, on_ready: Callable[[int], None]) -> None:
    config = model_server.ServerConfig.from_env(dict(os.environ), host=host, port=port)
    model_server.serve(artifact, config, on_ready)


def zygote() -> None:
    """Serve the sandbox's requests for new model servers (see model_server.zygote_main)."""
    model_server.zygote_main(sys.stdin, sys.stdout)
