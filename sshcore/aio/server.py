"""Server connection: authentication decisions through an :class:`SSHServer`, sessions."""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..kernel import events as ev
from ..kernel.config import ConnectionConfig
from ..errors import ChannelOpenError, ChannelOpenFailureReason, ConfigurationError, SSHError
from ..files.keys import (AuthorizedKeys, KeyOptions, KnownHosts, is_certificate,
                          user_certificate_options)
from ..kernel.chanreq import (CancelStreamlocalForwardRequest, CancelTcpipForwardRequest,
                              ChannelOpenData, DirectStreamlocalOpen, DirectTcpipOpen,
                              ForwardedStreamlocalOpen, ForwardedTcpipOpen, ForwardPortReply,
                              GlobalRequest, HostKeysProofReply, HostKeysProveRequest,
                              HostKeysRequest, NoMoreSessionsRequest, StreamlocalForwardRequest,
                              TcpipForwardRequest, hostkeys_proof_data)
from .x11 import X11ForwardingServerChannel
from .forward import (PROHIBITED, SSHTCPChannel, bridge_on_new_channel, connect_bridge,
                      listen_local, run_stream_handler)
from .connection import SSHConnection, _maybe_await
from .process import SSHServerProcess, run_subprocess

logger = logging.getLogger("sshcore.aio")


class SSHServer:
    """Decides authentication and sessions for one connection (override what you need).

    Every ``validate_*`` method may be a coroutine.  What is not overridden falls back to
    the options given to ``listen()`` (``authorized_client_keys``, ``passwords``,
    ``known_client_hosts``, ``allow_forwarding``), as in AsyncSSH; without them, it refuses.
    """

    #: The listen() options, consulted by the default methods (set by listen()).
    _defaults: SSHServer | None = None

    def connection_made(self, conn: SSHServerConnection) -> None:
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        pass

    def begin_auth(self, username: str) -> bool:
        """Return False to let ``username`` in without authentication."""
        return True

    def password_auth_supported(self) -> bool:
        d = self._defaults
        return d.password_auth_supported() if d is not None else False

    def validate_password(self, username: str, password: str) -> Any:
        d = self._defaults
        return d.validate_password(username, password) if d is not None else False

    def public_key_auth_supported(self) -> bool:
        d = self._defaults
        return d.public_key_auth_supported() if d is not None else False

    def validate_public_key(self, username: str, key: Any) -> Any:
        d = self._defaults
        return d.validate_public_key(username, key) if d is not None else False

    def change_password(self, username: str, old_password: str, new_password: str) -> Any:
        """The client answered a password-change request; True lets it in."""
        return False

    def kbdint_auth_supported(self) -> bool:
        d = self._defaults
        return d.kbdint_auth_supported() if d is not None else False

    def get_kbdint_challenge(self, username: str, lang: str, submethods: str) -> Any:
        """Return (name, instruction, lang, [(prompt, echo), ...]), True (no questions) or False."""
        d = self._defaults
        return d.get_kbdint_challenge(username, lang, submethods) if d is not None else False

    def validate_kbdint_response(self, username: str, responses: list[str]) -> Any:
        """Return True, False, or another challenge for one more round."""
        d = self._defaults
        return d.validate_kbdint_response(username, responses) if d is not None else False

    def host_based_auth_supported(self) -> bool:
        d = self._defaults
        return d.host_based_auth_supported() if d is not None else False

    def validate_host_public_key(self, client_host: str, client_addr: str, client_port: int,
                                 key: Any) -> Any:
        """Is ``key`` the host key of ``client_host`` (the name the client claims; the
        connection comes from ``client_addr``)?"""
        d = self._defaults
        return d.validate_host_public_key(client_host, client_addr, client_port, key) if d is not None else False

    def validate_host_based_user(self, username: str, client_host: str,
                                 client_username: str) -> Any:
        """May ``client_username`` on ``client_host`` log in as ``username``?  By default
        only as the same name."""
        return username == client_username

    def validate_auth(self, username: str, method: str, kind: str, info: dict[str, Any]) -> Any:
        """Decide for auth methods from third-party plugins (``kind`` is theirs)."""
        return False

    def session_requested(self) -> Any:
        """Return an SSHServerSession, True (use the listener's process factory) or False."""
        return True

    def connection_requested(self, dest_host: str, dest_port: int, orig_host: str,
                             orig_port: int) -> Any:
        """A direct-tcpip channel (``ssh -L``, ``ssh -W``).  Return True to connect to the
        destination, False to refuse, an :class:`~sshcore.SSHTCPSession` to handle the
        channel here, or a coroutine function ``handler(reader, writer)``."""
        d = self._defaults
        return d.connection_requested(dest_host, dest_port, orig_host, orig_port) if d is not None else False

    def server_requested(self, listen_host: str, listen_port: int) -> Any:
        """A tcpip-forward request (``ssh -R``): True to listen and forward connections
        back to the client, False to refuse."""
        d = self._defaults
        return d.server_requested(listen_host, listen_port) if d is not None else False

    def unix_connection_requested(self, dest_path: str) -> Any:
        """A direct-streamlocal@openssh.com channel: like :meth:`connection_requested`."""
        d = self._defaults
        return d.unix_connection_requested(dest_path) if d is not None else False

    def unix_server_requested(self, listen_path: str) -> Any:
        """A streamlocal-forward@openssh.com request: like :meth:`server_requested`."""
        d = self._defaults
        return d.unix_server_requested(listen_path) if d is not None else False

    def agent_forwarding_requested(self) -> bool:
        """An ``auth-agent-req@openssh.com`` on a session (``ssh -A``): True to give the
        session its own agent socket (``SSH_AUTH_SOCK``) leading to the client's agent.
        Synchronous: the answer is due before the next request on the channel."""
        d = self._defaults
        return d.agent_forwarding_requested() if d is not None else False

    def x11_forwarding_requested(self) -> bool:
        """An ``x11-req`` on a session (``ssh -X``/``-Y``): True to give the session its own
        X display (``DISPLAY``, the client's cookie stored with ``xauth``) leading to the
        client's X server.  Synchronous, like :meth:`agent_forwarding_requested`."""
        d = self._defaults
        return d.x11_forwarding_requested() if d is not None else False


