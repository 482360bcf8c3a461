"""Binary packet protocol: round trips, padding rules, hostile bytes."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sshcore.kernel._framing import MAX_PACKET_LENGTH, PacketReader, PacketWriter
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


# --------------------------------------------------------------------------- zero-copy intake


def _deliver(r: PacketReader, wire: bytes, sizes) -> list[bytes]:
    """Write ``wire`` into the reader's own buffer in reads of the given sizes (at most
    what get_buffer offers, as a socket's recv_into does) and collect the payloads."""
    out, pos, i = [], 0, 0
    while pos < len(wire):
        view = r.get_buffer(-1)
        assert len(view) > 0, "get_buffer must never offer an empty buffer (it reads as EOF)"
        n = min(len(view), sizes[i % len(sizes)], len(wire) - pos)
        i += 1
        view[:n] = wire[pos:pos + n]
        r.buffer_updated(n)
        pos += n
        while (p := r.next_payload()) is not None:
            out.append(p)
    return out


@pytest.mark.parametrize("etm", [False, True])
@given(payloads=st.lists(st.binary(min_size=1, max_size=40000), min_size=1, max_size=8),
       sizes=st.lists(st.integers(min_value=1, max_value=300000), min_size=1, max_size=5))
@settings(max_examples=40, deadline=None)
def test_round_trip_through_get_buffer(etm, payloads, sizes):
    w, r = keyed_pair(etm)
    wire = b"".join(w.pack(p) for p in payloads)
    assert [bytes(p) for p in _deliver(r, wire, sizes)] == payloads
    assert r.buffered == 0


def test_payloads_do_not_alias_the_receive_buffer():
    """A payload handed out stays intact after later reads reuse the buffer."""
    w, r = keyed_pair(etm=True)
    first, second = os.urandom(3000), os.urandom(3000)
    got = _deliver(r, w.pack(first), [4096])
    _deliver(r, w.pack(second), [4096])
    assert bytes(got[0]) == first


def test_get_buffer_never_empty_while_packets_wait():
    """With complete packets left unparsed (the transport pauses while a host key is
    being checked), the buffer must still offer room, or the socket read would be EOF."""
    w, r = PacketWriter(), PacketReader()
    wire = b"".join(w.pack(os.urandom(30000)) for _ in range(50))  # past the bulk size
    pos = 0
    while pos < len(wire):
        view = r.get_buffer(-1)
        assert len(view) > 0
        n = min(len(view), len(wire) - pos)
        view[:n] = wire[pos:pos + n]
        r.buffer_updated(n)
        pos += n
    assert r.buffered == len(wire)
    assert sum(1 for _ in iter(r.next_payload, None)) == 50


def test_buffer_grows_for_bulk_and_shrinks_when_idle():
    w, r = keyed_pair(etm=True)
    small = len(r.get_buffer(-1))
    # Reads that fill what is offered make the offer grow (up to the bulk size).
    wire = b"".join(w.pack(os.urandom(32000)) for _ in range(40))
    offers = []
    pos = 0
    while pos < len(wire):
        view = r.get_buffer(-1)
        offers.append(len(view))
        n = min(len(view), len(wire) - pos)
        view[:n] = wire[pos:pos + n]
        r.buffer_updated(n)
        pos += n
        while r.next_payload() is not None:
            pass
    assert max(offers) >= 256 * 1024 > small
    # A small read that empties the buffer: back to the small size.
    _deliver(r, w.pack(b"\x05x"), [100])
    assert len(r.get_buffer(-1)) <= small
