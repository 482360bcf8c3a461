"""Public entry points: :func:`connect` and :func:`listen`."""

from __future__ import annotations

import asyncio
import fnmatch
import functools
import inspect
import logging
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, ConnectError, ProtocolError, ProtocolVersionError
from ..options import (DEFAULT_AGENT, DEFAULT_CONFIG, DEFAULT_KNOWN_HOSTS, ClientOptions,
                       ServerOptions, closed_before_banner, connect_error, connect_timeout_error,
                       load_ssh_config, resolve_ssh_config)
from ..options import address_family, apply_ssh_config as _apply_ssh_config  # noqa: F401 (cli)
from ..registry import Registry
from .client import SSHClientConnection, default_username
from .configforward import start_forwards
from .forward import tunnel_socket

if TYPE_CHECKING:  # pragma: no cover
    from ..srclimit import PenaltyConfig, SourceLimiter
    from .audit import AuditEvent
    from .server import SSHAcceptor, SSHServer

logger = logging.getLogger("sshcore.aio")

_DEFAULT_AGENT = DEFAULT_AGENT
_DEFAULT_KNOWN_HOSTS = DEFAULT_KNOWN_HOSTS
AlgList = str | Sequence[str] | None


class _ConnectContext:
    """Awaitable *and* async context manager, so both spellings work."""

    def __init__(self, coro: Any) -> None:
        self._coro = coro
        self._conn: SSHClientConnection | None = None

    def __await__(self) -> Any:
        return self._coro.__await__()

    async def __aenter__(self) -> SSHClientConnection:
        self._conn = await self._coro
        return self._conn

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._conn is not None:
            await self._conn.aclose()


def _spawn_proxy(command: str, host: str, port: int, user: str | None) -> tuple[Any, Any]:
    """Run ssh's ProxyCommand with one end of a socket pair as its stdin and stdout."""
    import subprocess

    from ..files.ssh_config import expand_tokens

    tokens = {"h": host, "p": str(port), "r": user or default_username(), "n": host, "%": "%"}
    ours, theirs = socket.socketpair()
    try:
        proc = subprocess.Popen("exec " + expand_tokens(command, tokens), shell=True, stdin=theirs, stdout=theirs,
                                start_new_session=True)
    finally:
        theirs.close()
    return ours, proc


def _connect(host: str, port: int = 22, **options: Any) -> _ConnectContext:
    """Open an authenticated SSH client connection (``connect`` after ssh_config); the
    keywords are those of :meth:`sshcore.options.ClientOptions.create`."""
    _CREATE_SIGNATURE.bind(host, port, **options)  # a wrong keyword fails here, at once
    return _ConnectContext(_establish(lambda: ClientOptions.create(host, port, **options)))


_CREATE_SIGNATURE = inspect.signature(ClientOptions.create)


