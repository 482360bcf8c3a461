"""Typed payloads of the SSH connection protocol (RFC 4254 and OpenSSH's PROTOCOL).

Owns the encoding and decoding of what follows the fixed header of three messages:

* SSH_MSG_CHANNEL_REQUEST -- :class:`ChannelRequest` subclasses (``pty-req``, ``env``,
  ``exec``, ``window-change``, ``exit-status``, ``x11-req``, ...);
* SSH_MSG_GLOBAL_REQUEST and its reply -- :class:`GlobalRequest` subclasses
  (``tcpip-forward``, ``hostkeys-00@openssh.com``, ...) and :class:`GlobalReply`
  subclasses (the allocated port, host key proofs);
* SSH_MSG_CHANNEL_OPEN -- :class:`ChannelOpenData` subclasses (``direct-tcpip``,
  ``forwarded-streamlocal@openssh.com``, ``x11``, ...).

Every class is a frozen dataclass named after what it means, with ``name`` (the wire
name, a class attribute), ``encode()`` (the bytes after the name and want-reply flag,
or after the channel-open header) and ``decode(data)`` (a class method).  The kernel
decodes what the peer sends, so the events carry these objects
(:attr:`~sshcore.kernel.events.ChannelRequestReceived.decoded` and its kin), and its
commands take them (``conn.send_channel_request(channel, PtyRequest(...), True)``).
A name this module does not know decodes to None: its bytes stay in the event's
``data``.  Malformed data raises :class:`~sshcore._wire.DecodeError`, a
:class:`~sshcore.errors.RemoteProtocolError`: the connection ends with a
PROTOCOL_ERROR disconnect, as OpenSSH's ``sshpkt_fatal`` does; nothing else is ever
raised for bytes from the peer.

Sans-I/O, like the rest of the kernel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from .._wire import DecodeError, SSHReader, boolean, byte, string, uint32
from .._record import record

__all__ = [
    # channel requests
    "ChannelRequest", "PtyRequest", "X11Request", "EnvRequest", "ShellRequest",
    "ExecRequest", "SubsystemRequest", "WindowChangeRequest", "XonXoffRequest",
    "SignalRequest", "ExitStatusRequest", "ExitSignalRequest", "BreakRequest",
    "KeepaliveRequest", "AgentForwardingRequest", "EOWRequest",
    "decode_channel_request", "encode_term_modes", "decode_term_modes",
    # global requests and replies
    "GlobalRequest", "TcpipForwardRequest", "CancelTcpipForwardRequest",
    "StreamlocalForwardRequest", "CancelStreamlocalForwardRequest",
    "GlobalKeepaliveRequest", "NoMoreSessionsRequest", "HostKeysRequest",
    "HostKeysProveRequest", "GlobalReply", "ForwardPortReply", "HostKeysProofReply",
    "decode_global_request", "decode_global_reply", "hostkeys_proof_data",
    # channel-open payloads
    "ChannelOpenData", "SessionOpen", "DirectTcpipOpen", "ForwardedTcpipOpen",
    "DirectStreamlocalOpen", "ForwardedStreamlocalOpen", "AgentChannelOpen",
    "X11ChannelOpen", "decode_channel_open",
    "DecodeError",
]

_T = TypeVar("_T")


class _Payload:
    """Common base: the wire ``name`` and the encode/decode pair."""

    __slots__ = ()
    #: The request or channel type as it appears on the wire.
    name: ClassVar[str] = ""

    def encode(self) -> bytes:
        """The payload bytes (what follows the message's fixed fields)."""
        return b""

    @classmethod
    def decode(cls: type[_T], data: bytes) -> _T:
        """Parse ``data``; :class:`~sshcore._wire.DecodeError` if it is malformed."""
        SSHReader(data).finish()
        return cls()


def _os_text(r: SSHReader) -> str:
    """A string the RFC leaves as bytes (a command, an environment variable): UTF-8,
    with any other byte kept as a lone surrogate (Python's ``surrogateescape``, as
    ``os.environ`` and ``sys.argv`` do), so that nothing valid is refused and
    :func:`_os_string` gives the very bytes back."""
    return r.string().decode("utf-8", "surrogateescape")


def _os_string(value: str) -> bytes:
    return string(value.encode("utf-8", "surrogateescape"))


def _strings(r: SSHReader) -> tuple[bytes, ...]:
    out = []
    while r.remaining:
        out.append(r.string())
    return tuple(out)


# ====================================================================== channel requests

class ChannelRequest(_Payload):
    """Base of the typed SSH_MSG_CHANNEL_REQUEST payloads (RFC 4254 section 6)."""

    __slots__ = ()


def encode_term_modes(modes: Mapping[int, int] | Any) -> bytes:
    """RFC 4254 section 8 encoded terminal modes: (opcode, uint32) pairs, then TTY_OP_END.
    Opcodes outside 1..159 are left out.  ``modes``: a mapping or (opcode, value) pairs."""
    items = modes.items() if isinstance(modes, Mapping) else (modes or ())
    out = b"".join(byte(op) + uint32(val & 0xFFFFFFFF) for op, val in items if 0 < op < 160)
    return out + b"\x00"


def decode_term_modes(data: bytes) -> dict[int, int]:
    """The modes of an encoded terminal-modes string.  Parsing stops at TTY_OP_END (0)
    or at an undefined opcode (160-255), as RFC 4254 section 8 says; a truncated
    argument raises :class:`~sshcore._wire.DecodeError`."""
    modes: dict[int, int] = {}
    r = SSHReader(data)
    while r.remaining:
        op = r.byte()
        if op == 0 or op >= 160:
            break
        modes[op] = r.uint32()
    return modes



def _whole(data: bytes, read: Callable[[SSHReader], _T]) -> _T:
    """``read`` over all of ``data``: bytes left over are a DecodeError, as a short read is."""
    r = SSHReader(data)
    value = read(r)
    r.finish()
    return value

@record
class PtyRequest(ChannelRequest):
    """``pty-req`` (RFC 4254 6.2): allocate a pseudo-terminal.  ``modes``: terminal
    modes as (opcode, value) pairs (a mapping given here is converted)."""

    name: ClassVar[str] = "pty-req"
    term: str
    width: int = 80
    height: int = 24
    pixel_width: int = 0
    pixel_height: int = 0
    modes: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.modes, tuple):
            items = self.modes.items() if isinstance(self.modes, Mapping) else self.modes
            object.__setattr__(self, "modes", tuple((int(k), int(v)) for k, v in items))

    @property
    def term_modes(self) -> dict[int, int]:
        """``modes`` as a dict (the last value wins for a repeated opcode)."""
        return dict(self.modes)

    @property
    def size(self) -> tuple[int, int, int, int]:
        """(width, height, pixel_width, pixel_height)."""
        return (self.width, self.height, self.pixel_width, self.pixel_height)

    def encode(self) -> bytes:
        return b"".join((string(self.term), uint32(self.width), uint32(self.height),
                         uint32(self.pixel_width), uint32(self.pixel_height),
                         string(encode_term_modes(self.modes))))

    @classmethod
    def decode(cls, data: bytes) -> PtyRequest:
        r = SSHReader(data)
        term = r.text("ascii")
        w, h, pw, ph = r.uint32(), r.uint32(), r.uint32(), r.uint32()
        modes = decode_term_modes(r.string())
        r.finish()
        return cls(term, w, h, pw, ph, tuple(modes.items()))


