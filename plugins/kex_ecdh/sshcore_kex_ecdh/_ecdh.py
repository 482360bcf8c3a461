"""One ECDH exchange, sans-I/O: SSH_MSG_KEX_ECDH_INIT (30) / SSH_MSG_KEX_ECDH_REPLY (31)."""

from __future__ import annotations

from typing import Any

from sshcore.plugin import KexContext, KeyExchangeError, OneRoundTripKex
from sshcore.wire import mpint

from ._primitives import ECC, import_x25519_public_key, import_x448_public_key, key_agreement

# curve -> (pycryptodome curve, public value length, peer-key importer or None for NIST)
_CURVES: dict[str, tuple[str, int, Any]] = {
    "curve25519": ("Curve25519", 32, import_x25519_public_key),
    "curve448": ("Curve448", 56, import_x448_public_key),
    "nistp256": ("P-256", 65, None),
    "nistp384": ("P-384", 97, None),
    "nistp521": ("P-521", 133, None),
}


class ECDHExchange(OneRoundTripKex):
    label = "ECDH key exchange"

    def __init__(self, ctx: KexContext, curve: str, hash_name: str) -> None:
        super().__init__(ctx)
        self.hash_name = hash_name  # type: ignore[misc]
        self.curve_name, self.pub_len, self.importer = _CURVES[curve]
        self.key = ECC.generate(curve=self.curve_name)
        if self.importer is not None:
            self.q = bytes(self.key.public_key().export_key(format="raw"))
        else:
            self.q = bytes(self.key.public_key().export_key(format="SEC1", compress=False))

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

    def client_init(self) -> bytes:
        return self.q

    def server_reply(self, q_c: bytes) -> tuple[bytes, bytes]:
        return self.q, self._shared(q_c)

    def client_finish(self, q_s: bytes) -> bytes:
        return self._shared(q_s)
