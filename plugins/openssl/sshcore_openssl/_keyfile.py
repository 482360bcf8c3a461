"""Unencrypted OpenSSH private key files (``openssh-key-v1``) read into OpenSSL keys.

A client's identity file is the one private key most processes load; reading it here
means signing the user-auth request through OpenSSL, without importing pycryptodome
(~50 ms of CPU with its cffi bindings) in a process that already has ``cryptography``.
Anything this reader does not take (an encrypted key, a DSA key, another format, a file
that does not parse) returns ``None``, and ``sshcore-keys`` reads it with its precise
error messages.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from sshcore.errors import SSHError
from sshcore.wire import SSHReader

from ._keys import CURVES, ECDSAKey, Ed25519Key, OpenSSLKey, RSAKey

BEGIN = b"-----BEGIN OPENSSH PRIVATE KEY-----"
END = b"-----END OPENSSH PRIVATE KEY-----"
MAGIC = b"openssh-key-v1\0"


def load_openssh_private(data: bytes) -> OpenSSLKey | None:
    """The key of an unencrypted openssh-key-v1 file, or ``None`` (see the module doc)."""
    start, end = data.find(BEGIN), data.find(END)
    if start < 0 or end < start:
        return None
    try:
        blob = base64.b64decode(b"".join(data[start + len(BEGIN):end].split()), validate=True)
        if not blob.startswith(MAGIC):
            return None
        r = SSHReader(blob[len(MAGIC):])
        if r.string() != b"none" or r.string() != b"none":  # cipher, kdf
            return None
        r.string()  # kdf options
        if r.uint32() != 1:
            return None
        public_blob = r.string()
        section = SSHReader(r.string())
        if section.uint32() != section.uint32():
            return None
        key = _read(section)
        if key is None or key.public_blob != public_blob:
            return None
        key.comment = section.string().decode("utf-8", "replace")
    except (SSHError, ValueError, TypeError, binascii.Error, OverflowError):
        return None
    return key


def _read(r: SSHReader) -> Any:
    key_type = r.text("ascii")
    if key_type == "ssh-ed25519":
        pub, priv = r.string(), r.string()
        if len(pub) != 32 or len(priv) != 64 or priv[32:] != pub:
            return None
        private = ed25519.Ed25519PrivateKey.from_private_bytes(priv[:32])
        return Ed25519Key(private.public_key(), private)
    if key_type.startswith("ecdsa-sha2-"):
        curve_id = r.text("ascii")
        r.string()  # Q, checked through the public blob
        d = r.mpint()
        if key_type != f"ecdsa-sha2-{curve_id}" or curve_id not in CURVES:
            return None
        private = ec.derive_private_key(d, CURVES[curve_id][0]())
        return ECDSAKey(private.public_key(), private)
    if key_type == "ssh-rsa":
        n, e, d, iqmp, p, q = (r.mpint() for _ in range(6))
        if p * q != n or n.bit_length() < 1024:
            return None
        numbers = rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), iqmp,
                                        rsa.RSAPublicNumbers(e, n))
        private = numbers.private_key()
        return RSAKey(private.public_key(), private)
    return None
