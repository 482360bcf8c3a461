"""The kernel's typed connection-protocol commands and events (sshcore.chanreq objects).

Client and server kernels back to back in memory: a typed request leaves as the RFC's
bytes and arrives decoded in the event; unknown names stay raw; malformed data from
the peer ends the connection with a PROTOCOL_ERROR disconnect (never an IndexError
or a half-parsed event); and the state the adapters read comes from public
properties.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sshcore import chanreq as cr
from sshcore import events as ev
from sshcore.errors import DisconnectError, DisconnectReason, LocalProtocolError
from tests.test_connection import handshake, make_pair, open_session


CHANNEL_REQUESTS = [
    cr.PtyRequest("xterm", 100, 40, 0, 0, {1: 3}), cr.X11Request(False, "MIT-MAGIC-COOKIE-1",
                                                                "00ff", 0),
    cr.EnvRequest("LANG", "C"), cr.ShellRequest(), cr.ExecRequest("echo hi"),
    cr.SubsystemRequest("sftp"), cr.WindowChangeRequest(120, 50), cr.XonXoffRequest(True),
    cr.SignalRequest("INT"), cr.ExitStatusRequest(3), cr.ExitSignalRequest("KILL", False, "", ""),
    cr.BreakRequest(300), cr.KeepaliveRequest(), cr.AgentForwardingRequest(),
]


def _ready(test_registry):
    p = make_pair(test_registry)
    handshake(p)
    return p


@pytest.mark.parametrize("request_", CHANNEL_REQUESTS, ids=lambda r: r.name)
def test_typed_channel_request_arrives_decoded(test_registry, request_):
    p = _ready(test_registry)
    ch, sch = open_session(p)
    p.client.send_channel_request(ch, request_, True)
    p.pump()
    got = [e for e in p.server_events if isinstance(e, ev.ChannelRequestReceived)][-1]
    assert (got.channel, got.request, got.want_reply) == (sch, request_.name, True)
    assert got.data == request_.encode() and got.decoded == request_
    p.server.reply_channel_request(sch, True)
    p.pump()
    assert [e.success for e in p.client_events if isinstance(e, ev.ChannelRequestReplied)] == [True]


def test_unknown_channel_request_stays_raw(test_registry):
    p = _ready(test_registry)
    ch, _ = open_session(p)
    p.client.send_channel_request(ch, "custom@example.com", False, b"\x00\xffraw")
    p.pump()
    got = [e for e in p.server_events if isinstance(e, ev.ChannelRequestReceived)][-1]
    assert (got.request, got.data, got.decoded) == ("custom@example.com", b"\x00\xffraw", None)


def _assert_protocol_error_disconnect(p):
    """The receiving kernel raised (receive_data does, after failing the connection),
    sent DISCONNECT(PROTOCOL_ERROR) and reported it."""
    with pytest.raises(DisconnectError):
        p.pump()                # the client hears the DISCONNECT (and raises it)
    assert p.server.closed and isinstance(p.server.error, cr.DecodeError), p.server.error
    assert p.client.closed and isinstance(p.client.error, DisconnectError)
    assert p.client.error.code == DisconnectReason.PROTOCOL_ERROR


@pytest.mark.parametrize("name,data", [
    ("pty-req", b"\x00\x00\x00\x05xterm\x00\x00"),           # truncated sizes
    ("exec", b"\x00\x00\x00\x09ls"),                         # string past the end
    ("window-change", b"\x00" * 17),                         # a trailing byte
    ("exit-signal", b"\x00\x00\x00\x01\xff\x00" + b"\x00" * 8),  # non-ASCII signal name
    ("env", b"\x00\x00\x00\x01A"),                           # value missing
])
def test_malformed_channel_request_is_a_protocol_error(test_registry, name, data):
    p = _ready(test_registry)
    ch, _ = open_session(p)
    p.client.send_channel_request(ch, name, True, data)
    with pytest.raises(cr.DecodeError):
        p.pump()
    assert not [e for e in p.server_events if isinstance(e, ev.ChannelRequestReceived)]
    _assert_protocol_error_disconnect(p)


def test_typed_global_request_and_reply(test_registry):
    p = _ready(test_registry)
    p.client.send_global_request(cr.TcpipForwardRequest("localhost", 0), True)
    p.client.send_global_request(cr.HostKeysProveRequest((b"blob1",)), True)
    p.client.send_global_request(cr.TcpipForwardRequest("localhost", 22), True)
    p.pump()
    got = [e for e in p.server_events if isinstance(e, ev.GlobalRequestReceived)]
    assert [e.decoded for e in got] == [cr.TcpipForwardRequest("localhost", 0),
                                        cr.HostKeysProveRequest((b"blob1",)),
                                        cr.TcpipForwardRequest("localhost", 22)]
    p.server.reply_global_request(True, cr.ForwardPortReply(40001))
    p.server.reply_global_request(True, cr.HostKeysProofReply((b"sig",)))
    p.server.reply_global_request(True)
    p.pump()
    replies = [e for e in p.client_events if isinstance(e, ev.GlobalRequestReplied)]
    assert [(r.success, r.request, r.decoded) for r in replies] == [
        (True, "tcpip-forward", cr.ForwardPortReply(40001)),
        (True, "hostkeys-prove-00@openssh.com", cr.HostKeysProofReply((b"sig",))),
        (True, "tcpip-forward", None)]
    assert replies[0].data == cr.ForwardPortReply(40001).encode()


def test_malformed_global_request_is_a_protocol_error(test_registry):
    p = _ready(test_registry)
    p.client.send_global_request("tcpip-forward", True, b"\x00\x00\x00\x01*\x00\x00")
    with pytest.raises(cr.DecodeError):
        p.pump()
    assert not [e for e in p.server_events if isinstance(e, ev.GlobalRequestReceived)]
    _assert_protocol_error_disconnect(p)


def test_malformed_forward_port_reply_is_a_protocol_error(test_registry):
    p = _ready(test_registry)
    p.client.send_global_request(cr.TcpipForwardRequest("", 0), True)
    p.pump()
    p.server.reply_global_request(True, b"\x00\x01")   # half a port
    with pytest.raises(cr.DecodeError):
        p.pump()
    assert p.client.closed and isinstance(p.client.error, cr.DecodeError)


@pytest.mark.parametrize("payload", [
    cr.DirectTcpipOpen("example.org", 80, "10.1.1.1", 4444),
    cr.DirectStreamlocalOpen("/run/app.sock"),
    cr.X11ChannelOpen("127.0.0.1", 6000),
    cr.AgentChannelOpen(),
    cr.SessionOpen(),
], ids=lambda o: o.name)
def test_typed_channel_open_arrives_decoded(test_registry, payload):
    p = _ready(test_registry)
    p.client.open_channel(payload)
    p.pump()
    got = [e for e in p.server_events if isinstance(e, ev.ChannelOpenRequested)][-1]
    assert (got.channel_type, got.data, got.decoded) == (payload.name, payload.encode(), payload)


def test_unknown_channel_type_stays_raw(test_registry):
    p = _ready(test_registry)
    p.client.open_channel("custom@example.com", b"\x01\x02")
    p.pump()
    got = [e for e in p.server_events if isinstance(e, ev.ChannelOpenRequested)][-1]
    assert (got.channel_type, got.data, got.decoded) == ("custom@example.com", b"\x01\x02", None)


def test_malformed_channel_open_is_a_protocol_error(test_registry):
    p = _ready(test_registry)
    p.client.open_channel("direct-tcpip", cr.DirectTcpipOpen("h", 1).encode() + b"\x00")
    with pytest.raises(cr.DecodeError):
        p.pump()
    assert not [e for e in p.server_events if isinstance(e, ev.ChannelOpenRequested)]
    _assert_protocol_error_disconnect(p)


def test_typed_objects_carry_their_own_data(test_registry):
    p = _ready(test_registry)
    ch, _ = open_session(p)
    with pytest.raises(LocalProtocolError):
        p.client.send_channel_request(ch, cr.ShellRequest(), True, b"extra")
    with pytest.raises(LocalProtocolError):
        p.client.open_channel(cr.SessionOpen(), b"extra")


def test_driver_state_properties(test_registry):
    p = make_pair(test_registry)
    handshake(p)
    assert p.client.auth_methods_tried[-1] == "password"
    assert p.server.auth_methods_tried == () and p.client.auth_failures == 0
    assert p.server.auth_failures >= 1          # "none" and the publickey query were refused
    assert p.server.auth_deadline is None       # authenticated: no more grace time
    assert p.server.channel_count() == 0
    ch, sch = open_session(p)
    p.client.open_channel(cr.DirectTcpipOpen("h", 1))
    p.pump()
    assert p.server.channel_count() == 2 and p.server.channel_count("session") == 1
    assert not p.client.has_held_data
    p.client.send_data(ch, b"x", more=True)
    assert p.client.has_held_data
    p.client.data_to_send()
    assert not p.client.has_held_data


def test_abandon_closes_without_a_word(test_registry):
    p = _ready(test_registry)
    p.client_events.clear()
    p.client.abandon()
    assert p.client.closed
    assert p.client.next_event() is None
    assert p.client.data_to_send() == b""


_KNOWN = sorted(cr._CHANNEL_REQUESTS) + ["custom@example.com"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(_KNOWN), data=st.binary(max_size=60))
def test_random_request_data_is_an_event_or_a_protocol_error(test_registry, name, data):
    """Whatever bytes follow a request name, the receiving kernel either reports the
    request (decoded when it knows the name) or ends the connection with DecodeError:
    never another exception."""
    p = _ready(test_registry)
    ch, _ = open_session(p)
    p.client.send_channel_request(ch, name, False, data)
    try:
        p.pump()
    except cr.DecodeError:
        assert p.server.closed and isinstance(p.server.error, cr.DecodeError)
        return
    got = [e for e in p.server_events if isinstance(e, ev.ChannelRequestReceived)]
    if name == "eow@openssh.com":  # the kernel acts on it; no event without want_reply
        assert not got and not data
        return
    assert got[-1].data == data
    if name == "custom@example.com":
        assert got[-1].decoded is None
    else:
        assert got[-1].decoded is not None and got[-1].decoded.name == name


_GLOBALS = sorted(cr._GLOBAL_REQUESTS) + ["custom@example.com"]
_OPENS = sorted(set(cr._CHANNEL_OPENS) - {"session"}) + ["custom@example.com"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["global", "open"]), pick=st.integers(0, 100),
       data=st.binary(max_size=60))
def test_random_global_and_open_data_is_an_event_or_a_protocol_error(test_registry, kind,
                                                                     pick, data):
    p = _ready(test_registry)
    if kind == "global":
        name = _GLOBALS[pick % len(_GLOBALS)]
        p.client.send_global_request(name, False, data)
        wanted, table = ev.GlobalRequestReceived, cr._GLOBAL_REQUESTS
    else:
        name = _OPENS[pick % len(_OPENS)]
        p.client.open_channel(name, data)
        wanted, table = ev.ChannelOpenRequested, cr._CHANNEL_OPENS
    try:
        p.pump()
    except cr.DecodeError:
        assert p.server.closed and isinstance(p.server.error, cr.DecodeError)
        return
    got = [e for e in p.server_events if isinstance(e, wanted)][-1]
    assert got.data == data
    assert (got.decoded is None) == (name not in table)
