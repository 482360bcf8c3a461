"""The "keyboard-interactive" method (RFC 4256), client and server side.

Client: each SSH_MSG_USERAUTH_INFO_REQUEST becomes an ``AuthAsk("kbdint", ...)`` with the
name, instruction and ``prompts`` as ``[(text, echo), ...]``; the application answers with
a list of strings (or None to give up).  A round without prompts is answered at once, and
a single no-echo password prompt is answered with a given ``password`` if there is one.

Server: ``AuthAsk("kbdint_challenge")`` asks the application for the first challenge
(a dict with ``name``, ``instruction``, ``prompts``), ``True`` to let the user in at once, or
anything else to refuse; each answer set comes back as ``AuthAsk("kbdint_response")`` whose
answer is ``True`` (success), another challenge (one more round) or anything else (failure).
"""

from __future__ import annotations

from typing import Any

from sshcore.wire import SSHReader, boolean, byte, string, uint32
from sshcore.errors import RemoteProtocolError
from sshcore.interfaces import (AuthAction, AuthAsk, AuthDone, AuthSend, ClientAuthContext,
                                ServerAuthContext)

INFO_REQUEST, INFO_RESPONSE = 60, 61
MAX_PROMPTS = 64


class KbdIntClient:
    def __init__(self, ctx: ClientAuthContext) -> None:
        self.ctx = ctx
        self.tried = False
        self.password = ctx.credentials.get("password")
        self.can_ask = bool(ctx.credentials.get("kbdint_prompt") or ctx.credentials.get("password_prompt"))
        self.password_used = False

    def next_attempt(self) -> AuthAction:
        # One conversation per connection: the server drives the rounds.
        if self.tried or not (self.can_ask or isinstance(self.password, str)):
            return AuthDone()
        self.tried = True
        return AuthSend(string("") + string(""))

    def receive(self, payload: bytes) -> AuthAction:
        if payload[0] != INFO_REQUEST:
            raise RemoteProtocolError(f"unexpected message {payload[0]} during keyboard-interactive")
        r = SSHReader(payload, 1)
        name, instruction, _lang = r.text(), r.text(), r.text("ascii")
        count = r.uint32()
        if count > MAX_PROMPTS:
            raise RemoteProtocolError("too many keyboard-interactive prompts")
        prompts = [(r.text(), r.boolean()) for _ in range(count)]
        r.finish()
        if not prompts:
            return self._respond([])
        if (len(prompts) == 1 and not prompts[0][1] and isinstance(self.password, str)
                and not self.password_used and "password" in prompts[0][0].lower()):
            self.password_used = True
            return self._respond([self.password])
        if not self.can_ask:
            return AuthDone()
        return AuthAsk("kbdint", {"name": name, "instruction": instruction, "prompts": prompts})

    def resume(self, answer: Any) -> AuthAction:
        if not isinstance(answer, (list, tuple)) or not all(isinstance(a, str) for a in answer):
            return AuthDone()
        return self._respond(list(answer))

    @staticmethod
    def _respond(answers: list[str]) -> AuthAction:
        body = byte(INFO_RESPONSE) + uint32(len(answers)) + b"".join(string(a) for a in answers)
        return AuthSend(payloads=[body])


def encode_challenge(challenge: dict[str, Any]) -> bytes:
    prompts = list(challenge.get("prompts", ()))
    return b"".join((byte(INFO_REQUEST), string(challenge.get("name", "")),
                     string(challenge.get("instruction", "")), string(challenge.get("lang", "")),
                     uint32(len(prompts)),
                     b"".join(string(p) + boolean(echo) for p, echo in prompts)))


class KbdIntServer:
    def __init__(self, ctx: ServerAuthContext) -> None:
        self.ctx = ctx
        self.expected = -1
        self.stage = "challenge"

    def request(self, username: str, service: str, body: bytes) -> AuthAction:
        r = SSHReader(body)
        lang, submethods = r.text(), r.text()
        r.finish()
        self.stage = "challenge"
        return AuthAsk("kbdint_challenge", {"language": lang, "submethods": submethods})

    def _next(self, answer: Any) -> AuthAction:
        if answer is True:
            return AuthDone(success=True)
        if isinstance(answer, dict):
            self.expected = len(list(answer.get("prompts", ())))
            self.stage = "response"
            return AuthSend(payloads=[encode_challenge(answer)])
        return AuthDone()

    def resume(self, answer: Any) -> AuthAction:
        return self._next(answer)

    def receive(self, payload: bytes) -> AuthAction:
        if payload[0] != INFO_RESPONSE or self.stage != "response":
            raise RemoteProtocolError(f"unexpected message {payload[0]} during keyboard-interactive")
        r = SSHReader(payload, 1)
        count = r.uint32()
        if count != self.expected:
            raise RemoteProtocolError("keyboard-interactive response count does not match the prompts")
        responses = [r.text() for _ in range(count)]
        r.finish()
        self.stage = "waiting"
        return AuthAsk("kbdint_response", {"responses": responses})