class _OptionsServer(SSHServer):
    """The SSHServer ``listen()`` builds from keyword options."""

    def __init__(self, authorized_client_keys: Any, passwords: Mapping[str, str] | None,
                 registry: Any, known_client_hosts: Any = None,
                 allow_forwarding: bool = False, allow_agent_forwarding: bool = True,
                 x11_forwarding: bool = False) -> None:
        self._allow_forwarding = allow_forwarding
        self._allow_agent_forwarding = allow_agent_forwarding
        self._x11_forwarding = x11_forwarding
        self._ak_source = authorized_client_keys
        # A {user: password} mapping, or an object with verify(user, password) (a
        # sshcore.files.passwords.PasswordFile of salted hashes).
        self._passwords: Any = passwords if hasattr(passwords, "verify") else dict(passwords or {})
        self._registry = registry
        self._kch_source = known_client_hosts
        self._conn: SSHServerConnection | None = None

    def connection_made(self, conn: SSHServerConnection) -> None:
        self._conn = conn

    def host_based_auth_supported(self) -> bool:
        return self._kch_source is not None

    def connection_requested(self, dest_host: str, dest_port: int, orig_host: str,
                             orig_port: int) -> bool:
        return self._allow_forwarding

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        return self._allow_forwarding

    def unix_connection_requested(self, dest_path: str) -> bool:
        return self._allow_forwarding

    def unix_server_requested(self, listen_path: str) -> bool:
        return self._allow_forwarding

    def agent_forwarding_requested(self) -> bool:
        # as sshd's AllowAgentForwarding, within what allow_forwarding permits
        return self._allow_forwarding and self._allow_agent_forwarding

    def x11_forwarding_requested(self) -> bool:
        return self._x11_forwarding  # sshd's X11Forwarding: off unless asked for

    def validate_host_public_key(self, client_host: str, client_addr: str, client_port: int,
                                 key: Any) -> bool:
        src = self._kch_source
        kh = src if isinstance(src, KnownHosts) else KnownHosts.read(src)
        return kh.match(client_host, 22, key.public_blob, extra_names=[client_addr]) is True

    def public_key_auth_supported(self) -> bool:
        return self._ak_source is not None

    def validate_public_key(self, username: str, key: Any) -> Any:
        src = self._ak_source
        if callable(src):
            src = src(username)
        if src is None:
            return False
        if isinstance(src, AuthorizedKeys):
            ak = src
        else:
            try:
                ak = AuthorizedKeys.read(str(src).replace("%u", username), self._registry)
            except OSError:
                return False
        peer = self._conn.peer_addr if self._conn is not None else None
        addr = str(peer[0]) if peer else ""
        if is_certificate(key):
            ca_options = ak.lookup_ca(key.ca)
            if ca_options is None:
                return False
            verdict = user_certificate_options(key, ca_options, username, addr)
            if isinstance(verdict, str):
                logger.info("refusing certificate %r for %s: %s", key.key_id, username, verdict)
                return False
            return verdict
        options = ak.lookup(key)
        if options is None:
            return False
        why = options.refusal(addr)
        if why is not None:
            logger.info("refusing %s key for %s: %s", key.key_type, username, why)
            return False
        return options  # accepted, with the line's restrictions (KeyOptions)

    def password_auth_supported(self) -> bool:
        return hasattr(self._passwords, "verify") or bool(self._passwords)

    def kbdint_auth_supported(self) -> bool:
        return self.password_auth_supported()

    def get_kbdint_challenge(self, username: str, lang: str, submethods: str) -> Any:
        return ("", "", "", [("Password: ", False)])

    def validate_kbdint_response(self, username: str, responses: list[str]) -> Any:
        if len(responses) != 1:
            return False
        return self.validate_password(username, responses[0])

    def validate_password(self, username: str, password: str) -> Any:
        checker = self._passwords
        if hasattr(checker, "verify"):
            if hasattr(checker, "refresh"):
                checker.refresh()
            # Hashing is slow on purpose: off the event loop, few at a time, at low
            # priority, fair between sources (sshcore.aio.pwcheck).
            from .pwcheck import password_checks

            peer = self._conn.peer_addr if self._conn is not None else None
            return password_checks().submit(str(peer[0]) if peer else None, checker.verify,
                                            username, password)
        # Same work whether or not the user exists, so the answer leaks nothing.
        expected = self._passwords.get(username, "\0invalid\0" + password + "x")
        return hmac.compare_digest(expected.encode(), password.encode()) and username in self._passwords


