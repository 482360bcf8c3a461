"""Legacy ciphers: CBC modes, 3DES, Blowfish, CAST-128, arcfour (RFC 4253, RFC 4345).

Registered with ``enabled_by_default=False``: a user enables them by name.
"""

from __future__ import annotations

from typing import Any

from ._primitives import AES, ARC4, CAST, DES3, Blowfish


class CBC:
    """One direction of a CBC cipher; the chaining state carries across packets."""

    __slots__ = ("encrypt", "decrypt")

    def __init__(self, module: Any, key: bytes, iv: bytes, encrypt: bool) -> None:
        cipher = module.new(key, module.MODE_CBC, iv=iv)
        self.encrypt = cipher.encrypt
        self.decrypt = cipher.decrypt


class Arcfour:
    """arcfour (RFC 4253) and arcfour128/256 (RFC 4345: discard 1536 keystream bytes)."""

    __slots__ = ("encrypt", "decrypt")

    def __init__(self, key: bytes, discard: bool) -> None:
        cipher = ARC4.new(key, drop=1536 if discard else 0)
        self.encrypt = cipher.encrypt
        self.decrypt = cipher.decrypt


def aes_cbc(key: bytes, iv: bytes, encrypt: bool) -> CBC:
    return CBC(AES, key, iv, encrypt)


def des3_cbc(key: bytes, iv: bytes, encrypt: bool) -> CBC:
    return CBC(DES3, key, iv, encrypt)


def blowfish_cbc(key: bytes, iv: bytes, encrypt: bool) -> CBC:
    return CBC(Blowfish, key, iv, encrypt)


def cast_cbc(key: bytes, iv: bytes, encrypt: bool) -> CBC:
    return CBC(CAST, key, iv, encrypt)


def arcfour(key: bytes, iv: bytes, encrypt: bool) -> Arcfour:
    return Arcfour(key, discard=False)


def arcfour_discard(key: bytes, iv: bytes, encrypt: bool) -> Arcfour:
    return Arcfour(key, discard=True)
