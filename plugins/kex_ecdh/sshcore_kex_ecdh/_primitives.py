"""The only module of this plugin that imports pycryptodome."""

from __future__ import annotations

from Crypto.Protocol.DH import (import_x25519_public_key, import_x448_public_key,
                                key_agreement)
from Crypto.PublicKey import ECC

__all__ = ["ECC", "import_x25519_public_key", "import_x448_public_key", "key_agreement"]
