"""The only module of this plugin that imports pycryptodome.

pycryptodome 4.4 implements ML-KEM but keeps encapsulation and decapsulation private
(``MLKEMKey._encaps`` / ``_decaps``): this shim is the one place that calls them, so a
release that makes them public changes one line here.
"""

from __future__ import annotations

from Crypto.Protocol.DH import import_x25519_public_key, key_agreement
from Crypto.PublicKey import ECC, MLKEM

MLKEM768_EK_LEN = 1184
MLKEM768_CT_LEN = 1088


class MLKEM768:
    """An ML-KEM-768 decapsulation key (the client's side of one exchange)."""

    def __init__(self, seed: bytes | None = None) -> None:
        """A fresh key, or the one the 64-byte ``seed`` (d || z) determines (for tests)."""
        self._key = (MLKEM.generate(param_set=MLKEM.ML_KEM_768) if seed is None
                     else MLKEM.MLKEMKey(param_set=MLKEM.ML_KEM_768, seed=seed))

    @property
    def encapsulation_key(self) -> bytes:
        return bytes(self._key.ek)

    def decapsulate(self, ciphertext: bytes) -> bytes:
        """The shared secret (implicit rejection: a bad ciphertext gives a random one)."""
        return bytes(self._key._decaps(ciphertext))


def mlkem768_encapsulate(encapsulation_key: bytes,
                         coins: bytes | None = None) -> tuple[bytes, bytes]:
    """(shared secret, ciphertext) for the peer's key; ValueError if the key is invalid
    (FIPS 203 input checks).  ``coins`` (the 32-byte m) only for known-answer tests."""
    peer = MLKEM.MLKEMKey(param_set=MLKEM.ML_KEM_768, ek=encapsulation_key)
    secret, ciphertext = peer._encaps(coins)
    return bytes(secret), bytes(ciphertext)


def x25519_keypair() -> tuple[object, bytes]:
    key = ECC.generate(curve="Curve25519")
    return key, bytes(key.public_key().export_key(format="raw"))


def x25519_shared(private: object, peer_public: bytes) -> bytes:
    """Raises ValueError for an invalid point or an all-zero result."""
    secret = key_agreement(static_priv=private, static_pub=import_x25519_public_key(peer_public),
                           kdf=lambda x: x)
    if not any(secret):
        raise ValueError("all-zero X25519 shared secret")
    return bytes(secret)
