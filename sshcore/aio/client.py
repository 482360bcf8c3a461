"""Client connection: host-key trust, credentials, sessions, ``run()``."""

from __future__ import annotations

import asyncio
import logging
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..kernel import events as ev
from ..kernel.config import ConnectionConfig
from ..kernel.chanreq import (CancelStreamlocalForwardRequest, CancelTcpipForwardRequest,
                              ChannelOpenData, DirectStreamlocalOpen, DirectTcpipOpen,
                              ForwardedStreamlocalOpen, ForwardedTcpipOpen, ForwardPortReply,
                              GlobalRequest, HostKeysProofReply, HostKeysProveRequest,
                              HostKeysRequest, StreamlocalForwardRequest, TcpipForwardRequest,
                              hostkeys_proof_data)
from ..errors import (SSHError, TooManySessionsError, ChannelListenError, ChannelOpenError,
                      DisconnectReason, HostKeyNotVerifiableError, KeyImportError,
                      PermissionDeniedError, ProcessError)
from ..clientpolicy import (HostKeyChecker, UnknownHost, auth_answer, exhausted_message,
                            rejection_message)
from ..files.keys import KnownHosts, add_known_host, fingerprint
from ..options import DEFAULT_KEY_FILES, default_username, load_client_keys  # noqa: F401
from ..sessionconfig import SessionConfig
from .channel import SSHClientChannel, SSHClientSession
from .connection import SSHConnection, _maybe_await
from .forward import (PROHIBITED, SSHListener, SSHTCPChannel, _maybe, _SocksProtocol,
                      _StreamSession, bridge_on_new_channel, connect_bridge, listen_local,
                      run_stream_handler)
from .process import STDOUT, SSHClientProcess, SSHCompletedProcess



logger = logging.getLogger("sshcore.aio")

class SSHClient:
    """Optional callbacks for a client connection (seed API)."""

    def connection_made(self, conn: SSHClientConnection) -> None:
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        pass

    def auth_banner_received(self, msg: str, lang: str) -> None:
        pass

    def auth_completed(self) -> None:
        pass


