"""The only module of this plugin that imports pycryptodome.

pycryptodome (4.2 to 4.5) implements ML-KEM but keeps encapsulation and decapsulation
private (``MLKEMKey._encaps`` / ``_decaps``): this shim is the one place that calls them,
when it finds them at import (``FAST_MLKEM``); otherwise the pure-Python ``_mlkem`` does
the same work on the keys that pycryptodome's public API makes and checks.
"""

from __future__ import annotations

import secrets

from Crypto.Protocol.DH import import_x25519_public_key, key_agreement
from Crypto.PublicKey import ECC, MLKEM

from . import _mlkem

MLKEM768_EK_LEN = 1184
MLKEM768_CT_LEN = 1088

#: pycryptodome's private ML-KEM operations are there (read at each call, so a test can
#: turn them off and compare with the pure-Python ones).
FAST_MLKEM = all(callable(getattr(MLKEM.MLKEMKey, name, None)) for name in ("_encaps", "_decaps"))


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
        if FAST_MLKEM:
            return bytes(self._key._decaps(ciphertext))
        return _mlkem.decapsulate(bytes(self._key.expanded_dk), bytes(ciphertext))


def mlkem768_encapsulate(encapsulation_key: bytes,
                         coins: bytes | None = None) -> tuple[bytes, bytes]:
    """(shared secret, ciphertext) for the peer's key; ValueError if the key is invalid
    (FIPS 203 input checks).  ``coins`` (the 32-byte m) only for known-answer tests."""
    peer = MLKEM.MLKEMKey(param_set=MLKEM.ML_KEM_768, ek=encapsulation_key)
    if FAST_MLKEM:
        secret, ciphertext = peer._encaps(coins)
    else:
        secret, ciphertext = _mlkem.encapsulate(bytes(peer.ek), coins or secrets.token_bytes(32))
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
