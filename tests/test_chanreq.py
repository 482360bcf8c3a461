"""sshcore.chanreq: typed channel requests, global requests and channel-open payloads.

Each type round-trips (decode(encode(x)) == x, and the bytes are the RFC's layout);
malformed data -- truncated, trailing bytes, bad text -- raises the kernel's
DecodeError (a RemoteProtocolError: a PROTOCOL_ERROR disconnect), and random bytes
never raise anything else (Hypothesis).
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sshcore import chanreq as cr
from sshcore.errors import DisconnectReason, RemoteProtocolError


def s(value: bytes | str) -> bytes:
    """An SSH string, spelled out independently of the module under test."""
    raw = value.encode() if isinstance(value, str) else value
    return struct.pack(">I", len(raw)) + raw


def u32(value: int) -> bytes:
    return struct.pack(">I", value)


#: (object, its exact wire bytes) for every type the module knows.
EXAMPLES = [
    (cr.PtyRequest("xterm-256color", 132, 43, 640, 480, {1: 3, 53: 1}),
     s("xterm-256color") + u32(132) + u32(43) + u32(640) + u32(480)
     + s(b"\x01" + u32(3) + b"\x35" + u32(1) + b"\x00")),
    (cr.X11Request(True, "MIT-MAGIC-COOKIE-1", "0123abcd", 2),
     b"\x01" + s("MIT-MAGIC-COOKIE-1") + s("0123abcd") + u32(2)),
    (cr.EnvRequest("LANG", "C.UTF-8"), s("LANG") + s("C.UTF-8")),
    (cr.ShellRequest(), b""),
    (cr.ExecRequest("ls -l /tmp"), s("ls -l /tmp")),
    (cr.SubsystemRequest("sftp"), s("sftp")),
    (cr.WindowChangeRequest(100, 50, 800, 600), u32(100) + u32(50) + u32(800) + u32(600)),
    (cr.XonXoffRequest(False), b"\x00"),
    (cr.SignalRequest("TERM"), s("TERM")),
    (cr.ExitStatusRequest(255), u32(255)),
    (cr.ExitSignalRequest("KILL", True, "killed", "en"),
     s("KILL") + b"\x01" + s("killed") + s("en")),
    (cr.BreakRequest(500), u32(500)),
    (cr.KeepaliveRequest(), b""),
    (cr.AgentForwardingRequest(), b""),
    (cr.EOWRequest(), b""),
    (cr.TcpipForwardRequest("localhost", 8080), s("localhost") + u32(8080)),
    (cr.CancelTcpipForwardRequest("", 0), s("") + u32(0)),
    (cr.StreamlocalForwardRequest("/tmp/s"), s("/tmp/s")),
    (cr.CancelStreamlocalForwardRequest("/tmp/s"), s("/tmp/s")),
    (cr.GlobalKeepaliveRequest(), b""),
    (cr.NoMoreSessionsRequest(), b""),
    (cr.HostKeysRequest((b"key1", b"key-two")), s(b"key1") + s(b"key-two")),
    (cr.HostKeysProveRequest((b"k",)), s(b"k")),
    (cr.ForwardPortReply(40000), u32(40000)),
    (cr.HostKeysProofReply((b"sig1", b"sig2")), s(b"sig1") + s(b"sig2")),
    (cr.SessionOpen(), b""),
    (cr.DirectTcpipOpen("example.org", 22, "10.0.0.1", 5555),
     s("example.org") + u32(22) + s("10.0.0.1") + u32(5555)),
    (cr.ForwardedTcpipOpen("0.0.0.0", 80, "1.2.3.4", 1234),
     s("0.0.0.0") + u32(80) + s("1.2.3.4") + u32(1234)),
    (cr.DirectStreamlocalOpen("/run/x.sock"), s("/run/x.sock") + s("") + u32(0)),
    (cr.ForwardedStreamlocalOpen("/run/y.sock"), s("/run/y.sock") + s("")),
    (cr.AgentChannelOpen(), b""),
    (cr.X11ChannelOpen("127.0.0.1", 6010), s("127.0.0.1") + u32(6010)),
]
ALL_TYPES = [type(obj) for obj, _ in EXAMPLES]


def _decoder(cls):
    """The module-level decoder that dispatches to ``cls`` by its wire name."""
    if issubclass(cls, cr.ChannelRequest):
        return lambda data: cr.decode_channel_request(cls.name, data)
    if issubclass(cls, cr.GlobalRequest):
        return lambda data: cr.decode_global_request(cls.name, data)
    if issubclass(cls, cr.GlobalReply):
        return lambda data: cr.decode_global_reply(cls.name, data)
    return lambda data: cr.decode_channel_open(cls.name, data)


def test_every_public_type_has_an_example():
    public = {getattr(cr, n) for n in cr.__all__}
    concrete = {c for c in public if isinstance(c, type) and issubclass(c, cr._Payload)
                and c not in (cr.ChannelRequest, cr.GlobalRequest, cr.GlobalReply,
                              cr.ChannelOpenData)}
    assert concrete == set(ALL_TYPES)


@pytest.mark.parametrize("obj,wire", EXAMPLES, ids=[type(o).__name__ for o, _ in EXAMPLES])
def test_encode_is_the_wire_layout_and_decode_inverts_it(obj, wire):
    assert obj.encode() == wire
    assert type(obj).decode(wire) == obj
    assert _decoder(type(obj))(wire) == obj


@pytest.mark.parametrize("obj,wire", EXAMPLES, ids=[type(o).__name__ for o, _ in EXAMPLES])
def test_trailing_bytes_are_a_protocol_error(obj, wire):
    if isinstance(obj, (cr.HostKeysRequest, cr.HostKeysProofReply)):
        wire += b"\x00\x00"      # a list of strings: a truncated extra one
    elif isinstance(obj, cr.PtyRequest):
        wire += b"\x00"
    else:
        wire += b"\x00\x00\x00\x00\x07"
    with pytest.raises(cr.DecodeError) as info:
        type(obj).decode(wire)
    assert isinstance(info.value, RemoteProtocolError)
    assert info.value.reason == DisconnectReason.PROTOCOL_ERROR


@pytest.mark.parametrize("obj,wire", [(o, w) for o, w in EXAMPLES if w],
                         ids=[type(o).__name__ for o, w in EXAMPLES if w])
def test_every_truncation_is_a_protocol_error(obj, wire):
    cls = type(obj)
    for cut in range(len(wire)):
        data = wire[:cut]
        try:
            decoded = cls.decode(data)
        except cr.DecodeError:
            continue
        # Only optional tails may go: streamlocal's reserved fields, a list's last items,
        # a reply with no port (no data), an x11 open with no originator (old servers).
        if isinstance(obj, cr.X11ChannelOpen):
            assert cut == 0 and decoded == cr.X11ChannelOpen("", 0), (cut, decoded)
            continue
        assert isinstance(obj, (cr.DirectStreamlocalOpen, cr.ForwardedStreamlocalOpen,
                                cr.HostKeysRequest, cr.HostKeysProofReply)), (cut, decoded)


@pytest.mark.parametrize("cls,data", [
    (cr.ExecRequest, s(b"ls") + b"\x00"),
    (cr.EnvRequest, s("A")),
    (cr.SubsystemRequest, s(b"\xff")),                   # not UTF-8
    (cr.SignalRequest, s("TÉRM")),                      # signal names are ASCII
    (cr.PtyRequest, s("vt100") + u32(1) * 4 + s(b"\x01\x00\x00")),   # truncated mode
    (cr.PtyRequest, s(b"\x80") + u32(1) * 4 + s(b"\x00")),            # non-ASCII TERM
    (cr.ExitSignalRequest, s("INT") + b"\x00" + s(b"\xff") + s("")),
    (cr.DirectTcpipOpen, s(b"\xff") + u32(1) + s("") + u32(0)),
    (cr.X11Request, b"\x00" + s("MIT") + s(b"\x81") + u32(0)),
    (cr.SessionOpen, b"x"),
])
def test_malformed_payloads(cls, data):
    with pytest.raises(cr.DecodeError):
        cls.decode(data)


def test_commands_and_environment_keep_bytes_that_are_not_utf8():
    """RFC 4254 leaves them as bytes (sshd runs them): nothing refused, nothing lost."""
    raw = b"printf '\xff\xfe'"
    exec_ = cr.ExecRequest.decode(s(raw))
    assert exec_.command.encode("utf-8", "surrogateescape") == raw
    assert exec_.encode() == s(raw)
    env = cr.EnvRequest.decode(s(b"LC_X") + s(b"caf\xe9"))
    assert env.value == "caf\udce9" and env.encode() == s(b"LC_X") + s(b"caf\xe9")


def test_unknown_names_decode_to_none():
    assert cr.decode_channel_request("simple@putty.projects.tartarus.org", b"\x01") is None
    assert cr.decode_global_request("test@example.com", b"\xff") is None
    assert cr.decode_channel_open("custom@example.com", b"\xff") is None
    assert cr.decode_global_reply("tcpip-forward", b"") is None     # a fixed port's reply


def test_term_modes_stop_at_the_end_or_an_undefined_opcode():
    assert cr.decode_term_modes(b"\x01" + u32(3) + b"\x00" + b"\x02" + u32(9)) == {1: 3}
    assert cr.decode_term_modes(b"\x01" + u32(3) + b"\xa0junk") == {1: 3}
    assert cr.decode_term_modes(b"") == {}
    assert cr.encode_term_modes({0: 1, 160: 2, 5: 7}) == b"\x05" + u32(7) + b"\x00"
    pty = cr.PtyRequest("vt100", modes=[(1, 2)])
    assert pty.modes == ((1, 2),) and pty.term_modes == {1: 2} and pty.size == (80, 24, 0, 0)


def test_cancel_types_are_distinct_from_the_requests():
    fwd = cr.TcpipForwardRequest("h", 1)
    cancel = cr.CancelTcpipForwardRequest("h", 1)
    assert fwd != cancel and fwd.name != cancel.name
    assert cr.decode_global_request(cancel.name, cancel.encode()) == cancel


def test_hostkeys_proof_data_layout():
    assert cr.hostkeys_proof_data(b"SID", b"BLOB") == (
        s("hostkeys-prove-00@openssh.com") + s(b"SID") + s(b"BLOB"))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(ALL_TYPES), st.binary(max_size=80))
def test_random_bytes_raise_only_the_protocol_error(cls, data):
    try:
        value = cls.decode(data)
    except cr.DecodeError:
        return
    assert isinstance(value, cls)
    assert type(value).decode(value.encode()) == value  # what decodes, re-encodes


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([obj for obj, _ in EXAMPLES]), st.data())
def test_mutated_payloads_raise_only_the_protocol_error(obj, data):
    wire = bytearray(obj.encode() or b"\x00")
    pos = data.draw(st.integers(0, len(wire) - 1))
    wire[pos] = data.draw(st.integers(0, 255))
    try:
        type(obj).decode(bytes(wire))
    except cr.DecodeError:
        pass


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=30), st.integers(0, 2**32 - 1), st.text(max_size=30),
       st.integers(0, 2**32 - 1), st.dictionaries(st.integers(1, 159), st.integers(0, 2**32 - 1)))
def test_typed_round_trips(text, n, text2, m, modes):
    for obj in (cr.PtyRequest(text.encode("ascii", "ignore").decode(), n, m, n, m, modes),
                cr.EnvRequest(text, text2), cr.ExecRequest(text), cr.ExitStatusRequest(n),
                cr.DirectTcpipOpen(text, n, text2, m), cr.TcpipForwardRequest(text, m),
                cr.ExitSignalRequest(text.encode("ascii", "ignore").decode(), True, text2, ""),
                cr.X11ChannelOpen(text, n), cr.StreamlocalForwardRequest(text2)):
        assert type(obj).decode(obj.encode()) == obj
