"""Client connection options: everything about a connection that is not I/O, built once.

:class:`ClientOptions` is what :func:`sshcore.connect` (asyncio) and
:func:`sshcore.blocking.connect` both build from their keywords and the user's
ssh_config, and then use: the one place where connect()'s keywords are checked,
defaulted and resolved (keys read, known_hosts chosen, algorithm names validated).
What needs I/O stays with the front-ends: asking the SSH agent for its keys, resolving
this host's FQDN for hostbased auth, and connecting.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .kernel.config import ConnectionConfig
from .errors import ConfigurationError, SSHError
from .files.keys import (CERT_SUFFIX, CertifiedKey, KnownHosts, _host_patterns_match, host_names,
                         read_certificate, read_key_pair)
from .registry import Registry, connection_registry
from .sessionconfig import ForwardSpec, SessionConfig, forward_specs, session_keywords

logger = logging.getLogger("sshcore.client")

__all__ = ["ClientOptions", "client_options", "load_client_keys", "default_username",
           "DEFAULT_KEY_FILES"]

DEFAULT_KEY_FILES = ("id_ed25519", "id_ecdsa", "id_rsa")
DEFAULT_AGENT: Any = type("_DefaultAgent", (), {"__repr__": lambda s: "<default agent>"})()
DEFAULT_KNOWN_HOSTS: Any = type("_DefaultKnownHosts", (), {"__repr__": lambda s: "<~/.ssh/known_hosts>"})()
DEFAULT_CONFIG: Any = type("_DefaultConfig", (), {"__repr__": lambda s: "<~/.ssh/config>"})()
AlgList = str | Sequence[str] | None


def default_username() -> str:
    import getpass

    return getpass.getuser()


def load_client_keys(client_keys: Any, passphrase: Any, registry: Any) -> list[Any]:
    """Keys from paths/objects; ``None`` means the user's default key files (quietly)."""
    from .errors import KeyImportError

    if client_keys is None:
        keys: list[Any] = []
        ssh_dir = Path("~/.ssh").expanduser()
        for name in DEFAULT_KEY_FILES:
            path = ssh_dir / name
            if path.exists():
                try:
                    pair = read_key_pair(path, passphrase, registry=registry)
                except KeyImportError:
                    continue
                keys.extend([pair, pair.private] if hasattr(pair, "cert") else [pair])
        return keys
    if isinstance(client_keys, (str, Path)) or hasattr(client_keys, "sign"):
        client_keys = [client_keys]
    keys = []
    for k in client_keys:
        if isinstance(k, (str, Path)):
            # with PATH-cert.pub next to it, the certificate is offered first, then the key
            pair = read_key_pair(k, passphrase, registry=registry)
            keys.extend([pair, pair.private] if hasattr(pair, "cert") else [pair])
        else:
            keys.append(k)
    return keys


def pinned(fingerprints: str | Sequence[str]) -> Callable[[str, int, Any], bool]:
    """A known_hosts callable trusting only keys with these fingerprints."""
    from .files.keys import fingerprint

    wanted = {fingerprints} if isinstance(fingerprints, str) else set(fingerprints)
    for fp in wanted:
        if not fp.startswith(("SHA256:", "MD5:")):
            raise SSHError(f"host key fingerprint {fp!r}: expected SHA256:... or MD5:...")

    def check(host: str, port: int, key: Any) -> bool:
        return fingerprint(key) in wanted or fingerprint(key, "md5") in wanted
    return check


def parse_jump(spec: str) -> tuple[str | None, str, int | None]:
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


def prefer_known_types(reg: Registry, known_hosts: Any, host: str, port: int) -> str | None:
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


def apply_limits(cfg: ConnectionConfig, limits: Mapping[str, int | None]) -> ConnectionConfig:
    """Resource limits connect() and listen() pass to the kernel's ConnectionConfig
    (None keeps its default; see there for what each bounds)."""
    for name, value in limits.items():
        if value is not None:
            if int(value) < 0:
                raise ConfigurationError(f"{name} must not be negative, not {value!r}")
            setattr(cfg, name, int(value))
    return cfg


