"""Audit events of a server (``listen(audit=callback)``) and sshd's log lines for them.

:class:`AuditEvent` is what the callback gets, one per authentication attempt (with the
user, method, key fingerprint, source address and port), channel open, refusal, idle
timeout and close, forwarding request, connection refused at accept, and disconnect
(with its reason).  :class:`SshdLogFormat` turns them into the lines sshd writes to
syslog (``Failed password for alice from 192.0.2.1 port 50000 ssh2``, ``Accepted
publickey for ... ssh2: ED25519 SHA256:...``, ``Invalid user ...``, ``Connection
closed by authenticating user ... [preauth]``, ``Disconnected from user ...``), so
log watchers written for sshd (fail2ban's ``sshd`` filter, SIEM parsers) work as they
are.  Text from the peer (user names, request names) is escaped first, as sshd's
``strnvis`` does: a user name cannot forge a line or a field.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import DisconnectError, NoMoreAuthMethodsError
from .admission import penalty_for

logger = logging.getLogger("sshcore.aio")

__all__ = ["AuditEvent", "SshdLogFormat", "sanitize", "sshd_key_type", "attach_auditor"]

#: Longest peer-supplied text a log line carries (longer is cut, marked with "...").
MAX_TEXT = 256


def sanitize(text: Any, limit: int = MAX_TEXT) -> str:
    """Peer text made safe for one log line: printable ASCII stays (a backslash is
    doubled), every other byte of its UTF-8 becomes ``\\ooo`` (sshd's VIS_OCTAL)."""
    raw = str(text).encode("utf-8", "surrogateescape")
    out = []
    for b in raw[:limit]:
        if b == 0x5C:
            out.append("\\\\")
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\{b:03o}")
    return "".join(out) + ("..." if len(raw) > limit else "")


def sshd_key_type(key: Any) -> str:
    """sshd's name for a key's type in log lines: ED25519, RSA, ECDSA, ED25519-CERT..."""
    name = str(getattr(key, "key_type", "") or "")
    cert = name.endswith("-cert-v01@openssh.com")
    base = name.replace("-cert-v01@openssh.com", "")
    table = {"ssh-ed25519": "ED25519", "ssh-rsa": "RSA", "ssh-dss": "DSA", "ssh-ed448": "ED448",
             "sk-ssh-ed25519@openssh.com": "ED25519-SK", "sk-ecdsa-sha2-nistp256@openssh.com": "ECDSA-SK"}
    kind = table.get(base) or ("ECDSA" if base.startswith("ecdsa-") else sanitize(base).upper())
    return kind + ("-CERT" if cert else "")


@dataclass(frozen=True)
class AuditEvent:
    """One audited happening on a server connection (see the module docstring).

    ``kind``: ``"auth"`` (``success``; ``partial`` when more methods are required),
    ``"channel_open"``, ``"channel_refused"`` (``reason``), ``"channel_timeout"``,
    ``"channel_close"``, ``"forward"`` (``detail``: request, host/port or path,
    ``allowed``), ``"refused"`` (at accept, ``reason``; rate-limited per source as sshd's
    drop lines, ``detail["unlogged"]`` counting those left out), ``"disconnect"`` (``reason``:
    ``closed``, ``peer``, ``max_auth_tries``, ``login_grace_time``, ``error``,
    ``server``; ``detail["authenticated"]``).  ``username`` is as the peer sent it:
    sanitize before printing.
    """

    kind: str
    addr: str
    port: int
    username: str | None = None
    method: str | None = None
    success: bool | None = None
    partial: bool = False
    key_type: str | None = None
    fingerprint: str | None = None
    channel: int | None = None
    channel_type: str | None = None
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)


def _deliver(callback: Callable[[AuditEvent], Any], event: AuditEvent) -> None:
    try:
        result = callback(event)
        if asyncio.iscoroutine(result):
            asyncio.ensure_future(result)
    except Exception:  # the audit sink's bug must not break the connection
        logger.exception("error in the audit callback")


