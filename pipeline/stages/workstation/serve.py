"""`pipeline serve`: the local model server for an artifact (runs until stopped).

A model file is code: when a manifest.json lies beside the artifact (a build, or one fetched
from the bucket), the build's signature (provenance.json, beside it too) is verified with
the bootstrap's signing key before anything is extracted or loaded. `unsigned` serves a
local build that was never uploaded (and so never signed), and says so.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

from pipeline.core import provenance
from pipeline.local import model_server
from pipeline.settings import Settings


def check_provenance(settings: Settings, artifact: Path, unsigned: bool,
                     warn: Callable[[str], None]) -> None:  # fmt: skip
    manifest = artifact.with_name("manifest.json")
    if not manifest.is_file():
        return
    signed = artifact.with_name(provenance.FILE)
    if not signed.exists():
        if unsigned:
            warn(f"serving {artifact} unsigned (--unsigned): its provenance is not checked")
            return
        raise provenance.ProvenanceError(
            f"{artifact} is not trusted: {manifest.name} lies beside it but {signed.name} does "
            "not (the build never signed it). Serve a signed artifact (uploaded with "
            "`python -m pipeline upload`), or pass --unsigned for your own local build"
        )
    from pipeline.aws.kms import Kms
    from pipeline.shared import account

    sha = hashlib.sha256()
    with artifact.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    digest = sha.hexdigest()
    trusted = account.output(settings, "SigningKeyArn")
    message, signature = provenance.check_files(
        signed.read_bytes(), digest=digest,
        manifest_bytes=manifest.read_bytes(), trusted_key=trusted, where=str(signed),
    )  # fmt: skip
    if not Kms().verify(trusted, message, signature, provenance.ALGORITHM):
        raise provenance.ProvenanceError(
            f"artifact {digest} is not trusted: the signature in "
            f"{signed} does not verify with {trusted}"
        )


def run(settings: Settings, artifact: Path, host: str, port: int,
        on_ready: Callable[[int], None], unsigned: bool = False) -> None:  # fmt: skip
    check_provenance(settings, artifact, unsigned, lambda m: print(m, file=sys.stderr))
    config = model_server.ServerConfig.from_env(dict(os.environ), host=host, port=port)
    model_server.serve(artifact, config, on_ready)


def zygote() -> None:
    """Serve the sandbox's requests for new model servers (see model_server.zygote_main)."""
    model_server.zygote_main(sys.stdin, sys.stdout)
