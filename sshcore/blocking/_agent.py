"""The SSH agent, spoken over a blocking Unix socket (messages from :mod:`sshcore.agent`)."""

from __future__ import annotations

import socket
import struct
from typing import Any

from .._wire import SSHReader, byte, string, uint32
from ..agent import (_MAX_REPLY, _RSA_FLAGS, IDENTITIES_ANSWER, REQUEST_IDENTITIES, SIGN_REQUEST,
                     SIGN_RESPONSE, AgentError, AgentKey)
from ..errors import KeyImportError, SSHError


def _request(path: str, msg_type: int, payload: bytes = b"", timeout: float = 30.0) -> SSHReader:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(path)
            body = byte(msg_type) + payload
            s.sendall(uint32(len(body)) + body)
            reply = _exactly(s, 4)
            (length,) = struct.unpack(">I", reply)
            if not 0 < length <= _MAX_REPLY:
                raise AgentError(f"SSH agent reply of {length} bytes")
            data = _exactly(s, length)
    except OSError as exc:
        raise AgentError(f"SSH agent at {path} failed: {exc}") from None
    return SSHReader(data, 0)


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
        r = _request(self.path, SIGN_REQUEST, string(blob) + string(data)
                     + uint32(_RSA_FLAGS.get(algorithm, 0)))
        if r.byte() != SIGN_RESPONSE:
            raise AgentError("SSH agent refused to sign with the key")
        return r.string()


class BlockingAgentKey(AgentKey):
    """An agent key that signs synchronously (for the blocking front-end)."""

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        return self._agent.sign_sync(self.public_blob, data, algorithm or self.key_type)


def agent_keys(path: str, registry: Any = None) -> list[Any]:
    from ..keys import decode_public_blob

    r = _request(path, REQUEST_IDENTITIES)
    if r.byte() != IDENTITIES_ANSWER:
        raise AgentError("SSH agent refused to list keys")
    agent = _SyncAgent(path)
    keys = []
    try:
        for _ in range(r.uint32()):
            blob, comment = r.string(), r.text("utf-8")
            try:
                public = decode_public_blob(blob, registry)
            except KeyImportError:
                continue
            keys.append(BlockingAgentKey(agent, public, comment))  # type: ignore[arg-type]
    except SSHError as exc:
        raise AgentError(f"malformed key list from the SSH agent: {exc}") from None
    return keys