@record
class X11Request(ChannelRequest):
    """``x11-req`` (RFC 4254 6.3.1): forward X11 connections to this session's display.
    ``auth_cookie`` is the hexadecimal cookie as sent."""

    name: ClassVar[str] = "x11-req"
    single_connection: bool
    auth_protocol: str
    auth_cookie: str
    screen: int = 0

    def encode(self) -> bytes:
        return b"".join((boolean(self.single_connection), string(self.auth_protocol),
                         string(self.auth_cookie), uint32(self.screen)))

    @classmethod
    def decode(cls, data: bytes) -> X11Request:
        return _whole(data, lambda r: cls(r.boolean(), r.text("ascii"), r.text("ascii"),
                                          r.uint32()))


@record
class EnvRequest(ChannelRequest):
    """``env`` (RFC 4254 6.4): set an environment variable.  Bytes that are not UTF-8
    arrive as surrogates (see ``os.environb``'s ``surrogateescape``)."""

    name: ClassVar[str] = "env"
    variable: str
    value: str

    def encode(self) -> bytes:
        return _os_string(self.variable) + _os_string(self.value)

    @classmethod
    def decode(cls, data: bytes) -> EnvRequest:
        return _whole(data, lambda r: cls(_os_text(r), _os_text(r)))


@record
class ShellRequest(ChannelRequest):
    """``shell`` (RFC 4254 6.5): start the user's shell."""

    name: ClassVar[str] = "shell"


