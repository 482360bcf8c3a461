"""Hook implementations: the ciphers this distribution contributes.

Descriptors only: each factory is a :func:`~sshcore.interfaces.lazy` name, so listing or
negotiating ciphers imports no crypto; pycryptodome loads when a cipher is keyed.
"""

from __future__ import annotations

from collections.abc import Sequence

from sshcore import hookimpl
from sshcore.interfaces import CipherAlgorithm, lazy, require

_M = "sshcore_ciphers._modern:"
_L = "sshcore_ciphers.legacy:"
ChaChaPoly, AESCTR, AESGCM = lazy(_M + "ChaChaPoly"), lazy(_M + "AESCTR"), lazy(_M + "AESGCM")


@hookimpl
def sshcore_ciphers() -> Sequence[CipherAlgorithm]:
    require("Crypto.Cipher.AES", "Crypto.Cipher.ChaCha20", "Crypto.Hash.Poly1305")
    modern = [
        CipherAlgorithm("chacha20-poly1305@openssh.com", 64, 0, 8, ChaChaPoly, aead=True,
                        tag_size=16, priority=100),
        CipherAlgorithm("aes128-ctr", 16, 16, 16, AESCTR, priority=90),
        CipherAlgorithm("aes192-ctr", 24, 16, 16, AESCTR, priority=89),
        CipherAlgorithm("aes256-ctr", 32, 16, 16, AESCTR, priority=88),
        CipherAlgorithm("aes128-gcm@openssh.com", 16, 12, 16, AESGCM, aead=True, tag_size=16,
                        priority=80),
        CipherAlgorithm("aes256-gcm@openssh.com", 32, 12, 16, AESGCM, aead=True, tag_size=16,
                        priority=79),
    ]
    old = [
        CipherAlgorithm("aes128-cbc", 16, 16, 16, lazy(_L + "aes_cbc"), priority=40, enabled_by_default=False),
        CipherAlgorithm("aes192-cbc", 24, 16, 16, lazy(_L + "aes_cbc"), priority=39, enabled_by_default=False),
        CipherAlgorithm("aes256-cbc", 32, 16, 16, lazy(_L + "aes_cbc"), priority=38, enabled_by_default=False),
        CipherAlgorithm("3des-cbc", 24, 8, 8, lazy(_L + "des3_cbc"), priority=30, enabled_by_default=False),
        CipherAlgorithm("blowfish-cbc", 16, 8, 8, lazy(_L + "blowfish_cbc"), priority=25,
                        enabled_by_default=False),
        CipherAlgorithm("cast128-cbc", 16, 8, 8, lazy(_L + "cast_cbc"), priority=24, enabled_by_default=False),
        CipherAlgorithm("arcfour256", 32, 0, 8, lazy(_L + "arcfour_discard"), priority=12,
                        enabled_by_default=False),
        CipherAlgorithm("arcfour128", 16, 0, 8, lazy(_L + "arcfour_discard"), priority=11,
                        enabled_by_default=False),
        CipherAlgorithm("arcfour", 16, 0, 8, lazy(_L + "arcfour"), priority=10, enabled_by_default=False),
    ]
    return modern + old