@dataclass(frozen=True)
class ClientOptions:
    """One client connection's settings, resolved (see :meth:`create` for the keywords).

    Frozen: build it once, then open any number of connections with it, from either
    front-end.  ``keywords`` keeps what the caller gave, for jump hosts (ProxyJump),
    which are opened with this connection's keys and host key settings.
    """

    host: str
    port: int
    username: str
    registry: Registry
    client_keys: tuple[Any, ...]
    agent_path: str | None
    agent_required: bool
    known_hosts: Any
    accept_new_host_keys: bool
    hash_known_hosts: bool
    unknown_host_handler: Callable[[str, int, Any], Any] | None
    update_host_keys: bool
    password: Any
    kbdint_handler: Callable[..., Any] | None
    password_change: Callable[[str], Any] | None
    auth_credentials: Mapping[str, Any]
    client_host_keys: tuple[Any, ...] | None
    client_host: str | None
    client_username: str | None
    algorithms: Mapping[str, AlgList]
    preferred_auth: AlgList
    require_strict_kex: bool
    rekey_bytes: int | None
    rekey_seconds: float | None
    keepalive_interval: float | None
    keepalive_count_max: int
    limits: Mapping[str, int | None]
    connect_timeout: float | None
    sock: Any
    tunnel: Any
    proxy_command: str | None
    family: int
    local_addr: tuple[str, int] | None
    revoked_host_keys: Any
    forward_agent: str | None
    kex_executor: Any
    client_factory: Callable[[], Any] | None
    ssh_config: Any
    forwards: tuple[ForwardSpec, ...] = ()
    exit_on_forward_failure: bool = False
    session: SessionConfig = field(default_factory=SessionConfig)
    keywords: Mapping[str, Any] = field(repr=False, default_factory=dict)
    #: X11 forwarding (prepare_client_x11's keywords), or None
    x11: Mapping[str, Any] | None = None

    @classmethod
    def create(cls, host: str, port: int = 22, *, username: str | None = None,
               password: str | Callable[[str], Any] | None = None,
               client_keys: Any = None, passphrase: str | None = None,
               known_hosts: Any = DEFAULT_KNOWN_HOSTS, agent_path: Any = DEFAULT_AGENT,
               accept_new_host_keys: bool = False,
               hash_known_hosts: bool = False, client_factory: Callable[[], Any] | None = None,
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
               revoked_host_keys: Any = None,
               local_forwards: Any = None, remote_forwards: Any = None,
               dynamic_forwards: Any = None, clear_all_forwardings: bool = False,
               exit_on_forward_failure: bool = False, send_env: Any = None,
               set_env: Any = None, request_tty: Any = None,
               remote_command: str | None = None, x11_forwarding: bool = False,
               x11_trusted: bool = False, x11_display: str | None = None,
               xauth_path: str | None = None, x11_timeout: float = 1200) -> ClientOptions:
        """Check and resolve :func:`sshcore.connect`'s keywords (after ssh_config: see
        :func:`client_options`); raises :class:`~sshcore.errors.SSHError` subclasses for
        bad values (unknown algorithm names, unreadable keys...).

        Plugins for this connection only: ``implementations={"aes128-ctr": "sshcore-openssl"}``
        picks which installed provider serves a name that several plugins provide (see
        ``sshcore algorithms``); ``blocked_plugins`` / ``allowed_plugins`` (distribution or
        entry-point names) leave plugins out or use only those named.

        ``family`` (``socket.AF_INET`` or ``AF_INET6``; 0: either) and ``local_addr`` (a
        ``(host, port)`` to bind the socket to before connecting): ssh's AddressFamily
        (``-4``/``-6``) and BindAddress (``-b``).  They apply to the TCP connection the
        front-end makes itself (the first jump host's, with ``tunnel``), not to a
        ``sock`` or ``proxy_command``.

        ``kex_executor``: a :class:`concurrent.futures.Executor` (a ProcessPoolExecutor) for
        the key exchange's heavy work, such as sntrup761's key generation (~140 ms of pure
        Python): many connections opened at once then use every core.  One pool can serve
        any number of connections.

        ``keepalive_interval``/``keepalive_count_max`` (60 s, 3; ``None`` turns it off): probe
        a silent server as ``ServerAliveInterval``/``ServerAliveCountMax`` do, and fail with
        :class:`~sshcore.KeepaliveTimeoutError` when it stops answering.
        Limits (``None``: the defaults of :class:`~sshcore.kernel.config.ConnectionConfig`):
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
        ``x11_forwarding``: forward X11 connections from the server's sessions to the
        display ``x11_display`` (default ``$DISPLAY``), as ``ssh -X`` (untrusted: a cookie
        ``xauth generate`` makes, usable for ``x11_timeout`` seconds, ForwardX11Timeout) or,
        with ``x11_trusted=True``, ``ssh -Y``; the server gets a fake cookie, replaced by the
        real one only on connections that present it.  ``xauth_path``: XAuthLocation.
        ``proxy_command``: a shell command whose stdin/stdout carry the connection (ssh's
        ProxyCommand; ``%h %p %r %n %%`` expanded), e.g. ``"ssh -W %h:%p jump"``.
        ``host_key_fingerprint``: trust exactly this key (``SHA256:...`` as ssh-keygen -l
        prints it, or a list), instead of known_hosts.
        ``unknown_host_handler(host, port, key)``: asked (maybe async) about a host
        known_hosts does not list; True records and trusts it (StrictHostKeyChecking=ask).
        ``tunnel``: reach ``host`` through another SSH connection's direct-tcpip channel (an
        open client connection of the same front-end, or a ProxyJump string
        ``"[user@]jump[:port],..."`` whose hops are opened with this call's keys and host
        key settings and closed with the connection).
        ``agent_path``: an SSH agent's socket whose keys are tried first (default:
        ``$SSH_AUTH_SOCK`` when ``client_keys`` is not given; ``None`` disables it).
        ``known_hosts``: a path, list of paths, :class:`~sshcore.files.keys.KnownHosts`, a callable
        ``(host, port, key) -> bool`` (maybe async), or ``None`` to skip host key checking.
        The default is ``~/.ssh/known_hosts``.  A host that is not listed is refused unless
        ``accept_new_host_keys=True`` (OpenSSH's ``StrictHostKeyChecking=accept-new``), which
        appends its key to the first known_hosts file (hashed with ``hash_known_hosts=True``);
        a listed host with another key, or a revoked key, is always refused.
        ``revoked_host_keys`` (ssh's RevokedHostKeys): an OpenSSH KRL (``ssh-keygen -k``)
        or a file of public keys, read at each connection; a host key or host certificate
        it revokes is refused, and an unreadable file refuses every host key.

        Forwards set up when the connection is made, and closed with it (ssh's
        LocalForward, RemoteForward, DynamicForward; ssh_config's add to these):
        ``local_forwards``, ``remote_forwards``, ``dynamic_forwards``: lists of specs in
        ``-L``/``-R``/``-D`` syntax (``"8080:web:80"``, ``"127.0.0.1:0:/run/app.sock"``,
        ``"1080"``); ``clear_all_forwardings`` drops them all (ClearAllForwardings).  A
        forward that cannot be set up is a logged warning, or, with
        ``exit_on_forward_failure=True`` (ExitOnForwardFailure), fails the connect with
        :class:`~sshcore.ChannelListenError`; ``conn.config_forwards`` lists the
        ``(ForwardSpec, listener)`` pairs set up.
        Sessions (see :mod:`sshcore.sessionconfig`): ``send_env`` (SendEnv patterns),
        ``set_env`` (SetEnv: a mapping or ``NAME=VALUE`` strings), ``request_tty``
        (RequestTTY: ``auto``, ``yes``, ``no``, ``force``), ``remote_command``
        (RemoteCommand, run by a session opened without a command).
        """
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
        if agent is DEFAULT_AGENT:  # like ssh: the agent, when there is one and no keys were named
            agent = os.environ.get("SSH_AUTH_SOCK") if client_keys is None else None
        kh = known_hosts
        if kh is DEFAULT_KNOWN_HOSTS:
            kh = [os.path.expanduser("~/.ssh/known_hosts")]
        if host_key_fingerprint is not None:
            kh = pinned(host_key_fingerprint)
        agent_socket = (os.environ.get("SSH_AUTH_SOCK") if forward_agent is True
                        else forward_agent or None)
        algorithms = {"kex_algs": kex_algs, "encryption_algs": encryption_algs,
                      "mac_algs": mac_algs, "compression_algs": compression_algs,
                      "server_host_key_algs": server_host_key_algs,
                      "signature_algs": signature_algs}
        limits = {"max_packet_length": max_packet_length,
                  "max_decompressed_size": max_decompressed_size,
                  "max_banner_line": max_banner_line, "max_pre_banner_lines": max_pre_banner_lines,
                  "max_channels": max_channels,
                  "max_pending_global_requests": max_pending_global_requests,
                  "min_rsa_bits": min_rsa_bits}
        hop = {"client_keys": client_keys, "passphrase": passphrase, "known_hosts": known_hosts,
               "agent_path": agent_path, "accept_new_host_keys": accept_new_host_keys,
               "hash_known_hosts": hash_known_hosts, "registry": registry,
               "connect_timeout": connect_timeout, "config": config,
               "clear_all_forwardings": True}  # a jump host carries only us (as ssh -W)
        opts = cls(
            host=host, port=port, username=username or default_username(), registry=reg,
            client_keys=tuple(keys), agent_path=agent or None,
            agent_required=agent_path is not DEFAULT_AGENT, known_hosts=kh,
            accept_new_host_keys=accept_new_host_keys, hash_known_hosts=hash_known_hosts,
            unknown_host_handler=unknown_host_handler,
            update_host_keys=(known_hosts is DEFAULT_KNOWN_HOSTS if update_host_keys is None
                              else bool(update_host_keys)),
            password=password, kbdint_handler=kbdint_handler, password_change=password_change,
            auth_credentials=dict(auth_credentials or {}),
            client_host_keys=(None if client_host_keys is None
                              else tuple(load_client_keys(client_host_keys, None, reg))),
            client_host=client_host, client_username=client_username,
            algorithms=algorithms, preferred_auth=preferred_auth,
            require_strict_kex=require_strict_kex, rekey_bytes=rekey_bytes,
            rekey_seconds=rekey_seconds, keepalive_interval=keepalive_interval or None,
            keepalive_count_max=keepalive_count_max, limits=limits,
            connect_timeout=connect_timeout, sock=sock, tunnel=tunnel,
            proxy_command=proxy_command, family=family, local_addr=local_addr,
            revoked_host_keys=revoked_host_keys, forward_agent=agent_socket, kex_executor=kex_executor,
            client_factory=client_factory, ssh_config=config,
            forwards=forward_specs(local_forwards, remote_forwards, dynamic_forwards,
                                   clear_all_forwardings),
            exit_on_forward_failure=bool(exit_on_forward_failure),
            session=SessionConfig.create(send_env, set_env, request_tty, remote_command),
            keywords=hop,
            x11=({"display": x11_display, "trusted": bool(x11_trusted),
                  "xauth_path": xauth_path, "timeout": x11_timeout}
                 if x11_forwarding else None))
        cfg = opts.connection_config()  # validate early: unknown names fail before connecting
        for family_name in ("kex", "cipher", "mac", "compression"):
            cfg.algs(family_name)
        if forward_agent and not agent_socket:
            raise SSHError("forward_agent: no SSH agent (SSH_AUTH_SOCK is not set)")
        if x11_forwarding:  # checked here; the cookies are fetched when connecting
            from .x11 import parse_display

            parse_display(x11_display if x11_display is not None else os.environ.get("DISPLAY"))
        return opts

    def connection_config(self, agent_keys: Sequence[Any] = (),
                          client_host: str | None = None) -> ConnectionConfig:
        """A fresh kernel configuration for one connection: ``agent_keys`` (the agent's,
        fetched by the front-end) are tried before the other keys; ``client_host`` is
        this host's name for hostbased auth when none was given (the front-end resolves
        the FQDN)."""
        held = {k.public_blob for k in agent_keys}
        keys = list(agent_keys) + [k for k in self.client_keys if k.public_blob not in held]
        credentials: dict[str, Any] = {**self.auth_credentials, "client_keys": keys}
        if isinstance(self.password, str):
            credentials["password"] = self.password
        elif callable(self.password):
            credentials["password_prompt"] = True
        if self.kbdint_handler is not None:
            credentials["kbdint_prompt"] = True
        if self.password_change is not None:
            credentials["password_change"] = True
        if self.client_host_keys is not None:
            # hostbased: this host's keys, its name and the local user name the server
            # maps to ``username``.
            credentials["client_host_keys"] = list(self.client_host_keys)
            credentials["client_host"] = self.client_host or client_host or ""
            credentials["client_username"] = self.client_username or default_username()
        host_key_algs = self.algorithms["server_host_key_algs"]
        if host_key_algs is None and self.known_hosts is not None:
            host_key_algs = prefer_known_types(self.registry, self.known_hosts, self.host, self.port)
        cfg = ConnectionConfig(
            "client", registry=self.registry, kex_algs=self.algorithms["kex_algs"],
            encryption_algs=self.algorithms["encryption_algs"],
            mac_algs=self.algorithms["mac_algs"],
            compression_algs=self.algorithms["compression_algs"],
            server_host_key_algs=host_key_algs, signature_algs=self.algorithms["signature_algs"],
            username=self.username, auth_methods=self.preferred_auth,
            credentials=credentials, require_strict_kex=self.require_strict_kex,
            keepalive_interval=self.keepalive_interval,
            keepalive_count_max=self.keepalive_count_max)
        apply_limits(cfg, self.limits)
        if self.rekey_bytes is not None:
            cfg.rekey_bytes = self.rekey_bytes
        if self.rekey_seconds is not None:
            cfg.rekey_seconds = self.rekey_seconds
        cfg.kex_offload = self.kex_executor is not None
        return cfg

    def host_key_checker(self) -> Any:
        """A fresh :class:`~sshcore.clientpolicy.HostKeyChecker` for this host."""
        from .clientpolicy import HostKeyChecker

        return HostKeyChecker(self.host, self.port, self.known_hosts,
                              accept_new=self.accept_new_host_keys,
                              hash_known_hosts=self.hash_known_hosts,
                              ask=self.unknown_host_handler is not None,
                              revoked=self.revoked_host_keys)

    def jump_hops(self) -> list[tuple[str, int | None, dict[str, Any]]]:
        """For a ProxyJump string ``tunnel``: each hop's ``(host, port, keywords)`` (the
        first hop also gets ``family``/``local_addr``: -4/-6/-b are for the connection
        we make ourselves)."""
        if not isinstance(self.tunnel, str):
            return []
        first_hop = {k: v for k, v in (("family", self.family),
                                       ("local_addr", self.local_addr)) if v}
        hops = []
        for i, spec in enumerate(h.strip() for h in self.tunnel.split(",") if h.strip()):
            user, host, port = parse_jump(spec)
            hops.append((host, port, {**self.keywords, "username": user,
                                      **({} if i else first_hop)}))
        return hops