@record
class ExecRequest(ChannelRequest):
    """``exec`` (RFC 4254 6.5): run ``command``.  Bytes that are not UTF-8 arrive as
    surrogates (``surrogateescape``: a subprocess gets the very bytes sent)."""

    name: ClassVar[str] = "exec"
    command: str

    def encode(self) -> bytes:
        return _os_string(self.command)

    @classmethod
    def decode(cls, data: bytes) -> ExecRequest:
        return _whole(data, lambda r: cls(_os_text(r)))


@record
class SubsystemRequest(ChannelRequest):
    """``subsystem`` (RFC 4254 6.5): start a subsystem (``sftp``...)."""

    name: ClassVar[str] = "subsystem"
    subsystem: str

    def encode(self) -> bytes:
        return string(self.subsystem)

    @classmethod
    def decode(cls, data: bytes) -> SubsystemRequest:
        return _whole(data, lambda r: cls(r.text()))


@record
class WindowChangeRequest(ChannelRequest):
    """``window-change`` (RFC 4254 6.7): the terminal's new size."""

    name: ClassVar[str] = "window-change"
    width: int
    height: int
    pixel_width: int = 0
    pixel_height: int = 0

    @property
    def size(self) -> tuple[int, int, int, int]:
        """(width, height, pixel_width, pixel_height)."""
        return (self.width, self.height, self.pixel_width, self.pixel_height)

    def encode(self) -> bytes:
        return b"".join((uint32(self.width), uint32(self.height), uint32(self.pixel_width),
                         uint32(self.pixel_height)))

    @classmethod
    def decode(cls, data: bytes) -> WindowChangeRequest:
        return _whole(data, lambda r: cls(r.uint32(), r.uint32(), r.uint32(), r.uint32()))


@record
class XonXoffRequest(ChannelRequest):
    """``xon-xoff`` (RFC 4254 6.8): whether the client may do flow control itself."""

    name: ClassVar[str] = "xon-xoff"
    client_can_do: bool

    def encode(self) -> bytes:
        return boolean(self.client_can_do)

    @classmethod
    def decode(cls, data: bytes) -> XonXoffRequest:
        return _whole(data, lambda r: cls(r.boolean()))


@record
class SignalRequest(ChannelRequest):
    """``signal`` (RFC 4254 6.9): deliver a signal (its name without "SIG")."""

    name: ClassVar[str] = "signal"
    signal: str

    def encode(self) -> bytes:
        return string(self.signal)

    @classmethod
    def decode(cls, data: bytes) -> SignalRequest:
        return _whole(data, lambda r: cls(r.text("ascii")))


@record
class ExitStatusRequest(ChannelRequest):
    """``exit-status`` (RFC 4254 6.10): the command's exit status."""

    name: ClassVar[str] = "exit-status"
    status: int

    def encode(self) -> bytes:
        return uint32(self.status & 0xFFFFFFFF)

    @classmethod
    def decode(cls, data: bytes) -> ExitStatusRequest:
        return _whole(data, lambda r: cls(r.uint32()))


@record
class ExitSignalRequest(ChannelRequest):
    """``exit-signal`` (RFC 4254 6.10): the command was killed by ``signal``."""

    name: ClassVar[str] = "exit-signal"
    signal: str
    core_dumped: bool = False
    message: str = ""
    language: str = ""

    def encode(self) -> bytes:
        return b"".join((string(self.signal), boolean(self.core_dumped), string(self.message),
                         string(self.language)))

    @classmethod
    def decode(cls, data: bytes) -> ExitSignalRequest:
        return _whole(data, lambda r: cls(r.text("ascii"), r.boolean(), r.text(), r.text("ascii")))


