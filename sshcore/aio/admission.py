"""The accept path of ``listen()``: per-source penalties and startup limits.

Every accepted socket first gets an :class:`Admission` protocol, which asks the
listener's :class:`~sshcore.srclimit.SourceLimiter` about the peer before anything is
built or sent: a penalised source's socket is closed at once (no banner, no key
exchange), a source over ``PerSourceMaxStartups`` or a listener over ``MaxStartups``
is told ``Exceeded MaxStartups`` and closed, as sshd does.  Otherwise the real
:class:`~sshcore.aio.server.SSHServerConnection` is built and takes over the transport.
When that connection ends, :func:`penalty_for` decides what it cost its source.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ..errors import SSHError
from ..srclimit import SourceLimiter

logger = logging.getLogger("sshcore.aio")

__all__ = ["Admission", "penalty_for"]


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
        if ip is not None:
            reason = limiter.check(ip, loop.time())
            if reason is not None:
                logger.info("drop connection from [%s]:%s: %s", ip, peer[1], reason)
                transport.abort()  # before any byte: no banner, no key exchange
                self._refused(peer, reason)
                return
        if self._over_max_startups():
            transport.write(b"Exceeded MaxStartups\r\n")
            transport.close()
            self._refused(peer, "past MaxStartups")
            return
        if ip is not None and not limiter.startup_begin(ip):
            logger.info("drop connection from [%s]:%s: past PerSourceMaxStartups %d",
                        ip, peer[1], limiter.max_startups)
            transport.write(b"Exceeded MaxStartups\r\n")
            transport.close()
            self._refused(peer, "past PerSourceMaxStartups")
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