class SSHServerConnection(SSHConnection):
    def __init__(self, config: ConnectionConfig, server: SSHServer,
                 process_factory: Callable[[SSHServerProcess], Any] | None,
                 session_encoding: str | None = None,
                 accept_env: Callable[[str], bool] | None = None,
                 subsystems: Mapping[str, str | None] | None = None,
                 plugin_subsystems: Mapping[str, tuple[Callable[..., Any], Mapping[str, Any]]] | None = None,
                 *, max_sessions: int | None = 10,
                 max_forward_listeners: int | None = 64) -> None:
        # Offer only the methods this SSHServer supports, so a client's "Permission denied
        # (...)" lists what could work; third-party methods decide for themselves.
        supported = {"password": server.password_auth_supported,
                     "publickey": server.public_key_auth_supported,
                     "keyboard-interactive": server.kbdint_auth_supported,
                     "hostbased": server.host_based_auth_supported}
        config.auth_methods_offered = [m for m in config.auth_method_names()
                                       if m not in supported or supported[m]()]
        super().__init__(config)
        self._server = server
        accept: Callable[[str], bool]
        if process_factory is None:
            # Real subprocesses: only the configured subsystems exist (sshd's Subsystem).
            table = {name: cmd for name, cmd in (subsystems or {}).items() if cmd is not None}
            base: Callable[[SSHServerProcess], Any] = functools.partial(run_subprocess,
                                                                          subsystems=table)
            accept = table.__contains__
        else:
            # The application's factory sees process.subsystem and decides what to run.
            base = process_factory
            allowed = None if subsystems is None else set(subsystems)
            accept = lambda name: allowed is None or name in allowed  # noqa: E731
        plugins = dict(plugin_subsystems or {})
        if plugins:
            # Subsystems served by a plugin's server_factory (the sftp plugin's, ...).
            self._process_factory = functools.partial(_serve_session, plugins, base)
            self._accept_subsystem: Callable[[str], bool] | None = (
                lambda name: name in plugins or accept(name))
        else:
            self._process_factory = base
            self._accept_subsystem = accept
        self._session_encoding = session_encoding
        self._accept_env = accept_env
        self._max_sessions = max_sessions
        self._max_forward_listeners = max_forward_listeners
        self._forwards: dict[tuple[Any, ...], Any] = {}
        #: The authorized_keys restrictions of the key that logged in (None: none apply).
        self.key_options: KeyOptions | None = None
        self._candidate_options: KeyOptions | None = None
        #: The client tried an authentication method other than "none"; the user name of
        #: its last attempt (for audit logs).
        self.auth_attempted = False
        self.auth_username: str | None = None
        self._auth_key: Any = None
        self._channel_types: dict[int, str] = {}
        self._observers: list[Callable[[str, dict[str, Any]], None]] = []

    def add_observer(self, fn: Callable[[str, dict[str, Any]], None]) -> None:
        """Call ``fn(kind, info)`` on this connection's milestones (``"authenticated"``,
        ``"closed"`` with ``info["exc"]``, ...); listen() uses it for per-source limits."""
        self._observers.append(fn)

    def _notify(self, kind: str, **info: Any) -> None:
        for fn in list(self._observers):
            try:
                fn(kind, info)
            except Exception:  # an observer's bug must not break the connection
                logger.exception("error in a connection observer")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self._server._defaults is not None:
            self._server._defaults.connection_made(self)
        self._server.connection_made(self)

    def on_closed(self, exc: Exception | None) -> None:
        cb = getattr(self, "_closed_cb", None)
        if cb is not None:
            cb(self)
        self._notify("closed", exc=exc)
        self._server.connection_lost(exc)

    def _on_auth_requested(self, event: ev.AuthRequested) -> None:
        server = self._server
        self.auth_username = event.username
        if event.method in ("publickey", "hostbased"):
            self._auth_key = event.info.get("key")
        if event.kind != "none":
            self.auth_attempted = True
        if event.kind == "none":
            result: Any = not server.begin_auth(event.username)
        elif event.kind == "password":
            if not server.password_auth_supported():
                result = False
            elif event.info.get("new_password") is not None:
                result = server.change_password(event.username, event.info["password"],
                                                event.info["new_password"])
            else:
                result = server.validate_password(event.username, event.info["password"])
        elif event.kind == "kbdint_challenge":
            result = (server.get_kbdint_challenge(event.username, event.info.get("language", ""),
                                                  event.info.get("submethods", ""))
                      if server.kbdint_auth_supported() else False)
        elif event.kind == "kbdint_response":
            result = server.validate_kbdint_response(event.username, event.info["responses"])
        elif event.kind in ("publickey", "hostbased") and self._revoked(event.info["key"]):
            self._candidate_options = None
            result = False
        elif event.kind == "publickey":
            self._candidate_options = None
            if not server.public_key_auth_supported():
                result = False
            else:
                result = server.validate_public_key(event.username, event.info["key"])
        elif event.kind == "hostbased":
            result = (self._check_host_based(event.username, event.info)
                      if server.host_based_auth_supported() else False)
        else:
            result = server.validate_auth(event.username, event.method, event.kind, event.info)

        def normalise(answer: Any) -> Any:
            # Challenges travel as dicts; a password may come back as "change".
            if event.kind.startswith("kbdint") and isinstance(answer, (tuple, list)):
                name, instruction, lang, prompts = answer
                return {"name": name, "instruction": instruction, "lang": lang,
                        "prompts": [tuple(p) for p in prompts]}
            if isinstance(answer, dict) or (event.kind == "password" and isinstance(answer, str)):
                return answer
            if event.kind == "publickey" and isinstance(answer, KeyOptions):
                if event.info.get("signed"):
                    self._candidate_options = answer
                answer.apply_sk_policy(event.info["key"])  # no-touch-/verify-required
                return True
            if event.kind not in ("none", "password", "publickey", "hostbased",
                                  "kbdint_challenge", "kbdint_response"):
                return answer  # third-party methods define their own answers
            return answer is True

        async def finish() -> None:
            answer = await _maybe_await(result)
            if self._conn is not None and not self._conn.closed:
                self._conn.answer_auth(normalise(answer))
                self._process()

        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            self._spawn(finish())
        else:
            assert self._conn is not None
            self._conn.answer_auth(normalise(result))

    #: listen(revoked_keys=): sshd's RevokedKeys (a KRL or a file of keys), or None
    revoked_keys: Any = None

    def _revoked(self, key: Any) -> bool:
        from ..files.keys import fingerprint
        from ..files.krl import key_revoked

        why = key_revoked(self.revoked_keys, key)
        if why is not None:
            logger.info("refusing %s key %s: %s", key.key_type, fingerprint(key), why)
        return why is not None

    async def _check_host_based(self, username: str, info: dict[str, Any]) -> bool:
        addr, port = (self.peer_addr or ("", 0))[:2]
        server = self._server
        host_ok = await _maybe_await(server.validate_host_public_key(
            info["client_host"], addr, port, info["key"]))
        if host_ok is not True:
            return False
        user_ok = await _maybe_await(server.validate_host_based_user(
            username, info["client_host"], info["client_username"]))
        return user_ok is True

    async def _open_direct(self, decision: Any, channel_type: str, orig: tuple[str, int],
                           host: str | None, port: int, path: str | None = None) -> SSHTCPChannel:
        decision = await _maybe_await(decision)
        if decision is True:
            chan = await connect_bridge(self, channel_type, host, port, path)
        elif not decision:
            raise ChannelOpenError(PROHIBITED, "forwarding refused")
        elif hasattr(decision, "data_received"):
            chan = SSHTCPChannel(decision, channel_type=channel_type)
        elif callable(decision):
            chan = SSHTCPChannel(run_stream_handler(self._loop, decision), channel_type=channel_type)
        else:
            raise ChannelOpenError(PROHIBITED, "forwarding refused")
        chan.extra["peername"] = orig
        return chan

    @property
    def no_more_sessions(self) -> bool:
        """The client sent ``no-more-sessions@openssh.com`` (OpenSSH's ssh does, unless it
        is a ControlMaster): a further "session" open disconnects it, as sshd does."""
        return self._conn is not None and self._conn.no_more_sessions

    def global_request_received(self, request: str, data: bytes,
                                decoded: GlobalRequest | None = None) -> Any:
        req = decoded
        if isinstance(req, NoMoreSessionsRequest):
            return True  # the kernel enforces it; sshd answers success when asked
        if isinstance(req, HostKeysProveRequest):
            return self._prove_host_keys(req.blobs)
        if isinstance(req, TcpipForwardRequest):  # and its cancel
            host, port = req.address, req.port
            if port > 65535:
                return False
            if isinstance(req, CancelTcpipForwardRequest):
                decision = self._cancel_forward(("tcp", host, port))
            else:
                decision = self._start_forward(host, port)
            return self._audited_forward(request, {"host": host, "port": port}, decision)
        if isinstance(req, StreamlocalForwardRequest):  # and its cancel
            path = req.path
            if isinstance(req, CancelStreamlocalForwardRequest):
                decision = self._cancel_forward(("unix", path))
            else:
                decision = self._start_forward(None, 0, path)
            return self._audited_forward(request, {"path": path}, decision)
        return False

    def _audited_forward(self, request: str, where: dict[str, Any], decision: Any) -> Any:
        """Tell observers how a forwarding request was decided (maybe later)."""
        if not asyncio.iscoroutine(decision):
            self._notify("forward", request=request, allowed=decision is not False, **where)
            return decision

        async def decided() -> Any:
            result = await decision
            self._notify("forward", request=request, allowed=result is not False, **where)
            return result
        return decided()

    async def _start_forward(self, host: str | None, port: int, path: str | None = None) -> Any:
        server = self._server
        limits = self.key_options
        if limits is not None and not (limits.port_forwarding if path is not None
                                       else limits.allows_listen(host or "", port)):
            return False
        limit = self._max_forward_listeners
        if limit is not None and len(self._forwards) >= limit:
            logger.info("refusing a forward listener: %d already open", len(self._forwards))
            return False
        allowed = await _maybe_await(server.unix_server_requested(path) if path is not None
                                     else server.server_requested(host or "", port))
        if allowed is not True:
            return False
        bound = {"port": port}
        if path is not None:
            ctype = "forwarded-streamlocal@openssh.com"

            def data_for(transport: asyncio.Transport) -> ChannelOpenData:
                return ForwardedStreamlocalOpen(path)
        else:
            ctype = "forwarded-tcpip"

            def data_for(transport: asyncio.Transport) -> ChannelOpenData:
                peer = transport.get_extra_info("peername") or ("", 0)
                return ForwardedTcpipOpen(host or "", bound["port"], str(peer[0]), int(peer[1]))
        try:
            listener = await listen_local(self._loop, self, bridge_on_new_channel(self, ctype, data_for),
                                          host, port, path)
        except OSError:
            return False
        bound["port"] = listener.port
        key = ("unix", path) if path is not None else ("tcp", host or "", listener.port)
        old = self._forwards.pop(key, None)
        if old is not None:
            old.close()
        self._forwards[key] = listener
        return ForwardPortReply(listener.port) if path is None and port == 0 else True

    def _cancel_forward(self, key: tuple[Any, ...]) -> bool:
        listener = self._forwards.pop(key, None)
        if listener is None:
            return False
        listener.close()
        self._listeners.discard(listener)
        return True

    def _plain_host_keys(self) -> list[Any]:
        return [k for k in self._config.server_host_keys if not hasattr(k, "cert")]

    def _announce_host_keys(self) -> None:
        """OpenSSH's hostkeys-00@openssh.com: tell the client every host key we have, so
        it can learn new ones (UpdateHostKeys) once it has asked us to prove them."""
        blobs = tuple(k.public_blob for k in self._plain_host_keys())
        if blobs:
            try:
                self._send_global_request_nowait(HostKeysRequest(blobs))
            except SSHError:
                pass  # closed meanwhile

    def _prove_host_keys(self, blobs: tuple[bytes, ...]) -> Any:
        """Sign (request name, session id, key) with each requested host key."""
        session_id = self.session_id
        assert session_id is not None
        keys = {k.public_blob: k for k in self._plain_host_keys()}
        proofs = []
        for blob in blobs:
            key = keys.get(blob)
            if key is None:
                return False  # not one of ours: refuse the whole request, as sshd does
            algs = list(key.sig_algorithms())
            alg = "rsa-sha2-512" if "rsa-sha2-512" in algs else algs[0]
            proofs.append(bytes(key.sign(hostkeys_proof_data(session_id, blob), alg)))
        return HostKeysProofReply(tuple(proofs)) if proofs else True

    def _on_auth_completed(self, event: ev.AuthCompleted) -> None:
        self.username = event.username
        self.key_options = self._candidate_options
        self._notify("authenticated", username=event.username)
        self._loop.call_soon(self._announce_host_keys)
        if not self._ready.done():
            self._ready.set_result(None)

    def _on_auth_result(self, event: ev.AuthResult) -> None:
        key = self._auth_key if event.method in ("publickey", "hostbased") else None
        self._notify("auth", username=event.username, method=event.method,
                     success=event.success, partial=event.partial, key=key)

    def _on_channel_idle(self, event: ev.ChannelIdleTimeout) -> None:
        logger.info("channel %d: closing after inactivity (ChannelTimeout)", event.channel)
        self._notify("channel_timeout", channel=event.channel,
                     channel_type=self._channel_types.get(event.channel))

    def _on_channel_closed(self, event: ev.ChannelClosed) -> None:
        ctype = self._channel_types.pop(event.channel, None)
        if ctype is not None:
            self._notify("channel_close", channel=event.channel, channel_type=ctype)
        self._route(event)

    def channel_open_requested(self, channel: int, channel_type: str, data: bytes,
                               decoded: ChannelOpenData | None = None) -> Any:
        """Decide a channel the client opens, telling observers (audit) what came of it."""
        detail = _channel_detail(decoded)
        try:
            result = self._decide_channel_open(channel, channel_type, decoded)
        except ChannelOpenError as exc:
            self._notify("channel_refused", channel=channel, channel_type=channel_type,
                         reason=exc.reason, detail=detail)
            raise
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            return self._audited_open(result, channel, channel_type, detail)
        self._channel_types[channel] = channel_type
        self._notify("channel_open", channel=channel, channel_type=channel_type, detail=detail)
        return result

    async def _audited_open(self, pending: Any, channel: int, channel_type: str,
                            detail: dict[str, Any]) -> Any:
        try:
            result = await pending
        except ChannelOpenError as exc:
            self._notify("channel_refused", channel=channel, channel_type=channel_type,
                         reason=exc.reason, detail=detail)
            raise
        self._channel_types[channel] = channel_type
        self._notify("channel_open", channel=channel, channel_type=channel_type, detail=detail)
        return result

    async def open_channel(self, channel_type: str | ChannelOpenData, chan: Any,
                           data: bytes = b"") -> bytes:
        """Open a channel to the client (forwarded-tcpip and the like), telling observers."""
        result = await super().open_channel(channel_type, chan, data)
        local_id = getattr(chan, "_id", -1)
        name = channel_type.name if isinstance(channel_type, ChannelOpenData) else channel_type
        self._channel_types[local_id] = name
        detail: dict[str, Any] = {"direction": "to-client"}
        if isinstance(channel_type, ForwardedTcpipOpen):
            detail.update(host=channel_type.host, port=channel_type.port,
                          originator=channel_type.originator,
                          originator_port=channel_type.originator_port)
        self._notify("channel_open", channel=local_id, channel_type=name, detail=detail)
        return result

    def _decide_channel_open(self, channel: int, channel_type: str,
                             decoded: ChannelOpenData | None) -> Any:
        limits = self.key_options
        if type(decoded) is DirectTcpipOpen:
            host, port = decoded.host, decoded.port
            orig_host, orig_port = decoded.originator, decoded.originator_port
            if limits is not None and not limits.allows_open(host, port):
                raise ChannelOpenError(PROHIBITED, f"{host}:{port} not permitted for this key "
                                                   f"({limits.source})")
            decision = self._server.connection_requested(host, port, orig_host, orig_port)
            return self._open_direct(decision, channel_type, (orig_host, orig_port), host, port)
        if isinstance(decoded, DirectStreamlocalOpen):
            path = decoded.path
            if limits is not None and not limits.port_forwarding:
                raise ChannelOpenError(PROHIBITED, f"forwarding not permitted for this key "
                                                   f"({limits.source})")
            decision = self._server.unix_connection_requested(path)
            return self._open_direct(decision, channel_type, ("", 0), None, 0, path)
        if channel_type != "session":
            raise ChannelOpenError(ChannelOpenFailureReason.UNKNOWN_CHANNEL_TYPE,
                                   f"unknown channel type {channel_type}")
        if self._max_sessions is not None and self._conn is not None:
            # sshd's MaxSessions; the kernel already counts the channel being opened.
            sessions = self._conn.channel_count("session")
            if sessions > self._max_sessions:
                raise ChannelOpenError(ChannelOpenFailureReason.ADMINISTRATIVELY_PROHIBITED,
                                       f"too many sessions (MaxSessions {self._max_sessions})")
        session = self._server.session_requested()
        if session is False or session is None:
            raise ChannelOpenError(ChannelOpenFailureReason.ADMINISTRATIVELY_PROHIBITED,
                                   "session refused")
        if session is True:
            session = SSHServerProcess(self._process_factory, encoding=self._session_encoding,
                                       accept_env=self._accept_env,
                                       accept_subsystem=self._accept_subsystem)
        # Callback sessions (the seed API) get str I/O unless listen(session_encoding=) says
        # otherwise; SSHServerProcess does its own decoding.
        encoding = None if isinstance(session, SSHServerProcess) else (self._session_encoding or "utf-8")
        chan = X11ForwardingServerChannel(session, encoding=encoding)
        chan._bind(self, channel)
        return chan