@record
class BreakRequest(ChannelRequest):
    """``break`` (RFC 4335): send a BREAK of ``length_ms`` milliseconds."""

    name: ClassVar[str] = "break"
    length_ms: int

    def encode(self) -> bytes:
        return uint32(self.length_ms)

    @classmethod
    def decode(cls, data: bytes) -> BreakRequest:
        return _whole(data, lambda r: cls(r.uint32()))


@record
class KeepaliveRequest(ChannelRequest):
    """``keepalive@openssh.com`` on a channel (OpenSSH's client-alive probe): no data."""

    name: ClassVar[str] = "keepalive@openssh.com"


@record
class AgentForwardingRequest(ChannelRequest):
    """``auth-agent-req@openssh.com`` (OpenSSH PROTOCOL.agent): forward the agent."""

    name: ClassVar[str] = "auth-agent-req@openssh.com"


@record
class EOWRequest(ChannelRequest):
    """``eow@openssh.com`` (OpenSSH PROTOCOL 2.1): the sender reads no more data.  The
    kernel acts on it itself (see :class:`~sshcore.kernel.events.ChannelEOWReceived`)."""

    name: ClassVar[str] = "eow@openssh.com"


_CHANNEL_REQUESTS: dict[str, type[ChannelRequest]] = {
    cls.name: cls for cls in (
        PtyRequest, X11Request, EnvRequest, ShellRequest, ExecRequest, SubsystemRequest,
        WindowChangeRequest, XonXoffRequest, SignalRequest, ExitStatusRequest,
        ExitSignalRequest, BreakRequest, KeepaliveRequest, AgentForwardingRequest,
        EOWRequest)
}


def decode_channel_request(name: str, data: bytes) -> ChannelRequest | None:
    """The typed request ``name`` carries, or None for a name this module does not know.
    Malformed data raises :class:`~sshcore._wire.DecodeError`."""
    cls = _CHANNEL_REQUESTS.get(name)
    return None if cls is None else cls.decode(data)


# ====================================================================== global requests

class GlobalRequest(_Payload):
    """Base of the typed SSH_MSG_GLOBAL_REQUEST payloads (RFC 4254 section 4)."""

    __slots__ = ()


class GlobalReply(_Payload):
    """Base of the typed SSH_MSG_REQUEST_SUCCESS payloads (reply-specific data)."""

    __slots__ = ()


@record
class TcpipForwardRequest(GlobalRequest):
    """``tcpip-forward`` (RFC 4254 7.1): listen on ``address:port`` on the server side
    (port 0: the server picks one and replies with :class:`ForwardPortReply`)."""

    name: ClassVar[str] = "tcpip-forward"
    address: str
    port: int

    def encode(self) -> bytes:
        return string(self.address) + uint32(self.port)

    @classmethod
    def decode(cls, data: bytes) -> Any:
        return _whole(data, lambda r: cls(r.text(), r.uint32()))


@record
class CancelTcpipForwardRequest(TcpipForwardRequest):
    """``cancel-tcpip-forward`` (RFC 4254 7.1): stop a ``tcpip-forward`` listener."""

    name: ClassVar[str] = "cancel-tcpip-forward"


@record
class StreamlocalForwardRequest(GlobalRequest):
    """``streamlocal-forward@openssh.com`` (OpenSSH PROTOCOL 2.4): listen on a Unix
    socket at ``path`` on the server side."""

    name: ClassVar[str] = "streamlocal-forward@openssh.com"
    path: str

    def encode(self) -> bytes:
        return string(self.path)

    @classmethod
    def decode(cls, data: bytes) -> Any:
        r = SSHReader(data)
        path = r.text()
        if r.remaining:
            r.string()  # reserved (some clients send it)
        r.finish()
        return cls(path)


@record
class CancelStreamlocalForwardRequest(StreamlocalForwardRequest):
    """``cancel-streamlocal-forward@openssh.com``: stop a streamlocal listener."""

    name: ClassVar[str] = "cancel-streamlocal-forward@openssh.com"


