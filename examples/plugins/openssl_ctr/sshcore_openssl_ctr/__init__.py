"""aes128-ctr, aes192-ctr and aes256-ctr (RFC 4344) through OpenSSL.

The names are standard, so another installed plugin (sshcore-ciphers) may provide them
too: ``implementation_priority=-10`` lets that one serve by default, and a user picks
this one with ``implementations={"aes256-ctr": "sshcore-openssl-ctr"}`` (or
``SSHCORE_IMPLEMENTATIONS``, or ``sshcore run -o Implementations=...``).
"""

from __future__ import annotations

from sshcore.plugin import CipherAlgorithm, hookimpl, lazy, require

SSHCORE_PLUGIN_API = "1.0"


class AesCtr:
    """One direction: the counter (the IV, big-endian) runs on across calls."""

    def __init__(self, key: bytes, iv: bytes, encrypt: bool) -> None:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        self._ctx = Cipher(algorithms.AES(bytes(key)), modes.CTR(bytes(iv))).encryptor()

    def encrypt(self, data: bytes | memoryview) -> bytes:
        return self._ctx.update(data)

    decrypt = encrypt


@hookimpl
def sshcore_ciphers() -> list[CipherAlgorithm]:
    require("cryptography")
    return [CipherAlgorithm(f"aes{bits}-ctr", key_size=bits // 8, iv_size=16, block_size=16,
                            factory=lazy("sshcore_openssl_ctr:AesCtr"),
                            priority=bits // 8, implementation_priority=-10)
            for bits in (128, 192, 256)]
