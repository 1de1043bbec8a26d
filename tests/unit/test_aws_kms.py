"""pipeline.aws.kms against botocore's Stubber: signing a digest, and verification that
tells an invalid signature (False) from a failed call (an error)."""

from __future__ import annotations

import pytest

from pipeline.aws.errors import AwsConfigError, AwsError
from pipeline.aws.kms import Kms
from tests.unit.aws_stubs import stubbed

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
DIGEST = bytes(32)
ALGORITHM = "ECDSA_SHA_256"
VERIFY = {
    "KeyId": KEY,
    "Message": DIGEST,
    "MessageType": "DIGEST",
    "Signature": b"sig",
    "SigningAlgorithm": ALGORITHM,
}


def test_sign_returns_the_signature_of_the_digest():
    with stubbed("kms") as (client, stub):
        stub.add_response(
            "sign",
            {"Signature": b"sig", "KeyId": KEY},
            {
                "KeyId": KEY,
                "Message": DIGEST,
                "MessageType": "DIGEST",
                "SigningAlgorithm": ALGORITHM,
            },
        )
        assert Kms(client).sign(KEY, DIGEST, ALGORITHM) == b"sig"


def test_sign_access_denied_is_a_config_error():
    with stubbed("kms") as (client, stub):
        stub.add_client_error("sign", "AccessDeniedException", "not authorized to kms:Sign")
        with pytest.raises(AwsConfigError, match="access denied to kms:Sign") as raised:
            Kms(client).sign(KEY, DIGEST, ALGORITHM)
    assert raised.value.exit_code == 2


def test_verify_valid_signature_is_true():
    with stubbed("kms") as (client, stub):
        stub.add_response("verify", {"SignatureValid": True, "KeyId": KEY}, VERIFY)
        assert Kms(client).verify(KEY, DIGEST, b"sig", ALGORITHM) is True


def test_verify_invalid_signature_is_false():
    with stubbed("kms") as (client, stub):
        stub.add_client_error(
            "verify", "KMSInvalidSignatureException", "invalid", expected_params=VERIFY
        )
        assert Kms(client).verify(KEY, DIGEST, b"sig", ALGORITHM) is False


def test_verify_unknown_key_is_an_error_not_false():
    with stubbed("kms") as (client, stub):
        stub.add_client_error("verify", "NotFoundException", f"Key '{KEY}' does not exist")
        with pytest.raises(AwsError, match=r"kms: Verify failed \(NotFoundException\)") as raised:
            Kms(client).verify(KEY, DIGEST, b"sig", ALGORITHM)
    assert raised.value.code == "NotFoundException" and raised.value.exit_code == 1


def test_verify_expired_credentials_is_a_config_error():
    with stubbed("kms") as (client, stub):
        stub.add_client_error("verify", "ExpiredTokenException", "expired")
        with pytest.raises(AwsConfigError, match="credentials have expired"):
            Kms(client).verify(KEY, DIGEST, b"sig", ALGORITHM)
