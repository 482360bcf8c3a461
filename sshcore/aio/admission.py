"""The accept path of ``listen()``: per-source penalties and startup limits.

:class:`AcceptGate` accepts on each listening socket itself, at most ``batch`` sockets
per wake-up (so a connection flood cannot keep the event loop from the connections it
already serves), and closes a penalised source's socket right after ``accept()``: no
asyncio transport, task or protocol is made for it, no byte is sent.  The refusals
are logged (``drop connection from ...``) and audited rate-limited, as sshd does: the
first per source and penalty, then one per :attr:`SourceLimiter.drop_log_interval`
with the count of those left out.  A source already at ``PerSourceMaxStartups`` is
sent ``Exceeded MaxStartups`` there and closed, also without a transport.

Every other accepted socket gets an :class:`Admission` protocol, which asks the
listener's :class:`~sshcore.srclimit.SourceLimiter` again before anything is built or
sent: a penalised source's socket is closed at once (no banner, no key exchange), a
source over ``PerSourceMaxStartups`` or a listener over ``MaxStartups`` is told
``Exceeded MaxStartups`` and closed, as sshd does.  Otherwise the real
:class:`~sshcore.aio.server.SSHServerConnection` is built and takes over the transport.
When that connection ends, :func:`penalty_for` decides what it cost its source.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable
from typing import Any

from ..errors import SSHError
from ..srclimit import SourceLimiter

logger = logging.getLogger("sshcore.aio")

__all__ = ["AcceptGate", "Admission", "penalty_for", "refuse_at_accept", "refuse_penalised"]


def _peer_ip(peer: Any) -> str | None:
    return str(peer[0]) if isinstance(peer, tuple) and peer else None


def penalty_for(conn: Any, exc: Exception | None, now: float) -> str | None:
    """What a server connection that just ended is penalised for (sshd's rules for
    its pre-authentication children's exit status), or None.

    ``crash``: it ended by an internal error (a bug a peer triggered, or an exception
    from application code), whenever that happened.  Otherwise an authenticated
    connection costs nothing; an unauthenticated one costs ``grace-exceeded`` when its
    LoginGraceTime ran out, ``authfail`` when it tried a method that failed, and
    ``noauth`` when it never tried to authenticate."""
    if exc is not None and not isinstance(exc, SSHError):
        return "crash"
    if conn.username is not None:
        return None
    deadline = getattr(conn, "auth_deadline", None)
    if deadline is not None and now >= deadline:
        return "grace-exceeded"
    if getattr(conn, "auth_attempted", False) or getattr(conn, "auth_failures", 0):
        return "authfail"
    return "noauth"


def refuse_penalised(limiter: SourceLimiter, audit: Callable[..., Any] | None, peer: Any,
                     now: float) -> bool:
    """Whether ``peer``'s source is penalised now: then log and audit the refusal
    (rate-limited, see the module docstring) and return True."""
    ip = _peer_ip(peer)
    if ip is None:
        return False
    reason = limiter.check(ip, now)
    if reason is None:
        return False
    unlogged = limiter.log_drop(ip, now)
    if unlogged is not None:
        more = f" ({unlogged} more since the last line)" if unlogged else ""
        logger.info("drop connection from [%s]:%s: %s%s", ip, peer[1], reason, more)
        if audit is not None:
            from .audit import AuditEvent, _deliver

            _deliver(audit, AuditEvent("refused", addr=ip, port=int(peer[1]), reason=reason,
                                       detail={"unlogged": unlogged} if unlogged else {}))
    return True


EXCEEDED = b"Exceeded MaxStartups\r\n"


def refuse_at_accept(limiter: SourceLimiter, audit: Callable[..., Any] | None, peer: Any,
                     now: float) -> bytes | None:
    """What :class:`AcceptGate` does with a socket from ``peer``: None to admit it, else
    the bytes to send before closing it: none for a penalised source, sshd's
    ``Exceeded MaxStartups`` line for a source at ``PerSourceMaxStartups`` (both
    logged and audited rate-limited)."""
    if refuse_penalised(limiter, audit, peer, now):
        return b""
    ip = _peer_ip(peer)
    if ip is None or not limiter.startups_full(ip):
        return None
    _log_limited(limiter, audit, peer, now, "past PerSourceMaxStartups")
    return EXCEEDED


def _log_limited(limiter: SourceLimiter, audit: Callable[..., Any] | None, peer: Any,
                 now: float, reason: str) -> None:
    ip = _peer_ip(peer)
    unlogged = limiter.log_drop(ip, now, reason) if ip is not None else 0
    if unlogged is None:
        return
    more = f" ({unlogged} more since the last line)" if unlogged else ""
    logger.info("drop connection from [%s]:%s: %s%s", ip, peer[1] if ip else "", reason, more)
    if audit is not None and ip is not None:
        from .audit import AuditEvent, _deliver

        _deliver(audit, AuditEvent("refused", addr=ip, port=int(peer[1]), reason=reason,
                                   detail={"unlogged": unlogged} if unlogged else {}))


class AcceptGate:
    """Accepts on one listening socket for ``listen()`` (see the module docstring).

    ``refuse(peer)``: None to admit the socket, handed to ``factory()``'s protocol as
    asyncio's own accept loop would; else bytes to send (if any) before closing it."""

    #: seconds to stop accepting after running out of descriptors (as asyncio does)
    retry_delay = 1.0

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket,
                 factory: Callable[[], asyncio.Protocol],
                 refuse: Callable[[Any], bytes | None], batch: int = 32) -> None:
        self._loop = loop
        self._sock = sock
        self._factory = factory
        self._refuse = refuse
        self.batch = batch
        self.refused = 0

    def start(self) -> None:
        if self._sock.fileno() >= 0:
            self._loop.add_reader(self._sock.fileno(), self._ready)

    def _ready(self) -> None:
        for _ in range(self.batch):
            try:
                conn, peer = self._sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    logger.warning("accept() failed (%s): not accepting for %g s", exc,
                                   self.retry_delay)
                    self._loop.remove_reader(self._sock.fileno())
                    self._loop.call_later(self.retry_delay, self.start)
                    return
                if self._sock.fileno() < 0:
                    return  # closed under us
                raise
            reply = self._refuse(peer)
            if reply is not None:
                self.refused += 1
                if reply:
                    try:
                        conn.send(reply)  # a fresh socket's buffer takes one line
                    except OSError:
                        pass
                conn.close()  # no banner, no key exchange
                continue
            conn.setblocking(False)
            self._loop.create_task(self._connect(conn))

    async def _connect(self, conn: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(self._factory, conn)
        except OSError as exc:  # e.g. reset before the transport was made
            logger.debug("accepted connection lost at once: %s", exc)
            conn.close()


def gate_server(loop: asyncio.AbstractEventLoop, server: asyncio.AbstractServer,
                factory: Callable[[], asyncio.Protocol],
                refuse: Callable[[Any], bytes | None], batch: int = 32) -> list[AcceptGate]:
    """Serve ``server`` (made with ``start_serving=False``) through :class:`AcceptGate`s;
    an event loop whose server does not expose its sockets serves as usual."""
    sockets = getattr(server, "_sockets", None)
    if not sockets or not all(isinstance(s, socket.socket) for s in sockets):
        loop.create_task(server.start_serving())
        return []
    backlog = getattr(server, "_backlog", 100)
    gates = [AcceptGate(loop, s, factory, refuse, batch) for s in sockets]
    try:
        for gate in gates:
            gate._sock.listen(backlog)  # what start_serving() would do
            gate.start()
    except NotImplementedError:  # no add_reader (e.g. the proactor loop): asyncio accepts
        for gate in gates:
            try:
                loop.remove_reader(gate._sock.fileno())
            except NotImplementedError:
                pass
        loop.create_task(server.start_serving())
        return []
    server._serving = True  # type: ignore[attr-defined]  # start_serving(): a no-op now
    return gates


class Admission(asyncio.Protocol):
    """Decides, per accepted socket, whether ``build()``'s connection gets it."""

    def __init__(self, limiter: SourceLimiter, build: Callable[[], Any],
                 over_max_startups: Callable[[], bool],
                 audit: Callable[..., Any] | None = None) -> None:
        self._limiter = limiter
        self._build = build
        self._over_max_startups = over_max_startups
        self._audit = audit

    def _refused(self, peer: Any, reason: str) -> None:
        if self._audit is not None and isinstance(peer, tuple):
            from .audit import AuditEvent, _deliver

            _deliver(self._audit, AuditEvent("refused", addr=str(peer[0]), port=int(peer[1]),
                                             reason=reason))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        loop = asyncio.get_running_loop()
        peer = transport.get_extra_info("peername")
        ip = _peer_ip(peer)
        limiter = self._limiter
        if refuse_penalised(limiter, self._audit, peer, loop.time()):
            transport.abort()  # before any byte: no banner, no key exchange
            return
        if self._over_max_startups():
            transport.write(b"Exceeded MaxStartups\r\n")
            transport.close()
            self._refused(peer, "past MaxStartups")
            return
        if ip is not None and not limiter.startup_begin(ip):
            transport.write(EXCEEDED)
            transport.close()
            _log_limited(limiter, self._audit, peer, loop.time(), "past PerSourceMaxStartups")
            return
        conn = self._build()
        if ip is not None:
            _watch(conn, limiter, ip, loop)
            if self._audit is not None:
                from .audit import attach_auditor

                attach_auditor(conn, self._audit, ip, int(peer[1]))
        transport.set_protocol(conn)
        conn.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        pass  # only reached for a socket refused above, whose bytes are ignored


def _watch(conn: Any, limiter: SourceLimiter, ip: str, loop: asyncio.AbstractEventLoop) -> None:
    """Release the startup slot on authentication or close; penalise on close."""
    state = {"counted": True}

    def observe(kind: str, info: dict[str, Any]) -> None:
        if kind == "authenticated" and state["counted"]:
            state["counted"] = False
            limiter.startup_end(ip)
        elif kind == "closed":
            if state["counted"]:
                state["counted"] = False
                limiter.startup_end(ip)
            penalty = penalty_for(conn, info.get("exc"), loop.time())
            if penalty is not None:
                total = limiter.penalise(ip, penalty, loop.time())
                if total:
                    logger.info("penalty for %s: %s (%.3f s outstanding)", ip, penalty, total)
    conn.add_observer(observe)
