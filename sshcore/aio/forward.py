"""TCP/IP and Unix-socket forwarding (RFC 4254 section 7, OpenSSH's streamlocal extensions).

The pieces, shared by client and server:

* :class:`SSHTCPChannel` -- a channel of type direct-tcpip, forwarded-tcpip,
  direct-streamlocal@openssh.com or forwarded-streamlocal@openssh.com; its session is
  either the application's (:class:`SSHTCPSession` callbacks, or reader/writer streams)
  or a :class:`_Bridge` to a local socket.
* :class:`_Bridge` joins one channel to one local socket, both ways, with back-pressure
  (a full socket stops re-opening the channel window; a full channel pauses reading the
  socket) and half-close (EOF is passed on, the pair closes when both sides are done).
* :class:`SSHListener` -- what the forwarding calls return: ``get_port()``, ``close()``.
* SOCKS 4/4a/5 parsing for dynamic forwarding (``ssh -D``).

What the channel opens and forwarding requests carry is the kernel's
(:mod:`sshcore.kernel.chanreq`: ``DirectTcpipOpen``, ``ForwardedStreamlocalOpen``...).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..kernel.chanreq import ChannelOpenData, DirectTcpipOpen
from ..errors import ChannelOpenError, ChannelOpenFailureReason, SSHError
from .channel import HIGH_WATER, SSHChannel
from .process import SSHStreamReader, SSHStreamWriter

if TYPE_CHECKING:
    from .connection import SSHConnection

CONNECT_FAILED = ChannelOpenFailureReason.CONNECT_FAILED
PROHIBITED = ChannelOpenFailureReason.ADMINISTRATIVELY_PROHIBITED


class SSHTCPSession:
    """Callback interface for a forwarded connection (override what you need)."""

    def connection_made(self, chan: SSHTCPChannel) -> None:
        pass

    def session_started(self) -> None:
        pass

    def data_received(self, data: bytes | str, datatype: int | None) -> None:
        pass

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        pass


SSHUNIXSession = SSHTCPSession


class SSHTCPChannel(SSHChannel):
    """A forwarding channel; ``get_extra_info("peername")`` is the originator."""

    def __init__(self, session: Any = None, *, channel_type: str = "direct-tcpip",
                 encoding: str | None = None, errors: str = "strict") -> None:
        super().__init__(session, encoding=encoding, errors=errors)
        self.channel_type = channel_type
        self.extra: dict[str, Any] = {}

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name in self.extra:
            return self.extra[name]
        return super().get_extra_info(name, default)

    def _on_opened(self) -> None:
        super()._on_opened()
        if self._session is not None:
            self._session.session_started()


# --------------------------------------------------------------------------- addresses

def listen_hosts(host: str) -> str | list[str] | None:
    """OpenSSH's reading of a bind address: "" / "*" all addresses, "localhost" loopback."""
    if host in ("", "*"):
        return None
    if host == "localhost":
        return ["127.0.0.1", "::1"] if socket.has_ipv6 else "127.0.0.1"
    return host


# --------------------------------------------------------------------------- the bridge

