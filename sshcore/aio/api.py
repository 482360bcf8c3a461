"""Public entry points: :func:`connect` and :func:`listen`."""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..config import ConnectionConfig
from ..errors import (ClosedBeforeBannerError, ConfigurationError, ConnectError,
                      ConnectRefusedError, ConnectTimeoutError, HostUnreachableError,
                      ProtocolError, ProtocolVersionError, SSHError)
from ..keys import (CERT_SUFFIX, CertifiedKey, KnownHosts, _host_patterns_match, host_names,
                    read_certificate, read_private_key)
from ..registry import Registry, connection_registry
from .client import SSHClient, SSHClientConnection, default_username, load_client_keys
from .forward import tunnel_socket
from .._timeouts import parse_channel_timeout
from ..srclimit import PenaltyConfig, SourceLimiter, parse_interval
from .admission import Admission
from .audit import AuditEvent
from .server import (SSHAcceptor, SSHServer, SSHServerConnection, _OptionsServer,
                     host_key_paths, parse_max_startups, startups_should_drop)

logger = logging.getLogger("sshcore.aio")

def _apply_limits(cfg: ConnectionConfig, limits: Mapping[str, int | None]) -> ConnectionConfig:
    """Resource limits connect() and listen() pass to the kernel's ConnectionConfig
    (None keeps its default; see there for what each bounds)."""
    for name, value in limits.items():
        if value is not None:
            if int(value) < 0:
                raise ConfigurationError(f"{name} must not be negative, not {value!r}")
            setattr(cfg, name, int(value))
    return cfg


_DEFAULT_AGENT = object()
_DEFAULT_KNOWN_HOSTS = object()
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


def _pinned(fingerprints: str | Sequence[str]) -> Callable[[str, int, Any], bool]:
    """A known_hosts callable trusting only keys with these fingerprints."""
    from ..keys import fingerprint

    wanted = {fingerprints} if isinstance(fingerprints, str) else set(fingerprints)
    for fp in wanted:
        if not fp.startswith(("SHA256:", "MD5:")):
            raise SSHError(f"host key fingerprint {fp!r}: expected SHA256:... or MD5:...")

    def check(host: str, port: int, key: Any) -> bool:
        return fingerprint(key) in wanted or fingerprint(key, "md5") in wanted
    return check


def _spawn_proxy(command: str, host: str, port: int, user: str | None) -> tuple[Any, Any]:
    """Run ssh's ProxyCommand with one end of a socket pair as its stdin and stdout."""
    import subprocess

    from ..ssh_config import expand_tokens

    tokens = {"h": host, "p": str(port), "r": user or default_username(), "n": host, "%": "%"}
    ours, theirs = socket.socketpair()
    try:
        proc = subprocess.Popen("exec " + expand_tokens(command, tokens), shell=True, stdin=theirs, stdout=theirs,
                                start_new_session=True)
    finally:
        theirs.close()
    return ours, proc


def _parse_jump(spec: str) -> tuple[str | None, str, int | None]:
    """``[user@]host[:port]`` (``[v6addr]:port`` too), as ssh -J takes it."""
    user, _, rest = spec.rpartition("@")
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port = rest.partition(":")
    if not host or (port and not port.isdigit()):
        raise SSHError(f"bad jump host {spec!r}: expected [user@]host[:port]")
    return user or None, host, int(port) if port else None  # None: ssh_config or 22


def _prefer_known_types(reg: Registry, known_hosts: Any, host: str, port: int) -> str | None:
    """OpenSSH's ordering: host key algorithms for the key types known_hosts already
    records for this host come first, so the server shows a key we can check."""
    if callable(known_hosts) and not isinstance(known_hosts, KnownHosts):
        return None
    table, _ = KnownHosts.load(known_hosts)
    types = {e.key_type for e in table.host_entries(host, port)}
    enabled = reg.expand("signature", None)
    first = [d.name for d in reg.all("signature") if d.key_type in types and d.name in enabled]
    names = host_names(host, port)
    if any(e.marker == "@cert-authority" and _host_patterns_match(e.patterns, names)
           for e in table.entries):  # a CA is trusted for this host: certificates first
        first = [n for n in enabled if n.endswith(CERT_SUFFIX)] + first
    return "^" + ",".join(first) if first else None


