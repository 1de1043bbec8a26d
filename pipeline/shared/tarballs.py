"""Deterministic .tar.gz files: the model artifact (`pipeline package`) and the training
job's source tarball (`pipeline train --on sagemaker`).

Their bytes depend only on the files' names and contents: entries are sorted; owners, modes
and times are fixed; and the tar stream is compressed by libdeflate (the `deflate` package,
pinned: its wheel bundles the library), never by the system's zlib, whose output differs
between builds (zlib, zlib-ng, vendor forks). libdeflate's output is the same for the same
version, level and input ("No version of libdeflate has ever been non-deterministic",
libdeflate issue 400), so the same inputs give the same sha256 on any machine.

The stream is cut into CHUNK-sized pieces, each compressed as one gzip member (RFC 1952,
2.2: "A gzip file consists of a series of members"; every gzip reader, tarfile and GNU tar
among them, reads them as one stream), because libdeflate compresses whole buffers: memory
stays bounded by a chunk whatever the model's size. libdeflate's gzip header has no name
and a zero timestamp. `StoredGzip`, the earlier writer (stored blocks, no compression), is
kept for bench/artifact_compression.py's comparison with it.
"""

from __future__ import annotations

import os
import struct
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, BinaryIO, cast

FIXED_MTIME = 0  # 1970-01-01; any constant works, zero is the conventional choice
# gzip header: magic, deflate, no flags, mtime 0, no extra flags, OS "unknown" (RFC 1952).
GZIP_HEADER = b"\x1f\x8b\x08\x00" + b"\x00\x00\x00\x00" + b"\x00\xff"
STORED_BLOCK = 65535  # the largest stored deflate block (RFC 1951, 3.2.4)


class StoredGzip:
    """A write-only gzip stream of stored deflate blocks: valid gzip for any reader, and
    byte-for-byte the same for the same input on every machine. Streams in 64 KiB blocks."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.pending = bytearray()
        self.crc = 0
        self.size = 0
        raw.write(GZIP_HEADER)

    def write(self, data: bytes | bytearray) -> int:
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        self.pending += data
        while len(self.pending) > STORED_BLOCK:
            self._block(self.pending[:STORED_BLOCK], final=False)
            del self.pending[:STORED_BLOCK]
        return len(data)

    def tell(self) -> int:  # tarfile asks where the stream stands
        return self.size

    def _block(self, data: bytes | bytearray, final: bool) -> None:
        length = len(data)
        self.raw.write(struct.pack("<BHH", int(final), length, length ^ 0xFFFF))
        self.raw.write(data)

    def finish(self) -> None:
        self._block(self.pending, final=True)
        self.raw.write(struct.pack("<II", self.crc, self.size & 0xFFFFFFFF))


CHUNK = 16 * 1024 * 1024  # each gzip member compresses this much of the tar stream
LEVEL = 6  # libdeflate's default (1-12): near gzip -6's ratio at several times its speed


class DeflateGzip:
    """A write-only gzip stream of libdeflate-compressed members, one per CHUNK of input:
    the same bytes for the same input on every machine (pinned libdeflate)."""

    def __init__(self, raw: BinaryIO) -> None:
        import deflate

        self._compress: Callable[[bytes, int], bytes | bytearray] = deflate.gzip_compress
        self.raw, self.chunk, self.level = raw, CHUNK, LEVEL
        self.pending = bytearray()
        self.size = 0

    def write(self, data: bytes | bytearray) -> int:
        self.size += len(data)
        self.pending += data
        while len(self.pending) >= self.chunk:
            self.raw.write(self._compress(bytes(self.pending[: self.chunk]), self.level))
            del self.pending[: self.chunk]
        return len(data)

    def tell(self) -> int:  # tarfile asks where the stream stands
        return self.size

    def finish(self) -> None:
        if self.pending or not self.size:
            self.raw.write(self._compress(bytes(self.pending), self.level))
        self.pending = bytearray()


def write_tarball(dest: Path, files: dict[str, Path]) -> None:
    """Write `files` (archive name -> source path) as a deterministic .tar.gz at `dest`."""
    dirs = sorted({str(Path(name).parent) for name in files} - {"."})
    entries = [(d + "/", None) for d in dirs] + sorted(files.items())
    tmp = dest.with_name(dest.name + ".tmp")
    with tmp.open("wb") as raw:
        gz = DeflateGzip(raw)
        stream = cast(IO[bytes], gz)  # tarfile needs only write() and tell()
        with tarfile.open(fileobj=stream, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for name, source in sorted(entries):
                info = tarfile.TarInfo(name.rstrip("/") if source is None else name)
                info.mtime = FIXED_MTIME
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if source is None:
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
                    continue
                info.mode = 0o644
                info.size = source.stat().st_size
                with source.open("rb") as handle:  # streamed, never read whole into memory
                    tar.addfile(info, handle)
        gz.finish()
    os.replace(tmp, dest)
