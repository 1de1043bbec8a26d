"""Typed wrapper over the KMS calls of build provenance: sign a digest, verify a signature."""

from __future__ import annotations

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from pipeline.aws.errors import configuration_problem, guarded, new_client, translate


@guarded("kms")
class Kms:
    def __init__(self, client: BaseClient | None = None) -> None:
        self._client = client or new_client("kms")

    def sign(self, key_id: str, digest: bytes, algorithm: str) -> bytes:
        answer = self._client.sign(
            KeyId=key_id, Message=digest, MessageType="DIGEST", SigningAlgorithm=algorithm
        )
        signature: bytes = answer["Signature"]
        return signature

    def verify(self, key_id: str, digest: bytes, signature: bytes, algorithm: str) -> bool:
        """True if the key made this signature of this digest; False if not (KMS answers an
        invalid signature with KMSInvalidSignatureException)."""
        try:
            answer = self._client.verify(
                KeyId=key_id,
                Message=digest,
                MessageType="DIGEST",
                Signature=signature,
                SigningAlgorithm=algorithm,
            )
        except ClientError as exc:
            if problem := configuration_problem(exc, "kms"):
                raise problem from None
            if exc.response.get("Error", {}).get("Code") == "KMSInvalidSignatureException":
                return False
            raise translate(exc, "kms") from None
        return bool(answer.get("SignatureValid"))