def _connect(host: str, port: int = 22, *, username: str | None = None,
            password: str | Callable[[str], Any] | None = None,
            client_keys: Any = None, passphrase: str | None = None,
            known_hosts: Any = _DEFAULT_KNOWN_HOSTS, agent_path: Any = _DEFAULT_AGENT,
            accept_new_host_keys: bool = False,
            hash_known_hosts: bool = False, client_factory: Callable[[], SSHClient] | None = None,
            kex_algs: AlgList = None, encryption_algs: AlgList = None, mac_algs: AlgList = None,
            compression_algs: AlgList = None, server_host_key_algs: AlgList = None,
            signature_algs: AlgList = None, preferred_auth: AlgList = None,
            kbdint_handler: Callable[..., Any] | None = None,
            auth_credentials: Mapping[str, Any] | None = None,
            password_change: Callable[[str], Any] | None = None,
            client_host_keys: Any = None, client_host: str | None = None,
            client_username: str | None = None,
            registry: Registry | None = None, connect_timeout: float | None = 30.0,
            require_strict_kex: bool = False, rekey_bytes: int | None = None,
            rekey_seconds: float | None = None, sock: Any = None,
            tunnel: Any = None, keepalive_interval: float | None = 60.0,
            keepalive_count_max: int = 3, config: Any = None, proxy_command: str | None = None,
            host_key_fingerprint: str | Sequence[str] | None = None,
            unknown_host_handler: Callable[[str, int, Any], Any] | None = None,
            forward_agent: bool | str = False,
            update_host_keys: bool | None = None, client_certs: Any = None,
            max_packet_length: int | None = None, max_decompressed_size: int | None = None,
            max_banner_line: int | None = None, max_pre_banner_lines: int | None = None,
            max_channels: int | None = None, max_pending_global_requests: int | None = None,
            min_rsa_bits: int | None = None, kex_executor: Any = None,
            implementations: Mapping[str, str] | None = None,
            blocked_plugins: Sequence[str] = (),
            allowed_plugins: Sequence[str] | None = None,
            family: int = 0, local_addr: tuple[str, int] | None = None,
            revoked_host_keys: Any = None) -> _ConnectContext:
    """Open an authenticated SSH client connection (``connect`` after ssh_config).

    Plugins for this connection only: ``implementations={"aes128-ctr": "sshcore-openssl"}``
    picks which installed provider serves a name that several plugins provide (see
    ``sshcore algorithms``); ``blocked_plugins`` / ``allowed_plugins`` (distribution or
    entry-point names) leave plugins out or use only those named.

    ``family`` (``socket.AF_INET`` or ``AF_INET6``; 0: either) and ``local_addr`` (a
    ``(host, port)`` to bind the socket to before connecting) are those of
    :meth:`asyncio.loop.create_connection`: ssh's AddressFamily (``-4``/``-6``) and
    BindAddress (``-b``).  They apply to the TCP connection this call makes itself (the
    first jump host's, with ``tunnel``), not to a ``sock`` or ``proxy_command``.

    ``kex_executor``: a :class:`concurrent.futures.Executor` (a ProcessPoolExecutor) for
    the key exchange's heavy work, such as sntrup761's key generation (~140 ms of pure
    Python): many connections opened at once then use every core.  One pool can serve
    any number of connections.

    ``keepalive_interval``/``keepalive_count_max`` (60 s, 3; ``None`` turns it off): probe
    a silent server as ``ServerAliveInterval``/``ServerAliveCountMax`` do, and fail with
    :class:`~sshcore.KeepaliveTimeoutError` when it stops answering.
    Limits (``None``: the defaults of :class:`~sshcore.config.ConnectionConfig`):
    ``max_packet_length`` (256 KiB), ``max_decompressed_size`` (256 KiB),
    ``max_banner_line`` (8192) and ``max_pre_banner_lines`` (1024) for the lines a server
    may send before its version, ``max_channels`` (1024), ``max_pending_global_requests``
    (64), ``min_rsa_bits`` (2048: smaller RSA host keys are refused).
    ``client_certs``: OpenSSH certificate files for the client keys (CertificateFile),
    each offered before its key.
    ``update_host_keys``: learn the server's other host keys (OpenSSH's UpdateHostKeys:
    each proven by the server before it is added to the known_hosts file that vouched
    for the host); default on with the default known_hosts file only.
    ``forward_agent``: let the server use our SSH agent (``True``: ``$SSH_AUTH_SOCK``,
    or a socket path), as ``ssh -A`` does.
    ``proxy_command``: a shell command whose stdin/stdout carry the connection (ssh's
    ProxyCommand; ``%h %p %r %n %%`` expanded), e.g. ``"ssh -W %h:%p jump"``.
    ``host_key_fingerprint``: trust exactly this key (``SHA256:...`` as ssh-keygen -l
    prints it, or a list), instead of known_hosts.
    ``unknown_host_handler(host, port, key)``: asked (maybe async) about a host
    known_hosts does not list; True records and trusts it (StrictHostKeyChecking=ask).
    ``tunnel``: reach ``host`` through another SSH connection's direct-tcpip channel (an
    open :class:`SSHClientConnection`, or a ProxyJump string ``"[user@]jump[:port],..."``
    whose hops are opened with this call's keys and host key settings and closed with
    the connection).
    ``agent_path``: an SSH agent's socket whose keys are tried first (default:
    ``$SSH_AUTH_SOCK`` when ``client_keys`` is not given; ``None`` disables it).
    ``known_hosts``: a path, list of paths, :class:`~sshcore.keys.KnownHosts`, a callable
    ``(host, port, key) -> bool`` (maybe async), or ``None`` to skip host key checking.
    The default is ``~/.ssh/known_hosts``.  A host that is not listed is refused unless
    ``accept_new_host_keys=True`` (OpenSSH's ``StrictHostKeyChecking=accept-new``), which
    appends its key to the first known_hosts file (hashed with ``hash_known_hosts=True``);
    a listed host with another key, or a revoked key, is always refused.
    ``revoked_host_keys`` (ssh's RevokedHostKeys): an OpenSSH KRL (``ssh-keygen -k``) or a
    file of public keys, read at each connection; a host key or host certificate it
    revokes is refused, and an unreadable file refuses every host key.
    """

    async def run() -> SSHClientConnection:
        reg = connection_registry(registry, implementations=implementations,
                                  blocked_plugins=blocked_plugins, allowed_plugins=allowed_plugins)
        keys = load_client_keys(client_keys, passphrase, reg)
        for cert_path in ([client_certs] if isinstance(client_certs, (str, Path))
                          else list(client_certs or [])):
            cert = read_certificate(cert_path, registry=reg) if isinstance(cert_path, (str, Path)) else cert_path
            match = next((k for k in keys if not hasattr(k, "cert")
                          and k.public_blob == cert.key.public_blob), None)
            if match is None:
                raise SSHError(f"certificate {cert_path}: no client key matches it")
            keys.insert(keys.index(match), CertifiedKey(match, cert))
        agent = agent_path
        if agent is _DEFAULT_AGENT:  # like ssh: the agent, when there is one and no keys were named
            agent = os.environ.get("SSH_AUTH_SOCK") if client_keys is None else None
        if agent:
            from ..agent import AgentError, SSHAgentClient

            try:
                agent_keys = await SSHAgentClient(agent).get_keys(reg)
            except AgentError as exc:
                if agent_path is not _DEFAULT_AGENT:
                    raise
                logger.debug("%s", exc)
                agent_keys = []
            held = {k.public_blob for k in agent_keys}
            keys = agent_keys + [k for k in keys if k.public_blob not in held]
        kh = known_hosts
        if kh is _DEFAULT_KNOWN_HOSTS:
            kh = [os.path.expanduser("~/.ssh/known_hosts")]
        if host_key_fingerprint is not None:
            kh = _pinned(host_key_fingerprint)
        credentials: dict[str, Any] = {**(auth_credentials or {}), "client_keys": keys}
        if isinstance(password, str):
            credentials["password"] = password
        elif callable(password):
            credentials["password_prompt"] = True
        if kbdint_handler is not None:
            credentials["kbdint_prompt"] = True
        if password_change is not None:
            credentials["password_change"] = True
        if client_host_keys is not None:
            # hostbased: this host's keys, its name (this machine's FQDN unless given)
            # and the local user name the server maps to ``username``.
            credentials["client_host_keys"] = load_client_keys(client_host_keys, None, reg)
            credentials["client_host"] = client_host or await asyncio.get_running_loop(
            ).run_in_executor(None, socket.getfqdn)
            credentials["client_username"] = client_username or default_username()
        host_key_algs = server_host_key_algs
        if host_key_algs is None and kh is not None:
            host_key_algs = _prefer_known_types(reg, kh, host, port)
        cfg = ConnectionConfig(
            "client", registry=reg, kex_algs=kex_algs, encryption_algs=encryption_algs,
            mac_algs=mac_algs, compression_algs=compression_algs,
            server_host_key_algs=host_key_algs, signature_algs=signature_algs,
            username=username or default_username(), auth_methods=preferred_auth,
            credentials=credentials, require_strict_kex=require_strict_kex,
            keepalive_interval=keepalive_interval or None,
            keepalive_count_max=keepalive_count_max)
        _apply_limits(cfg, {
            "max_packet_length": max_packet_length, "max_decompressed_size": max_decompressed_size,
            "max_banner_line": max_banner_line, "max_pre_banner_lines": max_pre_banner_lines,
            "max_channels": max_channels,
            "max_pending_global_requests": max_pending_global_requests,
            "min_rsa_bits": min_rsa_bits})
        if rekey_bytes is not None:
            cfg.rekey_bytes = rekey_bytes
        if rekey_seconds is not None:
            cfg.rekey_seconds = rekey_seconds
        cfg.kex_offload = kex_executor is not None
        for family_name in ("kex", "cipher", "mac", "compression"):
            cfg.algs(family_name)  # validate early: unknown names fail before connecting
        loop = asyncio.get_running_loop()

        agent_socket = (os.environ.get("SSH_AUTH_SOCK") if forward_agent is True
                        else forward_agent or None)
        if forward_agent and not agent_socket:
            raise SSHError("forward_agent: no SSH agent (SSH_AUTH_SOCK is not set)")

        def factory() -> SSHClientConnection:
            conn = _make_connection()
            conn.agent_forwarding_path = agent_socket
            return conn

        def _make_connection() -> SSHClientConnection:
            conn = _new_connection()
            conn.kex_executor = kex_executor
            return conn

        def _new_connection() -> SSHClientConnection:
            conn = SSHClientConnection(cfg, host, port, known_hosts=kh,
                                       client=client_factory() if client_factory else None,
                                       password=password, kbdint_handler=kbdint_handler,
                                       password_change=password_change,
                                       accept_new_host_keys=accept_new_host_keys,
                                       hash_known_hosts=hash_known_hosts,
                                       unknown_host_handler=unknown_host_handler,
                                       update_host_keys=(known_hosts is _DEFAULT_KNOWN_HOSTS
                                                         if update_host_keys is None
                                                         else update_host_keys))
            conn.revoked_host_keys = revoked_host_keys
            return conn

        async def establish() -> SSHClientConnection:
            hops: list[SSHClientConnection] = []
            try:
                tunnel_sock = sock
                if tunnel is not None:
                    via = tunnel
                    if isinstance(tunnel, str):
                        # -4/-6/-b are for the first hop, the one we connect to ourselves
                        first_hop = {k: v for k, v in (("family", family),
                                                       ("local_addr", local_addr)) if v}
                        for spec in [h.strip() for h in tunnel.split(",") if h.strip()]:
                            hop_user, hop_host, hop_port = _parse_jump(spec)
                            hops.append(await connect(
                                hop_host, hop_port, config=config, username=hop_user,
                                client_keys=client_keys,
                                passphrase=passphrase, known_hosts=known_hosts,
                                agent_path=agent_path, accept_new_host_keys=accept_new_host_keys,
                                hash_known_hosts=hash_known_hosts, registry=registry,
                                connect_timeout=connect_timeout,
                                tunnel=hops[-1] if hops else None,
                                **({} if hops else first_hop)))
                        via = hops[-1]
                    tunnel_sock = await tunnel_socket(via, host, port)
                proxy = None
                if proxy_command is not None and tunnel_sock is None:
                    tunnel_sock, proxy = _spawn_proxy(proxy_command, host, port, username)
                if tunnel_sock is not None:
                    _, conn = await loop.create_connection(factory, sock=tunnel_sock)
                    if proxy is not None:
                        conn._proxy = proxy  # ended with the connection
                else:
                    _, conn = await loop.create_connection(factory, host, port, family=family,
                                                           local_addr=local_addr)
                conn._hops = hops  # closed with it
                try:
                    await conn._ready
                except ProtocolError as exc:
                    if (conn._conn is not None and conn._conn.peer_version is None
                            and not isinstance(exc, ProtocolVersionError)):
                        raise ClosedBeforeBannerError(
                            f"{host}:{port}: the server closed the connection before its "
                            f"banner (MaxStartups reached, or a TCP wrapper?)", host=host,
                            port=port) from None
                    raise
                return conn
            except BaseException:
                for hop in reversed(hops):
                    hop.close()
                raise

        try:
            if connect_timeout is None:
                return await establish()
            async with asyncio.timeout(connect_timeout):
                return await establish()
        except TimeoutError:
            raise ConnectTimeoutError(f"{host}:{port}: timed out after {connect_timeout:g} s",
                                      host=host, port=port, timeout=connect_timeout or 0.0) from None
        except ConnectError:
            raise
        except OSError as exc:
            why = os.strerror(exc.errno) if isinstance(exc.errno, int) and exc.errno > 0 else str(exc)
            if isinstance(exc, socket.gaierror):
                why = exc.strerror or str(exc)
                if family:
                    why += f" (AddressFamily {'inet6' if family == socket.AF_INET6 else 'inet'})"
            elif local_addr is not None and "bind" in str(exc):
                why = f"cannot bind to {local_addr[0]} (BindAddress): {why}"
            import errno as _errno

            cls = ConnectError
            if isinstance(exc, ConnectionRefusedError):
                cls, why = ConnectRefusedError, "connection refused"
            elif isinstance(exc, socket.gaierror) or exc.errno in (
                    _errno.EHOSTUNREACH, _errno.ENETUNREACH, _errno.EADDRNOTAVAIL):
                cls = HostUnreachableError
            raise cls(f"{host}:{port}: {why}", host=host, port=port) from None

    return _ConnectContext(run())


