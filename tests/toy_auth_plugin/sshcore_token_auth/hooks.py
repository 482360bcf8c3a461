"""The whole plugin: one AuthMethod with a client and a server side (sans-I/O)."""

from __future__ import annotations

from typing import Any

from sshcore import hookimpl
from sshcore.wire import SSHReader, string
from sshcore.interfaces import (AuthAction, AuthAsk, AuthDone, AuthMethod, AuthSend,
                                ClientAuthContext, ServerAuthContext)

NAME = "x-token@example.com"


class TokenClient:
    """Sends ``credentials["x_token"]`` once (connect(..., auth_credentials={"x_token": ...}))."""

    def __init__(self, ctx: ClientAuthContext) -> None:
        self.token = ctx.credentials.get("x_token")
        self.sent = False

    def next_attempt(self) -> AuthAction:
        if self.sent or not isinstance(self.token, str):
            return AuthDone()
        self.sent = True
        return AuthSend(string(self.token))

    def receive(self, payload: bytes) -> AuthAction:
        return AuthDone()

    def resume(self, answer: Any) -> AuthAction:
        return AuthDone()


class TokenServer:
    """Asks the application (SSHServer.validate_auth, kind "x-token") whether the token is good."""

    def __init__(self, ctx: ServerAuthContext) -> None:
        self.ctx = ctx

    def request(self, username: str, service: str, body: bytes) -> AuthAction:
        r = SSHReader(body)
        token = r.text()
        r.finish()
        return AuthAsk("x-token", {"token": token})

    def resume(self, answer: Any) -> AuthAction:
        return AuthDone(success=answer is True)

    def receive(self, payload: bytes) -> AuthAction:
        return AuthDone()


@hookimpl
def sshcore_auth_methods():
    # priority above publickey: when both sides have it, it is tried first
    return [AuthMethod(NAME, client=TokenClient, server=TokenServer, priority=200)]