class SSHClientConnection(SSHConnection):
    def __init__(self, config: ConnectionConfig, host: str, port: int, *,
                 known_hosts: Any, client: SSHClient | None,
                 password: Any, kbdint_handler: Any = None, password_change: Any = None,
                 accept_new_host_keys: bool = False, hash_known_hosts: bool = False,
                 unknown_host_handler: Any = None, update_host_keys: bool = False) -> None:
        super().__init__(config)
        self.host = host
        self.port = port
        self._known_hosts = known_hosts
        self._accept_new = accept_new_host_keys
        self._hash_known_hosts = hash_known_hosts
        self._unknown_host_handler = unknown_host_handler
        self._update_host_keys = update_host_keys
        self._trusted_by: list[Any] = []  # the known_hosts files that vouched for this host
        self._checker = HostKeyChecker(host, port, known_hosts, accept_new=accept_new_host_keys,
                                       hash_known_hosts=hash_known_hosts,
                                       ask=unknown_host_handler is not None)
        self._client = client or SSHClient()
        self._password = password
        self._kbdint = kbdint_handler
        self._password_change = password_change
        self.server_host_key: Any = None
        self._remote_listeners: dict[tuple[str, Any], _RemoteListener] = {}
        self._pending_forwards: set[asyncio.Future[None]] = set()

    @property
    def revoked_host_keys(self) -> Any:
        """connect(revoked_host_keys=): ssh's RevokedHostKeys (a KRL or a file of keys)."""
        return self._checker.revoked

    @revoked_host_keys.setter
    def revoked_host_keys(self, value: Any) -> None:
        self._checker.revoked = value

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._client.connection_made(self)

    def on_closed(self, exc: Exception | None) -> None:
        for hop in reversed(getattr(self, "_hops", [])):  # jump hosts opened for this one
            hop.close()
        proxy = getattr(self, "_proxy", None)
        if proxy is not None:  # ProxyCommand: ends with us
            if proxy.poll() is None:
                proxy.terminate()
            self._loop.run_in_executor(None, proxy.wait)  # reap it off the event loop
        self._client.connection_lost(exc)

    # -------------------------------------------------------------- events

    def _on_host_key(self, event: ev.HostKeyReceived) -> None:
        assert self._conn is not None
        self.server_host_key = event.key
        verdict = self._check_host_key(event.key)
        if verdict is True:
            self._conn.set_time(self._loop.time())  # the SERVICE_REQUEST is timed from here
            self._conn.accept_host_key()
        elif inspect.isawaitable(verdict):
            async def decide() -> None:
                ok = await verdict
                if self._conn is None or self._conn.closed:
                    return
                if ok and not isinstance(ok, str):
                    self._conn.set_time(self._loop.time())
                    self._conn.accept_host_key()
                else:
                    self._reject_host_key(ok if isinstance(ok, str)
                                          else "host key rejected by the application")
                self._process()
            self._spawn(decide())
        else:
            self._reject_host_key(verdict or "host key is not trusted")

    def _reject_host_key(self, why: str) -> None:
        assert self._conn is not None
        self._set_error(HostKeyNotVerifiableError(
            rejection_message(self.host, self.port, self.server_host_key, why)))
        self._conn.reject_host_key(why)

    def _check_host_key(self, key: Any) -> Any:
        """True, why not (a string), or an awaitable of either (the shared
        :class:`~sshcore.clientpolicy.HostKeyChecker` decides; we only await)."""
        verdict = self._checker.check(key)
        self._trusted_by = self._checker.trusted_by
        if isinstance(verdict, UnknownHost):
            async def ask() -> Any:
                return verdict.conclude(await _maybe_await(
                    self._unknown_host_handler(self.host, self.port, key)))
            return ask()
        return verdict

    def _on_auth_input(self, event: ev.AuthInputRequested) -> None:
        assert self._conn is not None
        info = event.info
        if event.kind == "sign":
            async def sign() -> bytes | None:
                try:
                    key, extra = info["key"], {}
                    if "session_bind" in info and getattr(key, "binds_sessions", False):
                        extra["session_bind"] = info["session_bind"]  # an SSH agent's key
                    return bytes(await key.sign_async(info["data"], info["algorithm"], **extra))
                except SSHError as exc:
                    logger.warning("%s", exc)
                    return None
            answer: Any = sign
        else:
            answer = auth_answer(event.kind, info, password=self._password,
                                 kbdint_handler=self._kbdint, password_change=self._password_change)
            if answer is None:
                self._conn.provide_auth_input(None)
                return

        async def ask() -> None:
            value = await _maybe_await(answer())
            if self._conn is not None and not self._conn.closed:
                self._conn.provide_auth_input(value)
                self._process()
        self._spawn(ask())

    def _on_banner(self, event: ev.AuthBannerReceived) -> None:
        self._client.auth_banner_received(event.message, event.language)

    def _on_auth_completed(self, event: ev.AuthCompleted) -> None:
        self.username = event.username
        self._client.auth_completed()
        if not self._ready.done():
            self._ready.set_result(None)

    def _on_auth_exhausted(self, event: ev.AuthExhausted) -> None:
        assert self._conn is not None
        tried = self._conn.auth_methods_tried
        self._set_error(PermissionDeniedError(exhausted_message(event.allowed, tried),
                                              allowed=tuple(event.allowed), tried=tried))
        self._conn.disconnect(DisconnectReason.NO_MORE_AUTH_METHODS_AVAILABLE,
                              "no more authentication methods available")

    def global_request_received(self, request: str, data: bytes,
                                decoded: GlobalRequest | None = None) -> Any:
        if (type(decoded) is HostKeysRequest and self._update_host_keys  # noqa: E721
                and self._trusted_by):
            self._spawn_quiet(self._learn_host_keys(decoded.blobs))
        return super().global_request_received(request, data, decoded)

    async def _learn_host_keys(self, blobs: Sequence[bytes]) -> None:
        """UpdateHostKeys: have the server prove the host keys known_hosts lacks, then
        record them (never replacing a recorded key of the same type)."""
        from ..files.keys import decode_public_blob

        paths = self._trusted_by
        table, _ = KnownHosts.load(paths)
        recorded = {e.key_type for e in table.host_entries(self.host, self.port)}
        new = []
        for blob in blobs:
            try:
                key = decode_public_blob(blob, self._config.registry)
            except KeyImportError:
                continue  # a type no plugin knows
            if key.key_type not in recorded and table.revoked(blob) is None:
                new.append(key)
        if not new:
            return
        reply = await self._global_request(
            HostKeysProveRequest(tuple(k.public_blob for k in new)))
        session_id = self.session_id
        if not reply.success or session_id is None:
            return
        proofs = reply.decoded
        signatures = proofs.signatures if isinstance(proofs, HostKeysProofReply) else ()
        if len(signatures) < len(new):
            logger.warning("%s:%s: server proved %d of %d new host keys; none recorded",
                           self.host, self.port, len(signatures), len(new))
            return
        for key, sig in zip(new, signatures):
            if not key.verify(hostkeys_proof_data(session_id, key.public_blob), sig):
                logger.warning("%s:%s: server failed to prove host key %s; none recorded",
                               self.host, self.port, fingerprint(key))
                return
        for key in new:
            add_known_host(paths[0], self.host, self.port, key, hashed=self._hash_known_hosts)
            logger.info("%s:%s: learned host key %s %s", self.host, self.port, key.key_type,
                        fingerprint(key))

    #: Set from connect(forward_agent=): the local agent socket the server may reach.
    agent_forwarding_path: str | None = None
    #: Set from connect(): SendEnv/SetEnv/RequestTTY/RemoteCommand for the sessions
    #: this connection opens (:class:`~sshcore.sessionconfig.SessionConfig`).
    session_config: SessionConfig = SessionConfig()
    #: The forwards connect() set up (LocalForward...): ``(ForwardSpec, listener)``.
    config_forwards: Sequence[tuple[Any, Any]] = ()

    #: Set from connect(x11_forwarding=): the display and cookies (sshcore.aio.x11.ClientX11).
    x11_forwarding: Any = None

    def channel_open_requested(self, channel: int, channel_type: str, data: bytes,
                               decoded: ChannelOpenData | None = None) -> Any:
        if channel_type == "x11":
            from .x11 import accept_x11_channel

            return accept_x11_channel(self, decoded)
        if channel_type == "auth-agent@openssh.com":
            if not self.agent_forwarding_path:
                raise ChannelOpenError(PROHIBITED, "agent forwarding was not requested")
            from .agent_forward import connect_forwarded_agent

            return connect_forwarded_agent(self, self.agent_forwarding_path)
        if isinstance(decoded, ForwardedTcpipOpen):
            host, port = decoded.host, decoded.port
            orig_host, orig_port = decoded.originator, decoded.originator_port
            listener = self._remote_listeners.get(("tcp", port))
        elif isinstance(decoded, ForwardedStreamlocalOpen):
            host, port = decoded.path, 0
            orig_host, orig_port = "", 0
            listener = self._remote_listeners.get(("unix", host))
        else:
            raise ChannelOpenError(PROHIBITED, f"{channel_type} channels are not accepted by this client")
        if listener is None and self._pending_forwards:
            key = ("tcp", port) if channel_type == "forwarded-tcpip" else ("unix", host)
            return self._incoming_after_pending(key, host, orig_host, orig_port)
        if listener is None:
            raise ChannelOpenError(PROHIBITED, f"no forwarding was requested for {host}")
        return listener._incoming(orig_host, orig_port)

    async def _incoming_after_pending(self, key: tuple[str, Any], host: str, orig_host: str,
                                      orig_port: int) -> Any:
        await asyncio.gather(*list(self._pending_forwards))
        listener = self._remote_listeners.get(key)
        if listener is None:
            raise ChannelOpenError(PROHIBITED, f"no forwarding was requested for {host}")
        return await listener._incoming(orig_host, orig_port)

    # -------------------------------------------------------------- sessions

    async def _open_session(self, chan: Any) -> None:
        try:
            await self.open_channel("session", chan)
        except ChannelOpenError as exc:
            if exc.code in (1, 2):  # sshd refuses a session past MaxSessions ("open failed")
                raise TooManySessionsError(exc.code, f"{exc.reason} (session refused: the "
                                                     f"server's MaxSessions limit?)") from None
            raise

    async def create_session(self, session_factory: Callable[[], Any], command: str | None = None,
                             *, subsystem: str | None = None, env: Mapping[str, str] | None = None,
                             term_type: str | None = None, term_size: Sequence[int] | None = None,
                             term_modes: Mapping[int, int] | None = None,
                             encoding: str | None = "utf-8", errors: str = "strict",
                             window: int | None = None, max_pktsize: int | None = None,
                             ) -> tuple[SSHClientChannel, Any]:
        """Open a session channel for ``session_factory()``'s callbacks; ``window`` and
        ``max_pktsize`` (as in AsyncSSH) override the receive window and the largest data
        packet this side accepts (default: the connection's)."""
        session = session_factory()
        chan = SSHClientChannel(session, encoding=encoding, errors=errors)
        if window is not None:
            chan.window_size = window
        if max_pktsize is not None:
            chan.max_packet_size = max_pktsize
        command, env, term_type = self.session_config.apply(command, subsystem, env, term_type)
        await self._open_session(chan)
        chan._opened()
        await chan._start(command, subsystem, env, term_type,
                          tuple(term_size) if term_size else None, term_modes)
        return chan, session

    async def create_process(self, command: str | None = None, *, input: str | bytes | None = None,
                             subsystem: str | None = None, env: Mapping[str, str] | None = None,
                             term_type: str | None = None, term_size: Sequence[int] | None = None,
                             term_modes: Mapping[int, int] | None = None,
                             encoding: str | None = "utf-8", errors: str = "strict",
                             stderr: int | None = None) -> SSHClientProcess:
        """Start ``command`` (a shell without one) with stream I/O; ``input``, if given, is
        written to its stdin followed by EOF; ``stderr=sshcore.STDOUT`` merges the remote
        stderr into stdout, in arrival order."""
        if stderr not in (None, STDOUT):
            raise ValueError("stderr must be None or sshcore.STDOUT")
        command, env, term_type = self.session_config.apply(command, subsystem, env, term_type)
        proc = SSHClientProcess(encoding, errors, merge_stderr=stderr == STDOUT)
        proc.command = command
        chan = SSHClientChannel(proc, encoding=None)
        await self._open_session(chan)
        chan._opened()
        await chan._start(command, subsystem, env, term_type,
                          tuple(term_size) if term_size else None, term_modes)
        if input is not None:
            proc.stdin.write(input)
            proc.stdin.write_eof()
        return proc

    async def run(self, command: str | None = None, *, input: str | bytes | None = None,
                  check: bool = False, **kwargs: Any) -> SSHCompletedProcess:
        proc = await self.create_process(command, input=input, **kwargs)
        proc.stdin.write_eof()
        result = await proc.wait()
        if check and (result.exit_status != 0 or result.exit_signal):
            raise ProcessError(command, result.exit_status,
                               result.exit_signal[0] if result.exit_signal else None,
                               result.stdout, result.stderr)
        return result


    def start_sftp_client(self, **options: Any) -> Any:
        """An SFTP session from the plugin providing the "sftp" subsystem (sshcore-sftp):
        ``async with conn.start_sftp_client() as sftp`` or ``sftp = await
        conn.start_sftp_client()``; ``options`` go to the plugin's client factory."""
        from .api import _ConnectContext

        desc = self._config.registry.subsystem("sftp")
        if desc is None or desc.client_factory is None:
            raise SSHError("no installed plugin provides an SFTP client (install sshcore-sftp)")
        return _ConnectContext(desc.client_factory(self, **options))

    # -------------------------------------------------------------- forwarding: direct

    async def create_connection(self, session_factory: Callable[[], Any], remote_host: str,
                                remote_port: int, orig_host: str = "", orig_port: int = 0, *,
                                encoding: str | None = None, errors: str = "strict",
                                ) -> tuple[SSHTCPChannel, Any]:
        """Open a direct-tcpip channel to ``remote_host:remote_port`` (connected from the
        server's side) with a callback session (:class:`~sshcore.SSHTCPSession`)."""
        session = session_factory()
        chan = SSHTCPChannel(session, channel_type="direct-tcpip", encoding=encoding, errors=errors)
        await self.open_channel(DirectTcpipOpen(remote_host, remote_port, orig_host, orig_port),
                                chan)
        chan._opened()
        return chan, session

    async def open_connection(self, remote_host: str, remote_port: int, orig_host: str = "",
                              orig_port: int = 0, *, encoding: str | None = None,
                              errors: str = "strict") -> tuple[Any, Any]:
        """Like :func:`asyncio.open_connection`, through the server: (reader, writer)."""
        _, session = await self.create_connection(lambda: _StreamSession(encoding, errors),
                                                  remote_host, remote_port, orig_host, orig_port)
        return session.reader, session.writer

    async def create_unix_connection(self, session_factory: Callable[[], Any], remote_path: str,
                                     *, encoding: str | None = None, errors: str = "strict",
                                     ) -> tuple[SSHTCPChannel, Any]:
        """Open a direct-streamlocal@openssh.com channel to a Unix socket on the server."""
        session = session_factory()
        ctype = "direct-streamlocal@openssh.com"
        chan = SSHTCPChannel(session, channel_type=ctype, encoding=encoding, errors=errors)
        await self.open_channel(DirectStreamlocalOpen(remote_path), chan)
        chan._opened()
        return chan, session

    async def open_unix_connection(self, remote_path: str, *, encoding: str | None = None,
                                   errors: str = "strict") -> tuple[Any, Any]:
        _, session = await self.create_unix_connection(lambda: _StreamSession(encoding, errors),
                                                       remote_path)
        return session.reader, session.writer

    # -------------------------------------------------------------- forwarding: local

    async def forward_local_port(self, listen_host: str, listen_port: int, dest_host: str,
                                 dest_port: int, accept_handler: Callable[[str, int], Any] | None = None,
                                 ) -> SSHListener:
        """``ssh -L``: listen here, reach ``dest_host:dest_port`` from the server.

        ``listen_port=0`` picks a free port (``get_port()`` tells which);
        ``accept_handler(orig_host, orig_port)`` may refuse a connecting peer.
        """
        def data_for(transport: asyncio.Transport) -> DirectTcpipOpen:
            peer = transport.get_extra_info("peername") or ("", 0)
            return DirectTcpipOpen(dest_host, dest_port, str(peer[0]), int(peer[1]))
        return await self._listen_local(bridge_on_new_channel(self, "direct-tcpip", data_for,
                                                              accept_handler),
                                        listen_host, listen_port)

    async def forward_local_port_to_path(self, listen_host: str, listen_port: int,
                                         dest_path: str) -> SSHListener:
        """``ssh -L port:/socket``: a local TCP port to a Unix socket on the server."""
        return await self._listen_local(bridge_on_new_channel(
            self, "direct-streamlocal@openssh.com", lambda t: DirectStreamlocalOpen(dest_path)),
            listen_host, listen_port)

    async def forward_local_path(self, listen_path: str, dest_path: str) -> SSHListener:
        """``ssh -L /here:/there``: a local Unix socket to one on the server."""
        return await self._listen_local(bridge_on_new_channel(
            self, "direct-streamlocal@openssh.com", lambda t: DirectStreamlocalOpen(dest_path)),
            None, 0, path=listen_path)

    async def forward_socks(self, listen_host: str, listen_port: int) -> SSHListener:
        """``ssh -D``: a SOCKS 4/4a/5 proxy here whose connections leave from the server."""
        return await self._listen_local(lambda: _SocksProtocol(self), listen_host, listen_port)

    async def _listen_local(self, factory: Any, host: str | None, port: int,
                            path: str | None = None) -> SSHListener:
        try:
            return await listen_local(self._loop, self, factory, host, port, path)
        except OSError as exc:
            where = path if path is not None else f"{host or '*'}:{port}"
            raise ChannelListenError(f"cannot listen on {where}: {exc.strerror or exc}") from None

    # -------------------------------------------------------------- forwarding: remote

    async def _forward_request(self, request: GlobalRequest) -> ev.GlobalRequestReplied:
        """A (streamlocal-/tcpip-)forward request; until its listener exists, channels the
        server opens for it wait (they may arrive right behind the reply)."""
        settled: asyncio.Future[None] = self._loop.create_future()
        self._pending_forwards.add(settled)
        try:
            return await self._global_request(request)
        finally:
            self._loop.call_soon(self._settle_forward, settled)

    def _settle_forward(self, settled: asyncio.Future[None]) -> None:
        self._pending_forwards.discard(settled)
        if not settled.done():
            settled.set_result(None)

    async def _listen_remote(self, listen_host: str, listen_port: int,
                             opener: Callable[[str, int], Any]) -> SSHListener:
        reply = await self._forward_request(TcpipForwardRequest(listen_host, listen_port))
        if not reply.success:
            raise ChannelListenError(f"remote port forwarding from {listen_host or '*'}:{listen_port} "
                                     "refused by the server")
        port = listen_port
        if listen_port == 0:
            if not isinstance(reply.decoded, ForwardPortReply):
                raise ChannelListenError(f"remote port forwarding from {listen_host or '*'}:0: "
                                         "the server did not say which port it allocated")
            port = reply.decoded.port
        listener = _RemoteListener(self, ("tcp", port), opener, port=port)
        listener._cancel_request = CancelTcpipForwardRequest(listen_host, port)
        return listener

    async def _listen_remote_path(self, listen_path: str,
                                  opener: Callable[[str, int], Any]) -> SSHListener:
        reply = await self._forward_request(StreamlocalForwardRequest(listen_path))
        if not reply.success:
            raise ChannelListenError(f"remote forwarding from {listen_path} refused by the server")
        listener = _RemoteListener(self, ("unix", listen_path), opener, path=listen_path)
        listener._cancel_request = CancelStreamlocalForwardRequest(listen_path)
        return listener

    async def forward_remote_port(self, listen_host: str, listen_port: int, dest_host: str,
                                  dest_port: int,
                                  accept_handler: Callable[[str, int], Any] | None = None,
                                  ) -> SSHListener:
        """``ssh -R``: the server listens, connections come back here and go on to
        ``dest_host:dest_port``.  ``listen_port=0`` lets the server choose (``get_port()``)."""
        async def opener(orig_host: str, orig_port: int) -> SSHTCPChannel:
            if accept_handler is not None and not await _maybe(accept_handler(orig_host, orig_port)):
                raise ChannelOpenError(PROHIBITED, "connection refused by the accept handler")
            return await connect_bridge(self, "forwarded-tcpip", dest_host, dest_port)
        return await self._listen_remote(listen_host, listen_port, opener)

    async def forward_remote_port_to_path(self, listen_host: str, listen_port: int,
                                          dest_path: str) -> SSHListener:
        async def opener(orig_host: str, orig_port: int) -> SSHTCPChannel:
            return await connect_bridge(self, "forwarded-tcpip", None, 0, path=dest_path)
        return await self._listen_remote(listen_host, listen_port, opener)

    async def forward_remote_path(self, listen_path: str, dest_path: str) -> SSHListener:
        async def opener(orig_host: str, orig_port: int) -> SSHTCPChannel:
            return await connect_bridge(self, "forwarded-streamlocal@openssh.com", None, 0,
                                        path=dest_path)
        return await self._listen_remote_path(listen_path, opener)

    async def create_server(self, session_factory: Callable[[str, int], Any], listen_host: str,
                            listen_port: int, *, encoding: str | None = None,
                            errors: str = "strict") -> SSHListener:
        """The server listens; ``session_factory(orig_host, orig_port)`` returns an
        :class:`~sshcore.SSHTCPSession` for each connection, or None/False to refuse it."""
        async def opener(orig_host: str, orig_port: int) -> SSHTCPChannel:
            session = await _maybe(session_factory(orig_host, orig_port))
            if not session:
                raise ChannelOpenError(PROHIBITED, "connection refused")
            return SSHTCPChannel(session, channel_type="forwarded-tcpip", encoding=encoding,
                                 errors=errors)
        return await self._listen_remote(listen_host, listen_port, opener)

    async def start_server(self, handler_factory: Callable[[str, int], Any], listen_host: str,
                           listen_port: int, *, encoding: str | None = None) -> SSHListener:
        """The server listens; ``handler_factory(orig_host, orig_port)`` returns a coroutine
        function ``handler(reader, writer)`` for each connection, or None to refuse it."""
        async def opener(orig_host: str, orig_port: int) -> SSHTCPChannel:
            handler = await _maybe(handler_factory(orig_host, orig_port))
            if not handler:
                raise ChannelOpenError(PROHIBITED, "connection refused")
            return SSHTCPChannel(run_stream_handler(self._loop, handler, encoding),
                                 channel_type="forwarded-tcpip")
        return await self._listen_remote(listen_host, listen_port, opener)


