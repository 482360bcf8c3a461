"""One ECDH exchange, sans-I/O: SSH_MSG_KEX_ECDH_INIT (30) / SSH_MSG_KEX_ECDH_REPLY (31)."""

from __future__ import annotations

import hashlib
from typing import Any

from sshcore.wire import SSHReader, byte, mpint, string
from sshcore.errors import KeyExchangeError, SSHError
from sshcore.interfaces import KexContext, KexResult, KexStep

from ._primitives import ECC, import_x25519_public_key, import_x448_public_key, key_agreement

KEX_ECDH_INIT, KEX_ECDH_REPLY = 30, 31

# curve -> (pycryptodome curve, public value length, peer-key importer or None for NIST)
_CURVES: dict[str, tuple[str, int, Any]] = {
    "curve25519": ("Curve25519", 32, import_x25519_public_key),
    "curve448": ("Curve448", 56, import_x448_public_key),
    "nistp256": ("P-256", 65, None),
    "nistp384": ("P-384", 97, None),
    "nistp521": ("P-521", 133, None),
}


class ECDHExchange:
    def __init__(self, ctx: KexContext, curve: str, hash_name: str) -> None:
        self.ctx = ctx
        self.hash_name = hash_name
        self.curve_name, self.pub_len, self.importer = _CURVES[curve]
        self.key = ECC.generate(curve=self.curve_name)
        if self.importer is not None:
            self.q = bytes(self.key.public_key().export_key(format="raw"))
        else:
            self.q = bytes(self.key.public_key().export_key(format="SEC1", compress=False))
        self.done = False

    def _peer_key(self, q: bytes) -> Any:
        if len(q) != self.pub_len:
            raise KeyExchangeError(f"{self.curve_name} public value has the wrong length")
        try:
            if self.importer is not None:
                return self.importer(q)
            if q[0] != 4:
                raise ValueError("not an uncompressed point")
            return ECC.import_key(q, curve_name=self.curve_name)  # checks the point is on the curve
        except ValueError as exc:
            raise KeyExchangeError(f"invalid {self.curve_name} public value: {exc}") from None

    def _shared(self, q_peer: bytes) -> bytes:
        try:
            secret = key_agreement(static_priv=self.key, static_pub=self._peer_key(q_peer),
                                   kdf=lambda x: x)
        except ValueError as exc:
            raise KeyExchangeError(f"ECDH failed: {exc}") from None
        if not any(secret):
            raise KeyExchangeError("ECDH produced an all-zero shared secret")
        return mpint(int.from_bytes(secret, "big"))

    def _hash(self, k_s: bytes, q_c: bytes, q_s: bytes, k: bytes) -> bytes:
        c = self.ctx
        return hashlib.new(self.hash_name, b"".join((
            string(c.client_version), string(c.server_version), string(c.client_kexinit),
            string(c.server_kexinit), string(k_s), string(q_c), string(q_s), k))).digest()

    def start(self) -> KexStep:
        if self.ctx.role == "client":
            return KexStep(send=[byte(KEX_ECDH_INIT) + string(self.q)])
        return KexStep()

    def receive(self, payload: bytes) -> KexStep:
        if self.done:
            raise KeyExchangeError("key exchange message after the exchange finished")
        try:
            r = SSHReader(payload, 1)
            if self.ctx.role == "server" and payload[0] == KEX_ECDH_INIT:
                q_c = r.string()
                r.finish()
                k = self._shared(q_c)
                h = self._hash(self.ctx.host_key_blob, q_c, self.q, k)
                assert self.ctx.sign is not None
                reply = b"".join((byte(KEX_ECDH_REPLY), string(self.ctx.host_key_blob),
                                  string(self.q), string(self.ctx.sign(h))))
                self.done = True
                return KexStep(send=[reply], result=KexResult(k, h))
            if self.ctx.role == "client" and payload[0] == KEX_ECDH_REPLY:
                k_s, q_s, sig = r.string(), r.string(), r.string()
                r.finish()
                k = self._shared(q_s)
                h = self._hash(k_s, self.q, q_s, k)
                self.done = True
                return KexStep(result=KexResult(k, h, k_s, sig))
        except KeyExchangeError:
            raise
        except SSHError as exc:
            raise KeyExchangeError(f"malformed ECDH message: {exc}") from None
        raise KeyExchangeError(f"unexpected message {payload[0]} during ECDH key exchange")
