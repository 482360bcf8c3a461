"""The only module of this plugin that imports pycryptodome."""

from __future__ import annotations

from Crypto.Cipher import AES, ARC4, CAST, DES3, Blowfish, ChaCha20
from Crypto.Hash import Poly1305

__all__ = ["AES", "ARC4", "CAST", "DES3", "Blowfish", "ChaCha20", "Poly1305"]
