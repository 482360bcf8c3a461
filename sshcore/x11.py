"""X11 forwarding, the I/O-free parts (RFC 4254 section 6.3, OpenSSH's behaviour).

This module owns what both sides need without touching a socket or a process:

* checking a peer's ``x11-req`` (:func:`check_x11_request`) and ``x11`` channel-open
  (:func:`x11_originator`), whose codecs are :class:`sshcore.kernel.chanreq.X11Request` and
  :class:`~sshcore.kernel.chanreq.X11ChannelOpen`;
* checking a ``DISPLAY`` string (:func:`parse_display`, OpenSSH's character set) and an
  authentication protocol name from the peer (:func:`check_auth_protocol`);
* the X11 connection set-up packet a client sends first (:func:`parse_setup`) and its
  rewrite from the fake cookie the server was given to the real one
  (:func:`substitute_cookie`), as ssh does for every forwarded X connection;
* the ``xauth`` command lines (:func:`xauth_generate_args`, :func:`xauth_list_args`,
  :func:`xauth_add_script`, :func:`xauth_remove_script`) and reading ``xauth list`` output
  (:func:`parse_xauth_list`).

The asyncio side (running ``xauth``, the display listener, the channels) is
:mod:`sshcore.aio.x11`.
"""

from __future__ import annotations

import hmac
import re
import secrets
import struct
from dataclasses import dataclass

from .kernel import chanreq
from .errors import SSHError

__all__ = ["X11Error", "X11Request", "X11Setup", "Display", "MIT_MAGIC_COOKIE",
           "x11_request", "check_x11_request", "x11_originator",
           "parse_display", "check_auth_protocol", "fake_cookie", "parse_setup",
           "substitute_cookie", "setup_failure", "parse_xauth_list", "xauth_generate_args",
           "xauth_list_args", "xauth_add_script", "xauth_remove_script", "X11_TIMEOUT_SLACK"]

MIT_MAGIC_COOKIE = "MIT-MAGIC-COOKIE-1"
#: Seconds an untrusted cookie outlives the client's willingness to forward (as ssh).
X11_TIMEOUT_SLACK = 60
#: X displays are TCP ports 6000 + N.
X11_BASE_PORT = 6000
#: The most a set-up packet can be: 12 bytes of header, two 16-bit-sized padded fields.
MAX_SETUP = 12 + 2 * 65536

_DISPLAY_CHARS = re.compile(r"^[A-Za-z0-9:/._-]+$")   # ssh's client_x11_display_valid
_DISPLAY = re.compile(r"^(?P<host>[A-Za-z0-9._-]*|(?:unix)?)(?:/unix)?:(?P<num>[0-9]{1,5})"
                      r"(?:\.(?P<screen>[0-9]{1,5}))?$")
_PROTOCOL = re.compile(r"^[\x21-\x7e]{1,64}$")          # printable, no space, short
_HEX = re.compile(r"^(?:[0-9a-fA-F]{2}){1,256}$")


class X11Error(SSHError):
    """Bad X11 forwarding input: a display, an auth protocol, a cookie, a set-up packet."""


# --------------------------------------------------------------------------- payloads

@dataclass(frozen=True)
class X11Request:
    """An ``x11-req`` as checked (RFC 4254 6.3.1), the cookie decoded from its hex (the
    wire form is :class:`sshcore.kernel.chanreq.X11Request`)."""

    single_connection: bool
    auth_protocol: str
    auth_cookie: bytes   # decoded from the hex the request carries
    screen: int


def x11_request(single_connection: bool, auth_protocol: str, auth_cookie: bytes,
                screen: int) -> chanreq.X11Request:
    """The typed ``x11-req`` the kernel sends (cookie as lower-case hex)."""
    return chanreq.X11Request(single_connection, auth_protocol, auth_cookie.hex(), screen)


def check_x11_request(req: chanreq.X11Request) -> X11Request:
    """A peer's ``x11-req``, refused (:class:`X11Error`) for an odd protocol name, a
    cookie that is not hex, or a screen out of range; the cookie decoded."""
    check_auth_protocol(req.auth_protocol)
    if not _HEX.fullmatch(req.auth_cookie):
        raise X11Error("x11-req: the authentication cookie is not hex (1 to 256 bytes)")
    if req.screen > 65535:
        raise X11Error("x11-req: screen number out of range")
    return X11Request(req.single_connection, req.auth_protocol, bytes.fromhex(req.auth_cookie),
                      req.screen)


def x11_originator(opened: chanreq.X11ChannelOpen | None) -> tuple[str, int]:
    """Where an ``x11`` channel says its X client connected from.  The address is the
    peer's text: it is reduced to printable ASCII here."""
    if opened is None:
        return "", 0
    host = "".join(c if 0x20 < ord(c) < 0x7f else "?" for c in opened.originator)[:256]
    return host, opened.originator_port


def check_auth_protocol(name: str) -> str:
    """An authentication protocol name from a peer: printable ASCII without spaces,
    1 to 64 characters (it ends up on an ``xauth`` command line)."""
    if not _PROTOCOL.fullmatch(name):
        raise X11Error(f"unacceptable X11 authentication protocol name {name[:64]!r}")
    return name


# --------------------------------------------------------------------------- displays

@dataclass(frozen=True)
class Display:
    """A parsed ``DISPLAY``: ``host`` "" (or "unix") for the local Unix socket."""

    name: str
    host: str
    number: int
    screen: int

    @property
    def unix(self) -> bool:
        return self.host in ("", "unix")

    @property
    def socket_path(self) -> str:
        return f"/tmp/.X11-unix/X{self.number}"

    @property
    def port(self) -> int:
        return X11_BASE_PORT + self.number

    @property
    def xauth_name(self) -> str:
        """The name to look the cookie up under: ``localhost:N`` is the local
        (``unix:N``) entry, as ssh reads it."""
        if self.host == "localhost":
            return "unix:" + self.name.rsplit(":", 1)[1]
        return self.name


