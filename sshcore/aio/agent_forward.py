"""Agent forwarding on the server side (OpenSSH's PROTOCOL, ``auth-agent-req@openssh.com``).

A client that forwards its agent (``ssh -A``) sends ``auth-agent-req@openssh.com`` on a
session.  When the server allows it (:meth:`SSHServer.agent_forwarding_requested`, and
the key's authorized_keys options or certificate permit agent forwarding), the session
gets its own agent socket: a Unix socket (mode 0600) in a fresh directory (mode 0700,
both owned by the user the server runs as), named in the session's ``SSH_AUTH_SOCK``.
Each connection to it opens an ``auth-agent@openssh.com`` channel to the client, which
relays the bytes to the client's agent.  The socket and its directory are removed when
the session ends (or the connection closes).

On the client side, :func:`connect_forwarded_agent` connects such a channel to the local
agent, bound to the session first (``session-bind@openssh.com``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import tempfile
from typing import Any

from ..kernel import events as ev
from ..kernel.chanreq import (AgentChannelOpen, AgentForwardingRequest, ExecRequest, ShellRequest,
                              SubsystemRequest)
from ..errors import ChannelOpenError, SSHError
from .channel import SSHServerChannel
from .forward import (CONNECT_FAILED, SSHTCPChannel, _Bridge, _SocketProtocol,
                      bridge_on_new_channel)

logger = logging.getLogger("sshcore.aio")

AGENT_REQUEST = AgentForwardingRequest.name
AGENT_CHANNEL = AgentChannelOpen.name


class AgentSocket:
    """One session's forwarded-agent socket: listening from creation, removed by
    :meth:`close`."""

    def __init__(self, conn: Any) -> None:
        self.directory = tempfile.mkdtemp(prefix="sshcore-agent-")  # mode 0700
        self.path = os.path.join(self.directory, f"agent.{os.getpid()}")
        self._server: asyncio.AbstractServer | None = None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(self.path)
            os.chmod(self.path, 0o600)
            sock.listen(16)
            sock.setblocking(False)
        except OSError:
            sock.close()
            shutil.rmtree(self.directory, ignore_errors=True)
            raise
        self._sock = sock
        # Listening already: connections made before the server task runs wait in the backlog.
        factory = bridge_on_new_channel(conn, AGENT_CHANNEL, lambda transport: AgentChannelOpen())
        self._task: asyncio.Task[Any] | None = conn._loop.create_task(
            conn._loop.create_unix_server(factory, sock=sock))
        self._task.add_done_callback(self._started)

    def _started(self, task: asyncio.Task[Any]) -> None:
        self._task = None
        if task.cancelled():
            return
        if task.exception() is not None:
            logger.warning("forwarded agent socket failed: %s", task.exception())
            self.close()
            return
        self._server = task.result()

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._server is not None:
            self._server.close()
            self._server = None
        self._sock.close()
        shutil.rmtree(self.directory, ignore_errors=True)


class AgentForwardingServerChannel(SSHServerChannel):
    """A server session channel that also answers ``auth-agent-req@openssh.com``."""

    def __init__(self, session: Any = None, **kwargs: Any) -> None:
        super().__init__(session, **kwargs)
        self.agent_socket: AgentSocket | None = None

    def _on_request(self, event: ev.ChannelRequestReceived) -> bool:
        if isinstance(event.decoded, AgentForwardingRequest):
            return self._agent_requested()
        ok = super()._on_request(event)
        if (ok and isinstance(event.decoded, (ShellRequest, ExecRequest, SubsystemRequest))
                and self.agent_socket is not None):
            # Set last, as sshd does: the client's env requests cannot redirect it.
            self.env["SSH_AUTH_SOCK"] = self.agent_socket.path
        return ok

    def _server_permits(self, what: str, key_flag: str, decider: str) -> bool:
        """Whether the key's options (``no-agent-forwarding``, ``no-X11-forwarding``: the
        ``key_flag`` attribute) and then the server's ``decider()`` allow ``what``; only
        True allows (a coroutine cannot be awaited here)."""
        conn: Any = self._conn
        limits = getattr(conn, "key_options", None)
        if limits is not None and not getattr(limits, key_flag):
            logger.info("%s refused by the key's options (%s)", what, limits.source)
            return False
        decide = getattr(conn._server, decider, None)
        allowed = decide() if decide is not None else False
        if allowed is not True:
            if asyncio.iscoroutine(allowed):
                allowed.close()
            return False
        return True

    def _agent_requested(self) -> bool:
        conn: Any = self._conn
        if self._started or self.agent_socket is not None or conn is None:
            return False  # too late (the command runs), or asked twice
        if not self._server_permits("agent forwarding", "agent_forwarding",
                                    "agent_forwarding_requested"):
            return False
        try:
            self.agent_socket = AgentSocket(conn)
        except OSError as exc:
            logger.warning("cannot make a forwarded agent socket: %s", exc)
            return False
        return True

    def _connection_lost(self, exc: Exception | None) -> None:
        if self.agent_socket is not None:
            self.agent_socket.close()
            self.agent_socket = None
        super()._connection_lost(exc)




async def connect_forwarded_agent(conn: Any, path: str, timeout: float = 10.0) -> SSHTCPChannel:
    """Client side of ``ssh -A``: connect an ``auth-agent@openssh.com`` channel the server
    opened to the local agent at ``path``, first binding that agent connection to this
    session as a forwarded one (``session-bind@openssh.com``, as OpenSSH's client does),
    so keys with destination constraints (``ssh-add -h A -h 'A>B'``) can be used from
    the server for the hops they allow, and no others.  An agent without the extension
    is used unbound."""
    from ..files._agent_proto import encode_session_bind, reply_length

    loop = conn._loop
    proof = conn._hostbound_proof()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(loop.sock_connect(sock, path), timeout)
        if proof is not None:
            await loop.sock_sendall(sock, encode_session_bind(*proof, True))
            length = reply_length(await asyncio.wait_for(_recv_exactly(loop, sock, 4), timeout))
            await asyncio.wait_for(_recv_exactly(loop, sock, length), timeout)  # reply ignored
        bridge = _Bridge(loop)
        await loop.create_unix_connection(lambda: _SocketProtocol(bridge), sock=sock)
    except (OSError, EOFError, asyncio.TimeoutError, SSHError) as exc:
        sock.close()
        raise ChannelOpenError(CONNECT_FAILED, f"connect to the SSH agent at {path} failed: "
                               f"{getattr(exc, 'strerror', None) or exc!r}") from None
    return SSHTCPChannel(bridge, channel_type=AGENT_CHANNEL)


async def _recv_exactly(loop: asyncio.AbstractEventLoop, sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = await loop.sock_recv(sock, n - len(data))
        if not chunk:
            raise EOFError("the SSH agent closed the connection")
        data += chunk
    return data