@record
class GlobalKeepaliveRequest(GlobalRequest):
    """``keepalive@openssh.com`` (any global request works; this is OpenSSH's)."""

    name: ClassVar[str] = "keepalive@openssh.com"


@record
class NoMoreSessionsRequest(GlobalRequest):
    """``no-more-sessions@openssh.com`` (OpenSSH PROTOCOL 2.2)."""

    name: ClassVar[str] = "no-more-sessions@openssh.com"


@record
class HostKeysRequest(GlobalRequest):
    """``hostkeys-00@openssh.com`` (OpenSSH PROTOCOL 2.5): the server's host keys
    (public key blobs), so a client may learn new ones."""

    name: ClassVar[str] = "hostkeys-00@openssh.com"
    blobs: tuple[bytes, ...] = ()

    def encode(self) -> bytes:
        return b"".join(string(b) for b in self.blobs)

    @classmethod
    def decode(cls, data: bytes) -> Any:
        return cls(_strings(SSHReader(data)))


@record
class HostKeysProveRequest(HostKeysRequest):
    """``hostkeys-prove-00@openssh.com``: the client asks the server to prove it holds
    these host keys; the reply is a :class:`HostKeysProofReply`."""

    name: ClassVar[str] = "hostkeys-prove-00@openssh.com"


def hostkeys_proof_data(session_id: bytes, blob: bytes) -> bytes:
    """What the server signs with host key ``blob`` to answer
    ``hostkeys-prove-00@openssh.com``: (request name, session id, key blob) as strings."""
    return string(HostKeysProveRequest.name) + string(session_id) + string(blob)


@record
class ForwardPortReply(GlobalReply):
    """The reply to ``tcpip-forward`` for port 0: the port the server allocated."""

    name: ClassVar[str] = TcpipForwardRequest.name
    port: int

    def encode(self) -> bytes:
        return uint32(self.port)

    @classmethod
    def decode(cls, data: bytes) -> Any:
        return _whole(data, lambda r: cls(r.uint32()))


@record
class HostKeysProofReply(GlobalReply):
    """The reply to ``hostkeys-prove-00@openssh.com``: one signature per key asked
    about, in order (each over :func:`hostkeys_proof_data`)."""

    name: ClassVar[str] = HostKeysProveRequest.name
    signatures: tuple[bytes, ...] = ()

    def encode(self) -> bytes:
        return b"".join(string(s) for s in self.signatures)

    @classmethod
    def decode(cls, data: bytes) -> Any:
        return cls(_strings(SSHReader(data)))


_GLOBAL_REQUESTS: dict[str, type[GlobalRequest]] = {
    cls.name: cls for cls in (
        TcpipForwardRequest, CancelTcpipForwardRequest, StreamlocalForwardRequest,
        CancelStreamlocalForwardRequest, GlobalKeepaliveRequest, NoMoreSessionsRequest,
        HostKeysRequest, HostKeysProveRequest)
}
_GLOBAL_REPLIES: dict[str, type[GlobalReply]] = {
    cls.name: cls for cls in (ForwardPortReply, HostKeysProofReply)
}


def decode_global_request(name: str, data: bytes) -> GlobalRequest | None:
    """The typed global request ``name`` carries, or None for an unknown name.
    Malformed data raises :class:`~sshcore._wire.DecodeError`."""
    cls = _GLOBAL_REQUESTS.get(name)
    return None if cls is None else cls.decode(data)


def decode_global_reply(request: str, data: bytes) -> GlobalReply | None:
    """The typed data of a successful reply to global request ``request``: None when
    the reply has none (``tcpip-forward`` for a fixed port) or the request is unknown.
    Malformed data raises :class:`~sshcore._wire.DecodeError`."""
    cls = _GLOBAL_REPLIES.get(request)
    if cls is None or (not data and cls is ForwardPortReply):
        return None
    return cls.decode(data)


# ====================================================================== channel opens

class ChannelOpenData(_Payload):
    """Base of the typed SSH_MSG_CHANNEL_OPEN payloads (what follows the sender's
    channel, window and maximum packet size); ``name`` is the channel type."""

    __slots__ = ()


