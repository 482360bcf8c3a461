"""The "hostbased" method (RFC 4252 section 9), client and server side.

The client signs with a key of its *host*, naming the host and the local user; the server
checks that the key belongs to that host and that the local user may log in as the
requested one.  Unlike publickey there is no query step: the first request is signed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sshcore.wire import SSHReader, byte, string
from sshcore.errors import RemoteProtocolError
from sshcore.interfaces import (AuthAction, AuthAsk, AuthDone, AuthSend, ClientAuthContext,
                                ServerAuthContext)

USERAUTH_REQUEST = 50


def signed_data(session_id: bytes, username: str, service: str, alg: str, blob: bytes,
                client_host: bytes, client_user: bytes) -> bytes:
    return b"".join((string(session_id), byte(USERAUTH_REQUEST), string(username),
                     string(service), string("hostbased"), string(alg), string(blob),
                     string(client_host), string(client_user)))


class HostBasedClient:
    """Signs one request per (host key, signature algorithm) pair.

    Credentials: ``client_host_keys`` (private keys of this host), ``client_host`` (its
    name; sent with a trailing dot, as OpenSSH's ssh does) and ``client_username``.
    """

    def __init__(self, ctx: ClientAuthContext) -> None:
        self.ctx = ctx
        creds = ctx.credentials
        host = str(creds.get("client_host") or "")
        self._host = (host if host.endswith(".") or not host else host + ".").encode("ascii")
        self._user = str(creds.get("client_username") or ctx.username).encode("utf-8")
        self._offers = self._candidates(creds.get("client_host_keys") or ())

    def _candidates(self, keys: Any) -> Iterator[tuple[Any, str]]:
        local = list(self.ctx.sig_algs)
        server = self.ctx.server_sig_algs
        for key in keys:
            algs = [a for a in key.sig_algorithms() if a in local]
            if server is not None:
                algs = [a for a in algs if a in server] + [a for a in algs if a not in server]
            for alg in algs:
                yield key, alg

    def next_attempt(self) -> AuthAction:
        if not self._host:
            return AuthDone()
        ctx = self.ctx
        for key, alg in self._offers:
            blob = key.public_blob
            sig = key.sign(signed_data(ctx.session_id, ctx.username, ctx.service, alg, blob,
                                       self._host, self._user), alg)
            return AuthSend(string(alg) + string(blob) + string(self._host) + string(self._user)
                            + string(sig))
        return AuthDone()

    def receive(self, payload: bytes) -> AuthAction:
        raise RemoteProtocolError(f"unexpected message {payload[0]} during hostbased auth")

    def resume(self, answer: Any) -> AuthAction:  # pragma: no cover - never asks
        return AuthDone()


class HostBasedServer:
    """Asks the application (``kind="hostbased"``; info has ``key``, ``algorithm``,
    ``client_host`` without its trailing dot, and ``client_username``), then checks the
    signature."""

    def __init__(self, ctx: ServerAuthContext) -> None:
        self.ctx = ctx
        self._state: tuple[Any, bytes, bytes, str] | None = None

    def request(self, username: str, service: str, body: bytes) -> AuthAction:
        r = SSHReader(body)
        alg = r.text("ascii")
        blob = r.string()
        raw_host = r.string()
        raw_user = r.string()
        sig = r.string()
        r.finish()
        try:
            host = raw_host.decode("ascii")
            client_user = raw_user.decode("utf-8")
        except UnicodeDecodeError:
            return AuthDone()
        key = self.ctx.decode_public_key(blob, alg)
        if key is None or not host:
            return AuthDone()
        data = signed_data(self.ctx.session_id, username, service, alg, blob, raw_host, raw_user)
        self._state = (key, data, sig, alg)
        return AuthAsk("hostbased", {"key": key, "algorithm": alg,
                                     "client_host": host[:-1] if host.endswith(".") else host,
                                     "client_username": client_user})

    def resume(self, answer: Any) -> AuthAction:
        assert self._state is not None
        key, data, sig, alg = self._state
        self._state = None
        if answer is not True:
            return AuthDone()
        return AuthDone(success=bool(key.verify(data, sig, alg)))

    def receive(self, payload: bytes) -> AuthAction:
        raise RemoteProtocolError(f"unexpected message {payload[0]} during hostbased auth")