SSHServerConnection.event_handlers = {
    **SSHConnection.event_handlers,
    ev.AuthRequested: SSHServerConnection._on_auth_requested,
    ev.AuthCompleted: SSHServerConnection._on_auth_completed,
    ev.AuthResult: SSHServerConnection._on_auth_result,
    ev.ChannelIdleTimeout: SSHServerConnection._on_channel_idle,
    ev.ChannelClosed: SSHServerConnection._on_channel_closed,
}


def _channel_detail(decoded: ChannelOpenData | None) -> dict[str, Any]:
    """What a channel open asks for, for audit events (the kernel decoded it)."""
    if type(decoded) is DirectTcpipOpen:
        return {"host": decoded.host, "port": decoded.port, "originator": decoded.originator,
                "originator_port": decoded.originator_port}
    if isinstance(decoded, DirectStreamlocalOpen):
        return {"path": decoded.path}
    return {}


MaxStartups = tuple[int, int, int]


def parse_max_startups(value: str | Sequence[int] | None) -> MaxStartups | None:
    """sshd's MaxStartups ``"start:rate:full"`` (or ``"full"``, or a tuple) as a tuple."""
    if value is None:
        return None
    try:
        if isinstance(value, str):
            parts = [int(p) for p in value.split(":")]
        else:
            parts = [int(p) for p in value]
        if len(parts) == 1:
            parts = [parts[0], 100, parts[0]]
        start, rate, full = parts
    except (TypeError, ValueError):
        raise ConfigurationError(f"max_startups {value!r}: expected 'start:rate:full'") from None
    if not (0 < start <= full and 0 <= rate <= 100):
        raise ConfigurationError(f"max_startups {value!r}: need 0 < start <= full and "
                                 "0 <= rate <= 100")
    return start, rate, full


