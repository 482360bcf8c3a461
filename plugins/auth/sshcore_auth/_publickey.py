"""The "publickey" method (RFC 4252 section 7), client and server side."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sshcore.wire import SSHReader, boolean, byte, string
from sshcore.errors import RemoteProtocolError
from sshcore.interfaces import (AuthAction, AuthAsk, AuthDone, AuthSend, ClientAuthContext,
                                ServerAuthContext)

USERAUTH_PK_OK = 60
USERAUTH_REQUEST = 50


#: OpenSSH 8.9's host-bound publickey (PROTOCOL 2.5): the request (and the signed data)
#: also carry the server's host key, so an SSH agent can check where a signature goes.
HOSTBOUND = "publickey-hostbound-v00@openssh.com"
HOSTBOUND_EXT = "publickey-hostbound@openssh.com"


def signed_data(session_id: bytes, username: str, service: str, alg: str, blob: bytes,
                host_key: bytes | None = None) -> bytes:
    """What a publickey signature covers; with ``host_key``, the host-bound variant's."""
    method = "publickey" if host_key is None else HOSTBOUND
    tail = b"" if host_key is None else string(host_key)
    return b"".join((string(session_id), byte(USERAUTH_REQUEST), string(username), string(service),
                     string(method), boolean(True), string(alg), string(blob), tail))


class PublicKeyClient:
    """Offers each client key in turn: a query first, then the signature after PK_OK."""

    def __init__(self, ctx: ClientAuthContext) -> None:
        self.ctx = ctx
        self._offers: Iterator[tuple[Any, str]] = self._candidates(ctx.credentials.get("client_keys") or ())
        self._key: Any = None
        self._alg = ""
        # As OpenSSH's client: host-bound whenever the server offers version 0 of it.
        self._host_key: bytes | None = (
            ctx.host_key_blob if ctx.host_key_blob
            and ctx.server_extensions.get(HOSTBOUND_EXT) == b"0" else None)

    def _candidates(self, keys: Any) -> Iterator[tuple[Any, str]]:
        """(key, signature algorithm) pairs to offer, in order.

        A key that can sign several ways (RSA) is offered with each algorithm allowed here,
        those the server lists in server-sig-algs first: a server may accept only some of
        them, whatever it advertises.
        """
        local = list(self.ctx.sig_algs)
        server = self.ctx.server_sig_algs
        for key in keys:
            algs = [a for a in key.sig_algorithms() if a in local]
            if server is not None:
                algs = [a for a in algs if a in server] + [a for a in algs if a not in server]
            for alg in algs:
                yield key, alg

    def next_attempt(self) -> AuthAction:
        for key, alg in self._offers:
            self._key, self._alg = key, alg
            return self._send(boolean(False) + string(alg) + string(key.public_blob))
        return AuthDone()

    def _send(self, body: bytes, signature: bytes | None = None) -> AuthSend:
        if self._host_key is not None:
            body += string(self._host_key)
        if signature is not None:
            body += string(signature)
        return AuthSend(body, method=HOSTBOUND if self._host_key is not None else None)

    def receive(self, payload: bytes) -> AuthAction:
        if payload[0] != USERAUTH_PK_OK or self._key is None:
            raise RemoteProtocolError(f"unexpected message {payload[0]} during publickey auth")
        r = SSHReader(payload, 1)
        alg, blob = r.text("ascii"), r.string()
        r.finish()
        if alg != self._alg or blob != self._key.public_blob:
            raise RemoteProtocolError("USERAUTH_PK_OK for a key we did not offer")
        ctx = self.ctx
        data = signed_data(ctx.session_id, ctx.username, ctx.service, alg, blob, self._host_key)
        if callable(getattr(self._key, "sign_async", None)):
            # A key held elsewhere (an SSH agent): the I/O layer gets the signature.  The
            # agent is first told which host this session reached (session-bind), as
            # OpenSSH's client does, for keys added with destination constraints.
            info = {"key": self._key, "data": data, "algorithm": alg}
            if ctx.host_key_blob and ctx.host_key_signature:
                info["session_bind"] = (ctx.host_key_blob, ctx.session_id, ctx.host_key_signature)
            return AuthAsk("sign", info)
        sig = self._key.sign(data, alg)
        return self._send(boolean(True) + string(alg) + string(blob), sig)

    def resume(self, answer: Any) -> AuthAction:
        """The signature from ``sign_async`` (None: it failed, so offer the next key)."""
        if not isinstance(answer, bytes) or self._key is None:
            return self.next_attempt()
        return self._send(boolean(True) + string(self._alg) + string(self._key.public_blob),
                          answer)


class PublicKeyServer:
    """Asks the application whether the key may log in (``kind="publickey"``, info has
    ``key`` and ``algorithm``), then answers the query or checks the signature."""

    def __init__(self, ctx: ServerAuthContext) -> None:
        self.ctx = ctx
        self._state: tuple[str, str, str, bytes, Any, bytes | None] | None = None
        self._host_key: bytes | None = None

    def request(self, username: str, service: str, body: bytes) -> AuthAction:
        r = SSHReader(body)
        has_sig = r.boolean()
        alg = r.text("ascii")
        blob = r.string()
        host_key = r.string() if self.ctx.method == HOSTBOUND else None
        sig = r.string() if has_sig else None
        r.finish()
        if host_key is not None and host_key != self.ctx.host_key_blob:
            return AuthDone()  # bound to another host key than this session's (as sshd)
        key = self.ctx.decode_public_key(blob, alg)
        if key is None:
            return AuthDone()
        self._host_key = host_key
        self._state = (username, service, alg, blob, key, sig)
        return AuthAsk("publickey", {"key": key, "algorithm": alg, "signed": has_sig})

    def resume(self, answer: Any) -> AuthAction:
        assert self._state is not None
        username, service, alg, blob, key, sig = self._state
        if answer is not True:
            return AuthDone()
        if sig is None:
            return AuthSend(payloads=[byte(USERAUTH_PK_OK) + string(alg) + string(blob)])
        data = signed_data(self.ctx.session_id, username, service, alg, blob, self._host_key)
        return AuthDone(success=bool(key.verify(data, sig, alg)))

    def receive(self, payload: bytes) -> AuthAction:
        raise RemoteProtocolError(f"unexpected message {payload[0]} during publickey auth")
