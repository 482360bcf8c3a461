"""The SFTP v3 codec: packets, attributes, the incremental parser and its limits."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sshcore.errors import RemoteProtocolError, SSHError
from sshcore_sftp._protocol import (ATTR, FXP, MAX_PACKET, PacketParser, Reader, SFTPAttrs,
                                    SFTPError, SFTPProtocolError, Status, encode_name,
                                    encode_packet, encode_status, longname, string, u32, u64)

u32s = st.integers(0, 2**32 - 1)
opt32 = st.none() | u32s
attrs_st = st.builds(
    SFTPAttrs, size=st.none() | st.integers(0, 2**64 - 1), uid=opt32, gid=opt32,
    permissions=opt32, atime=opt32, mtime=opt32,
    extended=st.lists(st.tuples(st.binary(max_size=20), st.binary(max_size=20)), max_size=3))


def _normalised(a: SFTPAttrs) -> SFTPAttrs:
    # uid/gid and atime/mtime travel in pairs: a missing half comes back as its default.
    uid = gid = None
    if a.uid is not None or a.gid is not None:
        uid, gid = a.uid or 0, a.gid or 0
    atime = mtime = None
    if a.atime is not None or a.mtime is not None:
        atime = a.atime if a.atime is not None else a.mtime
        mtime = a.mtime if a.mtime is not None else a.atime
    return SFTPAttrs(a.size, uid, gid, a.permissions, atime, mtime, list(a.extended))


@given(attrs_st)
def test_attrs_round_trip(a: SFTPAttrs) -> None:
    assert SFTPAttrs.from_bytes(a.encode()) == _normalised(a)


def test_attrs_wire_layout() -> None:
    # draft-02 section 5: flags, then size, uid+gid, permissions, atime+mtime in that order.
    a = SFTPAttrs(size=5, uid=1, gid=2, permissions=0o100644, atime=10, mtime=20)
    flags = ATTR.SIZE | ATTR.UIDGID | ATTR.PERMISSIONS | ATTR.ACMODTIME
    assert a.encode() == struct.pack(">IQIIIII", flags, 5, 1, 2, 0o100644, 10, 20)
    assert SFTPAttrs().encode() == b"\0\0\0\0"


def test_attrs_from_stat(tmp_path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"12345")
    os.utime(p, (1000, 2000))
    a = SFTPAttrs.from_stat(os.stat(p))
    assert (a.size, a.atime, a.mtime) == (5, 1000, 2000)
    assert a.is_file() and not a.is_dir()


def test_attrs_extended_count_bounded() -> None:
    # A huge count with no data behind it is refused before any list is built.
    data = u32(ATTR.EXTENDED) + u32(2**32 - 1)
    with pytest.raises(SFTPProtocolError):
        SFTPAttrs.from_bytes(data)


packets = st.lists(st.tuples(st.sampled_from(list(FXP)), st.none() | u32s,
                             st.binary(max_size=300)), max_size=8)


@given(packets, st.integers(1, 50))
def test_parser_round_trip_any_chunking(pkts, chunk) -> None:
    wire = b"".join(encode_packet(t, rid, body) for t, rid, body in pkts)
    parser = PacketParser()
    got = []
    for i in range(0, len(wire), chunk):
        got += [(t, bytes(p)) for t, p in parser.feed(wire[i:i + chunk])]
    expected = [(int(t), (b"" if rid is None else u32(rid)) + body) for t, rid, body in pkts]
    assert got == expected
    assert parser.buffered == 0


def test_parser_payloads_survive_later_feeds() -> None:
    parser = PacketParser()
    first = parser.feed(encode_packet(FXP.WRITE, 1, b"A" * 100) + b"\0\0")
    parser.feed(b"\0\x06\x05" + u32(2) + b"x")  # the rest of a second packet
    assert bytes(first[0][1]) == u32(1) + b"A" * 100


@given(st.binary(max_size=2000))
@settings(max_examples=300)
def test_random_bytes_raise_only_protocol_error(data: bytes) -> None:
    parser = PacketParser()
    try:
        for ptype, payload in parser.feed(data):
            r = Reader(payload)
            r.uint32()
            r.string()
            SFTPAttrs.decode(r)
            r.finish()
    except SFTPProtocolError:
        pass


def test_oversized_packet_refused_before_buffering() -> None:
    parser = PacketParser()
    with pytest.raises(SFTPProtocolError, match="limit"):
        parser.feed(u32(MAX_PACKET + 1))
    assert parser.buffered == 0
    with pytest.raises(SFTPProtocolError, match="zero"):
        PacketParser().feed(u32(0) + b"\x01")
    # Exactly the limit is fine.
    body = b"\0" * (MAX_PACKET - 5)
    [(t, p)] = PacketParser().feed(encode_packet(FXP.WRITE, 7, body))
    assert t == FXP.WRITE and len(p) == MAX_PACKET - 1


def test_reader_errors_are_protocol_errors() -> None:
    r = Reader(u32(10) + b"abc")
    with pytest.raises(SFTPProtocolError, match="truncated"):
        r.string()
    with pytest.raises(SFTPProtocolError):
        Reader(b"\0\0").uint32()
    with pytest.raises(SFTPProtocolError):
        Reader(b"").byte()
    with pytest.raises(SFTPProtocolError):
        Reader(b"\0" * 7).uint64()
    r = Reader(u64(2**64 - 1) + b"x")
    assert r.uint64() == 2**64 - 1
    with pytest.raises(SFTPProtocolError, match="trailing"):
        r.finish()
    assert issubclass(SFTPProtocolError, RemoteProtocolError)


def test_status_and_name_encoding() -> None:
    [(t, p)] = PacketParser().feed(encode_status(9, Status.NO_SUCH_FILE, "gone", "en"))
    r = Reader(p)
    assert t == FXP.STATUS and r.uint32() == 9 and r.uint32() == Status.NO_SUCH_FILE
    assert r.text() == "gone" and r.text() == "en"
    r.finish()
    # The default message is OpenSSH's text for the code.
    [(_, p)] = PacketParser().feed(encode_status(1, Status.EOF))
    r = Reader(p)
    r.uint32(), r.uint32()
    assert r.text() == "End of file"

    a = SFTPAttrs(size=3, permissions=0o100600, mtime=0, atime=0)
    [(t, p)] = PacketParser().feed(encode_name(4, [(b"f", b"-rw------- f", a), (b"g\xff", b"", a)]))
    r = Reader(p)
    assert t == FXP.NAME and r.uint32() == 4 and r.uint32() == 2
    assert (r.bytes(), r.bytes(), r.attrs()) == (b"f", b"-rw------- f", a)
    assert (r.bytes(), r.bytes(), r.attrs()) == (b"g\xff", b"", a)
    r.finish()


def test_sftp_error() -> None:
    e = SFTPError.from_status(Status.PERMISSION_DENIED, "", "")
    assert e.code is Status.PERMISSION_DENIED and e.message == "Permission denied"
    assert str(e) == "Permission denied" and isinstance(e, SSHError)
    e = SFTPError.from_status(2, "/x: No such file or directory")
    assert e.code is Status.NO_SUCH_FILE and "No such file" in repr(e)
    assert SFTPError(99).code == 99  # unknown codes survive as ints


def test_string_and_longname() -> None:
    assert string("é") == b"\0\0\0\x02\xc3\xa9"
    line = longname(b"file.txt", SFTPAttrs(size=42, uid=0, gid=0, permissions=0o100644,
                                           mtime=0, atime=0), owner="root", group="root")
    assert line.startswith(b"-rw-r--r--   1 root     root           42 ")
    assert line.endswith(b" file.txt")