_DEFAULT_CONFIG = object()


def connect(host: str, port: int | None = None, *, config: Any = _DEFAULT_CONFIG,
            **options: Any) -> _ConnectContext:
    """Open an authenticated SSH client connection, as ``ssh`` would.

    The user's OpenSSH configuration applies first (``~/.ssh/config`` then
    ``/etc/ssh/ssh_config``; ``config=`` names other files, ``config=None`` ignores them):
    HostName, Port, User, IdentityFile, IdentitiesOnly, UserKnownHostsFile,
    GlobalKnownHostsFile, StrictHostKeyChecking, HashKnownHosts, KexAlgorithms, Ciphers,
    MACs, HostKeyAlgorithms, PubkeyAcceptedAlgorithms, Compression, AddressFamily,
    BindAddress, PreferredAuthentications, ProxyJump, ServerAliveInterval, ServerAliveCountMax,
    ConnectTimeout, RekeyLimit and RevokedHostKeys.  Keyword arguments given here override it, as ``-o``
    does on ssh's command line; the rest are those of the resolved connection:

    """
    from ..ssh_config import SSHConfig

    if config is _DEFAULT_CONFIG:
        table = SSHConfig.load()
    elif config is None:
        table = None
    elif isinstance(config, SSHConfig):
        table = config
    else:
        table = SSHConfig.load([config] if isinstance(config, (str, Path)) else list(config))
    if table is not None:
        found = table.lookup(host, user=options.get("username"), port=port)
        host, port = _apply_ssh_config(found, host, port, options)
    return _connect(host, 22 if port is None else port, config=table, **options)


