"""The only module of this plugin that imports pycryptodome."""

from __future__ import annotations

import struct
from typing import Any

from Crypto.Cipher import AES, ARC4, CAST, DES3, Blowfish, ChaCha20
from Crypto.Hash import Poly1305

__all__ = ["AES", "ARC4", "CAST", "DES3", "Blowfish", "ChaCha20", "Poly1305", "GCMKey"]

try:  # pycryptodome's GHASH core: reusing its expanded key saves two AES key set-ups a packet
    from Crypto.Cipher import _mode_gcm
    from Crypto.Util._raw_api import create_string_buffer

    _GHASH_C: Any = _mode_gcm._ghash_clmul or _mode_gcm._ghash_portable
    _GHASH: Any = _mode_gcm._GHASH
except (ImportError, AttributeError):  # pragma: no cover - other pycryptodome layouts
    _GHASH = None

_LENGTHS = struct.Struct(">QQ")


class GCMKey:
    """AES-GCM (NIST SP 800-38D) for one key, with 12-byte nonces and 16-byte tags.

    ``AES.new(MODE_GCM)`` sets up the AES key three times and GHASH once per message,
    30-45 µs that dominate SSH-sized packets.  Here the hash subkey and GHASH table are
    computed once; each message needs one CTR cipher, whose first block (counter J0)
    masks the tag and whose following blocks encrypt the data.  Falls back to
    ``AES.new(MODE_GCM)`` if pycryptodome's internals are not where we expect them.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._ghash = None
        if _GHASH is not None:
            h = AES.new(key, AES.MODE_ECB).encrypt(bytes(16))
            self._ghash = _GHASH(h, _GHASH_C)

    def _tag(self, mask: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        g = self._ghash
        assert g is not None
        g._last_y = create_string_buffer(16)
        pad_a = -len(aad) % 16
        pad_c = -len(ciphertext) % 16
        g.update(b"".join((aad, bytes(pad_a), ciphertext, bytes(pad_c),
                           _LENGTHS.pack(8 * len(aad), 8 * len(ciphertext)))))
        s = int.from_bytes(g.digest(), "big") ^ int.from_bytes(mask, "big")
        return s.to_bytes(16, "big")

    def seal(self, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        """Return ciphertext || tag."""
        if self._ghash is None:
            c = AES.new(self._key, AES.MODE_GCM, nonce=nonce)
            c.update(aad)
            ct, tag = c.encrypt_and_digest(plaintext)
            return bytes(ct) + bytes(tag)
        ctr = AES.new(self._key, AES.MODE_CTR, nonce=b"", initial_value=nonce + b"\0\0\0\1")
        mask = ctr.encrypt(bytes(16))
        ct = ctr.encrypt(plaintext)
        return ct + self._tag(mask, aad, ct)

    def open(self, nonce: bytes, aad: bytes, data: bytes) -> bytes | None:
        """Check the tag (constant time), then decrypt; None if the tag is wrong."""
        import hmac

        ct, tag = data[:-16], data[-16:]
        if self._ghash is None:
            c = AES.new(self._key, AES.MODE_GCM, nonce=nonce)
            c.update(aad)
            try:
                return bytes(c.decrypt_and_verify(ct, tag))
            except ValueError:
                return None
        ctr = AES.new(self._key, AES.MODE_CTR, nonce=b"", initial_value=nonce + b"\0\0\0\1")
        mask = ctr.encrypt(bytes(16))
        if not hmac.compare_digest(self._tag(mask, aad, ct), tag):
            return None
        return bytes(ctr.encrypt(ct))  # CTR: decryption is the same operation
