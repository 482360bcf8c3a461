"""rsa-pss-sha256@example.com: RSA keys signing with PSS (SHA-256, salt = digest length).

Public key blob: ``string NAME || mpint e || mpint n``; signature blob:
``string NAME || string s``.  OpenSSH does not know it: it works between sshcore peers.
"""

from __future__ import annotations

from typing import Any

from sshcore.plugin import DecodeError, KeyType, SignatureAlgorithm, SSHReader, hookimpl, require
from sshcore.wire import mpint, string

SSHCORE_PLUGIN_API = "1.0"
NAME = "rsa-pss-sha256@example.com"


def _pss() -> tuple[Any, Any]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256()


class PublicKey:
    key_type = NAME
    comment = ""

    def __init__(self, pub: Any) -> None:
        numbers = pub.public_numbers()
        self._pub = pub
        self.public_blob = string(NAME) + mpint(numbers.e) + mpint(numbers.n)

    def sig_algorithms(self) -> list[str]:
        return [NAME]

    def verify(self, data: bytes, signature: bytes, algorithm: str | None = None) -> bool:
        from cryptography.exceptions import InvalidSignature

        try:
            r = SSHReader(signature)
            alg, sig = r.text("ascii"), r.string()
            r.finish()
            if alg != NAME or algorithm not in (None, NAME):
                return False
            self._pub.verify(sig, data, *_pss())
        except (DecodeError, InvalidSignature, ValueError):
            return False
        return True


class PrivateKey(PublicKey):
    def __init__(self, key: Any) -> None:
        super().__init__(key.public_key())
        self._key = key

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        return string(NAME) + string(self._key.sign(data, *_pss()))

    def public_key(self) -> PublicKey:
        return PublicKey(self._pub)


def decode(blob: bytes) -> PublicKey:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

    r = SSHReader(blob)
    if r.text("ascii") != NAME:
        raise ValueError(f"not a {NAME} key")
    e, n = r.mpint(), r.mpint()
    r.finish()
    if n.bit_length() < 2048 or e < 3 or e % 2 == 0:
        raise ValueError(f"{NAME}: refusing a weak key ({n.bit_length()} bits, e={e})")
    return PublicKey(RSAPublicNumbers(e, n).public_key())


def generate(bits: int = 3072, **options: Any) -> PrivateKey:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return PrivateKey(rsa.generate_private_key(65537, bits))


@hookimpl
def sshcore_signature_algorithms() -> list[SignatureAlgorithm]:
    require("cryptography")
    return [SignatureAlgorithm(NAME, NAME, decode, enabled_by_default=False)]


@hookimpl
def sshcore_key_types() -> list[KeyType]:
    require("cryptography")
    return [KeyType(NAME, generate)]