def load_ssh_config(config: Any) -> Any:
    """``config=`` as connect() takes it: the default files, None, an SSHConfig, paths."""
    from .files.ssh_config import SSHConfig

    if config is DEFAULT_CONFIG:
        return SSHConfig.load()
    if config is None or isinstance(config, SSHConfig):
        return config
    return SSHConfig.load([config] if isinstance(config, (str, Path)) else list(config))


def client_options(host: str, port: int | None = None, *, config: Any = DEFAULT_CONFIG,
                   **options: Any) -> ClientOptions:
    """:func:`sshcore.connect`'s arguments, ssh_config applied (``config=``: as there),
    as a :class:`ClientOptions`."""
    table, host, port = resolve_ssh_config(config, host, port, options)
    return ClientOptions.create(host, 22 if port is None else port, config=table, **options)


#: ssh_config keywords that connect() honours (apply_ssh_config and the session and
#: forwarding keywords); the others that apply to a host get a ConfigWarning.
#: BatchMode: the library never prompts (it is always in batch mode).
APPLIED = frozenset({
    "hostname", "port", "user", "identityfile", "identitiesonly", "certificatefile",
    "userknownhostsfile", "globalknownhostsfile", "stricthostkeychecking", "hashknownhosts",
    "revokedhostkeys", "kexalgorithms", "ciphers", "macs", "hostkeyalgorithms",
    "pubkeyacceptedalgorithms", "pubkeyacceptedkeytypes", "preferredauthentications",
    "compression", "addressfamily", "bindaddress", "proxyjump", "proxycommand",
    "forwardagent", "updatehostkeys", "serveraliveinterval", "serveralivecountmax",
    "connecttimeout", "rekeylimit", "batchmode", "identityagent",
    "localforward", "remoteforward", "dynamicforward", "clearallforwardings",
    "exitonforwardfailure", "sendenv", "setenv", "requesttty", "remotecommand",
    "forwardx11", "forwardx11trusted", "forwardx11timeout", "xauthlocation"})