async def _establish(make_options: Callable[[], ClientOptions]) -> SSHClientConnection:
    """Connect with the options ``make_options()`` builds (its errors surface here, when
    the connection is awaited, as they always have)."""
    opts = make_options()
    host, port = opts.host, opts.port
    agent_keys: list[Any] = []
    if opts.agent_path:
        from ..files.agent import AgentError, SSHAgentClient

        try:
            agent_keys = list(await SSHAgentClient(opts.agent_path).get_keys(opts.registry))
        except AgentError as exc:
            if opts.agent_required:
                raise
            logger.debug("%s", exc)
    client_host = None
    if opts.client_host_keys is not None and not opts.client_host:
        client_host = await asyncio.get_running_loop().run_in_executor(None, socket.getfqdn)
    cfg = opts.connection_config(agent_keys, client_host)
    loop = asyncio.get_running_loop()
    x11 = None
    if opts.x11 is not None:  # ssh -X/-Y: the cookies first, so a missing xauth fails at once
        from .x11 import prepare_client_x11

        x11 = await prepare_client_x11(**opts.x11)

    def factory() -> SSHClientConnection:
        conn = SSHClientConnection(cfg, host, port, known_hosts=opts.known_hosts,
                                   client=opts.client_factory() if opts.client_factory else None,
                                   password=opts.password, kbdint_handler=opts.kbdint_handler,
                                   password_change=opts.password_change,
                                   accept_new_host_keys=opts.accept_new_host_keys,
                                   hash_known_hosts=opts.hash_known_hosts,
                                   unknown_host_handler=opts.unknown_host_handler,
                                   update_host_keys=opts.update_host_keys)
        conn.kex_executor = opts.kex_executor
        conn.agent_forwarding_path = opts.forward_agent
        conn.x11_forwarding = x11
        conn.revoked_host_keys = opts.revoked_host_keys
        conn.session_config = opts.session
        return conn

    async def establish() -> SSHClientConnection:
        hops: list[SSHClientConnection] = []
        try:
            tunnel_sock = opts.sock
            if opts.tunnel is not None:
                via = opts.tunnel
                for hop_host, hop_port, hop_kw in opts.jump_hops():
                    hops.append(await connect(hop_host, hop_port,
                                              tunnel=hops[-1] if hops else None, **hop_kw))
                if hops:
                    via = hops[-1]
                tunnel_sock = await tunnel_socket(via, host, port)
            proxy = None
            if opts.proxy_command is not None and tunnel_sock is None:
                tunnel_sock, proxy = _spawn_proxy(opts.proxy_command, host, port, opts.username)
            if tunnel_sock is not None:
                _, conn = await loop.create_connection(factory, sock=tunnel_sock)
                if proxy is not None:
                    conn._proxy = proxy  # ended with the connection
            else:
                _, conn = await loop.create_connection(factory, host, port, family=opts.family,
                                                       local_addr=opts.local_addr)
            conn._hops = hops  # closed with it
            try:
                await conn._ready
            except ProtocolError as exc:
                if conn.peer_version is None and not isinstance(exc, ProtocolVersionError):
                    raise closed_before_banner(host, port) from None
                raise
            if opts.forwards:
                try:
                    conn.config_forwards = await start_forwards(
                        conn, opts.forwards, opts.exit_on_forward_failure)
                except BaseException:
                    conn.close()
                    raise
            return conn
        except BaseException:
            for hop in reversed(hops):
                hop.close()
            raise

    try:
        if opts.connect_timeout is None:
            return await establish()
        async with asyncio.timeout(opts.connect_timeout):
            return await establish()
    except TimeoutError:
        raise connect_timeout_error(host, port, opts.connect_timeout) from None
    except ConnectError:
        raise
    except OSError as exc:
        raise connect_error(exc, host, port, opts.family, opts.local_addr) from None


_DEFAULT_CONFIG = DEFAULT_CONFIG


def connect(host: str, port: int | None = None, *, config: Any = _DEFAULT_CONFIG,
            **options: Any) -> _ConnectContext:
    """Open an authenticated SSH client connection, as ``ssh`` would.

    The user's OpenSSH configuration applies first (``~/.ssh/config`` then
    ``/etc/ssh/ssh_config``; ``config=`` names other files, ``config=None`` ignores them):
    HostName, Port, User, IdentityFile, IdentitiesOnly, UserKnownHostsFile,
    GlobalKnownHostsFile, StrictHostKeyChecking, HashKnownHosts, KexAlgorithms, Ciphers,
    MACs, HostKeyAlgorithms, PubkeyAcceptedAlgorithms, Compression, AddressFamily,
    BindAddress, PreferredAuthentications, ProxyJump, ServerAliveInterval, ServerAliveCountMax,
    ConnectTimeout, RekeyLimit, and the forwards and session defaults (LocalForward,
    RemoteForward, DynamicForward, ClearAllForwardings, ExitOnForwardFailure, SendEnv,
    SetEnv, RequestTTY, RemoteCommand: see :mod:`sshcore.sessionconfig`); ``Match exec``
    runs its command (see :mod:`sshcore.files.ssh_config`).  Other keywords that apply get a
    :class:`~sshcore.ConfigWarning`.  Keyword arguments given here override it, as ``-o``
    does on ssh's command line; the rest are those of the resolved connection:

    """
    table = load_ssh_config(config)
    if table is not None and table.runs_commands:
        # Match exec runs a command (for up to its timeout): not on the event loop.
        return _ConnectContext(_resolve_in_thread(table, host, port, options))
    table, host, port = resolve_ssh_config(table, host, port, options)
    return _connect(host, 22 if port is None else port, config=table, **options)


