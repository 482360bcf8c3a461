"""Client decisions shared by every front-end (asyncio and blocking), free of I/O loops.

Owns: judging a server's host key against known_hosts / a pin / a callable
(:class:`HostKeyChecker`), picking the answer to the kernel's
:class:`~sshcore.kernel.events.AuthInputRequested` (:func:`auth_answer`), and choosing a
session channel's setup requests (env, pty-req, exec/shell/subsystem:
:func:`session_requests`, as :mod:`sshcore.kernel.chanreq` objects) and reading its exit
requests (:func:`parse_exit_request`).

A front-end only adds the waiting: the asyncio one awaits what may be awaitable, the
blocking one calls the application's callbacks directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .kernel.chanreq import (AgentForwardingRequest, ChannelRequest, EnvRequest, ExecRequest,
                             ExitSignalRequest, ExitStatusRequest, PtyRequest, ShellRequest,
                             SubsystemRequest, decode_channel_request, encode_term_modes)
from .files.keys import HOST_CERT, KnownHosts, add_known_host, fingerprint, is_certificate

logger = logging.getLogger("sshcore.client")

__all__ = ["HostKeyChecker", "UnknownHost", "auth_answer", "encode_term_modes",
           "session_requests", "parse_exit_request"]
# encode_term_modes lives in sshcore.kernel.chanreq now; re-exported here.


@dataclass
class UnknownHost:
    """known_hosts does not list the host and an ``unknown_host_handler`` was given: the
    front-end asks it (``handler(host, port, key)``, maybe async) and passes the answer
    to :meth:`conclude`."""

    checker: HostKeyChecker
    key: Any
    why: str

    def conclude(self, answer: Any) -> bool | str:
        """True (the key is recorded in the first known_hosts file), or why not."""
        if answer is not True:
            return f"{self.why}; not confirmed"
        self.checker._record(self.key)
        return True


class HostKeyChecker:
    """A server's host key against ``known_hosts`` (as :func:`sshcore.connect` takes it,
    resolved: None trusts anything; a callable decides; else paths or a
    :class:`~sshcore.files.keys.KnownHosts`).

    :meth:`check` returns True (trusted), a string (why not), an :class:`UnknownHost`
    (ask the application), or whatever a callable ``known_hosts`` returned (maybe an
    awaitable, for the asyncio front-end).
    """

    def __init__(self, host: str, port: int, known_hosts: Any, *, accept_new: bool = False,
                 hash_known_hosts: bool = False, ask: bool = False,
                 revoked: Any = None) -> None:
        self.host = host
        #: ssh's RevokedHostKeys: a KRL or a file of keys (read at each check), or None
        self.revoked = revoked
        self.port = port
        self.known_hosts = known_hosts
        self.accept_new = accept_new
        self.hash_known_hosts = hash_known_hosts
        self.ask = ask
        #: the known_hosts files that vouched for this host (for UpdateHostKeys)
        self.trusted_by: list[Any] = []
        self._paths: list[Any] = []

    def _record(self, key: Any) -> None:
        if self._paths:
            add_known_host(self._paths[0], self.host, self.port, key, hashed=self.hash_known_hosts)
            logger.warning("%s:%s: added %s key %s to %s", self.host, self.port, key.key_type,
                           fingerprint(key), Path(self._paths[0]).expanduser())

    def check(self, key: Any) -> Any:
        if self.revoked is not None:
            from .files.krl import key_revoked

            why = key_revoked(self.revoked, key)
            if why is not None:
                return f"host key {why}"
        kh = self.known_hosts
        if kh is None:
            return True
        if callable(kh) and not isinstance(kh, KnownHosts):
            return kh(self.host, self.port, key)
        table, paths = KnownHosts.load(kh)
        self._paths = list(paths)
        if is_certificate(key):
            why = self._check_certificate(table, key)
            if why is None:
                return True
            if why:  # a trusted CA's certificate that is not valid: refused outright
                return why
            key = key.key  # no CA trusted here: judge the certified key itself, as ssh does
        verdict = table.check(self.host, self.port, key.public_blob)
        if verdict.status == "trusted":
            self.trusted_by = list(paths)
            return True
        if verdict.status == "unknown" and self.accept_new:
            self._record(key)  # StrictHostKeyChecking=accept-new
            return True
        if verdict.status == "unknown":
            where = ", ".join(table.sources) or "known_hosts"
            hint = ("accept_new_host_keys=True, or -o StrictHostKeyChecking=accept-new, "
                    "records a new host's key")
            if verdict.entry is not None:
                why = f"{verdict.explain(key.key_type, fingerprint(key))} ({hint})"
            else:
                why = f"host is not in {where} ({hint})"
            return UnknownHost(self, key, why) if self.ask else why
        return verdict.explain(key.key_type, fingerprint(key))

    def _check_certificate(self, table: KnownHosts, cert: Any) -> str | None:
        """None: trusted; "": no @cert-authority line for its CA; else why it is refused."""
        for blob, what in ((cert.public_blob, "host certificate"), (cert.ca.public_blob, "its CA key")):
            entry = table.revoked(blob)
            if entry is not None:
                return f"{what} is marked @revoked in {entry.source}"
        if table.trusts_ca(self.host, self.port, cert.ca.public_blob) is None:
            return ""
        why = cert.problem(HOST_CERT, self.host)
        return None if why is None else f"host certificate {cert.key_id!r} refused: {why}"


def rejection_message(host: str, port: int, key: Any, why: str) -> str:
    """The text of the HostKeyNotVerifiableError both front-ends raise."""
    shown = f"{key.key_type} {fingerprint(key)}"
    return f"{host}:{port}: {why}" + ("" if shown in why else f" ({shown})")


def auth_answer(kind: str, info: Mapping[str, Any], *, password: Any = None,
                kbdint_handler: Any = None, password_change: Any = None
                ) -> Callable[[], Any] | None:
    """What answers the kernel's ``AuthInputRequested(kind, info)``: a function of no
    arguments calling the application's callback (its result may be awaitable), or None
    (answer ``provide_auth_input(None)``).  ``sign`` requests are the front-end's
    (agent keys sign over a socket)."""
    if kind == "password" and callable(password):
        return lambda: password(info.get("prompt", ""))
    if kind == "kbdint" and callable(kbdint_handler):
        return lambda: kbdint_handler(info["name"], info["instruction"], info["prompts"])
    if kind == "password_change" and callable(password_change):
        return lambda: password_change(info.get("prompt", ""))
    return None


def exhausted_message(allowed: Sequence[str], tried: Sequence[str]) -> str:
    return (f"permission denied: authentication failed (server allows: "
            f"{','.join(allowed) or 'none'}; we tried: {','.join(tried) or 'nothing'})")


# ---------------------------------------------------------------- session channel requests

def session_requests(command: str | None, subsystem: str | None = None,
                     env: Mapping[str, str] | None = None, term_type: str | None = None,
                     term_size: Sequence[int] | None = None,
                     term_modes: Mapping[int, int] | None = None, agent_forwarding: bool = False,
                     ) -> list[tuple[ChannelRequest, str | None]]:
    """The requests that start a session channel, in order: ``(request, error)`` where
    ``error`` is None for a request sent without want_reply, else the message of the
    :class:`~sshcore.errors.ChannelOpenError` to raise when the server refuses it."""
    out: list[tuple[ChannelRequest, str | None]] = []
    if agent_forwarding:  # the server may open auth-agent@openssh.com channels back to us
        out.append((AgentForwardingRequest(), None))
    for name, value in (env or {}).items():
        out.append((EnvRequest(str(name), str(value)), None))
    if term_type is not None:  # "" still asks for a pty, as ssh -t does without TERM
        w, h, pw, ph = (tuple(term_size or (80, 24)) + (0, 0, 0, 0))[:4]
        modes = tuple((op, val) for op, val in (term_modes or {}).items() if 0 < op < 160)
        out.append((PtyRequest(term_type, w, h, pw, ph, modes),
                    "pseudo-terminal request refused"))
    refused = "session request refused by server"
    if subsystem is not None:
        out.append((SubsystemRequest(subsystem), refused))
    elif command is not None:
        out.append((ExecRequest(command), refused))
    else:
        out.append((ShellRequest(), refused))
    return out


def parse_exit_request(request: str | ChannelRequest | None,
                       data: bytes = b"") -> tuple[str, Any] | None:
    """``exit-status`` -> ("status", int); ``exit-signal`` -> ("signal", (name,
    core_dumped, message, lang)); anything else None.  ``request``: the typed request
    (an event's ``decoded``), or a name and its raw ``data`` (malformed data raises
    :class:`~sshcore._wire.DecodeError`)."""
    req = decode_channel_request(request, data) if isinstance(request, str) else request
    if isinstance(req, ExitStatusRequest):
        return "status", req.status
    if isinstance(req, ExitSignalRequest):
        return "signal", (req.signal, req.core_dumped, req.message, req.language)
    return None