def startups_should_drop(unauthenticated: int, limits: MaxStartups,
                         rand: Callable[[int], int] = random.randrange) -> bool:
    """OpenSSH's random early drop (sshd.c ``should_drop_connection``): with
    ``unauthenticated`` connections already waiting, refuse the next one never below
    ``start``, always from ``full``, and in between with a probability rising linearly
    from ``rate`` percent to 100 percent."""
    start, rate, full = limits
    if unauthenticated < start:
        return False
    if unauthenticated >= full or rate == 100:
        return True
    p = rate + (100 - rate) * (unauthenticated - start) // (full - start)
    return rand(100) < p


class _Dropped(asyncio.Protocol):
    """A connection refused under MaxStartups: told so in one line, as sshd does, and closed."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(b"Exceeded MaxStartups\r\n")
        transport.close()


def _serve_session(plugins: Mapping[str, tuple[Callable[..., Any], Mapping[str, Any]]],
                   base: Callable[[SSHServerProcess], Any], process: SSHServerProcess) -> Any:
    """Run a plugin's subsystem server for the subsystems it serves, ``base`` otherwise."""
    entry = plugins.get(process.subsystem) if process.subsystem is not None else None
    if entry is None:
        return base(process)
    factory, options = entry
    process.use_binary()  # subsystems speak bytes, whatever session_encoding says
    return factory(process, **options)


class SSHAcceptor:
    """What ``listen()`` returns: the bound port, ``close()`` and ``wait_closed()``."""

    def __init__(self, servers: Sequence[asyncio.AbstractServer],
                 connections: set[SSHServerConnection]) -> None:
        self._servers = list(servers)
        self._connections = connections

    @property
    def sockets(self) -> list[Any]:
        return [sock for server in self._servers for sock in server.sockets]

    @property
    def port(self) -> int:
        return int(self.sockets[0].getsockname()[1])

    def close(self) -> None:
        for server in self._servers:
            server.close()
        for conn in list(self._connections):
            conn.close()

    async def wait_closed(self) -> None:
        for server in self._servers:
            await server.wait_closed()
        for conn in list(self._connections):
            await conn.wait_closed()

    async def __aenter__(self) -> SSHAcceptor:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self.close()
        await self.wait_closed()


def host_key_paths(keys: Any) -> list[Any]:
    if isinstance(keys, (str, Path)) or hasattr(keys, "sign"):
        return [keys]
    return list(keys)
