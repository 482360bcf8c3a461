"""The "password" method (RFC 4252 section 8), client and server side."""

from __future__ import annotations

from typing import Any

from sshcore.wire import SSHReader, boolean, byte, string
from sshcore.errors import RemoteProtocolError
from sshcore.interfaces import (AuthAction, AuthAsk, AuthDone, AuthSend, ClientAuthContext,
                                ServerAuthContext)

MAX_ATTEMPTS = 3
PASSWD_CHANGEREQ = 60


class PasswordClient:
    """Sends the password given up front, or asks the application (``kind="password"``),
    at most ``credentials["password_attempts"]`` times (3, like ssh's NumberOfPasswordPrompts)."""

    def __init__(self, ctx: ClientAuthContext) -> None:
        self.ctx = ctx
        self.attempts = 0
        self._changing = False
        self.given = ctx.credentials.get("password")

    def next_attempt(self) -> AuthAction:
        if self.attempts >= int(self.ctx.credentials.get("password_attempts", MAX_ATTEMPTS)):
            return AuthDone()
        self.attempts += 1
        if self.attempts == 1 and isinstance(self.given, str):
            return self._send(self.given)
        if self.ctx.credentials.get("password_prompt"):
            return AuthAsk("password", {"prompt": f"{self.ctx.username}'s password: ",
                                        "attempt": self.attempts})
        return AuthDone()

    def _send(self, password: str) -> AuthAction:
        return AuthSend(boolean(False) + string(password))

    def resume(self, answer: Any) -> AuthAction:
        if self._changing:
            self._changing = False
            # answer: (old password, new password)
            if (not isinstance(answer, (tuple, list)) or len(answer) != 2
                    or not all(isinstance(a, str) for a in answer)):
                return AuthDone()
            return AuthSend(boolean(True) + string(answer[0]) + string(answer[1]))
        if not isinstance(answer, str):
            return AuthDone()
        return self._send(answer)

    def receive(self, payload: bytes) -> AuthAction:
        """SSH_MSG_USERAUTH_PASSWD_CHANGEREQ (60): ask the application for a new password."""
        if payload[0] != PASSWD_CHANGEREQ:
            raise RemoteProtocolError(f"unexpected message {payload[0]} during password auth")
        r = SSHReader(payload, 1)
        prompt, _lang = r.text(), r.text("ascii")
        if not self.ctx.credentials.get("password_change"):
            return AuthDone()
        self._changing = True
        return AuthAsk("password_change", {"prompt": prompt})


class PasswordServer:
    """Asks the application to check (username, password) (``kind="password"``)."""

    def __init__(self, ctx: ServerAuthContext) -> None:
        self.ctx = ctx

    def request(self, username: str, service: str, body: bytes) -> AuthAction:
        r = SSHReader(body)
        change = r.boolean()
        password = r.text()
        new_password = r.text() if change else None
        r.finish()
        if change and new_password is None:  # pragma: no cover - guarded by the reader
            raise RemoteProtocolError("password change without a new password")
        return AuthAsk("password", {"password": password, "new_password": new_password})

    def resume(self, answer: Any) -> AuthAction:
        """``True``: in; ``"change"`` (or a string prompt): the password expired, ask the
        client for a new one (SSH_MSG_USERAUTH_PASSWD_CHANGEREQ); anything else: refused."""
        if isinstance(answer, str):
            prompt = "Password expired, please change it" if answer == "change" else answer
            return AuthSend(payloads=[byte(PASSWD_CHANGEREQ) + string(prompt) + string("")])
        return AuthDone(success=answer is True)

    def receive(self, payload: bytes) -> AuthAction:
        raise RemoteProtocolError(f"unexpected message {payload[0]} during password auth")