def parse_display(name: str | None) -> Display:
    """Check and parse a ``DISPLAY`` (``:0``, ``unix:0.1``, ``localhost:10.0``,
    ``host/unix:3``); anything else, or a character ssh would refuse, raises X11Error."""
    if not name:
        raise X11Error("X11 forwarding needs a DISPLAY (it is not set)")
    if len(name) > 256 or not _DISPLAY_CHARS.fullmatch(name):
        raise X11Error(f"DISPLAY {name[:64]!r} is invalid")
    m = _DISPLAY.fullmatch(name)
    if m is None:
        raise X11Error(f"DISPLAY {name!r} is not of the form [host]:number[.screen]")
    number = int(m.group("num"))
    if number > 65535 - X11_BASE_PORT:
        raise X11Error(f"DISPLAY {name!r}: display number out of range")
    host = m.group("host")
    if "/unix:" in name:
        host = "unix"
    return Display(name, host, number, int(m.group("screen") or 0))


def fake_cookie(length: int) -> bytes:
    """Random data of the real cookie's length, given to the server in its place."""
    return secrets.token_bytes(length)


# --------------------------------------------------------------------------- set-up packet

@dataclass(frozen=True)
class X11Setup:
    """The first packet of an X11 connection (X protocol, "Connection Setup")."""

    byte_order: str        # "l" (little-endian) or "B"
    major: int
    minor: int
    auth_protocol: bytes
    auth_data: bytes
    length: int            # bytes the packet takes


def parse_setup(buf: bytes) -> X11Setup | None:
    """Parse the set-up packet at the start of ``buf``: None while it is incomplete,
    :class:`X11Error` if it cannot be one."""
    if not buf:
        return None
    if buf[0:1] not in (b"l", b"B"):
        raise X11Error("X11 connection: bad byte-order byte in the set-up packet")
    if len(buf) < 12:
        return None
    fmt = "<HHHH" if buf[0:1] == b"l" else ">HHHH"
    major, minor, nlen, dlen = struct.unpack(fmt, buf[2:10])
    length = 12 + _pad4(nlen) + _pad4(dlen)
    if len(buf) < length:
        return None
    name = bytes(buf[12:12 + nlen])
    start = 12 + _pad4(nlen)
    data = bytes(buf[start:start + dlen])
    return X11Setup(buf[0:1].decode(), major, minor, name, data, length)


def substitute_cookie(buf: bytes, auth_protocol: str, fake: bytes, real: bytes) -> bytes:
    """Check that the set-up packet at the start of ``buf`` presents ``auth_protocol`` with
    the ``fake`` cookie and return ``buf`` with ``real`` in its place (the same length).
    Anything else raises :class:`X11Error` (the connection is then closed, as ssh does).
    ``buf`` must hold the whole packet (:func:`parse_setup` says when)."""
    setup = parse_setup(buf)
    if setup is None:
        raise X11Error("X11 connection: incomplete set-up packet")
    if setup.auth_protocol != auth_protocol.encode("ascii"):
        raise X11Error("X11 connection uses a different authentication protocol")
    if len(setup.auth_data) != len(fake) or not hmac.compare_digest(setup.auth_data, fake):
        raise X11Error("X11 connection: authentication data does not match the fake data")
    if len(real) != len(fake):
        raise X11Error("X11 forwarding: the real and fake cookies differ in length")
    start = 12 + _pad4(len(setup.auth_protocol))
    return bytes(buf[:start]) + real + bytes(buf[start + len(real):])


def setup_failure(byte_order: str, reason: str) -> bytes:
    """An X server's "Failed" reply to a set-up packet (what a refused client reads)."""
    text = reason.encode("ascii", "replace")[:255]
    padded = text + b"\0" * (_pad4(len(text)) - len(text))
    fmt = "<BBHHH" if byte_order == "l" else ">BBHHH"
    return struct.pack(fmt, 0, len(text), 11, 0, len(padded) // 4) + padded


def _pad4(n: int) -> int:
    return (n + 3) & ~3


# --------------------------------------------------------------------------- xauth

def parse_xauth_list(output: str) -> tuple[str, bytes] | None:
    """The first ``display protocol hexcookie`` line of ``xauth list``: (protocol,
    cookie), or None."""
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 3 and _PROTOCOL.fullmatch(parts[1]) and _HEX.fullmatch(parts[2]):
            return parts[1], bytes.fromhex(parts[2])
    return None


def xauth_generate_args(xauth: str, authfile: str, display: str, timeout: int) -> list[str]:
    """``xauth -f FILE generate DISPLAY MIT-MAGIC-COOKIE-1 untrusted timeout N`` (ssh -X)."""
    return [xauth, "-f", authfile, "generate", display, MIT_MAGIC_COOKIE, "untrusted",
            "timeout", str(timeout)]


def xauth_list_args(xauth: str, display: str, authfile: str | None = None) -> list[str]:
    return [xauth, *(["-f", authfile] if authfile else []), "list", display]


def xauth_add_script(display: str, protocol: str, cookie: bytes) -> str:
    """What sshd feeds ``xauth -q -``: replace the display's entry by the client's."""
    check_auth_protocol(protocol)
    return f"remove {display}\nadd {display} {protocol} {cookie.hex()}\n"


def xauth_remove_script(display: str) -> str:
    return f"remove {display}\n"
