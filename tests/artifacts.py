"""Artifact variants for deploy tests: real tarballs and manifests, built like `package`."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import joblib

from pipeline.core import manifest as manifest_core
from pipeline.settings import Settings
from pipeline.shared.config import sha256_file
from pipeline.shared.tarballs import write_tarball


def variant(
    built: Settings,
    dest: Path,
    note: str,
    *,
    intercept_shift: float = 0.0,
    training_env: dict | None = None,
) -> Settings:
    """A new artifact from the built one: `note` in the script changes the digest only;
    `intercept_shift` changes the predictions (the manifest keeps the original golden
    examples, so a smoke test fails); `training_env` overrides recorded versions."""
    dest.mkdir(parents=True)
    model_file = built.model_file
    if intercept_shift:
        model = joblib.load(built.model_file)
        model.intercept_ += intercept_shift
        model_file = dest / "model.joblib"
        joblib.dump(model, model_file)
    script = dest / "inference.py"
    script.write_text(built.inference_script.read_text() + f"\n# variant: {note}\n")
    artifact = dest / "model.tar.gz"
    write_tarball(
        artifact,
        {
            "model.joblib": model_file,
            "signature.json": built.signature_file,
            "code/inference.py": script,
        },
    )
    manifest = json.loads(built.manifest_file.read_text())
    sha = sha256_file(artifact)
    key = manifest_core.s3_key(manifest["model_name"], sha)
    manifest["artifact"] = {"sha256": sha, "size": artifact.stat().st_size, "s3_key": key}
    manifest["training_env"].update(training_env or {})
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2))
    for name in manifest.get("monitoring") or {}:  # the same data's baseline, same bytes
        shutil.copyfile(built.build_dir / name, dest / name)
    return replace(built, build_dir=dest)


def sign_in_bucket(
    clients: dict, bucket: str, prefix: str, artifact: Path, manifest_bytes: bytes
) -> None:
    """Sign an artifact and manifest put by a test, as `pipeline upload` signs a build:
    with the bootstrapped sandbox's signing key (`clients`: boto3 cloudformation, kms, s3)."""
    import hashlib

    from pipeline.core import provenance
    from pipeline.settings import BOOTSTRAP_STACK

    stack = clients["cloudformation"].describe_stacks(StackName=BOOTSTRAP_STACK)["Stacks"][0]
    key_arn = next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "SigningKeyArn")
    manifest = json.loads(manifest_bytes)
    statement = provenance.statement(
        project=manifest.get("project", ""),
        model_name=manifest["model_name"],
        artifact_sha256=hashlib.sha256(artifact.read_bytes()).hexdigest(),
        manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
    )
    signature = clients["kms"].sign(
        KeyId=key_arn,
        Message=provenance.message_digest(statement),
        MessageType="DIGEST",
        SigningAlgorithm=provenance.ALGORITHM,
    )
    body = json.dumps(provenance.document(statement, key_arn, signature["Signature"]))
    clients["s3"].put_object(Bucket=bucket, Key=f"{prefix}/{provenance.FILE}", Body=body.encode())