async def _resolve_in_thread(table: Any, host: str, port: int | None,
                             options: dict[str, Any]) -> SSHClientConnection:
    loop = asyncio.get_running_loop()
    table, host, port = await loop.run_in_executor(
        None, resolve_ssh_config, table, host, port, options)
    return await _connect(host, 22 if port is None else port, config=table, **options)


async def listen(host: str = "", port: int = 22, *,
                 server_host_keys: Any, server_factory: Callable[[], SSHServer] | None = None,
                 authorized_client_keys: Any = None, passwords: Mapping[str, str] | None = None,
                 process_factory: Callable[..., Any] | None = None,
                 session_encoding: str | None = None,
                 accept_env: Sequence[str] | None = None,
                 subsystems: Mapping[str, str | None] | None = None,
                 subsystem_options: Mapping[str, Mapping[str, Any]] | None = None,
                 sftp_root: str | os.PathLike[str] | None = None,
                 kex_algs: AlgList = None, encryption_algs: AlgList = None,
                 mac_algs: AlgList = None, compression_algs: AlgList = None,
                 server_host_key_algs: AlgList = None, signature_algs: AlgList = None,
                 auth_methods: AlgList = None, registry: Registry | None = None,
                 passphrase: str | None = None, login_timeout: float | None = 120.0,
                 max_auth_tries: int = 6, banner: str | None = None,
                 auth_methods_required: Sequence[Sequence[str]] | None = None,
                 require_strict_kex: bool = False, rekey_bytes: int | None = None,
                 rekey_seconds: float | None = None, reuse_address: bool = True,
                 known_client_hosts: Any = None, allow_forwarding: bool = False,
                 allow_agent_forwarding: bool = True,
                 x11_forwarding: bool = False, x11_display_offset: int = 10,
                 x11_use_localhost: bool = True, xauth_path: str | None = None,
                 server_host_certs: Any = None, keepalive_interval: float | None = None,
                 keepalive_count_max: int = 3,
                 max_startups: str | Sequence[int] | None = "10:30:100",
                 max_sessions: int | None = 10, max_forward_listeners: int | None = 64,
                 max_packet_length: int | None = None, max_decompressed_size: int | None = None,
                 max_banner_line: int | None = None, max_channels: int | None = None,
                 max_pending_global_requests: int | None = None,
                 min_rsa_bits: int | None = None, kex_executor: Any = None,
                 implementations: Mapping[str, str] | None = None,
                 blocked_plugins: Sequence[str] = (),
                 allowed_plugins: Sequence[str] | None = None,
                 revoked_keys: Any = None,
                 # Per-source limits (OpenSSH 9.8; see sshcore.srclimit):
                 per_source_penalties: str | bool | PenaltyConfig | None = True,
                 per_source_penalty_exempt: str | Sequence[str] | None = None,
                 per_source_max_startups: int | None = None,
                 per_source_net_block_size: str | tuple[int, int] | None = "32:128",
                 source_limiter: SourceLimiter | None = None,
                 # Idle timeouts (sshd_config's ChannelTimeout, UnusedConnectionTimeout):
                 channel_timeout: str | Mapping[str, float] | None = None,
                 unused_connection_timeout: float | str | None = None,
                 # Audit events (sshcore.aio.audit.AuditEvent, one per happening):
                 audit: Callable[[AuditEvent], Any] | None = None,
                 ) -> SSHAcceptor:
    """Start an SSH server; returns an :class:`~sshcore.aio.server.SSHAcceptor`.

    ``revoked_keys`` (sshd's RevokedKeys): an OpenSSH KRL (``ssh-keygen -k``) or a file of
    public keys, re-read at each public-key or hostbased attempt; a key or certificate it
    revokes is refused whatever authorizes it, and an unreadable file refuses every key.

    ``audit``: called (maybe a coroutine function) with an
    :class:`~sshcore.aio.audit.AuditEvent` for every authentication attempt (user,
    method, key type and fingerprint, source address and port, success), channel open,
    refusal, idle timeout and close, forwarding request, connection refused at accept
    and disconnect (with its reason); :class:`~sshcore.aio.audit.SshdLogFormat` turns
    them into sshd's log lines.

    Idle timeouts, as sshd's (both off by default): ``channel_timeout`` (ChannelTimeout,
    ``"session=30m direct-tcpip=5m *=1h"`` or ``{"session": 1800, ...}``; ``*``/``?``
    wildcards on the channel type, the first match wins): a channel with no data either
    way for that long is closed; ``unused_connection_timeout`` (UnusedConnectionTimeout,
    seconds or ``"10m"``): an authenticated connection with no open channel for that
    long is disconnected (forwarding listeners do not count).

    Per-source limits, as sshd 9.8's options of the same names (the acceptor's
    ``source_limiter`` is the table): ``per_source_penalties`` (PerSourcePenalties:
    ``True``/``"yes"`` for sshd's defaults, ``False``/``"no"``, a string such as
    ``"authfail:30s min:10s max-sources4:4096 overflow:deny-all"``, or a
    :class:`~sshcore.srclimit.PenaltyConfig`): a source accumulates penalty time when
    its connections end before authenticating (``authfail`` 5 s after a failed attempt,
    ``noauth`` 1 s without one, ``grace-exceeded`` 10 s at ``login_timeout``) or by an
    internal error (``crash`` 90 s); while more than ``min`` (15 s, capped at ``max``
    600 s) is outstanding, its new connections are closed as soon as accepted, before
    the version banner.  ``per_source_penalty_exempt`` (PerSourcePenaltyExemptList:
    addresses/CIDR blocks, comma-separated or a list, ``!`` negates) are never
    penalised.  ``per_source_max_startups`` (PerSourceMaxStartups, default no cap)
    limits each source's unauthenticated connections.  ``per_source_net_block_size``
    (PerSourceNetBlockSize ``"32:128"``): the IPv4:IPv6 prefix lengths that group
    addresses into one source.  ``source_limiter``: a
    :class:`~sshcore.srclimit.SourceLimiter` to use instead (one table shared by several
    listeners; the four options above are then its own).

    ``implementations``, ``blocked_plugins`` and ``allowed_plugins``: as for
    :func:`connect`, for this server's connections only.

    Authentication is decided by ``server_factory()``'s :class:`SSHServer`, or, when no
    factory is given, by ``authorized_client_keys`` (a file path, ``%u`` expanded) and
    ``passwords`` (a ``{user: password}`` mapping, or a
    :class:`~sshcore.files.passwords.PasswordFile` of salted hashes) and, for hostbased auth,
    ``known_client_hosts`` (a known_hosts-format file of client host keys);
    ``accept_env`` (patterns like sshd's AcceptEnv, ``"*"`` for all) names the client's
    environment variables that processes get; by default none, as sshd (a variable such
    as ``LD_PRELOAD`` or ``BASH_ENV`` would otherwise get round a key's ``command=``); ``allow_forwarding=True`` permits TCP/IP and Unix-socket forwarding both ways, and
    agent forwarding (``ssh -A``: a per-session ``SSH_AUTH_SOCK`` socket leading back to
    the client's agent) unless ``allow_agent_forwarding=False`` (sshd's AllowAgentForwarding).
    ``x11_forwarding=True`` (sshd's X11Forwarding, off by default) answers ``ssh -X``/``-Y``:
    the session gets a TCP X display (``localhost:N``, N from ``x11_display_offset``,
    X11DisplayOffset 10; on all addresses with ``x11_use_localhost=False``), its ``DISPLAY``,
    and the client's cookie stored with ``xauth`` (``xauth_path``, XAuthLocation), removed
    with the display when the session ends; authorized_keys ``no-x11-forwarding`` and
    certificates without ``permit-X11-forwarding`` refuse it.  Exec and shell requests run as real
    subprocesses unless ``process_factory`` is given; ``subsystems`` maps
    subsystem names to the commands that serve them (``{"sftp": "/usr/lib/openssh/sftp-server"}``,
    like sshd's Subsystem), or, with a ``process_factory``, lists the names it accepts.

    Limits, with sshd's defaults: ``login_timeout`` (LoginGraceTime, 120 s from the
    connection to authentication), ``max_auth_tries`` (MaxAuthTries, 6),
    ``max_startups`` (MaxStartups ``"10:30:100"``, or a ``(10, 30, 100)`` tuple, or
    ``None`` for no cap: from 10 unauthenticated connections, new ones are refused with a
    probability rising from 30 % to 100 % at 100), ``max_sessions`` (MaxSessions, 10 session
    channels per connection), ``max_forward_listeners`` (64 ``tcpip-forward`` /
    streamlocal listeners per connection); and ``max_packet_length``,
    ``max_decompressed_size``, ``max_banner_line``, ``max_channels``,
    ``max_pending_global_requests`` and ``min_rsa_bits`` as for :func:`connect`
    (``None``: the kernel's defaults).  ``None`` for ``max_sessions`` or
    ``max_forward_listeners`` means no cap.  ``kex_executor``: as for :func:`connect`,
    a process pool for the key exchanges' heavy work.

    Subsystems that plugins provide (``sftp`` from ``sshcore-sftp``) are served by the
    plugin unless ``subsystems`` maps their name to a command (or to ``None``: not
    served).  ``subsystem_options={"sftp": {"root": ..., "read_only": ...}}`` passes
    options to the plugin's server; ``sftp_root=DIR`` is short for the ``root`` option
    (the directory the client sees as ``/``, nothing outside it reachable).  Without a
    root the client sees the file system as the user running the server does, starting
    in the home directory, as with sshd's sftp-server.  With a
    ``process_factory``, a plugin serves only the subsystems named in
    ``subsystem_options`` (or ``sftp_root``); the factory gets the rest.
    """
    # The server's modules load with the first listen(), not with every client's import.
    from ..kernel._timeouts import parse_channel_timeout
    from ..srclimit import SourceLimiter, parse_interval
    from .admission import Admission, gate_server, refuse_at_accept
    from .server import (SSHAcceptor, SSHServerConnection, _OptionsServer, parse_max_startups,
                         startups_should_drop)
    srv = ServerOptions.create(
        server_host_keys=server_host_keys, server_host_certs=server_host_certs,
        passphrase=passphrase, registry=registry, implementations=implementations,
        blocked_plugins=blocked_plugins, allowed_plugins=allowed_plugins, kex_algs=kex_algs,
        encryption_algs=encryption_algs, mac_algs=mac_algs, compression_algs=compression_algs,
        server_host_key_algs=server_host_key_algs, signature_algs=signature_algs,
        auth_methods=auth_methods, login_timeout=login_timeout, max_auth_tries=max_auth_tries,
        banner=banner, auth_methods_required=auth_methods_required,
        require_strict_kex=require_strict_kex, rekey_bytes=rekey_bytes,
        rekey_seconds=rekey_seconds, keepalive_interval=keepalive_interval,
        keepalive_count_max=keepalive_count_max, max_packet_length=max_packet_length,
        max_decompressed_size=max_decompressed_size, max_banner_line=max_banner_line,
        max_channels=max_channels, max_pending_global_requests=max_pending_global_requests,
        min_rsa_bits=min_rsa_bits, kex_executor=kex_executor)
    reg = srv.registry
    plugin_options: dict[str, dict[str, Any]] = {name: dict(opts or {}) for name, opts
                                                 in (subsystem_options or {}).items()}
    if sftp_root is not None:
        plugin_options.setdefault("sftp", {})["root"] = os.fspath(sftp_root)
    provided = reg.subsystems()
    for name in plugin_options:
        if name not in provided or provided[name].server_factory is None:
            raise ConfigurationError(f"no installed plugin serves the {name!r} subsystem "
                                     f"(registered: {', '.join(provided) or 'none'})")
    plugin_subsystems = {
        name: (desc.server_factory, plugin_options.get(name, {}))
        for name, desc in provided.items()
        if desc.server_factory is not None
        and not (subsystems is not None and name in subsystems)
        and (process_factory is None or name in plugin_options)}
    connections: set[SSHServerConnection] = set()
    timeouts = parse_channel_timeout(channel_timeout)
    unused = (parse_interval(unused_connection_timeout) if isinstance(unused_connection_timeout, str)
              else unused_connection_timeout)

    def make_config() -> Any:
        cfg = srv.connection_config()
        cfg.channel_timeouts = timeouts
        cfg.unused_connection_timeout = unused
        return cfg
    startups = parse_max_startups(max_startups)
    from .x11 import X11ServerSettings

    if not 0 <= x11_display_offset <= 59535:
        raise ConfigurationError(f"x11_display_offset {x11_display_offset}: out of range")
    x11_settings = X11ServerSettings(x11_display_offset, x11_use_localhost, xauth_path)
    env_patterns = ([] if accept_env is None else [accept_env] if isinstance(accept_env, str)
                    else list(accept_env))

    def env_filter(name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p) for p in env_patterns)

    limiter = source_limiter if source_limiter is not None else SourceLimiter(
        per_source_penalties, per_source_penalty_exempt, per_source_net_block_size,
        per_source_max_startups)

    def over_max_startups() -> bool:
        if startups is not None:
            waiting = sum(1 for c in connections if c.username is None)
            if startups_should_drop(waiting, startups):
                logger.info("MaxStartups %s:%s:%s: dropping a connection (%d unauthenticated)",
                            *startups, waiting)
                return True
        return False

    def factory() -> asyncio.Protocol:
        return Admission(limiter, build, over_max_startups, audit)

    def build() -> SSHServerConnection:
        options = _OptionsServer(authorized_client_keys, passwords, reg, known_client_hosts,
                                 allow_forwarding, allow_agent_forwarding, x11_forwarding)
        if server_factory is None:
            server = options
        else:
            server = server_factory()
            server._defaults = options
        conn = SSHServerConnection(make_config(), server, process_factory, session_encoding,
                                   env_filter, subsystems, plugin_subsystems,
                                   max_sessions=max_sessions,
                                   max_forward_listeners=max_forward_listeners)
        conn.kex_executor = kex_executor
        conn.revoked_keys = revoked_keys
        conn.x11_settings = x11_settings  # type: ignore[attr-defined]
        connections.add(conn)
        conn._closed_cb = connections.discard  # type: ignore[attr-defined]
        return conn

    loop = asyncio.get_running_loop()
    # Not started: AcceptGate accepts (penalised sources refused before any transport).
    gated = functools.partial(loop.create_server, factory, reuse_address=reuse_address,
                              start_serving=False)
    if port:
        servers = [await gated(host or None, port)]
    else:
        # Port 0 on several addresses ("" is IPv4 and IPv6): one port, chosen by the first.
        infos = await loop.getaddrinfo(host or None, 0, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
        addrs = list(dict.fromkeys(info[4][0] for info in infos))
        servers = [await gated(addrs[0], 0)]
        port = servers[0].sockets[0].getsockname()[1]
        for addr in addrs[1:]:
            try:
                servers.append(await gated(addr, port))
            except OSError:
                pass  # e.g. IPv6 disabled: the first address still serves

    def refuse(peer: Any) -> bytes | None:
        return refuse_at_accept(limiter, audit, peer, loop.time())
    gates = [g for server in servers for g in gate_server(loop, server, factory, refuse)]
    acceptor = SSHAcceptor(servers, connections)
    acceptor.accept_gates = gates  # type: ignore[attr-defined]
    acceptor.source_limiter = limiter  # type: ignore[attr-defined]
    return acceptor