def resolve_ssh_config(config: Any, host: str, port: int | None,
                       options: dict[str, Any]) -> tuple[Any, str, int | None]:
    """``config=`` as connect() takes it, applied to ``options`` for ``host``:
    ``(the SSHConfig or None, host, port)``; warns about keywords it does not apply."""
    table = load_ssh_config(config)
    if table is not None:
        found = table.lookup(host, user=options.get("username"), port=port, applied=APPLIED)
        host, port = apply_ssh_config(found, host, port, options)
    return table, host, port


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
    import socket  # its constants only

    families = {"any": socket.AF_UNSPEC, "inet": socket.AF_INET, "inet6": socket.AF_INET6}
    try:
        return int(families[value.strip().lower()])
    except KeyError:
        raise ConfigurationError(f"AddressFamily {value!r}: expected any, inet or inet6") from None


def apply_ssh_config(found: dict[str, Any], host: str, port: int | None,
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
    agent = str(found.get("identityagent", "SSH_AUTH_SOCK"))
    if agent.lower() == "none":
        put("agent_path", None)
    elif agent != "SSH_AUTH_SOCK":  # a socket path ($SSH_AUTH_SOCK in it, ~ expanded)
        sock = os.environ.get("SSH_AUTH_SOCK", "")
        put("agent_path", os.path.expanduser(agent.replace("$SSH_AUTH_SOCK", sock)) or None)
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
    if yes("forwardx11"):  # X11 forwarding: -X (untrusted) unless ForwardX11Trusted
        put("x11_forwarding", True)
        put("x11_trusted", yes("forwardx11trusted"))
    if "xauthlocation" in found:
        put("xauth_path", os.path.expanduser(found["xauthlocation"]))
    if "forwardx11timeout" in found:
        put("x11_timeout", _seconds(found["forwardx11timeout"]))
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
    session_keywords(found, options)
    return host, port




# ---------------------------------------------------------------- connect errors (both front-ends)

def connect_timeout_error(host: str, port: int, timeout: float | None) -> Exception:
    from .errors import ConnectTimeoutError

    return ConnectTimeoutError(f"{host}:{port}: timed out after {timeout or 0:g} s",
                               host=host, port=port, timeout=timeout or 0.0)


def closed_before_banner(host: str, port: int) -> Exception:
    from .errors import ClosedBeforeBannerError

    return ClosedBeforeBannerError(
        f"{host}:{port}: the server closed the connection before its "
        f"banner (MaxStartups reached, or a TCP wrapper?)", host=host, port=port)


def connect_error(exc: OSError, host: str, port: int, family: int = 0,
                  local_addr: tuple[str, int] | None = None) -> Exception:
    """The :class:`~sshcore.errors.ConnectError` subclass for a failed TCP connect."""
    import errno
    import socket  # its exception classes and constants only

    from .errors import ConnectError, ConnectRefusedError, HostUnreachableError

    why = os.strerror(exc.errno) if isinstance(exc.errno, int) and exc.errno > 0 else str(exc)
    if isinstance(exc, socket.gaierror):
        why = exc.strerror or str(exc)
        if family:
            why += f" (AddressFamily {'inet6' if family == socket.AF_INET6 else 'inet'})"
    elif local_addr is not None and "bind" in str(exc):
        why = f"cannot bind to {local_addr[0]} (BindAddress): {why}"
    cls = ConnectError
    if isinstance(exc, ConnectionRefusedError):
        cls, why = ConnectRefusedError, "connection refused"
    elif isinstance(exc, socket.gaierror) or exc.errno in (
            errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL):
        cls = HostUnreachableError
    return cls(f"{host}:{port}: {why}", host=host, port=port)


# ---------------------------------------------------------------- server side

def _listed(value: Any) -> list[Any]:
    if isinstance(value, (str, Path)) or hasattr(value, "sign"):
        return [value]
    return list(value)


@dataclass(frozen=True)
class ServerOptions:
    """A server's connection settings, resolved once (host keys read, algorithm names and
    limits checked): what :func:`sshcore.listen` and :func:`sshcore.blocking.serve` share.
    :meth:`connection_config` gives each accepted connection its kernel configuration.
    Sessions, subsystems, forwarding listeners and MaxStartups stay with the front-ends."""

    registry: Registry
    host_keys: tuple[Any, ...]
    algorithms: Mapping[str, AlgList]
    auth_methods: AlgList
    auth_methods_required: Sequence[Sequence[str]] | None
    login_timeout: float | None
    max_auth_tries: int
    banner: str | None
    require_strict_kex: bool
    rekey_bytes: int | None
    rekey_seconds: float | None
    keepalive_interval: float | None
    keepalive_count_max: int
    limits: Mapping[str, int | None]
    kex_executor: Any

    @classmethod
    def create(cls, *, server_host_keys: Any, server_host_certs: Any = None,
               passphrase: str | None = None, registry: Registry | None = None,
               implementations: Mapping[str, str] | None = None,
               blocked_plugins: Sequence[str] = (), allowed_plugins: Sequence[str] | None = None,
               kex_algs: AlgList = None, encryption_algs: AlgList = None, mac_algs: AlgList = None,
               compression_algs: AlgList = None, server_host_key_algs: AlgList = None,
               signature_algs: AlgList = None, auth_methods: AlgList = None,
               login_timeout: float | None = 120.0, max_auth_tries: int = 6,
               banner: str | None = None,
               auth_methods_required: Sequence[Sequence[str]] | None = None,
               require_strict_kex: bool = False, rekey_bytes: int | None = None,
               rekey_seconds: float | None = None, keepalive_interval: float | None = None,
               keepalive_count_max: int = 3, max_packet_length: int | None = None,
               max_decompressed_size: int | None = None, max_banner_line: int | None = None,
               max_channels: int | None = None, max_pending_global_requests: int | None = None,
               min_rsa_bits: int | None = None, kex_executor: Any = None) -> ServerOptions:
        """The keywords mean what they mean for :func:`sshcore.listen`."""
        from .files.keys import read_private_key

        reg = connection_registry(registry, implementations=implementations,
                                  blocked_plugins=blocked_plugins, allowed_plugins=allowed_plugins)
        keys = [read_private_key(k, passphrase, registry=reg) if isinstance(k, (str, Path)) else k
                for k in _listed(server_host_keys)]
        # Host certificates (sshd's HostCertificate): each is served alongside its plain key.
        for cert in ([] if server_host_certs is None else _listed(server_host_certs)):
            cert = read_certificate(cert, registry=reg) if isinstance(cert, (str, Path)) else cert
            private = next((k for k in keys if k.public_blob == cert.key.public_blob), None)
            if private is None:
                raise SSHError(f"host certificate {cert.key_id!r} is for none of the host keys")
            keys.insert(0, CertifiedKey(private, cert))
        if not keys:
            raise SSHError("listen() needs at least one server host key")
        opts = cls(
            registry=reg, host_keys=tuple(keys),
            algorithms={"kex_algs": kex_algs, "encryption_algs": encryption_algs,
                        "mac_algs": mac_algs, "compression_algs": compression_algs,
                        "server_host_key_algs": server_host_key_algs,
                        "signature_algs": signature_algs},
            auth_methods=auth_methods, auth_methods_required=auth_methods_required,
            login_timeout=login_timeout, max_auth_tries=max_auth_tries, banner=banner,
            require_strict_kex=require_strict_kex, rekey_bytes=rekey_bytes,
            rekey_seconds=rekey_seconds, keepalive_interval=keepalive_interval or None,
            keepalive_count_max=keepalive_count_max,
            limits={"max_packet_length": max_packet_length,
                    "max_decompressed_size": max_decompressed_size,
                    "max_banner_line": max_banner_line, "max_channels": max_channels,
                    "max_pending_global_requests": max_pending_global_requests,
                    "min_rsa_bits": min_rsa_bits},
            kex_executor=kex_executor)
        opts.connection_config()  # validate the options once, before accepting anyone
        return opts

    def connection_config(self) -> ConnectionConfig:
        """A fresh kernel configuration for one accepted connection."""
        a = self.algorithms
        cfg = ConnectionConfig(
            "server", registry=self.registry, kex_algs=a["kex_algs"],
            encryption_algs=a["encryption_algs"], mac_algs=a["mac_algs"],
            compression_algs=a["compression_algs"],
            server_host_key_algs=a["server_host_key_algs"], signature_algs=a["signature_algs"],
            server_host_keys=list(self.host_keys), auth_methods=self.auth_methods,
            max_auth_tries=self.max_auth_tries, login_timeout=self.login_timeout,
            banner=self.banner, require_strict_kex=self.require_strict_kex,
            auth_methods_required=self.auth_methods_required,
            keepalive_interval=self.keepalive_interval,
            keepalive_count_max=self.keepalive_count_max)
        apply_limits(cfg, self.limits)
        if self.rekey_bytes is not None:
            cfg.rekey_bytes = self.rekey_bytes
        if self.rekey_seconds is not None:
            cfg.rekey_seconds = self.rekey_seconds
        cfg.kex_offload = self.kex_executor is not None
        return cfg
