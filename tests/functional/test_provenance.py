"""Build provenance against a sandbox: only an artifact the build signed is deployed."""

from __future__ import annotations

import base64
import hashlib
import json

import boto3
import pytest

from pipeline.aws.s3 import S3
from pipeline.core import provenance
from pipeline.shared import account, deploying
from pipeline.shared.context import Context
from pipeline.stages.account import bootstrap
from pipeline.stages.build import upload
from tests.artifacts import variant
from tests.conftest import sandbox_environment


@pytest.fixture(scope="module")
def signed(built, tmp_path_factory):
    """A sandbox of its own, bootstrapped, with the built artifact uploaded (and signed)."""
    with sandbox_environment():
        bootstrap.run(Context(built), "both", [], "", "")
        result = upload.run(Context(built))
        bucket = account.output(built, "ArtifactBucketName")
        digest = json.loads(built.manifest_file.read_text())["artifact"]["sha256"]
        yield {
            "bucket": bucket,
            "digest": digest,
            "prefix": f"models/{built.model_name}/{digest}",
            "result": result,
            "tmp": tmp_path_factory.mktemp("provenance"),
        }


def _upload_unsigned(settings, bucket: str) -> str:
    """What anyone who may write to the bucket can do: a self-consistent artifact and
    manifest, put without the build's signature."""
    manifest = json.loads(settings.manifest_file.read_text())
    s3 = boto3.client("s3")
    s3.upload_file(str(settings.artifact_file), bucket, manifest["artifact"]["s3_key"])
    s3.upload_file(
        str(settings.manifest_file),
        bucket,
        manifest["artifact"]["s3_key"].rsplit("/", 1)[0] + "/manifest.json",
    )
    return manifest["artifact"]["sha256"]


def test_upload_signs_the_digest_with_the_bootstrap_signing_key(built, signed):
    assert signed["result"].provenance_note.startswith("signed with arn:aws:kms:")
    document = json.loads(S3().read(signed["bucket"], f"{signed['prefix']}/provenance.json"))
    assert document["statement"]["artifact_sha256"] == signed["digest"]
    assert document["key_arn"] == account.output(built, "SigningKeyArn")
    again = upload.run(Context(built))
    assert again.provenance_note.startswith("already signed")


def test_a_signed_artifact_is_trusted(built, signed):
    chosen = deploying.artifact(Context(built), signed["bucket"], signed["digest"])
    assert chosen.digest == signed["digest"]


def test_an_unsigned_self_consistent_artifact_is_refused(built, signed):
    other = variant(built, signed["tmp"] / "unsigned", "an attacker's")
    digest = _upload_unsigned(other, signed["bucket"])
    never = r".*provenance.json does not exist \(the build never signed it\)"
    with pytest.raises(
        provenance.ProvenanceError, match=f"artifact {digest} is not trusted: {never}"
    ):
        deploying.artifact(Context(built), signed["bucket"], digest)


def test_an_artifact_signed_with_another_key_is_refused(built, signed):
    other = variant(built, signed["tmp"] / "other-key", "signed by someone else")
    digest = _upload_unsigned(other, signed["bucket"])
    kms = boto3.client("kms")
    theirs = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    manifest_sha = hashlib.sha256(other.manifest_file.read_bytes()).hexdigest()
    statement = provenance.statement(
        project="diabetes",
        model_name=built.model_name,
        artifact_sha256=digest,
        manifest_sha256=manifest_sha,
    )
    signature = kms.sign(
        KeyId=theirs["Arn"],
        Message=provenance.message_digest(statement),
        MessageType="DIGEST",
        SigningAlgorithm="ECDSA_SHA_256",
    )["Signature"]
    prefix = f"models/{built.model_name}/{digest}"
    body = json.dumps(provenance.document(statement, theirs["Arn"], signature))
    boto3.client("s3").put_object(
        Bucket=signed["bucket"], Key=f"{prefix}/provenance.json", Body=body.encode()
    )
    with pytest.raises(
        provenance.ProvenanceError,
        match=f"was signed with key .*{theirs['KeyId']}.*not the build's signing key",
    ):
        deploying.artifact(Context(built), signed["bucket"], digest)


def test_a_forged_signature_under_the_build_key_arn_is_refused(built, signed):
    other = variant(built, signed["tmp"] / "forged", "forged")
    digest = _upload_unsigned(other, signed["bucket"])
    manifest_sha = hashlib.sha256(other.manifest_file.read_bytes()).hexdigest()
    statement = provenance.statement(
        project="diabetes",
        model_name=built.model_name,
        artifact_sha256=digest,
        manifest_sha256=manifest_sha,
    )
    # The real signature of the built artifact, copied onto another statement.
    real = json.loads(S3().read(signed["bucket"], f"{signed['prefix']}/provenance.json"))
    forged = provenance.document(statement, real["key_arn"], base64.b64decode(real["signature"]))
    boto3.client("s3").put_object(
        Bucket=signed["bucket"],
        Key=f"models/{built.model_name}/{digest}/provenance.json",
        Body=json.dumps(forged).encode(),
    )
    with pytest.raises(provenance.ProvenanceError, match="does not verify with the build's"):
        deploying.artifact(Context(built), signed["bucket"], digest)


def test_a_manifest_changed_after_signing_is_refused(built, signed):
    other = variant(built, signed["tmp"] / "manifest", "manifest changed later")
    upload.run(Context(other))  # signed by the build
    manifest_key = f"models/{built.model_name}/{other_digest(other)}/manifest.json"
    s3 = boto3.client("s3")
    manifest = json.loads(s3.get_object(Bucket=signed["bucket"], Key=manifest_key)["Body"].read())
    manifest["golden_examples"][0]["prediction"] = 0.0  # what a smoke test would then accept
    s3.put_object(Bucket=signed["bucket"], Key=manifest_key, Body=json.dumps(manifest).encode())
    with pytest.raises(provenance.ProvenanceError, match="was signed for another manifest"):
        deploying.artifact(Context(built), signed["bucket"], other_digest(other))


def other_digest(settings) -> str:
    return json.loads(settings.manifest_file.read_text())["artifact"]["sha256"]


def test_the_sandbox_creates_signing_keys_from_templates():
    """AWS::KMS::Key with KeySpec ECC_NIST_P256 and KeyUsage SIGN_VERIFY makes a key that
    signs (the emulator made every template key symmetric)."""
    with sandbox_environment():
        template = {
            "Resources": {
                "Key": {
                    "Type": "AWS::KMS::Key",
                    "Properties": {
                        "KeySpec": "ECC_NIST_P256",
                        "KeyUsage": "SIGN_VERIFY",
                        "KeyPolicy": {"Version": "2012-10-17", "Statement": []},
                    },
                }
            },
            "Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}}},
        }
        cfn = boto3.client("cloudformation")
        cfn.create_stack(StackName="signing-key", TemplateBody=json.dumps(template))
        arn = cfn.describe_stacks(StackName="signing-key")["Stacks"][0]["Outputs"][0]["OutputValue"]
        kms = boto3.client("kms")
        described = kms.describe_key(KeyId=arn)["KeyMetadata"]
        assert (described["KeySpec"], described["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
        digest = hashlib.sha256(b"artifact").digest()
        signature = kms.sign(
            KeyId=arn, Message=digest, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256"
        )["Signature"]
        assert kms.verify(
            KeyId=arn,
            Message=digest,
            MessageType="DIGEST",
            Signature=signature,
            SigningAlgorithm="ECDSA_SHA_256",
        )["SignatureValid"]
