"""An SSH agent client (draft-miller-ssh-agent): the keys ``ssh-add`` loaded, used for
publickey authentication without the private key ever leaving the agent.

The agent is reached through a Unix socket (``SSH_AUTH_SOCK``).  Each request opens its
own short connection, so an :class:`AgentKey` stays usable for as long as the agent runs.
"""

from __future__ import annotations

import asyncio
import os
import struct
from typing import Any

from ._wire import SSHReader, byte, string, uint32
from .errors import SSHError

REQUEST_IDENTITIES = 11
IDENTITIES_ANSWER = 12
SIGN_REQUEST = 13
SIGN_RESPONSE = 14
FAILURE = 5
#: SSH_AGENTC_SIGN_REQUEST flags selecting the RSA signature hash
_RSA_FLAGS = {"rsa-sha2-256": 2, "rsa-sha2-512": 4}
_MAX_REPLY = 256 * 1024


class AgentError(SSHError):
    """The agent could not be reached, refused, or answered nonsense."""


class SSHAgentClient:
    """Talks to the agent at ``path`` (default ``$SSH_AUTH_SOCK``)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, timeout: float = 30.0) -> None:
        path = path if path is not None else os.environ.get("SSH_AUTH_SOCK")
        if not path:
            raise AgentError("no SSH agent: SSH_AUTH_SOCK is not set")
        self.path = os.fspath(path)
        self.timeout = timeout

    async def _request(self, msg_type: int, payload: bytes = b"") -> tuple[int, SSHReader]:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(self.path),
                                                    self.timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise AgentError(f"cannot reach the SSH agent at {self.path}: {exc}") from None
        try:
            body = byte(msg_type) + payload
            writer.write(uint32(len(body)) + body)
            await writer.drain()
            header = await asyncio.wait_for(reader.readexactly(4), self.timeout)
            (length,) = struct.unpack(">I", header)
            if not 0 < length <= _MAX_REPLY:
                raise AgentError(f"SSH agent reply of {length} bytes")
            reply = await asyncio.wait_for(reader.readexactly(length), self.timeout)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as exc:
            raise AgentError(f"SSH agent at {self.path} failed: {exc!r}") from None
        finally:
            writer.close()
        return reply[0], SSHReader(reply, 1)

    async def get_keys(self, registry: Any = None) -> list[AgentKey]:
        """The agent's keys whose types an installed plugin knows (others are skipped)."""
        from .errors import KeyImportError
        from .keys import decode_public_blob

        kind, r = await self._request(REQUEST_IDENTITIES)
        if kind != IDENTITIES_ANSWER:
            raise AgentError(f"SSH agent refused to list keys (message {kind})")
        keys = []
        try:
            for _ in range(r.uint32()):
                blob, comment = r.string(), r.text("utf-8")
                try:
                    public = decode_public_blob(blob, registry)
                except KeyImportError:
                    continue  # e.g. a certificate or a type no plugin provides
                keys.append(AgentKey(self, public, comment))
        except SSHError as exc:
            raise AgentError(f"malformed key list from the SSH agent: {exc}") from None
        return keys

    async def sign(self, blob: bytes, data: bytes, algorithm: str) -> bytes:
        payload = string(blob) + string(data) + uint32(_RSA_FLAGS.get(algorithm, 0))
        kind, r = await self._request(SIGN_REQUEST, payload)
        if kind != SIGN_RESPONSE:
            raise AgentError(f"SSH agent refused to sign with the key (message {kind})")
        try:
            return r.string()
        except SSHError as exc:
            raise AgentError(f"malformed signature from the SSH agent: {exc}") from None


class AgentKey:
    """A key held by the agent: public parts here, signing done by the agent."""

    def __init__(self, agent: SSHAgentClient, public: Any, comment: str) -> None:
        self._agent = agent
        self._public = public
        self.key_type = public.key_type
        self.public_blob = public.public_blob
        self.comment = comment

    def sig_algorithms(self) -> Any:
        return self._public.sig_algorithms()

    def verify(self, data: bytes, signature: bytes, algorithm: str | None = None) -> bool:
        return bool(self._public.verify(data, signature, algorithm))

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        raise AgentError("agent keys sign asynchronously: use sign_async()")

    async def sign_async(self, data: bytes, algorithm: str) -> bytes:
        return await self._agent.sign(self.public_blob, data, algorithm)

    def __repr__(self) -> str:
        return f"<AgentKey {self.key_type} {self.comment!r}>"
