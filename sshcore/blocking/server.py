"""A simple blocking SSH server: :func:`serve`, a handler per session, a thread each.

Enough for a test double in a few lines::

    def handler(session):
        data = session.stdin.read()
        session.stdout.write(session.command.encode() + b":" + data)
        return 0                         # the exit status

    with blocking.serve(server_host_keys=["host_key"], authorized_client_keys="keys",
                        handler=handler) as server:
        ... ssh -p server.port ...

Authentication uses the asyncio server's option-based decisions (``authorized_client_keys``
as an authorized_keys path or :class:`~sshcore.files.keys.AuthorizedKeys`, ``passwords`` as
a mapping or a :class:`~sshcore.files.passwords.PasswordFile`).  Sessions take ``env``,
``pty-req``, ``exec`` and ``shell`` requests; other channel types and subsystems are
refused.  Each connection has its own I/O thread (:mod:`sshcore.blocking`), each
session's handler its own thread.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..kernel import events as ev
from ..kernel.chanreq import (EnvRequest, ExecRequest, ExitStatusRequest, PtyRequest, ShellRequest)
from ..kernel.chanreq import WindowChangeRequest
from ..kernel.config import ConnectionConfig
from ..kernel.connection import Connection
from ..errors import ChannelOpenFailureReason, SSHError
from ..files.keys import KeyOptions
from ..options import ServerOptions
from ._channel import ChannelBase, ChannelFile
from ._driver import ChannelState, Driver

logger = logging.getLogger("sshcore.blocking")

__all__ = ["serve", "BlockingServer", "ServerSession"]


class ServerSession(ChannelBase):
    """One session as the handler sees it: ``command`` (None for a shell), ``env``,
    ``term_type``/``term_size`` (with a pty), ``username``; ``stdin`` to read what the
    client sends, ``stdout``/``stderr`` to write to it (bytes)."""

    def __init__(self, conn: Any, state: ChannelState, username: str | None) -> None:
        super().__init__(conn, state)
        self.username = username
        self.command: str | None = None
        self.env: dict[str, str] = {}
        self.term_type: str | None = None
        self.term_size: tuple[int, int] = (80, 24)
        self.stdin = ChannelFile(self, "rb")
        self.stdout = ChannelFile(self, "wb")
        self.stderr = ChannelFile(self, "wb", stderr=True)
        self._exited = False

    def exit(self, status: int) -> None:
        """Send the exit status, EOF and close (done for you when the handler returns)."""
        if self._exited:
            return
        self._exited = True
        st, drv = self._state, self._drv
        with drv.lock:
            if st.closed or drv.finished:
                return
            drv.call(drv.kernel.send_channel_request, st.id, ExitStatusRequest(status), False)
        self._send_eof()
        self.close()


class _Conn:
    """What ChannelBase needs of a connection: the driver and a default timeout."""

    timeout: float | None = None

    def __init__(self) -> None:
        self._drv: Driver | None = None


class _ServerPolicy:
    """Server decisions for one connection's driver."""

    def __init__(self, server: BlockingServer, conn: _Conn, peer: Any) -> None:
        self.server = server
        self.conn = conn
        self.peer = peer
        self.username: str | None = None
        self.decider = server._decider(peer)

    def on_closed(self) -> None:
        self.server._forget(self.conn)

    def handle_event(self, drv: Driver, event: ev.Event) -> None:
        k = drv.kernel
        if isinstance(event, ev.AuthRequested):
            k.answer_auth(self._decide(event))
        elif isinstance(event, ev.AuthCompleted):
            self.username = event.username
            drv.ready = True
        elif isinstance(event, ev.ChannelOpenRequested):
            if event.channel_type != "session":
                k.reject_channel(event.channel, ChannelOpenFailureReason.ADMINISTRATIVELY_PROHIBITED,
                                 f"{event.channel_type} channels are not served here")
                return
            state = ChannelState(event.channel)
            state.opened = True
            drv.channels[event.channel] = state
            state.session = ServerSession(self.conn, state, self.username)  # type: ignore[attr-defined]
            k.accept_channel(event.channel)

    def _decide(self, event: ev.AuthRequested) -> Any:
        d = self.decider
        kind, info, user = event.kind, event.info, event.username
        if kind == "none":
            return False
        if kind == "password":
            return bool(d.password_auth_supported() and info.get("new_password") is None
                        and _blocking_password(d, user, info["password"]))
        if kind == "publickey":
            if not d.public_key_auth_supported():
                return False
            answer = d.validate_public_key(user, info["key"])
            return answer is True or isinstance(answer, KeyOptions)
        if kind == "kbdint_challenge":
            if not d.kbdint_auth_supported():
                return False
            name, instruction, lang, prompts = d.get_kbdint_challenge(user, "", "")
            return {"name": name, "instruction": instruction, "lang": lang,
                    "prompts": [tuple(p) for p in prompts]}
        if kind == "kbdint_response":
            responses = info["responses"]
            return len(responses) == 1 and _blocking_password(d, user, responses[0])
        return False

    def channel_request(self, drv: Driver, chan: ChannelState, event: ev.ChannelRequestReceived) -> None:
        session: ServerSession | None = getattr(chan, "session", None)
        ok = False
        req = event.decoded  # the kernel decoded it (malformed data ended the connection)
        if session is not None:
            if isinstance(req, EnvRequest):
                session.env[req.variable] = req.value
                ok = True
            elif isinstance(req, PtyRequest):
                session.term_type = req.term
                session.term_size = (req.width, req.height)
                ok = True
            elif isinstance(req, (ExecRequest, ShellRequest)) and not getattr(chan, "started", False):
                session.command = req.command if isinstance(req, ExecRequest) else None
                chan.started = True  # type: ignore[attr-defined]
                ok = True
                threading.Thread(target=self.server._run_handler, args=(session,),
                                 daemon=True, name="sshcore session").start()
            elif isinstance(req, WindowChangeRequest):
                session.term_size = (req.width, req.height)
        chan.requests.clear()
        if event.want_reply:
            drv.kernel.reply_channel_request(event.channel, ok)


