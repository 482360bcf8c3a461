"""The only module of this plugin that imports a crypto library, each at first use.

pycryptodome (4.2 to 4.5) implements ML-KEM but keeps encapsulation and decapsulation
private (``MLKEMKey._encaps`` / ``_decaps``): this shim is the one place that calls them,
when it finds them (``FAST_MLKEM``); otherwise the pure-Python ``_mlkem`` does the same
work on the keys that pycryptodome's public API makes and checks.

X25519 comes from the ``cryptography`` package (OpenSSL) when it is installed, as it is
with ``sshcore-openssl``: importing pycryptodome's elliptic curves costs ~40 ms of CPU
at the first connection, OpenSSL's X25519 nothing more than ``cryptography``, which such
a process has imported already.  Both give the same bytes (tested against each other).
"""

from __future__ import annotations

import importlib.util
import secrets
import sys
from typing import Any

from . import _mlkem

MLKEM768_EK_LEN = 1184
MLKEM768_CT_LEN = 1088


def __getattr__(name: str) -> Any:
    # FAST_MLKEM: pycryptodome's private ML-KEM operations are there.  Computed at first
    # use (it imports pycryptodome) and then stored, so a test can turn it off.
    if name == "FAST_MLKEM":
        from Crypto.PublicKey import MLKEM

        value = all(callable(getattr(MLKEM.MLKEMKey, n, None)) for n in ("_encaps", "_decaps"))
        globals()["FAST_MLKEM"] = value
        return value
    raise AttributeError(name)


def _fast_mlkem() -> bool:
    return bool(sys.modules[__name__].FAST_MLKEM)  # the module __getattr__ on first use


class MLKEM768:
    """An ML-KEM-768 decapsulation key (the client's side of one exchange)."""

    def __init__(self, seed: bytes | None = None) -> None:
        """A fresh key, or the one the 64-byte ``seed`` (d || z) determines (for tests)."""
        from Crypto.PublicKey import MLKEM

        self._key = (MLKEM.generate(param_set=MLKEM.ML_KEM_768) if seed is None
                     else MLKEM.MLKEMKey(param_set=MLKEM.ML_KEM_768, seed=seed))

    @property
    def encapsulation_key(self) -> bytes:
        return bytes(self._key.ek)

    def decapsulate(self, ciphertext: bytes) -> bytes:
        """The shared secret (implicit rejection: a bad ciphertext gives a random one)."""
        if _fast_mlkem():
            return bytes(self._key._decaps(ciphertext))
        return _mlkem.decapsulate(bytes(self._key.expanded_dk), bytes(ciphertext))


def mlkem768_encapsulate(encapsulation_key: bytes,
                         coins: bytes | None = None) -> tuple[bytes, bytes]:
    """(shared secret, ciphertext) for the peer's key; ValueError if the key is invalid
    (FIPS 203 input checks).  ``coins`` (the 32-byte m) only for known-answer tests."""
    from Crypto.PublicKey import MLKEM

    peer = MLKEM.MLKEMKey(param_set=MLKEM.ML_KEM_768, ek=encapsulation_key)
    if _fast_mlkem():
        secret, ciphertext = peer._encaps(coins)
    else:
        secret, ciphertext = _mlkem.encapsulate(bytes(peer.ek), coins or secrets.token_bytes(32))
    return bytes(secret), bytes(ciphertext)


#: X25519 through OpenSSL (``cryptography``) when installed; a test may turn it off.
OPENSSL_X25519 = importlib.util.find_spec("cryptography") is not None


def x25519_keypair() -> tuple[object, bytes]:
    """A fresh private key (an opaque object) and its 32-byte public value."""
    if OPENSSL_X25519:
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

        key = X25519PrivateKey.generate()
        return key, key.public_key().public_bytes_raw()
    from Crypto.PublicKey import ECC

    pkey = ECC.generate(curve="Curve25519")
    return pkey, bytes(pkey.public_key().export_key(format="raw"))


def x25519_from_private(raw: bytes) -> tuple[object, bytes]:
    """The key pair of a given 32-byte private value (for tests), in the same backend."""
    if OPENSSL_X25519:
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

        key = X25519PrivateKey.from_private_bytes(raw)
        return key, key.public_key().public_bytes_raw()
    from Crypto.PublicKey import ECC

    pkey = ECC.construct(curve="Curve25519", seed=raw)
    return pkey, bytes(pkey.public_key().export_key(format="raw"))


def x25519_shared(private: Any, peer_public: bytes) -> bytes:
    """Raises ValueError for an invalid point or an all-zero result."""
    if not isinstance(peer_public, (bytes, bytearray)) or len(peer_public) != 32:
        raise ValueError("an X25519 public value is 32 bytes")
    if not hasattr(private, "curve"):  # a cryptography key (pycryptodome's EccKey has .curve)
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

        try:
            secret = private.exchange(X25519PublicKey.from_public_bytes(bytes(peer_public)))
        except ValueError:  # OpenSSL refuses a low-order point (an all-zero result)
            raise ValueError("all-zero X25519 shared secret") from None
    else:
        from Crypto.Protocol.DH import import_x25519_public_key, key_agreement

        secret = key_agreement(static_priv=private,
                               static_pub=import_x25519_public_key(bytes(peer_public)),
                               kdf=lambda x: x)
    if not any(secret):
        raise ValueError("all-zero X25519 shared secret")
    return bytes(secret)