class _Bridge:
    """Channel session joining an SSH channel and a local socket transport."""

    consumes_on_read = True  # the window re-opens as the socket accepts the data
    accepts_memoryview = True  # data only goes into buffers or a socket

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.chan: SSHChannel | None = None
        self.transport: asyncio.Transport | None = None
        self._socket_full = False
        self._unconsumed = 0
        self._eof_from_chan = False
        self._eof_from_socket = False
        self._resume: asyncio.Task[None] | None = None
        #: socket data read before the channel was open, kept in order (see socket_data)
        self._early: list[bytes] = []

    # channel side ------------------------------------------------------------
    def connection_made(self, chan: SSHChannel) -> None:
        self.chan = chan

    def session_started(self) -> None:
        early, self._early = self._early, []
        for data in early:  # what the socket sent before the channel was open, first
            self.socket_data(data)

    def data_received(self, data: bytes, datatype: int | None) -> None:
        chan = self.chan
        assert chan is not None
        t = self.transport
        if t is None or t.is_closing():
            chan.consume(len(data))  # the socket is gone: nothing more can be delivered
            return
        t.write(data)
        if self._socket_full:
            self._unconsumed += len(data)
        else:
            chan.consume(len(data))

    def eof_received(self) -> bool:
        self._eof_from_chan = True
        t = self.transport
        if t is not None and not t.is_closing():
            if self._eof_from_socket or not t.can_write_eof():
                t.close()
            else:
                t.write_eof()
        return True  # the channel closes when the socket does (socket_lost)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._resume is not None:
            self._resume.cancel()
        if self.transport is not None:
            self.transport.close()

    # socket side -------------------------------------------------------------
    def socket_data(self, data: bytes) -> None:
        chan = self.chan
        if chan is None or not chan._made:
            # The socket is paused until the channel is open, but Python before 3.11.3
            # (Debian 12's 3.11.2) ignores a pause_reading() made before the transport
            # has added its reader (in connection_made), so data can come now.  Keep it,
            # in order, for session_started(), and pause for real: resume then pause puts
            # the transport's own flag and its reader in step.
            self._early.append(bytes(data))
            t = self.transport
            if t is not None and not t.is_closing():
                t.resume_reading()
                t.pause_reading()
            return
        if chan._closed:
            return
        chan.write(data)
        if chan.get_write_buffer_size() > HIGH_WATER and self._resume is None:
            assert self.transport is not None
            self.transport.pause_reading()
            self._resume = self._loop.create_task(self._resume_after_drain())

    async def _resume_after_drain(self) -> None:
        assert self.chan is not None
        await self.chan.drain_quietly()
        self._resume = None
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def socket_eof(self) -> bool:
        self._eof_from_socket = True
        chan = self.chan
        if chan is not None and not chan._closed:
            chan.write_eof()
        if self._eof_from_chan:
            return False  # both directions done: let asyncio close the socket
        return True

    def socket_lost(self, exc: Exception | None) -> None:
        chan = self.chan
        if chan is not None and not chan._closed:
            chan.close()

    def pause_writing(self) -> None:
        self._socket_full = True

    def resume_writing(self) -> None:
        self._socket_full = False
        n, self._unconsumed = self._unconsumed, 0
        if n and self.chan is not None:
            self.chan.consume(n)


class _SocketProtocol(asyncio.Protocol):
    """The socket half of a bridge.  ``on_connect(proto)`` runs once the socket exists."""

    def __init__(self, bridge: _Bridge,
                 on_connect: Callable[[_SocketProtocol], None] | None = None) -> None:
        self.bridge = bridge
        self.on_connect = on_connect
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.bridge.transport = transport
        if self.on_connect is not None:
            self.on_connect(self)

    def data_received(self, data: bytes) -> None:
        self.bridge.socket_data(data)

    def eof_received(self) -> bool:
        return self.bridge.socket_eof()

    def connection_lost(self, exc: Exception | None) -> None:
        self.bridge.socket_lost(exc)

    def pause_writing(self) -> None:
        self.bridge.pause_writing()

    def resume_writing(self) -> None:
        self.bridge.resume_writing()


class _StreamSession(SSHTCPSession):
    """Reader/writer pair over a forwarding channel (``open_connection`` and handlers)."""

    consumes_on_read = True
    accepts_memoryview = True  # data only goes into buffers or a socket

    def __init__(self, encoding: str | None = None, errors: str = "strict") -> None:
        self._encoding = encoding
        self._errors = errors

    def connection_made(self, chan: Any) -> None:
        self.chan = chan
        self.reader = SSHStreamReader(chan, self._encoding, self._errors)
        self.writer = _TCPStreamWriter(chan, None, self._encoding, self._errors)

    def data_received(self, data: Any, datatype: int | None) -> None:
        self.reader._feed(data)

    def eof_received(self) -> bool:
        self.reader._feed_eof()
        return True  # the writer may go on; the application closes

    def connection_lost(self, exc: Exception | None) -> None:
        self.reader._feed_eof(exc)


