"""Hook implementations: zlib and zlib@openssh.com."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from sshcore import hookimpl
from sshcore.errors import CompressionError
from sshcore.interfaces import CompressionAlgorithm


class Compressor:
    """One zlib stream per direction for the whole connection; each packet is flushed."""

    def __init__(self) -> None:
        self._z = zlib.compressobj(6)

    def compress(self, data: bytes) -> bytes:
        return self._z.compress(data) + self._z.flush(zlib.Z_SYNC_FLUSH)


class Decompressor:
    def __init__(self) -> None:
        self._z = zlib.decompressobj()

    def decompress(self, data: bytes, max_length: int) -> bytes:
        """Inflate at most ``max_length`` bytes: a bomb is a CompressionError, not a blow-up."""
        try:
            out = self._z.decompress(data, max_length + 1)
        except zlib.error as exc:
            raise CompressionError(f"invalid compressed data: {exc}") from None
        if len(out) > max_length or self._z.unconsumed_tail:
            raise CompressionError(f"compressed packet inflates past {max_length} bytes")
        return out


@hookimpl
def sshcore_compression_algorithms() -> Sequence[CompressionAlgorithm]:
    return [
        CompressionAlgorithm("zlib@openssh.com", Compressor, Decompressor, delayed=True,
                             priority=50),
        CompressionAlgorithm("zlib", Compressor, Decompressor, priority=40),
    ]
