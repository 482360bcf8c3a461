"""The only algorithm the kernel knows itself: "none" compression (RFC 4253 section 6.2)."""

from __future__ import annotations

from collections.abc import Sequence

from . import hookimpl
from .interfaces import CompressionAlgorithm


def _nothing() -> None:
    return None


@hookimpl
def sshcore_compression_algorithms() -> Sequence[CompressionAlgorithm]:
    return [CompressionAlgorithm("none", compressor=_nothing, decompressor=_nothing,  # type: ignore[arg-type]
                                 priority=100)]