class _TCPStreamWriter(SSHStreamWriter):
    def close(self) -> None:
        self._chan.close()

    async def wait_closed(self) -> None:
        await self._chan.wait_closed()

    def is_closing(self) -> bool:
        return bool(self._chan._closed)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._chan.get_extra_info(name, default)


def run_stream_handler(loop: asyncio.AbstractEventLoop,
                       handler: Callable[[Any, Any], Awaitable[Any]],
                       encoding: str | None = None) -> _StreamSession:
    """A session that runs ``await handler(reader, writer)`` once the channel is open,
    then closes the channel."""

    class Session(_StreamSession):
        def session_started(self) -> None:
            async def run() -> None:
                try:
                    await handler(self.reader, self.writer)
                finally:
                    self.chan.close()
            self._task = loop.create_task(run())

    return Session(encoding)


# --------------------------------------------------------------------------- listeners

class SSHListener:
    """A forwarding listener: ``get_port()``, ``close()``, ``wait_closed()``; an async
    context manager that closes it on exit."""

    def __init__(self, port: int = 0, path: str | None = None) -> None:
        self._port = port
        self.path = path
        self._closed = asyncio.Event()

    def get_port(self) -> int:
        return self._port

    @property
    def port(self) -> int:
        return self._port

    def close(self) -> None:
        self._closed.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def __aenter__(self) -> SSHListener:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self.close()
        await self.wait_closed()


class _LocalListener(SSHListener):
    """Listens on local sockets; each accepted socket is bridged to a new channel."""

    def __init__(self, servers: list[asyncio.AbstractServer], port: int = 0,
                 path: str | None = None) -> None:
        super().__init__(port, path)
        self._servers = servers

    def close(self) -> None:
        for server in self._servers:
            server.close()
        if self.path is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
        super().close()

    async def wait_closed(self) -> None:
        for server in self._servers:
            await server.wait_closed()
        await super().wait_closed()


async def listen_local(loop: asyncio.AbstractEventLoop, conn: SSHConnection,
                       factory: Callable[[], asyncio.Protocol], host: str | None, port: int,
                       path: str | None = None) -> _LocalListener:
    """Start local server socket(s) (TCP on host/port, or a Unix socket at path)."""
    if path is not None:
        server = await loop.create_unix_server(factory, path)
        listener = _LocalListener([server], 0, path)
    else:
        hosts = listen_hosts(host or "")
        if isinstance(hosts, list):
            # localhost: the same port on every loopback address (port 0: the first's choice)
            servers = [await loop.create_server(factory, hosts[0], port)]
            port = port or servers[0].sockets[0].getsockname()[1]
            for extra in hosts[1:]:
                try:
                    servers.append(await loop.create_server(factory, extra, port))
                except OSError:
                    pass  # no IPv6 loopback here
        else:
            servers = [await loop.create_server(factory, hosts, port)]
        port = port or servers[0].sockets[0].getsockname()[1]
        listener = _LocalListener(servers, port)
    conn._listeners.add(listener)
    return listener


