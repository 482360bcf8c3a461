"""Key generation entry points named by the hooks (imported at first use)."""

from __future__ import annotations

from typing import Any

from ._keys import DSAKey, ECDSAKey, Ed448Key, Ed25519Key, RSAKey


def ed25519(**options: Any) -> Ed25519Key:
    return Ed25519Key.generate()


def ed448(**options: Any) -> Ed448Key:
    return Ed448Key.generate()


def ecdsa(curve_id: str, **options: Any) -> ECDSAKey:
    return ECDSAKey.generate(curve_id)


def rsa(bits: int = 3072, **options: Any) -> RSAKey:
    return RSAKey.generate(bits)


def dsa(bits: int = 1024, **options: Any) -> DSAKey:
    return DSAKey.generate(bits)
