"""Per-connection options the sans-I/O connection needs (no files, no clock, no I/O)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..interfaces import Role
from ..registry import Registry, default_registry

DEFAULT_VERSION = "SSH-2.0-sshcore_0.1"


@dataclass(slots=True)  # one per connection: no per-instance dict
class ConnectionConfig:
    role: Role
    registry: Registry = field(default_factory=default_registry)
    #: OpenSSH-style algorithm lists per family; None means the registry defaults.
    kex_algs: str | Sequence[str] | None = None
    encryption_algs: str | Sequence[str] | None = None
    mac_algs: str | Sequence[str] | None = None
    compression_algs: str | Sequence[str] | None = None
    #: Client: host key algorithms accepted; server: ignored (derived from host keys).
    server_host_key_algs: str | Sequence[str] | None = None
    #: Signature algorithms allowed for user keys.
    signature_algs: str | Sequence[str] | None = None
    version: str = DEFAULT_VERSION
    random: Callable[[int], bytes] = secrets.token_bytes
    #: Server: host keys (PrivateKey objects).
    server_host_keys: Sequence[Any] = ()
    #: Client: user name, method order and credentials; server: allowed methods.
    username: str = ""
    auth_methods: str | Sequence[str] | None = None
    credentials: dict[str, Any] = field(default_factory=dict)
    #: Server: userauth limits (OpenSSH's MaxAuthTries and LoginGraceTime).
    max_auth_tries: int = 6
    login_timeout: float | None = 120.0
    banner: str | None = None
    #: Server: like OpenSSH's AuthenticationMethods, e.g. [["publickey", "password"]]:
    #: success needs every method of one list (partial success in between).
    auth_methods_required: Sequence[Sequence[str]] | None = None
    #: Server: of ``auth_methods``, the ones the application can decide (None: all);
    #: may be empty when only "none" auth is used.
    auth_methods_offered: Sequence[str] | None = None
    #: Rekey after this many bytes in either direction, or this many seconds.  As in
    #: OpenSSH (RekeyLimit "default none"), no time-based rekeying unless asked for: an
    #: idle connection then holds no timer at all.
    rekey_bytes: int = 1 << 30
    rekey_seconds: float | None = None
    #: Refuse peers that do not offer strict key exchange.
    require_strict_kex: bool = False
    #: Options passed to key exchange methods (e.g. group-exchange sizes).
    kex_options: dict[str, Any] = field(default_factory=dict)
    #: Hand a key exchange's heavy work (a KexCompute: sntrup761 key generation, say) to
    #: the application as ComputeRequested events instead of running it inline, so a
    #: process pool can spread many handshakes over every core.
    kex_offload: bool = False
    #: Keepalive: after this many seconds without hearing from the peer, send a
    #: keepalive@openssh.com probe (None: never); give up after ``keepalive_count_max``
    #: unanswered probes (OpenSSH's ServerAliveInterval/CountMax, ClientAlive* on servers).
    keepalive_interval: float | None = None
    keepalive_count_max: int = 3
    #: Server or client: sshd's ChannelTimeout as ``{type pattern: seconds}`` (a channel
    #: of a matching type idle that long is closed) and UnusedConnectionTimeout (an
    #: authenticated connection without channels that long is disconnected); see
    #: ``_timeouts.py``.
    channel_timeouts: dict[str, float] = field(default_factory=dict)
    unused_connection_timeout: float | None = None
    #: Channel defaults.
    window_size: int = 2 * 1024 * 1024
    max_packet_size: int = 32768
    #: Resource limits (OpenSSH's values where it has one).  A peer that goes past one
    #: is disconnected, except channels: an open past ``max_channels`` is refused.
    #: Largest packet_length accepted, checked before the packet is buffered (256 KiB).
    max_packet_length: int = 256 * 1024
    #: Largest payload a compressed packet may inflate to.
    max_decompressed_size: int = 256 * 1024
    #: Longest line the peer may send before its version line, and how many such lines
    #: (OpenSSH's SSH_MAX_BANNER_LEN and SSH_MAX_PRE_BANNER_LINES); only servers may send
    #: them, and the version line itself is at most 255 bytes (RFC 4253 section 4.2).
    max_banner_line: int = 8192
    max_pre_banner_lines: int = 1024
    #: Channels open at once on this connection.
    max_channels: int = 1024
    #: Global requests from the peer still waiting for our reply.
    max_pending_global_requests: int = 64
    #: Smallest RSA modulus accepted for host and user keys (OpenSSH's RequiredRSASize).
    min_rsa_bits: int = 2048

    def algs(self, family: str) -> list[str]:
        spec = {
            "kex": self.kex_algs, "cipher": self.encryption_algs, "mac": self.mac_algs,
            "compression": self.compression_algs, "signature": self.server_host_key_algs,
        }[family]
        return self.registry.expand(family, spec)

    def user_sig_algs(self) -> list[str]:
        return self.registry.expand("signature", self.signature_algs)

    def auth_method_names(self) -> list[str]:
        return self.registry.expand("auth", self.auth_methods)
