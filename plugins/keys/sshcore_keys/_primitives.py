"""The only module of this plugin that imports pycryptodome (and argon2-cffi, for PuTTY
key files).

Every name loads at its first use (PEP 562 ``__getattr__``), so that loading and using an
Ed25519 key imports what Ed25519 needs, not RSA, DSA, the PEM codecs or the key file
ciphers too; callers write ``_primitives.RSA`` at call time, not ``from ._primitives
import RSA`` at import."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["PEM", "DerSequence", "AES", "ChaCha20", "HMAC", "Poly1305", "SHA1", "SHA256",
           "SHA384", "SHA512", "DSA", "ECC", "RSA", "DSS", "eddsa", "pkcs1_15", "argon2"]

#: name -> (module, attribute or None for the module itself), imported at first use
_LAZY: dict[str, tuple[str, str | None]] = {
    "AES": ("Crypto.Cipher.AES", None),
    "ChaCha20": ("Crypto.Cipher.ChaCha20", None),
    "HMAC": ("Crypto.Hash.HMAC", None),
    "Poly1305": ("Crypto.Hash.Poly1305", None),
    "SHA1": ("Crypto.Hash.SHA1", None),
    "SHA256": ("Crypto.Hash.SHA256", None),
    "SHA384": ("Crypto.Hash.SHA384", None),
    "SHA512": ("Crypto.Hash.SHA512", None),
    "DSA": ("Crypto.PublicKey.DSA", None),
    "ECC": ("Crypto.PublicKey.ECC", None),
    "RSA": ("Crypto.PublicKey.RSA", None),
    "PEM": ("Crypto.IO.PEM", None),
    "DSS": ("Crypto.Signature.DSS", None),
    "eddsa": ("Crypto.Signature.eddsa", None),
    "pkcs1_15": ("Crypto.Signature.pkcs1_15", None),
    "DerSequence": ("Crypto.Util.asn1", "DerSequence"),
}

#: PuTTY's Key-Derivation names -> argon2-cffi's type names
ARGON2_TYPES = {"Argon2d": "D", "Argon2i": "I", "Argon2id": "ID"}


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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


def bcrypt_kdf(passphrase: bytes, salt: bytes, length: int, rounds: int) -> bytes:
    """bcrypt_pbkdf as openssh-key-v1 derives its cipher key and IV (bcrypt loads here, at
    the first encrypted key, not with every key file)."""
    import bcrypt

    return bytes(bcrypt.kdf(passphrase, salt, length, rounds, ignore_few_rounds=True))