def bridge_on_new_channel(conn: SSHConnection, channel_type: str,
                          data_for: Callable[[asyncio.Transport], ChannelOpenData | None],
                          accept: Callable[[str, int], Any] | None = None
                          ) -> Callable[[], asyncio.Protocol]:
    """Protocol factory for a listener: each accepted socket opens ``channel_type``,
    with the payload ``data_for(transport)`` gives (None: the socket is closed)."""
    loop = conn._loop

    def factory() -> asyncio.Protocol:
        bridge = _Bridge(loop)

        def on_connect(proto: _SocketProtocol) -> None:
            transport = proto.transport
            assert transport is not None
            transport.pause_reading()  # nothing to send it to until the channel is open

            async def open_channel() -> None:
                peer = transport.get_extra_info("peername")
                orig = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else ("", 0)
                try:
                    if accept is not None and not await _maybe(accept(*orig)):
                        transport.close()
                        return
                    payload = data_for(transport)
                    if payload is None:
                        transport.close()
                        return
                    chan = SSHTCPChannel(bridge, channel_type=channel_type)
                    chan.extra["peername"] = orig
                    await conn.open_channel(payload, chan)
                except (SSHError, OSError):
                    transport.close()
                    return
                chan._opened()
                if not transport.is_closing():
                    transport.resume_reading()
            conn._spawn_quiet(open_channel())

        return _SocketProtocol(bridge, on_connect)

    return factory


async def _maybe(value: Any) -> Any:
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return await value
    return value


async def tunnel_socket(conn: SSHConnection, host: str, port: int) -> Any:
    """A local socket whose peer is ``host:port`` reached through ``conn`` (a direct-tcpip
    channel bridged to one end of a socket pair): what an SSH connection through a jump
    host runs over.  A refusal raises :class:`ChannelOpenError`."""
    import socket

    loop = conn._loop
    ours, theirs = socket.socketpair()
    bridge = _Bridge(loop)
    try:
        transport, _ = await loop.connect_accepted_socket(lambda: _SocketProtocol(bridge), theirs)
    except BaseException:
        ours.close()
        theirs.close()
        raise
    transport.pause_reading()
    chan = SSHTCPChannel(bridge, channel_type="direct-tcpip")
    try:
        await conn.open_channel(DirectTcpipOpen(host, port, "127.0.0.1", 0), chan)
    except BaseException:
        transport.close()
        ours.close()
        raise
    chan._opened()
    transport.resume_reading()
    return ours


async def connect_bridge(conn: SSHConnection, channel_type: str, host: str | None, port: int,
                         path: str | None = None) -> SSHTCPChannel:
    """Connect a local socket (TCP or Unix) for an incoming channel; returns the channel to
    accept, or raises ChannelOpenError(CONNECT_FAILED)."""
    loop = conn._loop
    bridge = _Bridge(loop)
    try:
        if path is not None:
            await loop.create_unix_connection(lambda: _SocketProtocol(bridge), path)
        else:
            await loop.create_connection(lambda: _SocketProtocol(bridge), host, port)
    except OSError as exc:
        where = path if path is not None else f"{host}:{port}"
        raise ChannelOpenError(CONNECT_FAILED, f"connect to {where} failed: "
                               f"{exc.strerror or exc}") from None
    return SSHTCPChannel(bridge, channel_type=channel_type)


# --------------------------------------------------------------------------- SOCKS

SOCKS4_OK, SOCKS4_FAIL = 0x5A, 0x5B


