"""AES-CTR (RFC 4344), aes*-gcm@openssh.com and chacha20-poly1305@openssh.com on OpenSSL.

The framing is OpenSSH's (see ``PROTOCOL.chacha20poly1305`` and RFC 5647 as OpenSSH does
it); the bulk work is one or two OpenSSL calls per packet:

* aes*-ctr: one CTR context per direction; the counter runs on across packets.
* aes*-gcm@openssh.com: :class:`AESGCM` (a cached OpenSSL context) with the per-packet
  nonce ``fixed || invocation counter``; the clear length is the AAD and OpenSSL's
  ``ciphertext || tag`` is exactly the wire layout after it.
* chacha20-poly1305@openssh.com: OpenSSL's ChaCha20 takes a 16-byte IV that is the
  state's words 12-15, i.e. ``64-bit little-endian block counter || 64-bit nonce`` in
  the original (DJB) variant that OpenSSH uses, so block 0 of the main key gives the
  Poly1305 key and the same context continues at block 1 for the payload.  Contexts are
  re-keyed with ``reset_nonce`` where ``cryptography`` has it (43+), else remade.
"""

from __future__ import annotations

import struct
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM as _AESGCM
from cryptography.hazmat.primitives.poly1305 import Poly1305

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_ZERO64 = bytes(64)
#: The 8-byte little-endian block counter at 0 (Poly1305 key block) and at 1 (payload).
_BLOCK0 = bytes(8)


class AESCTR:
    """One direction of aes*-ctr: the counter runs on across packets."""

    __slots__ = ("encrypt", "decrypt")

    def __init__(self, key: bytes, iv: bytes, encrypt: bool) -> None:
        ctx = Cipher(algorithms.AES(bytes(key)), modes.CTR(bytes(iv))).encryptor()
        # CTR: decryption is the same keystream XOR; update() returns new bytes and
        # accepts memoryviews.
        self.encrypt = self.decrypt = ctx.update


class AESGCM:
    """aes*-gcm@openssh.com: length in clear as AAD, 64-bit invocation counter in the IV."""

    __slots__ = ("_gcm", "_fixed", "_counter")

    def __init__(self, key: bytes, iv: bytes, encrypt: bool) -> None:
        self._gcm = _AESGCM(bytes(key))
        self._fixed = bytes(iv[:4])
        self._counter = int.from_bytes(iv[4:12], "big")

    def _next_nonce(self) -> bytes:
        nonce = self._fixed + _U64.pack(self._counter)
        self._counter = (self._counter + 1) & 0xFFFFFFFFFFFFFFFF
        return nonce

    def encrypt_packet(self, seq: int, packet: bytes) -> bytes:
        view = memoryview(packet)
        header = bytes(view[:4])
        return header + self._gcm.encrypt(self._next_nonce(), view[4:], header)

    def decrypt_length(self, seq: int, header: bytes) -> int:
        return int(_U32.unpack(header)[0])

    def decrypt_packet(self, seq: int, header: bytes, body: bytes) -> bytes | None:
        # The invocation counter advances for a packet whose tag is wrong too; the
        # kernel ends the connection then anyway.
        nonce = self._next_nonce()
        try:
            return self._gcm.decrypt(nonce, body, header)
        except InvalidTag:
            return None


def _chacha(key: bytes, iv: bytes) -> Any:
    return Cipher(algorithms.ChaCha20(key, iv), None).encryptor()


class ChaChaPoly:
    """chacha20-poly1305@openssh.com: K_2 (first 32 bytes) for the payload and the
    Poly1305 key, K_1 (last 32 bytes) for the length; the nonce is the sequence number."""

    __slots__ = ("_main_key", "_header_key", "_main", "_header")

    def __init__(self, key: bytes, iv: bytes, encrypt: bool) -> None:
        self._main_key = bytes(key[:32])
        self._header_key = bytes(key[32:64])
        # Contexts kept for reset_nonce() (cryptography 43+); None: make one per packet.
        probe = _chacha(self._main_key, bytes(16))
        if hasattr(probe, "reset_nonce"):
            self._main: Any = probe
            self._header: Any = _chacha(self._header_key, bytes(16))
        else:  # pragma: no cover - cryptography < 43
            self._main = self._header = None

    def _header_ctx(self, nonce: bytes) -> Any:
        ctx = self._header
        if ctx is None:  # cryptography < 43
            return _chacha(self._header_key, _BLOCK0 + nonce)
        ctx.reset_nonce(_BLOCK0 + nonce)
        return ctx

    def _main_ctx(self, nonce: bytes) -> tuple[Any, bytes]:
        """The payload context at block 1, and the Poly1305 key (block 0)."""
        ctx = self._main
        if ctx is None:  # cryptography < 43
            ctx = _chacha(self._main_key, _BLOCK0 + nonce)
        else:
            ctx.reset_nonce(_BLOCK0 + nonce)
        return ctx, ctx.update(_ZERO64)[:32]

    def encrypt_packet(self, seq: int, packet: bytes) -> bytes:
        nonce = _U64.pack(seq)
        view = memoryview(packet)
        enc_len = self._header_ctx(nonce).update(view[:4])
        ctx, poly_key = self._main_ctx(nonce)
        enc_body = ctx.update(view[4:])
        mac = Poly1305(poly_key)
        mac.update(enc_len)
        mac.update(enc_body)
        return b"".join((enc_len, enc_body, mac.finalize()))

    def decrypt_length(self, seq: int, header: bytes) -> int:
        return int(_U32.unpack(self._header_ctx(_U64.pack(seq)).update(header))[0])

    def decrypt_packet(self, seq: int, header: bytes, body: bytes) -> bytes | None:
        if len(body) < 16:
            return None
        ctx, poly_key = self._main_ctx(_U64.pack(seq))
        ct = body[:-16]
        mac = Poly1305(poly_key)
        mac.update(header)
        mac.update(ct)
        try:
            mac.verify(bytes(body[-16:]))  # constant time
        except InvalidSignature:
            return None
        return ctx.update(ct)  # a stream cipher: the same operation
