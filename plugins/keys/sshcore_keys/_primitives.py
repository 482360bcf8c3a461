"""The only module of this plugin that imports pycryptodome."""

from __future__ import annotations

from Crypto.Cipher import AES, ChaCha20
from Crypto.Hash import Poly1305
from Crypto.Hash import SHA1, SHA256, SHA384, SHA512
from Crypto.PublicKey import DSA, ECC, RSA
from Crypto.IO import PEM
from Crypto.Signature import DSS, eddsa, pkcs1_15
from Crypto.Util.asn1 import DerSequence

__all__ = ["PEM", "DerSequence", "AES", "ChaCha20", "Poly1305", "SHA1", "SHA256", "SHA384", "SHA512", "DSA", "ECC", "RSA", "DSS", "eddsa",
           "pkcs1_15"]
