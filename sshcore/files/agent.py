"""An SSH agent client (draft-miller-ssh-agent): the keys ``ssh-add`` loaded, used for
publickey authentication without the private key ever leaving the agent, and the
agent's management (add keys with lifetime and confirm constraints, remove, lock).

The agent is reached through a Unix socket (``SSH_AUTH_SOCK``).  Each request opens its
own short connection, so an :class:`AgentKey` stays usable for as long as the agent runs.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from . import _agent_proto as proto
from ._agent_proto import AgentError, Identity

__all__ = ["AgentError", "AgentKey", "Identity", "SSHAgentClient"]


class SSHAgentClient:
    """Talks to the agent at ``path`` (default ``$SSH_AUTH_SOCK``): list its keys, sign,
    add and remove keys, lock and unlock it.  The messages are built and parsed by the
    I/O-free :mod:`sshcore.files._agent_proto`; this class only carries them over asyncio."""

    def __init__(self, path: str | os.PathLike[str] | None = None, timeout: float = 30.0) -> None:
        path = path if path is not None else os.environ.get("SSH_AUTH_SOCK")
        if not path:
            raise AgentError("no SSH agent: SSH_AUTH_SOCK is not set")
        self.path = os.fspath(path)
        self.timeout = timeout

    async def _exchange(self, *requests: bytes) -> bytes:
        """Send framed requests one after another on one fresh connection; the body of
        the last reply (the earlier ones must be SSH_AGENT_SUCCESS, or are ignored when
        they set up the connection, as session-bind does for older agents)."""
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(self.path),
                                                    self.timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise AgentError(f"cannot reach the SSH agent at {self.path}: {exc}") from None
        try:
            for request in requests:
                writer.write(request)
                await writer.drain()
                header = await asyncio.wait_for(reader.readexactly(4), self.timeout)
                length = proto.reply_length(header)
                body = await asyncio.wait_for(reader.readexactly(length), self.timeout)
            return body
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as exc:
            raise AgentError(f"SSH agent at {self.path} failed: {exc!r}") from None
        finally:
            writer.close()

    async def list_identities(self) -> list[Identity]:
        """Every key (and certificate) blob the agent holds, with its comment."""
        return proto.parse_identities(await self._exchange(proto.encode_request_identities()))

    async def get_keys(self, registry: Any = None) -> list[AgentKey]:
        """The agent's keys whose types an installed plugin knows (others are skipped)."""
        from ..errors import KeyImportError
        from .keys import decode_public_blob

        keys = []
        for ident in await self.list_identities():
            try:
                public = decode_public_blob(ident.blob, registry)
            except KeyImportError:
                continue  # e.g. a certificate or a type no plugin provides
            keys.append(AgentKey(self, public, ident.comment))
        return keys

    async def sign(self, blob: bytes, data: bytes, algorithm: str, *,
                   session_bind: tuple[bytes, bytes, bytes] | None = None,
                   forwarding: bool = False) -> bytes:
        """The agent's signature of ``data`` with the key ``blob``.

        ``session_bind``: ``(host key blob, session ID, the host's signature of it)``;
        the agent connection is first bound to that session (OpenSSH's
        ``session-bind@openssh.com``), as ``ssh`` does before publickey authentication,
        so that keys added with destination constraints (``ssh-add -h``) can sign for
        the hosts they are allowed to.  An agent that does not know the extension still
        signs for keys without such constraints."""
        sign = proto.encode_sign_request(blob, data, algorithm)
        if session_bind is None:
            return proto.parse_sign_response(await self._exchange(sign))
        bind = proto.encode_session_bind(*session_bind, forwarding)
        return proto.parse_sign_response(await self._exchange(bind, sign))

    async def add_key(self, key: Any, comment: str | None = None, *, lifetime: int | None = None,
                      confirm: bool = False) -> None:
        """Give the agent a private key (as ``ssh-add``; a :class:`~sshcore.files.keys.CertifiedKey`
        goes with its certificate).  ``lifetime``: seconds after which the agent forgets it
        (``ssh-add -t``); ``confirm``: the agent asks the user (``SSH_ASKPASS``) before
        each use (``ssh-add -c``).  ``comment`` defaults to the key's own."""
        from .keys import private_key_fields

        fields = private_key_fields(key)
        if comment is None:
            comment = getattr(key, "comment", "") or ""
        request = proto.encode_add_identity(fields, comment, lifetime, confirm)
        proto.parse_status(await self._exchange(request), "add the key")

    async def remove_key(self, key: Any) -> None:
        """Remove one key (a key object or its public blob) from the agent (``ssh-add -d``)."""
        blob = key if isinstance(key, (bytes, bytearray)) else key.public_blob
        reply = await self._exchange(proto.encode_remove_identity(bytes(blob)))
        proto.parse_status(reply, "remove the key")

    async def remove_all(self) -> None:
        """Remove every key from the agent (``ssh-add -D``)."""
        proto.parse_status(await self._exchange(proto.encode_remove_all()), "remove all keys")

    async def lock(self, passphrase: str | bytes) -> None:
        """Lock the agent (``ssh-add -x``): it lists no keys and signs nothing until unlocked."""
        proto.parse_status(await self._exchange(proto.encode_lock(passphrase)), "lock")

    async def unlock(self, passphrase: str | bytes) -> None:
        """Unlock the agent (``ssh-add -X``); a wrong passphrase raises AgentError."""
        reply = await self._exchange(proto.encode_lock(passphrase, lock=False))
        proto.parse_status(reply, "unlock (wrong passphrase, or not locked)")


class AgentKey:
    """A key held by the agent: public parts here, signing done by the agent."""

    #: sign_async() takes ``session_bind=`` (the client's publickey auth passes it)
    binds_sessions = True

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

    async def sign_async(self, data: bytes, algorithm: str, *,
                         session_bind: tuple[bytes, bytes, bytes] | None = None) -> bytes:
        """Sign through the agent (``session_bind``: see :meth:`SSHAgentClient.sign`)."""
        return await self._agent.sign(self.public_blob, data, algorithm,
                                      session_bind=session_bind)

    def __repr__(self) -> str:
        return f"<AgentKey {self.key_type} {self.comment!r}>"