class _SocksProtocol(_SocketProtocol):
    """Dynamic forwarding: read a SOCKS 4, 4a or 5 CONNECT request, open a direct-tcpip
    channel to the destination it names, answer, then relay."""

    def __init__(self, conn: SSHConnection) -> None:
        super().__init__(_Bridge(conn._loop))
        self.conn = conn
        self._buf = b""
        self._state = "greeting"
        self._version = 0

    def data_received(self, data: bytes) -> None:
        if self._state == "relay":
            self.bridge.socket_data(data)
            return
        if self._state == "connecting":
            self._buf += data
            return
        self._buf += data
        try:
            self._parse()
        except ValueError:
            assert self.transport is not None
            self.transport.close()

    def eof_received(self) -> bool:
        if self._state == "relay":
            return self.bridge.socket_eof()
        return False

    def _parse(self) -> None:
        buf = self._buf
        assert self.transport is not None
        if len(buf) > 1024:
            raise ValueError("SOCKS request too long")
        if self._state == "greeting":
            if not buf:
                return
            if buf[0] == 4:
                self._parse_socks4()
                return
            if buf[0] != 5:
                raise ValueError("not a SOCKS request")
            if len(buf) < 2 or len(buf) < 2 + buf[1]:
                return
            methods = buf[2:2 + buf[1]]
            self._buf = buf[2 + buf[1]:]
            if 0 not in methods:
                self.transport.write(b"\x05\xff")
                raise ValueError("no acceptable SOCKS5 auth method")
            self.transport.write(b"\x05\x00")
            self._state = "request"
            buf = self._buf
        if self._state == "request":
            if len(buf) < 5:
                return
            ver, cmd, _, atyp = buf[:4]
            if ver != 5:
                raise ValueError("bad SOCKS5 version")
            if atyp == 1:
                end = 4 + 4
                host = str(ipaddress.IPv4Address(buf[4:8])) if len(buf) >= end else ""
            elif atyp == 3:
                end = 5 + buf[4]
                host = buf[5:end].decode("ascii", "replace")
            elif atyp == 4:
                end = 4 + 16
                host = str(ipaddress.IPv6Address(buf[4:20])) if len(buf) >= end else ""
            else:
                self._socks5_reply(8)
                raise ValueError("unsupported address type")
            if len(buf) < end + 2:
                return
            (port,) = struct.unpack(">H", buf[end:end + 2])
            self._buf = buf[end + 2:]
            if cmd != 1:
                self._socks5_reply(7)
                raise ValueError("only CONNECT is supported")
            self._version = 5
            self._connect(host, port)

    def _parse_socks4(self) -> None:
        buf = self._buf
        if len(buf) < 9:
            return
        end = buf.find(b"\0", 8)
        if end < 0:
            return
        cmd = buf[1]
        (port,) = struct.unpack(">H", buf[2:4])
        ip = buf[4:8]
        rest = end + 1
        if ip[:3] == b"\0\0\0" and ip[3] != 0:     # SOCKS4a: the host name follows
            hend = buf.find(b"\0", rest)
            if hend < 0:
                return
            host = buf[rest:hend].decode("ascii", "replace")
            rest = hend + 1
        else:
            host = str(ipaddress.IPv4Address(ip))
        self._buf = buf[rest:]
        self._version = 4
        if cmd != 1:
            self._socks4_reply(False)
            raise ValueError("only CONNECT is supported")
        self._connect(host, port)

    def _socks4_reply(self, ok: bool) -> None:
        assert self.transport is not None
        self.transport.write(bytes([0, SOCKS4_OK if ok else SOCKS4_FAIL]) + b"\0" * 6)

    def _socks5_reply(self, code: int) -> None:
        assert self.transport is not None
        self.transport.write(bytes([5, code, 0, 1]) + b"\0" * 6)

    def _connect(self, host: str, port: int) -> None:
        self._state = "connecting"
        transport = self.transport
        assert transport is not None
        transport.pause_reading()
        peer = transport.get_extra_info("peername")
        orig = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else ("", 0)

        async def open_channel() -> None:
            chan = SSHTCPChannel(self.bridge, channel_type="direct-tcpip")
            chan.extra["peername"] = orig
            try:
                await self.conn.open_channel(DirectTcpipOpen(host, port, *orig), chan)
            except (SSHError, OSError):
                if self._version == 4:
                    self._socks4_reply(False)
                else:
                    self._socks5_reply(5)   # connection refused
                transport.close()
                return
            if self._version == 4:
                self._socks4_reply(True)
            else:
                self._socks5_reply(0)
            self._state = "relay"
            chan._opened()  # now the destination's first bytes may follow the reply
            early, self._buf = self._buf, b""
            if early:
                self.bridge.socket_data(early)
            if not transport.is_closing():
                transport.resume_reading()
        self.conn._spawn_quiet(open_channel())


__all__ = ["SSHTCPSession", "SSHUNIXSession", "SSHTCPChannel", "SSHListener"]
