"""The only module of this plugin that imports pycryptodome (and argon2-cffi, for PuTTY
key files, imported at first use)."""

from __future__ import annotations

from Crypto.Cipher import AES, ChaCha20
from Crypto.Hash import HMAC, Poly1305
from Crypto.Hash import SHA1, SHA256, SHA384, SHA512
from Crypto.PublicKey import DSA, ECC, RSA
from Crypto.IO import PEM
from Crypto.Signature import DSS, eddsa, pkcs1_15
from Crypto.Util.asn1 import DerSequence

__all__ = ["PEM", "DerSequence", "AES", "ChaCha20", "HMAC", "Poly1305", "SHA1", "SHA256",
           "SHA384", "SHA512", "DSA", "ECC", "RSA", "DSS", "eddsa", "pkcs1_15", "argon2"]

#: PuTTY's Key-Derivation names -> argon2-cffi's type names
ARGON2_TYPES = {"Argon2d": "D", "Argon2i": "I", "Argon2id": "ID"}


def argon2(kind: str, secret: bytes, salt: bytes, passes: int, memory_kib: int,
           parallelism: int, length: int) -> bytes:
    """Raw Argon2 (version 0x13) output, as PuTTY derives PPK v3 keys with it."""
    try:
        from argon2.low_level import Type, hash_secret_raw
    except ImportError as exc:
        raise ImportError(f"PuTTY version 3 key files need argon2-cffi: {exc}") from None

    return bytes(hash_secret_raw(secret, salt, time_cost=passes, memory_cost=memory_kib,
                                 parallelism=parallelism, hash_len=length,
                                 type=getattr(Type, ARGON2_TYPES[kind]), version=19))
