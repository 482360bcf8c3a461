"""The I/O-free half of X11 forwarding (sshcore.x11): payloads, DISPLAY checks, the X11
set-up packet and its cookie substitution, xauth output."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sshcore.chanreq import X11ChannelOpen, X11Request
from sshcore.errors import SSHError
from sshcore.x11 import (MAX_SETUP, X11Error, check_x11_request, parse_display, parse_setup,
                         parse_xauth_list, setup_failure, substitute_cookie, x11_originator,
                         x11_request, xauth_add_script)
from sshcore._wire import boolean, string, uint32

COOKIE = "MIT-MAGIC-COOKIE-1"


# The payloads as the adapters handle them: the kernel's codec (sshcore.chanreq), then
# sshcore.x11's checks.
def encode_x11_request(single: bool, proto: str, cookie: bytes, screen: int) -> bytes:
    return x11_request(single, proto, cookie, screen).encode()


def parse_x11_request(data: bytes):
    return check_x11_request(X11Request.decode(data))


def encode_x11_channel(host: str, port: int) -> bytes:
    return X11ChannelOpen(host, port).encode()


def parse_x11_channel(data: bytes) -> tuple[str, int]:
    return x11_originator(X11ChannelOpen.decode(data))


def setup_packet(name: bytes, data: bytes, order: bytes = b"l") -> bytes:
    fmt = "<" if order == b"l" else ">"
    pad = lambda b: b + b"\0" * (-len(b) % 4)  # noqa: E731
    return (order + b"\0" + struct.pack(fmt + "HHHH", 11, 0, len(name), len(data)) + b"\0\0"
            + pad(name) + pad(data))


def test_x11_request_round_trip_and_wire_form():
    data = encode_x11_request(False, COOKIE, bytes(range(16)), 2)
    # RFC 4254 6.3.1: boolean, string protocol, string cookie (hex), uint32 screen
    assert data == (boolean(False) + string(COOKIE) + string(bytes(range(16)).hex())
                    + uint32(2))
    req = parse_x11_request(data)
    assert (req.single_connection, req.auth_protocol, req.auth_cookie, req.screen) == \
        (False, COOKIE, bytes(range(16)), 2)


@pytest.mark.parametrize("proto,cookie", [
    ("MIT MAGIC", "00ff"), ("", "00"), ("x" * 65, "00"), ("MIT;rm -rf /", "00"),
    ("MIT\nadd", "00"), (COOKIE, "0g"), (COOKIE, "abc"), (COOKIE, ""), (COOKIE, "00 11"),
])
def test_x11_request_refuses_odd_protocol_names_and_cookies(proto, cookie):
    data = boolean(True) + string(proto) + string(cookie) + uint32(0)
    with pytest.raises(X11Error):
        parse_x11_request(data)


def test_x11_request_truncated_or_trailing_is_an_error():
    data = encode_x11_request(True, COOKIE, b"\1" * 16, 0)
    with pytest.raises(SSHError):
        parse_x11_request(data[:-1])
    with pytest.raises(SSHError):
        parse_x11_request(data + b"x")


def test_x11_channel_payload_round_trip_and_sanitised():
    assert encode_x11_channel("127.0.0.1", 40000) == string("127.0.0.1") + uint32(40000)
    assert parse_x11_channel(encode_x11_channel("127.0.0.1", 40000)) == ("127.0.0.1", 40000)
    assert parse_x11_channel(b"") == ("", 0)  # old servers send no originator
    host, _ = parse_x11_channel(string(b"\x1b[31mevil\n\xff") + uint32(1))
    assert host == "?[31mevil??"
    with pytest.raises(SSHError):
        parse_x11_channel(string("h") + b"\0\0")


@pytest.mark.parametrize("name,host,number,screen,unix", [
    (":0", "", 0, 0, True), (":12.3", "", 12, 3, True), ("unix:4", "unix", 4, 0, True),
    ("localhost:10.0", "localhost", 10, 0, False), ("example.org:1", "example.org", 1, 0, False),
    ("box/unix:7", "unix", 7, 0, True),
])
def test_parse_display(name, host, number, screen, unix):
    d = parse_display(name)
    assert (d.host, d.number, d.screen, d.unix) == (host, number, screen, unix)


def test_display_lookup_name_for_xauth_is_unix_for_localhost():
    assert parse_display("localhost:10.0").xauth_name == "unix:10.0"
    assert parse_display("localhost:10").xauth_name == "unix:10"
    assert parse_display(":3").xauth_name == ":3"


@pytest.mark.parametrize("name", [None, "", "0", ":", ":x", "a b:0", ":0;touch /tmp/x",
                                  "$(id):0", "host:0\n", ":99999", "[::1]:0"])
def test_parse_display_refuses(name):
    with pytest.raises(X11Error):
        parse_display(name)


@pytest.mark.parametrize("order", [b"l", b"B"])
def test_substitute_cookie_replaces_the_fake_by_the_real(order):
    fake, real = b"F" * 16, b"R" * 16
    pkt = setup_packet(COOKIE.encode(), fake, order)
    more = b"next request"
    out = substitute_cookie(pkt + more, COOKIE, fake, real)
    assert out == setup_packet(COOKIE.encode(), real, order) + more
    s = parse_setup(pkt)
    assert s is not None and s.length == len(pkt) and s.auth_data == fake


def test_substitute_cookie_refuses_another_cookie_or_protocol():
    fake, real = b"F" * 16, b"R" * 16
    with pytest.raises(X11Error, match="does not match"):
        substitute_cookie(setup_packet(COOKIE.encode(), b"G" * 16), COOKIE, fake, real)
    with pytest.raises(X11Error, match="does not match"):
        substitute_cookie(setup_packet(COOKIE.encode(), b""), COOKIE, fake, real)
    with pytest.raises(X11Error, match="different authentication protocol"):
        substitute_cookie(setup_packet(b"XDM-AUTHORIZATION-1", fake), COOKIE, fake, real)
    with pytest.raises(X11Error, match="byte-order"):
        substitute_cookie(b"x" + setup_packet(COOKIE.encode(), fake)[1:], COOKIE, fake, real)


def test_parse_setup_waits_for_the_whole_packet():
    pkt = setup_packet(COOKIE.encode(), b"F" * 16)
    for n in range(len(pkt)):
        assert parse_setup(pkt[:n]) is None
    assert parse_setup(pkt) is not None


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_malformed_setup_packets_are_rejected_cleanly(data):
    """Whatever the bytes, the parser answers None (incomplete), a packet within the
    bytes, or X11Error; substitution either succeeds only for the fake cookie or raises
    X11Error -- never another exception."""
    fake, real = b"F" * 16, b"R" * 16
    try:
        s = parse_setup(data)
    except X11Error:
        s = None
    else:
        if s is not None:
            assert 12 <= s.length <= min(len(data), MAX_SETUP)
    try:
        out = substitute_cookie(data, COOKIE, fake, real)
    except X11Error:
        return
    assert s is not None and s.auth_data == fake and s.auth_protocol == COOKIE.encode()
    assert len(out) == len(data) and real in out and out.replace(real, fake, 1) == data


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40), st.binary(max_size=40), st.sampled_from([b"l", b"B"]),
       st.binary(max_size=20))
def test_setup_packets_round_trip(name, data, order, tail):
    pkt = setup_packet(name, data, order)
    s = parse_setup(pkt + tail)
    assert s is not None and (s.auth_protocol, s.auth_data, s.length) == (name, data, len(pkt))


def test_setup_failure_is_an_x_failed_reply():
    reply = setup_failure("l", "no")
    assert reply[0] == 0 and reply[1] == 2 and struct.unpack("<HHH", reply[2:8]) == (11, 0, 1)
    assert reply[8:] == b"no\0\0"


def test_xauth_list_parsing_and_add_script():
    out = "box/unix:10  MIT-MAGIC-COOKIE-1  00112233445566778899aabbccddeeff\n"
    assert parse_xauth_list(out) == (COOKIE, bytes.fromhex("00112233445566778899aabbccddeeff"))
    assert parse_xauth_list("") is None
    assert parse_xauth_list("garbage line\n") is None
    assert xauth_add_script("unix:10.0", COOKIE, b"\1\2") == \
        "remove unix:10.0\nadd unix:10.0 MIT-MAGIC-COOKIE-1 0102\n"
    with pytest.raises(X11Error):
        xauth_add_script("unix:10.0", "a b", b"\1")


def test_blocking_front_end_refuses_x11_forwarding_clearly():
    """Not silently ignored: the blocking front-end says it does not forward X11."""
    import sshcore.blocking
    from sshcore.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="x11_forwarding"):
        sshcore.blocking.connect("127.0.0.1", 1, x11_forwarding=True, x11_display=":0",
                                 known_hosts=None, agent_path=None, client_keys=[])


def test_connect_checks_the_display_before_connecting(monkeypatch):
    from sshcore.options import ClientOptions

    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(X11Error, match="DISPLAY"):
        ClientOptions.create("127.0.0.1", 1, x11_forwarding=True, known_hosts=None,
                             agent_path=None, client_keys=[])
    with pytest.raises(X11Error, match="invalid"):
        ClientOptions.create("127.0.0.1", 1, x11_forwarding=True, x11_display=":0 -f x",
                             known_hosts=None, agent_path=None, client_keys=[])
    opts = ClientOptions.create("127.0.0.1", 1, x11_forwarding=True, x11_display=":0",
                                x11_trusted=True, known_hosts=None, agent_path=None,
                                client_keys=[])
    assert opts.x11 is not None and opts.x11["trusted"] is True


def test_ssh_config_ForwardX11_reaches_connect(tmp_path, monkeypatch):
    from sshcore.options import client_options

    monkeypatch.setenv("DISPLAY", ":5")
    cfg = tmp_path / "config"
    cfg.write_text("Host xhost\n  ForwardX11 yes\n  ForwardX11Trusted yes\n"
                   "  XAuthLocation /opt/xauth\n  ForwardX11Timeout 5m\n"
                   "Host plain\n  ForwardX11Trusted yes\n")
    opts = client_options("xhost", config=str(cfg), known_hosts=None, agent_path=None,
                          client_keys=[])
    assert opts.x11 == {"display": None, "trusted": True, "xauth_path": "/opt/xauth",
                        "timeout": 300.0}
    assert client_options("plain", config=str(cfg), known_hosts=None, agent_path=None,
                          client_keys=[]).x11 is None
    # an explicit keyword wins over the file
    assert client_options("xhost", config=str(cfg), known_hosts=None, agent_path=None,
                          client_keys=[], x11_forwarding=False).x11 is None
