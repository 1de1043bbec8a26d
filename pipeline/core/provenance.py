"""Build provenance: what the build signs, and the checks of a signed artifact (pure).

An artifact is trusted because the build signed it, not because its bytes match its own key
(anyone who can write to the bucket can make a self-consistent artifact and manifest). The
build signs a statement naming the artifact's sha256 and the manifest's sha256 with the
bootstrap stack's asymmetric KMS key, which only the build role may use for signing; the
signature lies beside the artifact as provenance.json. Whoever deploys or serves the
artifact verifies that signature with the same key, and the digests, before anything is
extracted or loaded. Signing and verifying are KMS calls (pipeline/aws/kms.py); this
module builds the statement and checks everything that needs no key.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any, TypedDict

from pipeline.errors import PipelineError

PROVENANCE_VERSION = 1
ALGORITHM = "ECDSA_SHA_256"  # the bootstrap key is ECC_NIST_P256, SIGN_VERIFY
FILE = "provenance.json"


class ProvenanceError(PipelineError):
    """An artifact without a valid build signature: never deployed, extracted or loaded."""


class Statement(TypedDict):
    """What the build signs: the artifact's and its manifest's digests."""

    provenance_version: int
    project: str
    model_name: str
    artifact_sha256: str
    manifest_sha256: str


def statement(
    *, project: str, model_name: str, artifact_sha256: str, manifest_sha256: str
) -> Statement:
    return {
        "provenance_version": PROVENANCE_VERSION,
        "project": project,
        "model_name": model_name,
        "artifact_sha256": artifact_sha256,
        "manifest_sha256": manifest_sha256,
    }


def message_digest(signed: Mapping[str, object]) -> bytes:
    """The 32 bytes KMS signs (MessageType DIGEST): sha256 of the canonical statement."""
    text = json.dumps(signed, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).digest()


def document(signed: Mapping[str, object], key_arn: str, signature: bytes) -> dict[str, Any]:
    return {
        "statement": signed,
        "key_arn": key_arn,
        "algorithm": ALGORITHM,
        "signature": base64.b64encode(signature).decode(),
    }


def check_files(
    doc_bytes: bytes | None, *, digest: str, manifest_bytes: bytes, trusted_key: str, where: str
) -> tuple[bytes, bytes]:
    """`check` for a provenance.json read as bytes (None: there is none)."""
    if doc_bytes is None:
        raise ProvenanceError(
            f"artifact {digest} is not trusted: {where} does not exist (the "
            "build never signed it); nothing was loaded"
        )
    try:
        doc = json.loads(doc_bytes)
    except ValueError:
        doc = None
    return check(
        doc,
        digest=digest,
        manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
        trusted_key=trusted_key,
        where=where,
    )


def check(
    doc: object, *, digest: str, manifest_sha256: str | None, trusted_key: str, where: str
) -> tuple[bytes, bytes]:
    """Everything but the signature itself: the document's shape, that it names this
    artifact (and manifest, when one is given) and the trusted key. Returns (message digest,
    signature) for the KMS verification; ProvenanceError names the digest otherwise."""

    def refuse(why: str) -> ProvenanceError:
        return ProvenanceError(
            f"artifact {digest} is not trusted: {where} {why}. Nothing "
            "was deployed or loaded; build, sign and upload it with "
            "`python -m pipeline upload` (the build role signs)"
        )

    if not isinstance(doc, dict) or not isinstance(doc.get("statement"), dict):
        raise refuse("is not a provenance document")
    signed = doc["statement"]
    if signed.get("provenance_version") != PROVENANCE_VERSION:
        raise refuse(f"has provenance_version {signed.get('provenance_version')!r}")
    if signed.get("artifact_sha256") != digest:
        raise refuse(f"was signed for artifact {signed.get('artifact_sha256')}")
    if manifest_sha256 is not None and signed.get("manifest_sha256") != manifest_sha256:
        raise refuse(
            f"was signed for another manifest (sha256 {signed.get('manifest_sha256')}, "
            f"this one {manifest_sha256})"
        )
    if doc.get("algorithm") != ALGORITHM:
        raise refuse(f"uses algorithm {doc.get('algorithm')!r}, not {ALGORITHM}")
    if doc.get("key_arn") != trusted_key:
        raise refuse(
            f"was signed with key {doc.get('key_arn')!r}, not the build's signing key {trusted_key}"
        )
    try:
        signature = base64.b64decode(str(doc.get("signature", "")), validate=True)
    except ValueError:
        raise refuse("carries a signature that is not base64") from None
    if not signature:
        raise refuse("carries no signature")
    return message_digest(signed), signature
