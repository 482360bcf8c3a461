"""The SSH agent, spoken over a blocking Unix socket (messages from :mod:`sshcore.files._agent_proto`)."""

from __future__ import annotations

import socket
from typing import Any

from ..files import _agent_proto as proto
from ..files.agent import AgentError, AgentKey
from ..errors import KeyImportError


def _request(path: str, request: bytes, timeout: float = 30.0) -> bytes:
    """Send one framed request (from :mod:`sshcore.files._agent_proto`); the reply's body."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(path)
            s.sendall(request)
            return _exactly(s, proto.reply_length(_exactly(s, 4)))
    except OSError as exc:
        raise AgentError(f"SSH agent at {path} failed: {exc}") from None


def _exactly(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise OSError("agent closed the connection")
        out += chunk
    return out


class _SyncAgent:
    def __init__(self, path: str) -> None:
        self.path = path

    def sign_sync(self, blob: bytes, data: bytes, algorithm: str) -> bytes:
        return proto.parse_sign_response(
            _request(self.path, proto.encode_sign_request(blob, data, algorithm)))


class BlockingAgentKey(AgentKey):
    """An agent key that signs synchronously (for the blocking front-end)."""

    binds_sessions = False  # signs without session-bind@openssh.com

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        return self._agent.sign_sync(self.public_blob, data, algorithm or self.key_type)


def agent_keys(path: str, registry: Any = None) -> list[Any]:
    from ..files.keys import decode_public_blob

    agent = _SyncAgent(path)
    keys = []
    for ident in proto.parse_identities(_request(path, proto.encode_request_identities())):
        try:
            public = decode_public_blob(ident.blob, registry)
        except KeyImportError:
            continue
        keys.append(BlockingAgentKey(agent, public, ident.comment))  # type: ignore[arg-type]
    return keys
