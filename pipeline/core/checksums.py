"""S3 checksums computed locally, to compare with the ones S3 computes itself (pure).

Every upload is multipart with SHA-256 part checksums, so S3 reports a COMPOSITE checksum:
base64(sha256(concatenated part digests)) followed by "-<number of parts>". The part size is
fixed, so the same bytes always give the same composite checksum.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from typing import BinaryIO

PART_SIZE = 8 * 1024 * 1024  # S3's minimum is 5 MiB for every part but the last


def part_count(size: int, part_size: int = PART_SIZE) -> int:
    return max(1, -(-size // part_size))


def composite_sha256(part_digests: Iterable[bytes]) -> str:
    digests = list(part_digests)
    if not digests:
        raise ValueError("a multipart upload has at least one part")
    combined = hashlib.sha256(b"".join(digests)).digest()
    return f"{base64.b64encode(combined).decode()}-{len(digests)}"


def sha256_stream(stream: BinaryIO, chunk: int = 1024 * 1024) -> str:
    """The hex SHA-256 of everything left in a binary stream, read in bounded chunks (memory
    stays flat whatever the size). The one way the pipeline hashes a file: the caller opens
    it, so this stays free of I/O decisions."""
    digest = hashlib.sha256()
    while block := stream.read(chunk):
        digest.update(block)
    return digest.hexdigest()