@record
class SessionOpen(ChannelOpenData):
    """``session`` (RFC 4254 6.1): no type-specific data."""

    name: ClassVar[str] = "session"


@record
class DirectTcpipOpen(ChannelOpenData):
    """``direct-tcpip`` (RFC 4254 7.2): connect to ``host:port`` from the server side,
    for the originator ``originator:originator_port``."""

    name: ClassVar[str] = "direct-tcpip"
    host: str
    port: int
    originator: str = ""
    originator_port: int = 0

    def encode(self) -> bytes:
        return b"".join((string(self.host), uint32(self.port), string(self.originator),
                         uint32(self.originator_port)))

    @classmethod
    def decode(cls, data: bytes) -> Any:
        return _whole(data, lambda r: cls(r.text(), r.uint32(), r.text(), r.uint32()))


@record
class ForwardedTcpipOpen(DirectTcpipOpen):
    """``forwarded-tcpip`` (RFC 4254 7.2): a connection came to the listener
    ``host:port`` (the address and port that were forwarded) from the originator."""

    name: ClassVar[str] = "forwarded-tcpip"


@record
class DirectStreamlocalOpen(ChannelOpenData):
    """``direct-streamlocal@openssh.com`` (OpenSSH PROTOCOL 2.4): connect to the Unix
    socket ``path`` on the server side.  Encoded with its reserved string and uint32;
    decoded with or without them."""

    name: ClassVar[str] = "direct-streamlocal@openssh.com"
    path: str

    def encode(self) -> bytes:
        return string(self.path) + string("") + uint32(0)

    @classmethod
    def decode(cls, data: bytes) -> Any:
        r = SSHReader(data)
        path = r.text()
        if r.remaining:
            r.string()      # reserved
            if r.remaining:
                r.uint32()  # reserved
        r.finish()
        return cls(path)


@record
class ForwardedStreamlocalOpen(ChannelOpenData):
    """``forwarded-streamlocal@openssh.com``: a connection came to the forwarded Unix
    socket ``path``.  Encoded with its reserved string; decoded with or without it."""

    name: ClassVar[str] = "forwarded-streamlocal@openssh.com"
    path: str

    def encode(self) -> bytes:
        return string(self.path) + string("")

    @classmethod
    def decode(cls, data: bytes) -> Any:
        r = SSHReader(data)
        path = r.text()
        if r.remaining:
            r.string()  # reserved
        r.finish()
        return cls(path)


@record
class AgentChannelOpen(ChannelOpenData):
    """``auth-agent@openssh.com`` (OpenSSH PROTOCOL.agent): no type-specific data."""

    name: ClassVar[str] = "auth-agent@openssh.com"


@record
class X11ChannelOpen(ChannelOpenData):
    """``x11`` (RFC 4254 6.3.2): an X11 client connected from
    ``originator:originator_port``."""

    name: ClassVar[str] = "x11"
    originator: str
    originator_port: int

    def encode(self) -> bytes:
        return (string(self.originator.encode("utf-8", "surrogateescape"))
                + uint32(self.originator_port))

    @classmethod
    def decode(cls, data: bytes) -> Any:
        if not data:  # servers older than RFC 4254 sent no originator
            return cls("", 0)
        r = SSHReader(data)
        # Any bytes (OpenSSH does not check them), kept exactly: the receiver sanitises.
        value = cls(r.string().decode("utf-8", "surrogateescape"), r.uint32())
        r.finish()
        return value


_CHANNEL_OPENS: dict[str, type[ChannelOpenData]] = {
    cls.name: cls for cls in (
        SessionOpen, DirectTcpipOpen, ForwardedTcpipOpen, DirectStreamlocalOpen,
        ForwardedStreamlocalOpen, AgentChannelOpen, X11ChannelOpen)
}


def decode_channel_open(channel_type: str, data: bytes) -> ChannelOpenData | None:
    """The typed payload of a ``channel_type`` open, or None for an unknown type.
    Malformed data raises :class:`~sshcore._wire.DecodeError`."""
    cls = _CHANNEL_OPENS.get(channel_type)
    return None if cls is None else cls.decode(data)