class _RemoteListener(SSHListener):
    """A listener on the server's side; closing it cancels the forwarding there."""

    def __init__(self, conn: SSHClientConnection, key: tuple[str, Any],
                 opener: Callable[[str, int], Any], port: int = 0, path: str | None = None) -> None:
        super().__init__(port, path)
        self._conn = conn
        self._key = key
        self._opener = opener
        #: What closing the listener sends the server (cancel-tcpip-forward...).
        self._cancel_request: GlobalRequest | None = None
        conn._remote_listeners[key] = self
        conn._listeners.add(self)

    async def _incoming(self, orig_host: str, orig_port: int) -> SSHTCPChannel:
        chan = await self._opener(orig_host, orig_port)
        chan.extra["peername"] = (orig_host, orig_port)
        return chan

    def close(self) -> None:
        conn = self._conn
        if conn._remote_listeners.get(self._key) is self:
            del conn._remote_listeners[self._key]
            conn._listeners.discard(self)
            if self._cancel_request is not None:
                conn._send_global_request_nowait(self._cancel_request)
        super().close()


SSHClientConnection.event_handlers = {
    **SSHConnection.event_handlers,
    ev.HostKeyReceived: SSHClientConnection._on_host_key,
    ev.AuthInputRequested: SSHClientConnection._on_auth_input,
    ev.AuthBannerReceived: SSHClientConnection._on_banner,
    ev.AuthCompleted: SSHClientConnection._on_auth_completed,
    ev.AuthExhausted: SSHClientConnection._on_auth_exhausted,
}
