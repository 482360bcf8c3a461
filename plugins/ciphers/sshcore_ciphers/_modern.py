"""AES-CTR (RFC 4344), AES-GCM (RFC 5647 as OpenSSH does it), ChaCha20-Poly1305@openssh.com."""

from __future__ import annotations

import hmac
import struct

from . import _primitives
from ._primitives import AES, ChaCha20, GCMKey, RawChaChaPoly, RawCTR, RawGCM, chacha_poly1305_mac

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


class AESCTR:
    """One direction of aes*-ctr: the counter runs on across packets."""

    __slots__ = ("_cipher", "encrypt", "decrypt")

    def __init__(self, key: bytes, iv: bytes, encrypt: bool) -> None:
        self._cipher = (RawCTR(key, iv) if _primitives.RAW
                        else AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=iv))
        self.encrypt = self._cipher.encrypt
        self.decrypt = self._cipher.decrypt


class _AESGCM:
    """aes*-gcm@openssh.com: length in clear as AAD, 64-bit invocation counter in the IV."""

    __slots__ = ("_gcm", "_fixed", "_counter")

    def __init__(self, key: bytes, iv: bytes, encrypt: bool) -> None:
        self._gcm = GCMKey(key)
        self._fixed = iv[:4]
        self._counter = int.from_bytes(iv[4:12], "big")

    def _next_nonce(self) -> bytes:
        nonce = self._fixed + _U64.pack(self._counter)
        self._counter = (self._counter + 1) & 0xFFFFFFFFFFFFFFFF
        return nonce

    def encrypt_packet(self, seq: int, packet: bytes) -> bytes:
        header = packet[:4]
        return header + self._gcm.seal(self._next_nonce(), header, packet[4:])

    def decrypt_length(self, seq: int, header: bytes) -> int:
        return int(_U32.unpack(header)[0])

    def decrypt_packet(self, seq: int, header: bytes, body: bytes) -> bytes | None:
        return self._gcm.open(self._next_nonce(), header, body)


class _ChaChaPoly:
    """chacha20-poly1305@openssh.com: K_2 (first 32 bytes) for the payload and the Poly1305
    key, K_1 (last 32 bytes) for the length; the nonce is the sequence number."""

    __slots__ = ("_main", "_header")

    def __init__(self, key: bytes, iv: bytes, encrypt: bool) -> None:
        self._main = key[:32]
        self._header = key[32:64]

    def encrypt_packet(self, seq: int, packet: bytes) -> bytes:
        nonce = _U64.pack(seq)
        enc_len = ChaCha20.new(key=self._header, nonce=nonce).encrypt(packet[:4])
        main = ChaCha20.new(key=self._main, nonce=nonce)
        mac = chacha_poly1305_mac(self._main, nonce, main)
        main.seek(64)
        enc_body = main.encrypt(packet[4:])
        mac.update(enc_len)
        mac.update(enc_body)
        return b"".join((enc_len, enc_body, mac.digest()))

    def decrypt_length(self, seq: int, header: bytes) -> int:
        clear = ChaCha20.new(key=self._header, nonce=_U64.pack(seq)).decrypt(header)
        return int(_U32.unpack(clear)[0])

    def decrypt_packet(self, seq: int, header: bytes, body: bytes) -> bytes | None:
        nonce = _U64.pack(seq)
        main = ChaCha20.new(key=self._main, nonce=nonce)
        mac = chacha_poly1305_mac(self._main, nonce, main)
        mac.update(header)
        mac.update(body[:-16])
        if not hmac.compare_digest(mac.digest(), body[-16:]):
            return None
        main.seek(64)
        return main.encrypt(body[:-16])  # a stream cipher: the same operation


class _RawAESGCM:
    """aes*-gcm@openssh.com through pycryptodome's C cores (see RawGCM)."""

    __slots__ = ("_gcm",)

    def __init__(self, key: bytes, iv: bytes, encrypt: bool) -> None:
        self._gcm = RawGCM(key, iv)

    def encrypt_packet(self, seq: int, packet: bytes) -> bytes:
        view = memoryview(packet)
        return self._gcm.seal(view[:4], view[4:])

    def decrypt_length(self, seq: int, header: bytes) -> int:
        return int(_U32.unpack(header)[0])

    def decrypt_packet(self, seq: int, header: bytes, body: bytes) -> bytearray | None:
        return self._gcm.open(header, body)


class _RawChaChaPolyCipher:
    """chacha20-poly1305@openssh.com through pycryptodome's C cores (see RawChaChaPoly)."""

    __slots__ = ("_c",)

    def __init__(self, key: bytes, iv: bytes, encrypt: bool) -> None:
        self._c = RawChaChaPoly(key)

    def encrypt_packet(self, seq: int, packet: bytes) -> bytes:
        return self._c.seal(seq, packet)

    def decrypt_length(self, seq: int, header: bytes) -> int:
        return int(_U32.unpack(self._c.length(seq, header))[0])

    def decrypt_packet(self, seq: int, header: bytes, body: bytes) -> bytearray | None:
        return self._c.open(seq, header, body)


def AESGCM(key: bytes, iv: bytes, encrypt: bool) -> _RawAESGCM | _AESGCM:
    """aes*-gcm@openssh.com: over the C cores when pycryptodome's internals are as expected
    (``_primitives.RAW``), else over its public API."""
    return (_RawAESGCM if _primitives.RAW else _AESGCM)(key, iv, encrypt)


def ChaChaPoly(key: bytes, iv: bytes, encrypt: bool) -> _RawChaChaPolyCipher | _ChaChaPoly:
    """chacha20-poly1305@openssh.com, over the C cores or the public API as for AESGCM."""
    return (_RawChaChaPolyCipher if _primitives.RAW else _ChaChaPoly)(key, iv, encrypt)
