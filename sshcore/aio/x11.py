"""X11 forwarding on both sides (RFC 4254 section 6.3), as OpenSSH does it.

Client (``connect(x11_forwarding=True)``, ``sshcore run -X`` / ``-Y``):
:func:`prepare_client_x11` asks ``xauth`` for the local display's cookie -- for untrusted
forwarding (``-X``) a fresh *untrusted* cookie made by ``xauth generate`` (the X server's
SECURITY extension), for trusted forwarding (``-Y``) the one ``xauth list`` has -- and
makes a random *fake* cookie of the same length.  Each session sends ``x11-req`` with
the fake one (:func:`send_x11_request`).  Each ``x11`` channel the server opens is read
until the X client's set-up packet is complete; only a packet presenting the fake cookie
is passed on, with the real cookie in its place, to the local display
(:class:`_X11Relay`); any other is refused and the channel closed.

Server (``listen(x11_forwarding=True)``, sshd's X11Forwarding):
:class:`X11ForwardingServerChannel` answers ``x11-req`` by listening on a TCP display
(127.0.0.1:6000+N from ``x11_display_offset``, sshd's X11DisplayOffset and
X11UseLocalhost), storing the client's cookie under that display with ``xauth`` before
the command starts, and setting ``DISPLAY``; each connection to the display opens an
``x11`` channel to the client.  When the session ends the listener closes and the
``xauth`` entry is removed.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any

from ..kernel import chanreq
from ..kernel import events as ev
from ..errors import ChannelOpenError, SSHError
from ..x11 import (MAX_SETUP, MIT_MAGIC_COOKIE, X11_TIMEOUT_SLACK, Display, X11Error,
                   check_x11_request, fake_cookie, parse_display, parse_setup,
                   parse_xauth_list, substitute_cookie, x11_originator, x11_request,
                   xauth_add_script, xauth_generate_args, xauth_list_args, xauth_remove_script)
from .agent_forward import AgentForwardingServerChannel
from .forward import (PROHIBITED, SSHTCPChannel, _Bridge, _SocketProtocol,
                      bridge_on_new_channel)

logger = logging.getLogger("sshcore.aio")

X11_CHANNEL = "x11"
XAUTH_TIMEOUT = 30.0
DISPLAY_CONNECT_TIMEOUT = 30.0
DEFAULT_XAUTH = "/usr/bin/xauth"


def find_xauth(path: str | None) -> str:
    """The ``xauth`` program to run (``path``, else ``xauth`` on PATH, else sshd's and
    ssh's default /usr/bin/xauth); missing, it is a clear :class:`SSHError`."""
    found = path or shutil.which("xauth") or DEFAULT_XAUTH
    if not (os.path.isfile(found) and os.access(found, os.X_OK)):
        raise SSHError(f"X11 forwarding needs xauth, and there is none at {found} "
                       "(install the xauth package, or name it with XAuthLocation)")
    return found


async def _run_xauth(args: list[str], stdin: str | None = None,
                     env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env)
    try:
        out, _ = await asyncio.wait_for(
            proc.communicate(stdin.encode() if stdin is not None else None), XAUTH_TIMEOUT)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise SSHError(f"{args[0]} did not finish in {XAUTH_TIMEOUT:.0f} s") from None
    return proc.returncode or 0, out.decode("ascii", "replace")


# =========================================================================== client side

@dataclass
class ClientX11:
    """One client connection's X11 forwarding: where X connections go, with what."""

    display: Display
    trusted: bool
    protocol: str
    real_cookie: bytes
    fake_cookie: bytes
    #: loop time after which new X11 channels are refused (untrusted: the cookie expires)
    refuse_after: float | None = None
    channels: int = field(default=0)

    def request(self) -> chanreq.X11Request:
        return x11_request(False, self.protocol, self.fake_cookie, self.display.screen)


async def prepare_client_x11(display: str | None = None, *, trusted: bool = False,
                             xauth_path: str | None = None, timeout: float = 1200) -> ClientX11:
    """Get the cookies for ``display`` (default ``$DISPLAY``) as ssh does (see the module
    docstring).  No display, a display ssh would refuse, no ``xauth``, or (untrusted) an
    X server that cannot make an untrusted cookie: :class:`SSHError`."""
    disp = parse_display(display if display is not None else os.environ.get("DISPLAY"))
    xauth = find_xauth(xauth_path)
    name = disp.xauth_name
    got: tuple[str, bytes] | None = None
    if trusted:
        _, out = await _run_xauth(xauth_list_args(xauth, name))
        got = parse_xauth_list(out)
    else:
        directory = tempfile.mkdtemp(prefix="sshcore-xauth-")
        authfile = os.path.join(directory, "xauthfile")
        try:
            life = int(timeout) + X11_TIMEOUT_SLACK if timeout else 0
            args = xauth_generate_args(xauth, authfile, name, life)
            if not life:
                args = args[:-2]  # no timeout: the cookie lives as long as the X server
            status, _ = await _run_xauth(args)
            if status == 0:
                _, out = await _run_xauth(xauth_list_args(xauth, name, authfile))
                got = parse_xauth_list(out)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        if got is None:
            raise SSHError("untrusted X11 forwarding setup failed: xauth key data not "
                           f"generated (the X server at {disp.name} may lack the SECURITY "
                           "extension; trusted forwarding, -Y, does not need it)")
    if got is None:
        # As ssh: without a cookie, forward with made-up data the X server will ignore.
        logger.warning("no xauth data for %s; using fake authentication data for X11 "
                       "forwarding", disp.name)
        got = (MIT_MAGIC_COOKIE, fake_cookie(16))
    protocol, real = got
    loop = asyncio.get_running_loop()
    refuse = loop.time() + timeout if (not trusted and timeout) else None
    return ClientX11(disp, trusted, protocol, real, fake_cookie(len(real)), refuse)


def send_x11_request(chan: Any, conn: Any, x11: ClientX11) -> None:
    """Ask for X11 forwarding on ``chan``, a new session channel of ``conn``, before its
    command.  Sent with want_reply; a refusal is logged, not fatal (ssh: "X11 forwarding
    request failed")."""
    fut: asyncio.Future[bool] = conn._loop.create_future()
    chan._request_waiters.append(fut)
    conn._send_channel_request(chan._id, x11.request(), True, b"")

    def done(f: asyncio.Future[bool]) -> None:
        if not f.cancelled() and f.exception() is None and not f.result():
            logger.warning("X11 forwarding request failed on channel %d", chan._id)
    fut.add_done_callback(done)


def accept_x11_channel(conn: Any, opened: chanreq.X11ChannelOpen | None) -> SSHTCPChannel:
    """The client's answer to an ``x11`` channel open: a relay that checks the fake
    cookie before anything reaches the display."""
    x11: ClientX11 | None = getattr(conn, "x11_forwarding", None)
    if x11 is None:
        raise ChannelOpenError(PROHIBITED, "X11 forwarding was not requested")
    if x11.refuse_after is not None and conn._loop.time() > x11.refuse_after:
        raise ChannelOpenError(PROHIBITED, "X11 connection rejected because of timeout")
    orig = x11_originator(opened)
    x11.channels += 1
    chan = SSHTCPChannel(_X11Relay(conn._loop, x11), channel_type=X11_CHANNEL)
    chan.extra["peername"] = orig
    return chan


class _X11Relay(_Bridge):
    """A bridge whose socket is connected only once the X client's set-up packet, checked
    and rewritten, is in hand."""

    def __init__(self, loop: asyncio.AbstractEventLoop, x11: ClientX11) -> None:
        super().__init__(loop)
        self.x11 = x11
        self._buf = b""          # what came before the display was connected
        self._checked = False    # the set-up packet passed
        self._connected = False  # ... and went to the display: a plain bridge from now on
        self._failed = False
        self._held = 0           # bytes taken while connecting, their window not yet re-opened
        self._task: asyncio.Task[None] | None = None

    def data_received(self, data: bytes, datatype: int | None) -> None:
        if self._connected:
            super().data_received(data, datatype)
            return
        chan = self.chan
        assert chan is not None
        if self._checked:  # connecting: kept in order (the window bounds it), flushed then
            self._buf += bytes(data)
            self._held += len(data)
            return
        chan.consume(len(data))
        if self._failed:
            return
        self._buf += bytes(data)
        try:
            if parse_setup(self._buf) is None:
                if len(self._buf) > MAX_SETUP:
                    raise X11Error("X11 connection: set-up packet too long")
                return
            self._buf = substitute_cookie(self._buf, self.x11.protocol, self.x11.fake_cookie,
                                          self.x11.real_cookie)
        except X11Error as exc:
            logger.warning("X11 connection refused: %s", exc)
            self._failed = True
            self._buf = b""
            chan.close()
            return
        self._checked = True
        self._task = self._loop.create_task(self._connect())

    async def _connect(self) -> None:
        disp = self.x11.display
        factory = lambda: _SocketProtocol(self)  # noqa: E731
        try:
            if disp.unix:
                await asyncio.wait_for(self._loop.create_unix_connection(
                    factory, disp.socket_path), DISPLAY_CONNECT_TIMEOUT)
            else:
                await asyncio.wait_for(self._loop.create_connection(
                    factory, disp.host, disp.port), DISPLAY_CONNECT_TIMEOUT)
        except (OSError, asyncio.TimeoutError) as exc:
            logger.warning("X11 connection to the display %s failed: %s", disp.name,
                           getattr(exc, "strerror", None) or exc)
            if self.chan is not None:
                self.chan.close()
            return
        t = self.transport
        if t is None or t.is_closing():
            return
        buf, self._buf = self._buf, b""
        t.write(buf)
        self._connected = True
        held, self._held = self._held, 0
        if held and self.chan is not None:
            self.chan.consume(held)
        if self._eof_from_chan and t.can_write_eof():
            t.write_eof()

    def eof_received(self) -> bool:
        if not self._connected:
            self._eof_from_chan = True
            if not self._checked and self.chan is not None:
                self.chan.close()  # it ended before a complete set-up packet
            return True
        return super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        super().connection_lost(exc)


# =========================================================================== server side

@dataclass(frozen=True)
class X11ServerSettings:
    """listen()'s X11 settings: sshd's X11DisplayOffset, X11UseLocalhost, XAuthLocation."""

    display_offset: int = 10
    use_localhost: bool = True
    xauth_path: str | None = None
    max_displays: int = 1000


#: Display numbers whose sessions ended but whose xauth entry is still being removed.
_RELEASING: set[int] = set()
_RELEASING_LOCK = threading.Lock()


class _DisplayListener:
    """One session's X display: listening TCP sockets, an ``x11`` channel per connection."""

    def __init__(self, conn: Any, settings: X11ServerSettings, screen: int,
                 single_connection: bool) -> None:
        self.conn = conn
        self.sockets: list[socket.socket] = []
        self.servers: list[asyncio.AbstractServer] = []
        self.tasks: list[asyncio.Task[Any]] = []
        self.single = single_connection
        self.accepted = 0
        self.closed = False
        self.number = self._bind(settings)
        if settings.use_localhost:
            self.display = f"localhost:{self.number}.{screen}"
            self.xauth_display = f"unix:{self.number}.{screen}"
        else:
            host = socket.gethostname()
            self.display = self.xauth_display = f"{host}:{self.number}.{screen}"
        factory = bridge_on_new_channel(conn, X11_CHANNEL, self._channel_data)
        for sock in self.sockets:
            task = conn._loop.create_task(conn._loop.create_server(factory, sock=sock))
            task.add_done_callback(self._started)
            self.tasks.append(task)

    def _bind(self, settings: X11ServerSettings) -> int:
        hosts = (["127.0.0.1", "::1"] if settings.use_localhost else ["0.0.0.0", "::"])
        for number in range(settings.display_offset,
                            settings.display_offset + settings.max_displays):
            with _RELEASING_LOCK:
                if number in _RELEASING:
                    continue  # its cookie is still being removed: not reused before
            port = 6000 + number
            if port > 65535:
                break
            bound: list[socket.socket] = []
            clash = False
            for i, host in enumerate(hosts):
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                try:
                    sock = socket.socket(family, socket.SOCK_STREAM)
                except OSError:
                    continue  # no IPv6 here
                try:
                    if family == socket.AF_INET6:
                        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    sock.bind((host, port))
                    sock.listen(16)
                    sock.setblocking(False)
                    bound.append(sock)
                except OSError as exc:
                    sock.close()
                    # The IPv4 address must be had; an IPv6 one is best effort unless in use.
                    if i == 0 or exc.errno == errno.EADDRINUSE:
                        clash = True
                        break
            if clash or not bound:
                for sock in bound:
                    sock.close()
                continue
            self.sockets = bound
            return number
        raise OSError("no free X11 display number")

    def _started(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        if task.exception() is not None:
            logger.warning("X11 display listener failed: %s", task.exception())
            return
        server = task.result()
        if self.closed:
            server.close()
        else:
            self.servers.append(server)

    def _channel_data(self, transport: asyncio.Transport) -> chanreq.X11ChannelOpen | None:
        if self.closed or (self.single and self.accepted >= 1):
            return None
        self.accepted += 1
        if self.single:
            self.conn._loop.call_soon(self.close_listening)
        peer = transport.get_extra_info("peername") or ("", 0)
        return chanreq.X11ChannelOpen(str(peer[0]), int(peer[1]))

    def close_listening(self) -> None:
        for task in self.tasks:
            if not task.done():
                task.cancel()
        for server in self.servers:
            server.close()
        for sock in self.sockets:
            sock.close()
        self.servers = []

    def close(self) -> None:
        self.closed = True
        self.close_listening()


class X11ForwardingServerChannel(AgentForwardingServerChannel):
    """A server session channel that also answers ``x11-req`` (and, from its base,
    ``auth-agent-req@openssh.com``)."""

    def __init__(self, session: Any = None, **kwargs: Any) -> None:
        super().__init__(session, **kwargs)
        self.x11_display: _DisplayListener | None = None
        self._xauth: asyncio.Task[None] | None = None
        self._xauth_path: str | None = None
        self._xauth_env: dict[str, str] | None = None

    def _on_request(self, event: ev.ChannelRequestReceived) -> bool:
        if isinstance(event.decoded, chanreq.X11Request):
            return self._x11_requested(event.decoded)
        ok = super()._on_request(event)
        if (ok and isinstance(event.decoded, (chanreq.ShellRequest, chanreq.ExecRequest,
                                              chanreq.SubsystemRequest))
                and self.x11_display is not None):
            self.env["DISPLAY"] = self.x11_display.display  # last: env requests cannot move it
        return ok

    def _x11_requested(self, request: chanreq.X11Request) -> bool:
        conn: Any = self._conn
        if self._started or self.x11_display is not None or conn is None:
            return False
        if not self._server_permits("X11 forwarding", "x11_forwarding", "x11_forwarding_requested"):
            return False
        try:
            req = check_x11_request(request)
        except SSHError as exc:
            logger.info("x11-req refused: %s", exc)
            return False
        settings: X11ServerSettings = getattr(conn, "x11_settings", None) or X11ServerSettings()
        try:
            xauth = find_xauth(settings.xauth_path)
        except SSHError as exc:
            logger.warning("%s; X11 forwarding refused", exc)
            return False
        try:
            display = _DisplayListener(conn, settings, req.screen, req.single_connection)
        except OSError as exc:
            logger.warning("cannot listen for X11 connections: %s", exc)
            return False
        self.x11_display = display
        self._xauth_path = xauth
        # The server's own environment: nothing the client sent (env requests) steers xauth.
        self._xauth_env = dict(os.environ)
        self._xauth = conn._loop.create_task(self._store_cookie(
            xauth_add_script(display.xauth_display, req.auth_protocol, req.auth_cookie)))
        return True

    async def _store_cookie(self, script: str) -> None:
        assert self._xauth_path is not None
        try:
            status, _ = await _run_xauth([self._xauth_path, "-q", "-"], script, self._xauth_env)
            if status != 0:
                logger.warning("xauth failed (status %d) storing the X11 cookie", status)
        except (OSError, SSHError) as exc:
            logger.warning("xauth failed storing the X11 cookie: %s", exc)

    def _begin(self) -> None:
        task = self._xauth
        if task is None or task.done():
            super()._begin()
            return
        conn: Any = self._conn

        async def after_xauth() -> None:  # as sshd: the cookie is in place before the command
            await asyncio.shield(task)
            super(X11ForwardingServerChannel, self)._begin()
        conn._spawn_quiet(after_xauth())

    def _connection_lost(self, exc: Exception | None) -> None:
        display, self.x11_display = self.x11_display, None
        if display is not None:
            display.close()
            if self._xauth_path is not None:
                with _RELEASING_LOCK:
                    _RELEASING.add(display.number)
                remove = functools.partial(_remove_cookie, [self._xauth_path, "-q", "-"],
                                           xauth_remove_script(display.xauth_display),
                                           self._xauth_env, display.number)
                task = self._xauth
                if task is not None and not task.done():
                    task.add_done_callback(lambda t: remove())  # after it was stored
                else:
                    remove()
        super()._connection_lost(exc)


def _remove_cookie(args: list[str], script: str, env: dict[str, str] | None,
                   number: int) -> None:
    """Run ``xauth`` to remove a session's cookie, in a thread of its own: it must finish
    even when the event loop stops right after the session (a server shutting down).
    Until it has, the display number is not given to another session (whose fresh
    cookie this removal would otherwise delete)."""
    def run() -> None:
        try:
            subprocess.run(args, input=script.encode(), env=env, timeout=XAUTH_TIMEOUT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            logger.warning("xauth failed removing an X11 cookie: %s", exc)
        finally:
            with _RELEASING_LOCK:
                _RELEASING.discard(number)
    threading.Thread(target=run, name="sshcore-xauth-remove").start()
