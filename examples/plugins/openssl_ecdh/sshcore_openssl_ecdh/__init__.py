"""ecdh-sha2-nistp256/384/521 (RFC 5656) through OpenSSL, on ``OneRoundTripKex``.

An alternative implementation (``implementation_priority=-10``): choose it with
``implementations={"ecdh-sha2-nistp256": "sshcore-openssl-ecdh"}``.  ``OneRoundTripKex``
does the parsing, the exchange hash and the server's signature; this module only makes
the key pairs and the shared secret, refusing points that are not on the curve.
"""

from __future__ import annotations

from sshcore.plugin import (KexAlgorithm, KeyExchangeError, OneRoundTripKex, hookimpl, lazy,
                            require)
from sshcore.wire import mpint

SSHCORE_PLUGIN_API = "1.0"
CURVES = {"nistp256": "sha256", "nistp384": "sha384", "nistp521": "sha512"}


class EcdhExchange(OneRoundTripKex):
    """One exchange on ``curve`` (Q_C and Q_S are uncompressed SEC1 points)."""

    def __init__(self, curve: str, ctx) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        super().__init__(ctx)
        self.label = f"ecdh-sha2-{curve}"
        self.hash_name = CURVES[curve]
        self._curve = {"nistp256": ec.SECP256R1, "nistp384": ec.SECP384R1,
                       "nistp521": ec.SECP521R1}[curve]()
        self._key = ec.generate_private_key(self._curve)
        self._pub = self._key.public_key().public_bytes(Encoding.X962,
                                                        PublicFormat.UncompressedPoint)

    def _shared(self, peer: bytes) -> bytes:
        from cryptography.hazmat.primitives.asymmetric import ec

        if not peer.startswith(b"\x04"):
            raise KeyExchangeError(f"{self.label}: not an uncompressed point")
        try:
            point = ec.EllipticCurvePublicKey.from_encoded_point(self._curve, peer)
            secret = self._key.exchange(ec.ECDH(), point)
        except ValueError as exc:  # off the curve, the point at infinity, wrong length
            raise KeyExchangeError(f"{self.label}: invalid public point ({exc})") from None
        return mpint(int.from_bytes(secret, "big"))

    def client_init(self) -> bytes:
        return self._pub

    def server_reply(self, q_c: bytes) -> tuple[bytes, bytes]:
        return self._pub, self._shared(q_c)

    def client_finish(self, q_s: bytes) -> bytes:
        return self._shared(q_s)


@hookimpl
def sshcore_kex_algorithms() -> list[KexAlgorithm]:
    require("cryptography")
    return [KexAlgorithm(f"ecdh-sha2-{curve}", hash_name,
                         lazy("sshcore_openssl_ecdh:EcdhExchange", curve),
                         enabled_by_default=False, implementation_priority=-10)
            for curve, hash_name in CURVES.items()]
