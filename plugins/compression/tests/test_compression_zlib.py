"""zlib streams per direction, and bombs refused with bounded memory."""

from __future__ import annotations

import os
import zlib

import pytest

from sshcore.errors import CompressionError
from sshcore_compression import hooks

DESCS = {d.name: d for d in hooks.sshcore_compression_algorithms()}


@pytest.mark.parametrize("name", sorted(DESCS))
def test_many_packets_share_one_stream(name):
    c, d = DESCS[name].compressor(), DESCS[name].decompressor()
    packets = [os.urandom(50) + b"repeat " * i for i in range(200)]
    sizes = []
    for p in packets:
        wire = c.compress(p)
        sizes.append(len(wire))
        assert d.decompress(wire, 256 * 1024) == p
    assert sizes[-1] < len(packets[-1])  # the shared dictionary pays off


def test_decompression_bomb_is_refused():
    bomb = zlib.compressobj()
    wire = bomb.compress(bytes(20 * 1024 * 1024)) + bomb.flush(zlib.Z_SYNC_FLUSH)
    assert len(wire) < 64 * 1024
    with pytest.raises(CompressionError, match="inflates past"):
        DESCS["zlib"].decompressor().decompress(wire, 256 * 1024)


def test_garbage_is_compression_error():
    with pytest.raises(CompressionError):
        DESCS["zlib"].decompressor().decompress(b"\xff\xfenot zlib at all", 1024)


def test_openssh_variant_is_delayed():
    assert DESCS["zlib@openssh.com"].delayed and not DESCS["zlib"].delayed