def attach_auditor(conn: Any, callback: Callable[[AuditEvent], Any], addr: str, port: int) -> None:
    """Turn ``conn``'s notifications (SSHServerConnection.add_observer) into AuditEvents."""
    loop = asyncio.get_running_loop()

    def observe(kind: str, info: dict[str, Any]) -> None:
        base = {"addr": addr, "port": port}
        if kind == "auth":
            key = info.get("key")
            fp = None
            if key is not None:
                from ..files.keys import fingerprint

                try:
                    fp = fingerprint(key)
                except Exception:  # noqa: BLE001 - a key we cannot fingerprint: none shown
                    fp = None
            _deliver(callback, AuditEvent("auth", username=info["username"], method=info["method"],
                                          success=info["success"], partial=info.get("partial", False),
                                          key_type=sshd_key_type(key) if key is not None else None,
                                          fingerprint=fp, **base))
        elif kind in ("channel_open", "channel_refused", "channel_close", "channel_timeout"):
            _deliver(callback, AuditEvent(kind, username=conn.username, channel=info.get("channel"),
                                          channel_type=info.get("channel_type"),
                                          reason=info.get("reason"), detail=info.get("detail", {}),
                                          **base))
        elif kind == "forward":
            _deliver(callback, AuditEvent("forward", username=conn.username,
                                          detail=dict(info), **base))
        elif kind == "closed":
            exc = info.get("exc")
            authenticated = conn.username is not None
            why = penalty_for(conn, exc, loop.time())
            if why == "grace-exceeded":
                reason = "login_grace_time"
            elif why == "crash":
                reason = "error"
            elif isinstance(exc, NoMoreAuthMethodsError):
                reason = "max_auth_tries"
            elif isinstance(exc, DisconnectError):  # the peer's DISCONNECT message
                reason = "peer"
            else:
                reason = "closed"
            _deliver(callback, AuditEvent(
                "disconnect", username=conn.username or getattr(conn, "auth_username", None),
                reason=reason, detail={"authenticated": authenticated,
                                       "code": int(getattr(exc, "code", 0) or 0)
                                       if isinstance(exc, DisconnectError) else 0,
                                       "attempted": bool(getattr(conn, "auth_attempted", False)),
                                       "error": (exc.description if isinstance(exc, DisconnectError)
                                                 else str(exc) if exc is not None else "")},
                **base))
    conn.add_observer(observe)


class SshdLogFormat:
    """Formats :class:`AuditEvent`\\ s as sshd's syslog messages (without the syslog
    prefix).  ``valid_user(name)`` says whether a user name exists (sshd's ``Invalid
    user`` lines and ``for invalid user`` forms); None: every user is valid."""

    def __init__(self, valid_user: Callable[[str], bool] | None = None) -> None:
        self.valid_user = valid_user
        self._invalid_seen: set[tuple[str, int]] = set()

    def _invalid(self, name: str | None) -> bool:
        return name is not None and self.valid_user is not None and not self.valid_user(name)

    def lines(self, e: AuditEvent) -> list[str]:
        where = f"{e.addr} port {e.port}"
        user = sanitize(e.username) if e.username is not None else ""
        invalid = self._invalid(e.username)
        out: list[str] = []
        if e.kind == "auth":
            if invalid and (e.addr, e.port) not in self._invalid_seen:
                self._invalid_seen.add((e.addr, e.port))
                out.append(f"Invalid user {user} from {where}")
            if e.method == "none" and not e.success:
                return out
            method = sanitize(e.method)
            key = f": {e.key_type} {e.fingerprint}" if e.fingerprint else ""
            if e.success and e.partial:
                out.append(f"Partial {method} for {user} from {where} ssh2{key}")
            elif e.success:
                out.append(f"Accepted {method} for {user} from {where} ssh2{key}")
            else:
                who = f"invalid user {user}" if invalid else user
                out.append(f"Failed {method} for {who} from {where} ssh2{key}")
        elif e.kind == "disconnect":
            self._invalid_seen.discard((e.addr, e.port))
            authed = e.detail.get("authenticated")
            if e.reason == "peer":
                out.append(f"Received disconnect from {where}:{e.detail.get('code', 0)}: "
                           f"{sanitize(e.detail.get('error', ''))}{'' if authed else ' [preauth]'}")
            if authed:
                out.append(f"Disconnected from user {user} {where}")
            elif e.reason == "max_auth_tries" and e.username is not None:
                who = f"invalid user {user}" if invalid else user
                out.append(f"error: maximum authentication attempts exceeded for {who} from "
                           f"{where} ssh2 [preauth]")
                out.append(f"Disconnecting {'invalid' if invalid else 'authenticating'} user "
                           f"{user} {where}: Too many authentication failures [preauth]")
            elif e.reason == "login_grace_time":
                out.append(f"Timeout before authentication for {where}")
            else:
                # sshd: "Disconnected from" after the peer's DISCONNECT, else "Connection closed by"
                verb = "Disconnected from" if e.reason == "peer" else "Connection closed by"
                if e.detail.get("attempted") and e.username is not None:
                    out.append(f"{verb} {'invalid' if invalid else 'authenticating'} "
                               f"user {user} {where} [preauth]")
                else:
                    out.append(f"{verb} {where} [preauth]")
        elif e.kind == "refused":
            more = e.detail.get("unlogged")
            out.append(f"drop connection from [{e.addr}]:{e.port}: {sanitize(e.reason)}"
                       + (f" ({int(more)} more since the last line)" if more else ""))
        elif e.kind in ("channel_open", "channel_close", "channel_timeout", "channel_refused"):
            what = {"channel_open": "open", "channel_close": "closed",
                    "channel_timeout": "closing after inactivity", "channel_refused": "refused"}[e.kind]
            extra = "".join(f" {k} {sanitize(v)}" for k, v in sorted(e.detail.items()))
            reason = f": {sanitize(e.reason)}" if e.reason else ""
            out.append(f"channel {e.channel}: {what} {sanitize(e.channel_type)} for user {user} "
                       f"{where}{extra}{reason}")
        elif e.kind == "forward":
            extra = " ".join(f"{k} {sanitize(v)}" for k, v in sorted(e.detail.items()))
            out.append(f"forwarding request for user {user} {where}: {extra}")
        return out
