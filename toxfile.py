"""tox inline plugin: make the serving image's Python (3.12) findable by tox-uv.

uv looks for `python3.12` on PATH. On machines where Python 3.12 is installed by pyenv but is
not the active pyenv version, the pyenv shim on PATH exits 127, so uv fails. This plugin finds
an installed 3.12 (PATH first, then pyenv's versions) and puts a directory holding only a
`python3.12` link to it at the front of PATH, for this tox run. It also stops uv from trying to
download an interpreter, so a missing 3.12 fails at once with a clear message.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

from tox.plugin import impl

WANTED = "python3.12"
SHIM_DIR = Path(__file__).resolve().parent / ".tox" / "python-shims"


def _works(executable: str) -> bool:
    try:
        probe = subprocess.run([executable, "-c", "import sys"], capture_output=True, check=False)
    except OSError:
        return False
    return probe.returncode == 0


def _pyenv_candidates() -> list[str]:
    roots = [os.environ.get("PYENV_ROOT"), str(Path.home() / ".pyenv")]
    found: list[str] = []
    for root in filter(None, roots):
        found += sorted(glob.glob(f"{root}/versions/3.12*/bin/{WANTED}"), reverse=True)
    return found


@impl
def tox_add_core_config(core_conf, state):
    os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")
    on_path = shutil.which(WANTED)
    if on_path and _works(on_path):
        return
    for candidate in _pyenv_candidates():
        if _works(candidate):
            SHIM_DIR.mkdir(parents=True, exist_ok=True)
            link = SHIM_DIR / WANTED
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(candidate)
            os.environ["PATH"] = f"{SHIM_DIR}{os.pathsep}{os.environ.get('PATH', '')}"
            return
    # Nothing found: leave PATH alone; uv's own error then names the interpreter it wanted.
