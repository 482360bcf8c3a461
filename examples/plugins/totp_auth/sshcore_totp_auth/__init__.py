"""totp@example.com: log in with a time-based one-time password (RFC 6238), stdlib only.

Client: ``connect(..., preferred_auth=["totp@example.com"],
auth_credentials={"totp_secret": b"..."})`` computes the current 6-digit code (or pass
``{"totp_code": "123456"}``).  Server: the method asks the application for the user's
secret (``SSHServer.validate_auth(user, "totp@example.com", "totp-secret", {})``
returns the secret bytes, or None) and accepts the code of this 30-second step or of
the one before or after it.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import time
from typing import Any

from sshcore.plugin import (AuthAsk, AuthDone, AuthMethod, AuthSend, DecodeError, SSHReader,
                            hookimpl)
from sshcore.wire import string

SSHCORE_PLUGIN_API = "1.0"
NAME = "totp@example.com"
STEP = 30


def totp(secret: bytes, at: float | None = None, digits: int = 6) -> str:
    """RFC 6238 with HMAC-SHA-1 (RFC 4226 dynamic truncation)."""
    counter = int((time.time() if at is None else at) // STEP)
    mac = hmac.new(secret, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    code = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(code % 10 ** digits).zfill(digits)


class TotpClient:
    def __init__(self, ctx: Any) -> None:
        secret = ctx.credentials.get("totp_secret")
        self._code = ctx.credentials.get("totp_code") or (totp(secret) if secret else None)

    def next_attempt(self) -> Any:
        code, self._code = self._code, None  # one try per connection
        return AuthSend(string(code)) if code else AuthDone()

    def receive(self, payload: bytes) -> Any:
        return AuthDone()

    def resume(self, answer: Any) -> Any:
        return AuthDone()


class TotpServer:
    def __init__(self, ctx: Any) -> None:
        self._code = ""

    def request(self, username: str, service: str, body: bytes) -> Any:
        try:
            r = SSHReader(body)
            self._code = r.text("ascii")
            r.finish()
        except (DecodeError, UnicodeDecodeError):
            return AuthDone()
        return AuthAsk("totp-secret", {})

    def resume(self, secret: Any) -> Any:
        if not isinstance(secret, bytes) or not secret:
            return AuthDone()
        now = time.time()
        ok = any(hmac.compare_digest(totp(secret, now + d * STEP), self._code)
                 for d in (-1, 0, 1))
        return AuthDone(success=ok)

    def receive(self, payload: bytes) -> Any:
        return AuthDone()


@hookimpl
def sshcore_auth_methods() -> list[AuthMethod]:
    return [AuthMethod(NAME, client=TotpClient, server=TotpServer, enabled_by_default=False)]