def _blocking_password(decider: Any, user: str, password: str) -> bool:
    checker = decider._passwords
    if hasattr(checker, "verify"):  # a PasswordFile: slow hashing, fine in this thread
        if hasattr(checker, "refresh"):
            checker.refresh()
        return bool(checker.verify(user, password))
    return decider.validate_password(user, password) is True


class BlockingServer:
    """A listening blocking server (from :func:`serve`): ``port``, ``close()``, a
    context manager.  Connections are accepted in a thread."""

    def __init__(self, lsock: socket.socket, make_config: Callable[[], ConnectionConfig],
                 handler: Callable[[ServerSession], Any], decider: Callable[[Any], Any]) -> None:
        self._lsock = lsock
        self.port: int = lsock.getsockname()[1]
        self._make_config = make_config
        self._handler = handler
        self._decider = decider
        self._conns: set[_Conn] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True, name="sshcore serve")
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                sock, peer = self._lsock.accept()
            except OSError:
                return
            conn = _Conn()
            policy = _ServerPolicy(self, conn, peer)
            try:
                kernel = Connection(self._make_config(), time.monotonic())
            except SSHError as exc:
                logger.warning("cannot serve %s: %s", peer, exc)
                sock.close()
                continue
            conn._drv = Driver(sock, kernel, policy, name=f"sshcore serve {peer[0]}:{peer[1]}")
            with self._lock:
                self._conns.add(conn)
            conn._drv.start()

    def _forget(self, conn: _Conn) -> None:
        with self._lock:
            self._conns.discard(conn)

    def _run_handler(self, session: ServerSession) -> None:
        status = 0
        try:
            result = self._handler(session)
            status = result if isinstance(result, int) else 0
        except Exception as exc:  # noqa: BLE001 - the handler's bug ends only its session
            logger.warning("session handler failed: %r", exc)
            status = 255
        try:
            session.exit(status)
        except (SSHError, OSError):
            pass

    def close(self) -> None:
        """Stop listening and disconnect every client."""
        self._closed = True
        try:
            self._lsock.close()
        except OSError:
            pass
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            if conn._drv is not None:
                conn._drv.close(5.0)

    def __enter__(self) -> BlockingServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def serve(host: str = "127.0.0.1", port: int = 0, *, handler: Callable[[ServerSession], Any],
          authorized_client_keys: Any = None, passwords: Mapping[str, str] | None = None,
          backlog: int = 100, **options: Any) -> BlockingServer:
    """Listen on ``host:port`` (0: a free port, see ``.port``) and serve each session's
    ``exec``/``shell`` request by calling ``handler(session)`` in its own thread (a
    :class:`ServerSession`; its return value, an int, is the exit status).

    ``options``: the connection keywords of :func:`sshcore.listen` (``server_host_keys``,
    algorithm lists, ``login_timeout``, limits...: one
    :class:`~sshcore.options.ServerOptions` is built from them, as ``listen()`` does)."""
    from ..aio.server import _OptionsServer  # option-based auth decisions only (no loop)

    srv = ServerOptions.create(**options)
    reg = srv.registry

    def decider(peer: Any) -> Any:
        d = _OptionsServer(authorized_client_keys, passwords, reg)
        d.connection_made(type("_Peer", (), {"peer_addr": peer})())
        return d

    probe = decider(None)
    supported = {"password": probe.password_auth_supported,
                 "publickey": probe.public_key_auth_supported,
                 "keyboard-interactive": probe.kbdint_auth_supported}

    def make_config() -> ConnectionConfig:
        cfg = srv.connection_config()
        cfg.auth_methods_offered = [m for m in cfg.auth_method_names()
                                    if m in supported and supported[m]()]
        return cfg

    make_config()  # validate once, before accepting anyone
    lsock = socket.create_server((host, port), backlog=backlog)
    return BlockingServer(lsock, make_config, handler, decider)
