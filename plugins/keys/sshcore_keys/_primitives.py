"""The only module of this plugin that imports pycryptodome."""

from __future__ import annotations

from Crypto.Cipher import AES
from Crypto.Hash import SHA1, SHA256, SHA384, SHA512
from Crypto.PublicKey import DSA, ECC, RSA
from Crypto.Signature import DSS, eddsa, pkcs1_15

__all__ = ["AES", "SHA1", "SHA256", "SHA384", "SHA512", "DSA", "ECC", "RSA", "DSS", "eddsa",
           "pkcs1_15"]
