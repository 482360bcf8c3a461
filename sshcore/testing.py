"""Insecure stand-in algorithms and a client/server pair for testing the kernel alone.

Nothing here is cryptographically meaningful: ``test-kex@sshcore.test`` exchanges random
values in clear, ``test-key@sshcore.test`` "signs" with a plain hash, the cipher is the
identity.  Register :data:`plugin` (``build_registry(plugins=[testing.plugin, ...])``)
to run the transport, userauth and connection machines without any crypto plugin.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from . import hookimpl
from ._wire import SSHReader, byte, mpint, string
from .kernel.connection import Connection
from .kernel.config import ConnectionConfig
from .errors import KeyExchangeError
from .interfaces import (CipherAlgorithm, KexAlgorithm, KexContext, KexResult, KexStep,
                         MacAlgorithm, SignatureAlgorithm)

KEX = "test-kex@sshcore.test"
KEY = "test-key@sshcore.test"
CIPHER = "test-identity@sshcore.test"
MAC = "test-hmac@sshcore.test"


class TestKey:
    __test__ = False
    key_type = KEY
    comment = ""

    def __init__(self, ident: bytes | None = None) -> None:
        self.ident = ident or secrets.token_bytes(16)
        self.public_blob = string(KEY) + string(self.ident)

    def sig_algorithms(self) -> Sequence[str]:
        return [KEY]

    def _digest(self, data: bytes) -> bytes:
        return hashlib.sha256(self.public_blob + data).digest()

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        return string(KEY) + string(self._digest(data))

    def verify(self, data: bytes, signature: bytes, algorithm: str | None = None) -> bool:
        r = SSHReader(signature)
        try:
            alg, sig = r.text("ascii"), r.string()
            r.finish()
        except Exception:  # noqa: BLE001
            return False
        return alg == KEY and hmac.compare_digest(sig, self._digest(data))

    def public_key(self) -> TestKey:
        return self


def _decode_key(blob: bytes) -> TestKey:
    r = SSHReader(blob)
    if r.text("ascii") != KEY:
        raise ValueError("not a test key")
    ident = r.string()
    r.finish()
    return TestKey(ident)


class _TestKex:
    def __init__(self, ctx: KexContext) -> None:
        self.ctx = ctx
        self.mine = ctx.random(32)

    def _hash(self, k_s: bytes, c: bytes, s: bytes) -> tuple[bytes, bytes]:
        k = mpint(int.from_bytes(hashlib.sha256(c + s).digest(), "big"))
        ctx = self.ctx
        h = hashlib.sha256(b"".join((string(ctx.client_version), string(ctx.server_version),
                                     string(ctx.client_kexinit), string(ctx.server_kexinit),
                                     string(k_s), string(c), string(s), k))).digest()
        return k, h

    def start(self) -> KexStep:
        if self.ctx.role == "client":
            return KexStep(send=[byte(30) + string(self.mine)])
        return KexStep()

    def receive(self, payload: bytes) -> KexStep:
        r = SSHReader(payload, 1)
        if self.ctx.role == "server" and payload[0] == 30:
            c = r.string()
            k, h = self._hash(self.ctx.host_key_blob, c, self.mine)
            assert self.ctx.sign is not None
            reply = b"".join((byte(31), string(self.ctx.host_key_blob), string(self.mine),
                              string(self.ctx.sign(h))))
            return KexStep(send=[reply], result=KexResult(k, h))
        if self.ctx.role == "client" and payload[0] == 31:
            k_s, s, sig = r.string(), r.string(), r.string()
            k, h = self._hash(k_s, self.mine, s)
            return KexStep(result=KexResult(k, h, k_s, sig))
        raise KeyExchangeError(f"unexpected message {payload[0]}")


class _Identity:
    def encrypt(self, data: bytes | memoryview) -> bytes:
        return bytes(data)  # a fresh object, as the cipher contract asks

    decrypt = encrypt


class _Mac:
    def __init__(self, key: bytes) -> None:
        self.key = key

    def sign(self, seq: int, data: bytes | memoryview) -> bytes:
        h = hmac.new(self.key, seq.to_bytes(4, "big"), "sha256")
        h.update(data)
        return h.digest()

    def verify(self, seq: int, data: bytes, mac: bytes) -> bool:
        return hmac.compare_digest(self.sign(seq, data), mac)


class _Plugin:
    @hookimpl
    def sshcore_kex_algorithms(self) -> Sequence[KexAlgorithm]:
        return [KexAlgorithm(KEX, "sha256", _TestKex, priority=-100)]

    @hookimpl
    def sshcore_signature_algorithms(self) -> Sequence[SignatureAlgorithm]:
        return [SignatureAlgorithm(KEY, KEY, _decode_key, priority=-100)]

    @hookimpl
    def sshcore_ciphers(self) -> Sequence[CipherAlgorithm]:
        return [CipherAlgorithm(CIPHER, 16, 16, 8, lambda key, iv, encrypt: _Identity(), priority=-100)]

    @hookimpl
    def sshcore_macs(self) -> Sequence[MacAlgorithm]:
        return [MacAlgorithm(MAC, 32, 32, lambda key: _Mac(key), priority=-100)]


plugin = _Plugin()


class ConnectionPair:
    """A client and a server kernel wired back to back in memory.  ``hop``: seconds each
    delivery takes (the clock the receiver is given starts at 0 and advances by it)."""

    def __init__(self, client: ConnectionConfig, server: ConnectionConfig) -> None:
        self.client = Connection(client)
        self.server = Connection(server)
        self.client_events: list[Any] = []
        self.server_events: list[Any] = []
        self.hop = 0.0
        self.clock = 0.0

    def pump(self, rounds: int = 50) -> None:
        for _ in range(rounds):
            moved = False
            for src, dst, log in ((self.client, self.server, self.server_events),
                                  (self.server, self.client, self.client_events)):
                data = src.data_to_send()
                if data and not dst.closed:
                    self.clock += self.hop
                    dst.receive_data(data, self.clock)
                    moved = True
            for conn, log in ((self.client, self.client_events), (self.server, self.server_events)):
                while (event := conn.next_event()) is not None:
                    log.append(event)
                    moved = True
            if not moved:
                return


def pair_configs(registry: Any, **common: Any) -> SimpleNamespace:
    key = TestKey()
    client = ConnectionConfig("client", registry=registry, **common)
    server = ConnectionConfig("server", registry=registry, server_host_keys=[key], **common)
    return SimpleNamespace(client=client, server=server, host_key=key)
