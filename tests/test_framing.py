"""Binary packet protocol: round trips, padding rules, hostile bytes."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sshcore._framing import MAX_PACKET_LENGTH, PacketReader, PacketWriter
from sshcore._wire import uint32
from sshcore.errors import MACError, RemoteProtocolError
from sshcore.testing import _Identity, _Mac


def keyed_pair(etm: bool):
    w, r = PacketWriter(), PacketReader()
    key = os.urandom(32)
    w.set_keys(_Identity(), False, 16, _Mac(key), etm, None, False)
    r.set_keys(_Identity(), False, 16, _Mac(key), 32, etm, None, False)
    return w, r


@pytest.mark.parametrize("etm", [False, True])
@given(payloads=st.lists(st.binary(min_size=1, max_size=2000), min_size=1, max_size=10))
@settings(max_examples=30)
def test_round_trip_keyed(etm, payloads):
    w, r = keyed_pair(etm)
    wire = b"".join(w.pack(p) for p in payloads)
    # deliver in awkward chunks
    out = []
    for i in range(0, len(wire), 7):
        r.feed(wire[i:i + 7])
        while (p := r.next_payload()) is not None:
            out.append(p)
    assert out == payloads


@given(st.binary(min_size=1, max_size=500))
def test_padding_rules(payload):
    w = PacketWriter()
    pkt = w.pack(payload)
    length = int.from_bytes(pkt[:4], "big")
    padlen = pkt[4]
    assert len(pkt) == length + 4
    assert (length + 4) % 8 == 0
    assert padlen >= 4
    assert pkt[5:5 + len(payload)] == payload


@given(st.binary(max_size=2000))
def test_random_bytes_never_crash_reader(data):
    r = PacketReader()
    r.feed(data)
    try:
        while r.next_payload() is not None:
            pass
    except RemoteProtocolError:
        pass


def test_flipped_bit_is_mac_error():
    w, r = keyed_pair(etm=True)
    wire = bytearray(w.pack(b"\x05hello"))
    wire[10] ^= 1
    r.feed(bytes(wire))
    with pytest.raises(MACError):
        r.next_payload()


def test_oversized_length_rejected():
    r = PacketReader()
    r.feed(uint32(MAX_PACKET_LENGTH + 1) + b"\0" * 16)
    with pytest.raises(RemoteProtocolError, match="packet length"):
        r.next_payload()


def test_short_padding_rejected():
    r = PacketReader()
    r.feed(uint32(12) + bytes([3]) + b"\x05" * 8 + b"\0" * 3)
    with pytest.raises(RemoteProtocolError, match="padding"):
        r.next_payload()


def test_sequence_numbers_advance_and_wrap():
    w = PacketWriter()
    w.seq = 0xFFFFFFFF
    w.pack(b"\x02")
    assert w.seq == 0