def _size(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = text.strip().lower()
    return int(text[:-1]) * units[text[-1]] if text[-1:] in units else int(text)


def _seconds(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = text.strip().lower()
    return float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text)


def address_family(value: str) -> int:
    """ssh_config's AddressFamily (``any``, ``inet``, ``inet6``) as a socket family."""
    families = {"any": socket.AF_UNSPEC, "inet": socket.AF_INET, "inet6": socket.AF_INET6}
    try:
        return int(families[value.strip().lower()])
    except KeyError:
        raise ConfigurationError(f"AddressFamily {value!r}: expected any, inet or inet6") from None


def _apply_ssh_config(found: dict[str, Any], host: str, port: int | None,
                      options: dict[str, Any]) -> tuple[str, int | None]:
    """Fill ``options`` from an ssh_config lookup where the caller gave nothing."""
    def put(name: str, value: Any) -> None:
        options.setdefault(name, value)

    yes = lambda name: str(found.get(name, "")).lower() in ("yes", "true")  # noqa: E731
    host = found.get("hostname", host)
    if port is None and "port" in found:
        port = int(found["port"])
    if "user" in found:
        put("username", found["user"])
    if "identityfile" in found:
        files = [os.path.expanduser(f) for f in found["identityfile"]]
        put("client_keys", [f for f in files if os.path.exists(f)])
    if "certificatefile" in found:
        put("client_certs", [os.path.expanduser(f) for f in found["certificatefile"]
                             if os.path.exists(os.path.expanduser(f))])
    if yes("identitiesonly"):
        put("agent_path", None)
    if "userknownhostsfile" in found or "globalknownhostsfile" in found:
        files = found.get("userknownhostsfile", "~/.ssh/known_hosts").split()
        files += found.get("globalknownhostsfile", "").split()
        if any(f.lower() != "none" for f in files):
            put("known_hosts", [os.path.expanduser(f) for f in files if f.lower() != "none"])
    strict = str(found.get("stricthostkeychecking", "")).lower()
    if strict in ("accept-new", "no", "off"):
        put("accept_new_host_keys", True)  # changed keys still fail, whatever "no" says
    if yes("hashknownhosts"):
        put("hash_known_hosts", True)
    if str(found.get("revokedhostkeys", "none")).lower() != "none":
        put("revoked_host_keys", os.path.expanduser(found["revokedhostkeys"]))
    for name, kw in (("kexalgorithms", "kex_algs"), ("ciphers", "encryption_algs"),
                     ("macs", "mac_algs"), ("hostkeyalgorithms", "server_host_key_algs"),
                     ("pubkeyacceptedalgorithms", "signature_algs"),
                     ("pubkeyacceptedkeytypes", "signature_algs"),
                     ("preferredauthentications", "preferred_auth")):
        if name in found:
            put(kw, found[name])
    if "compression" in found:
        put("compression_algs", "^zlib@openssh.com,zlib" if yes("compression") else "none")
    if "addressfamily" in found:
        put("family", address_family(found["addressfamily"]))
    if "bindaddress" in found:
        put("local_addr", (found["bindaddress"], 0))
    if str(found.get("proxyjump", "none")).lower() != "none":
        put("tunnel", found["proxyjump"])
    elif str(found.get("proxycommand", "none")).lower() != "none":
        put("proxy_command", found["proxycommand"])
    forward = str(found.get("forwardagent", "no"))
    if forward.lower() in ("yes", "true"):
        if os.environ.get("SSH_AUTH_SOCK"):
            put("forward_agent", True)
    elif forward.lower() not in ("no", "false"):  # a socket path (or $SSH_AUTH_SOCK)
        path = os.path.expanduser(forward.replace("$SSH_AUTH_SOCK", os.environ.get("SSH_AUTH_SOCK", "")))
        if path:
            put("forward_agent", path)
    if "updatehostkeys" in found:
        put("update_host_keys", str(found["updatehostkeys"]).lower() in ("yes", "ask"))
    if "serveraliveinterval" in found:
        put("keepalive_interval", _seconds(found["serveraliveinterval"]) or None)
    if "serveralivecountmax" in found:
        put("keepalive_count_max", int(found["serveralivecountmax"]))
    if "connecttimeout" in found:
        put("connect_timeout", _seconds(found["connecttimeout"]))
    if "rekeylimit" in found:
        parts = found["rekeylimit"].split()
        if parts and parts[0].lower() != "default":
            put("rekey_bytes", _size(parts[0]))
        if len(parts) > 1 and parts[1].lower() not in ("none", "default"):
            put("rekey_seconds", _seconds(parts[1]))
    return host, port


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
    :class:`~sshcore.passwords.PasswordFile` of salted hashes) and, for hostbased auth,
    ``known_client_hosts`` (a known_hosts-format file of client host keys);
    ``accept_env`` (patterns like sshd's AcceptEnv; default: all) limits the client's
    environment variables that processes get; ``allow_forwarding=True`` permits TCP/IP and Unix-socket forwarding both ways, and
    agent forwarding (``ssh -A``: a per-session ``SSH_AUTH_SOCK`` socket leading back to
    the client's agent) unless ``allow_agent_forwarding=False`` (sshd's AllowAgentForwarding).  Exec and shell requests run as real
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
    reg = connection_registry(registry, implementations=implementations,
                              blocked_plugins=blocked_plugins, allowed_plugins=allowed_plugins)
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
    keys = [read_private_key(k, passphrase, registry=reg) if isinstance(k, (str, Path)) else k
            for k in host_key_paths(server_host_keys)]
    # Host certificates (sshd's HostCertificate): each is served alongside its plain key.
    for cert in ([] if server_host_certs is None else host_key_paths(server_host_certs)):
        cert = read_certificate(cert, registry=reg) if isinstance(cert, (str, Path)) else cert
        private = next((k for k in keys if k.public_blob == cert.key.public_blob), None)
        if private is None:
            raise SSHError(f"host certificate {cert.key_id!r} is for none of the host keys")
        keys.insert(0, CertifiedKey(private, cert))
    if not keys:
        raise SSHError("listen() needs at least one server host key")
    connections: set[SSHServerConnection] = set()

    def make_config() -> ConnectionConfig:
        cfg = ConnectionConfig(
            "server", registry=reg, kex_algs=kex_algs, encryption_algs=encryption_algs,
            mac_algs=mac_algs, compression_algs=compression_algs,
            server_host_key_algs=server_host_key_algs, signature_algs=signature_algs,
            server_host_keys=keys, auth_methods=auth_methods, max_auth_tries=max_auth_tries,
            login_timeout=login_timeout, banner=banner, require_strict_kex=require_strict_kex,
            auth_methods_required=auth_methods_required,
            keepalive_interval=keepalive_interval or None, keepalive_count_max=keepalive_count_max)
        _apply_limits(cfg, {
            "max_packet_length": max_packet_length, "max_decompressed_size": max_decompressed_size,
            "max_banner_line": max_banner_line, "max_channels": max_channels,
            "max_pending_global_requests": max_pending_global_requests,
            "min_rsa_bits": min_rsa_bits})
        if rekey_bytes is not None:
            cfg.rekey_bytes = rekey_bytes
        if rekey_seconds is not None:
            cfg.rekey_seconds = rekey_seconds
        cfg.kex_offload = kex_executor is not None
        cfg.channel_timeouts = timeouts
        cfg.unused_connection_timeout = unused
        return cfg

    timeouts = parse_channel_timeout(channel_timeout)
    unused = (parse_interval(unused_connection_timeout) if isinstance(unused_connection_timeout, str)
              else unused_connection_timeout)
    make_config()  # validate the options once, before accepting anyone
    startups = parse_max_startups(max_startups)
    env_filter: Callable[[str], bool] | None = None
    if accept_env is not None:
        patterns = [accept_env] if isinstance(accept_env, str) else list(accept_env)

        def accepted(name: str) -> bool:
            return any(fnmatch.fnmatchcase(name, p) for p in patterns)
        env_filter = accepted

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
                                 allow_forwarding, allow_agent_forwarding)
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
        connections.add(conn)
        conn._closed_cb = connections.discard  # type: ignore[attr-defined]
        return conn

    loop = asyncio.get_running_loop()
    if port:
        servers = [await loop.create_server(factory, host or None, port, reuse_address=reuse_address)]
    else:
        # Port 0 on several addresses ("" is IPv4 and IPv6): one port, chosen by the first.
        infos = await loop.getaddrinfo(host or None, 0, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
        addrs = list(dict.fromkeys(info[4][0] for info in infos))
        servers = [await loop.create_server(factory, addrs[0], 0, reuse_address=reuse_address)]
        port = servers[0].sockets[0].getsockname()[1]
        for addr in addrs[1:]:
            try:
                servers.append(await loop.create_server(factory, addr, port,
                                                        reuse_address=reuse_address))
            except OSError:
                pass  # e.g. IPv6 disabled: the first address still serves
    acceptor = SSHAcceptor(servers, connections)
    acceptor.source_limiter = limiter  # type: ignore[attr-defined]
    return acceptor
