"""`pipeline serve`: the local model server for an artifact (runs until stopped).

A model file is code: when a manifest.json lies beside the artifact (a build, or one fetched
from the bucket), the build's signature (provenance.json, beside it too) is verified with
the bootstrap's signing key before anything is extracted or loaded. `unsigned` serves a
local build that was never uploaded (and so never signed), and says so.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from pipeline.core import provenance
from pipeline.local import model_server
from pipeline.shared.config import sha256_file
from pipeline.shared.context import Context


def check_provenance(ctx: Context, artifact: Path, unsigned: bool) -> None:
    manifest = artifact.with_name("manifest.json")
    if not manifest.is_file():
        return
    signed = artifact.with_name(provenance.FILE)
    if not signed.exists():
        if unsigned:
            ctx.ui.warn(f"serving {artifact} unsigned (--unsigned): its provenance is not checked")
            return
        raise provenance.ProvenanceError(
            f"{artifact} is not trusted: {manifest.name} lies beside it but {signed.name} does "
            "not (the build never signed it). Serve a signed artifact (uploaded with "
            "`python -m pipeline upload`), or pass --unsigned for your own local build"
        )
    from pipeline.shared import account

    digest = sha256_file(artifact)
    trusted = account.output_for(ctx, "SigningKeyArn")
    message, signature = provenance.check_files(
        signed.read_bytes(),
        digest=digest,
        manifest_bytes=manifest.read_bytes(),
        trusted_key=trusted,
        where=str(signed),
    )
    if not ctx.kms.verify(trusted, message, signature, provenance.ALGORITHM):
        raise provenance.ProvenanceError(
            f"artifact {digest} is not trusted: the signature in "
            f"{signed} does not verify with {trusted}"
        )


def run(
    ctx: Context,
    artifact: Path,
    host: str,
    port: int,
    on_ready: Callable[[int], None],
    unsigned: bool = False,
) -> None:
    """Serve until stopped; `on_ready(port)` once bound."""
    check_provenance(ctx, artifact, unsigned)
    config = model_server.ServerConfig.from_env(dict(os.environ), host=host, port=port)
    model_server.serve(artifact, config, on_ready)


def zygote() -> None:
    """Serve the sandbox's requests for new model servers (see model_server.zygote_main)."""
    model_server.zygote_main(sys.stdin, sys.stdout)
