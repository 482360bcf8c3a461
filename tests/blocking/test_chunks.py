"""The blocking front-end's receive buffer keeps the kernel's decrypted packets as
memoryviews (no copy per packet) and hands out bytes, copied once, when read."""

from __future__ import annotations

from sshcore.blocking._driver import Chunks


def test_views_are_taken_as_bytes():
    packet = bytearray(b"0123456789")
    c = Chunks()
    c.append(memoryview(packet)[2:8])  # as a ChannelData event's view of its packet
    c.append(b"ab")
    c.append(memoryview(b""))          # empty data adds nothing
    assert len(c) == 8
    first = c.take(3)
    assert first == b"234" and type(first) is bytes
    whole = c.take(100)
    assert whole == b"567ab" and type(whole) is bytes
    assert len(c) == 0 and not c


def test_a_single_view_part_is_copied_out():
    c = Chunks()
    c.append(memoryview(b"xyz"))
    out = c.take(3)
    assert out == b"xyz" and type(out) is bytes


def test_readline_search_over_views():
    c = Chunks()
    for part in (b"no newline ", b"here\nsecond", b" line\n", b"tail"):
        c.append(memoryview(part))
    assert c.find(b"\n") == len(b"no newline here")
    assert c.take(c.find(b"\n") + 1) == b"no newline here\n"
    assert c.find(b"\n") == len(b"second line")
    assert c.take(c.find(b"\n") + 1) == b"second line\n"
    assert c.find(b"\n") == -1
    assert c.take(10) == b"tail"


def test_take_parts_hands_out_the_pieces_after_what_was_taken():
    c = Chunks()
    c.append(memoryview(b"abcdef"))
    c.append(b"gh")
    assert c.take(2) == b"ab"
    parts = c.take_parts()
    assert [bytes(p) for p in parts] == [b"cdef", b"gh"]
    assert len(c) == 0 and c.take_parts() == [] and c.take(5) == b""
    c.append(b"next")
    assert c.take(10) == b"next"
