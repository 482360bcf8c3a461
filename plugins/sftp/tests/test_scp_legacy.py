"""The legacy SCP protocol's sans-I/O part (sshcore_sftp._scp_legacy): records,
acknowledgements and the download state machine, fed bytes directly."""

from __future__ import annotations

import pytest

from sshcore_sftp._scp_legacy import (
    DirEnd, DirStart, Done, FileData, FileEnd, FileStart, RemoteWarning, SCPError,
    SCPProtocolError, Sink, Times, dir_record, file_record, parse_response, times_record,
)


def events(sink: Sink, answers: dict[type, str | None] | None = None) -> list:
    """Run ``sink`` over what it was fed, accepting everything (or rejecting per type)."""
    out = []
    while True:
        ev = sink.next_event()
        if ev is None or isinstance(ev, Done):
            out.append(ev)
            return out
        out.append(ev)
        if isinstance(ev, (FileStart, FileEnd, DirStart)):
            msg = (answers or {}).get(type(ev))
            sink.reject(msg) if msg else sink.accept()


def test_records():
    assert file_record(0o100644, 5, "a b") == b"C0644 5 a b\n"
    assert dir_record(0o40755, "d") == b"D0755 0 d\n"
    assert times_record(1_400_000_001.7, 12) == b"T1400000001 0 12 0\n"
    for bad in ("a\nb", "a/b", ""):
        with pytest.raises(SCPError):
            file_record(0o644, 1, bad)


def test_parse_response():
    buf = bytearray(b"\0\x01scp: no such file\n\x02fatal\nNo match.\n\x01part")
    assert parse_response(buf).ok
    r = parse_response(buf)
    assert (r.ok, r.fatal, r.message) == (False, False, "scp: no such file")
    r = parse_response(buf)
    assert (r.ok, r.fatal, r.message) == (False, True, "fatal")
    r = parse_response(buf)
    assert (r.ok, r.fatal, r.message) == (False, True, "No match.")
    assert parse_response(buf) is None and buf == b"\x01part"
    with pytest.raises(SCPProtocolError, match="too long"):
        parse_response(bytearray(b"\x01" + b"x" * 5000))


def test_sink_file_tree_and_acks():
    sink = Sink(["/remote/dir"], recursive=True)
    assert sink.data_to_send() == b"\0"  # the go-ahead
    sink.feed(b"T1 0 2 0\nD0750 0 dir\nC0644 3 a\nabc\0D0700 0 sub\nC0600 0 empty\n\0E\n"
              b"\x01scp: sub/x: Permission denied\nE\n")
    sink.feed_eof()
    evs = events(sink)
    assert evs == [Times(1, 2), DirStart("dir", 0o750, 0, Times(1, 2)), FileStart("a", 0o644, 3, 1),
                   FileData(b"abc"), FileEnd(True), DirStart("sub", 0o700, 1),
                   FileStart("empty", 0o600, 0, 2), FileEnd(True), DirEnd(None, 0o700),
                   RemoteWarning("scp: sub/x: Permission denied"), DirEnd(Times(1, 2), 0o750), Done()]
    # T, D, C, end of a, D, C, end of empty, E, E (the go-ahead was taken above)
    assert sink.data_to_send() == b"\0" * 9


def test_sink_data_split_across_feeds_and_source_error():
    sink = Sink(["f"])
    sink.feed(b"C0644 6 f")
    assert events(sink) == [None]
    sink.feed(b"\nabc")
    assert events(sink) == [FileStart("f", 0o644, 6, 0), FileData(b"abc"), None]
    sink.feed(b"def\x01scp: f: read error\n")
    sink.feed_eof()
    assert events(sink) == [FileData(b"def"), FileEnd(False, "scp: f: read error"), Done()]


def test_sink_reject_sends_an_error_and_skips_the_file():
    sink2 = Sink(["f", "g"])
    sink2.data_to_send()
    sink2.feed(b"C0644 1 f\n")
    assert sink2.next_event() == FileStart("f", 0o644, 1, 0)
    sink2.reject("f: Permission denied")
    assert sink2.data_to_send() == b"\x01scp: f: Permission denied\n"
    sink2.feed(b"C0644 1 g\nx\0")
    sink2.feed_eof()
    assert events(sink2) == [FileStart("g", 0o644, 1, 0), FileData(b"x"), FileEnd(True), Done()]


@pytest.mark.parametrize("requested, recursive, data, message", [
    (["f"], False, b"C0644 1 ../f\n", "unexpected filename"),
    (["f"], False, b"C0644 1 a/f\n", "unexpected filename"),
    (["f"], False, b"C0644 1 ..\n", "unexpected filename"),
    (["f"], False, b"C0644 1 \n", "unexpected filename"),
    (["f"], False, b"C0644 1 f\0x\n", "unexpected filename"),
    (["d"], True, b"D0777 0 .\n", "unexpected filename"),
    (["f"], False, b"C0644 1 g\n", "does not match request"),
    (["/x/*.txt"], False, b"C0644 1 a.doc\n", "does not match request"),
    (["f"], False, b"D0755 0 f\n", "without -r"),
    (["f"], False, b"C0644 1 f\nx\0C0644 1 f\n", "sent twice"),
    (["d"], True, b"D0755 0 d\nC0644 1 ../x\n", "unexpected filename"),
    (["f"], False, b"C0x44 1 f\n", "bad mode"),
    (["f"], False, b"C0644 -1 f\n", "bad size"),
    (["f"], False, b"C0644 99999999999999999999 f\n", "size out of range"),
    (["f"], False, b"T1 0 x 0\n", "bad times"),
    (["f"], False, b"T1 1000000 1 0\n", "times out of range"),
    (["f"], False, b"E\n", "not entered"),
    (["f"], False, b"\n", "unexpected <newline>"),
    (["f"], False, b"C0644 1 f\nx\0Q\n", "expected control record"),
    (["f"], False, b"\x02scp: \x1b[2Jgone\n", "scp: \\x1b[2Jgone"),
    (["f"], False, b"C0644 10 f\nabc", "lost connection"),
    (["d"], True, b"D0755 0 d\n", "lost connection"),
])
def test_sink_refuses(requested, recursive, data, message):
    sink = Sink(requested, recursive=recursive)
    sink.feed(data)
    sink.feed_eof()
    with pytest.raises(SCPProtocolError, match=message.replace("[", r"\[").replace("\\x", r"\\x")):
        events(sink)


def test_glob_request_matches_many():
    sink = Sink(["dir/*.txt"])
    sink.feed(b"C0644 1 a.txt\nx\0C0644 1 b.txt\ny\0")
    sink.feed_eof()
    names = [e.name for e in events(sink) if isinstance(e, FileStart)]
    assert names == ["a.txt", "b.txt"]


def test_depth_limit():
    sink = Sink(["d"], recursive=True)
    sink.feed(b"D0755 0 d\n" + b"D0755 0 e\n" * 300)
    with pytest.raises(SCPProtocolError, match="too deep"):
        events(sink)
