"""curve25519-sha256 (RFC 8731) and ecdh-sha2-nistp* (RFC 5656) on OpenSSL, sans-I/O.

SSH_MSG_KEX_ECDH_INIT (30) / SSH_MSG_KEX_ECDH_REPLY (31) through
:class:`sshcore.plugin.OneRoundTripKex`; only the key agreement is here.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, x25519

from sshcore.plugin import KexContext, KeyExchangeError, OneRoundTripKex
from sshcore.wire import mpint

from ._keys import uncompressed_point

#: curve -> (label, public value length, cryptography curve or None for X25519)
_CURVES: dict[str, tuple[str, int, Any]] = {
    "curve25519": ("Curve25519", 32, None),
    "nistp256": ("P-256", 65, ec.SECP256R1),
    "nistp384": ("P-384", 97, ec.SECP384R1),
    "nistp521": ("P-521", 133, ec.SECP521R1),
}


class ECDHExchange(OneRoundTripKex):
    label = "ECDH key exchange"

    def __init__(self, ctx: KexContext, curve: str, hash_name: str) -> None:
        super().__init__(ctx)
        self.hash_name = hash_name  # type: ignore[misc]
        self.curve_name, self.pub_len, self.curve = _CURVES[curve]
        if self.curve is None:
            self.key: Any = x25519.X25519PrivateKey.generate()
            self.q = self.key.public_key().public_bytes_raw()
        else:
            self.key = ec.generate_private_key(self.curve())
            self.q = uncompressed_point(self.key.public_key())

    def _shared(self, q_peer: bytes) -> bytes:
        if len(q_peer) != self.pub_len:
            raise KeyExchangeError(f"{self.curve_name} public value has the wrong length")
        try:
            if self.curve is None:
                peer = x25519.X25519PublicKey.from_public_bytes(q_peer)
                # OpenSSL refuses a low-order point (all-zero result) with ValueError.
                secret = self.key.exchange(peer)
            else:
                if q_peer[0] != 4:
                    raise ValueError("not an uncompressed point")
                # from_encoded_point checks that the point is on the curve.
                peer = ec.EllipticCurvePublicKey.from_encoded_point(self.curve(), q_peer)
                secret = self.key.exchange(ec.ECDH(), peer)
        except ValueError as exc:
            raise KeyExchangeError(f"invalid {self.curve_name} public value: {exc}") from None
        if not any(secret):
            raise KeyExchangeError("ECDH produced an all-zero shared secret")
        return mpint(int.from_bytes(secret, "big"))

    def client_init(self) -> bytes:
        return self.q

    def server_reply(self, q_c: bytes) -> tuple[bytes, bytes]:
        return self.q, self._shared(q_c)

    def client_finish(self, q_s: bytes) -> bytes:
        return self._shared(q_s)
