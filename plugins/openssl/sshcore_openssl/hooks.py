"""Hook implementations: the algorithms this distribution serves instead of the
pycryptodome plugins.

Each descriptor has the same name and ``priority`` as the one of ``sshcore-ciphers``,
``sshcore-kex-ecdh`` or ``sshcore-keys`` (so negotiation does not change) and
:data:`IMPLEMENTATION_PRIORITY` (so this one serves).  Factories are
:func:`~sshcore.plugin.lazy` names: listing algorithms imports no crypto library.

Unencrypted OpenSSH private key files are read here too, before ``sshcore-keys``
(a client signing with its identity then needs no pycryptodome).

No MACs: ``sshcore-macs`` already runs HMAC in OpenSSL through :mod:`hmac`, and
``cryptography``'s HMAC was slower per packet (see the README).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sshcore.plugin import (CipherAlgorithm, KexAlgorithm, LazyCallable, SignatureAlgorithm,
                            hookimpl, lazy, require)

#: The plugin API this was written for.
SSHCORE_PLUGIN_API = (1, 0)
#: Above the pycryptodome plugins' 0: installed, this plugin serves its names.
IMPLEMENTATION_PRIORITY = 50

_C = "sshcore_openssl._ciphers:"
_P = IMPLEMENTATION_PRIORITY


def _require() -> None:
    require("cryptography.hazmat.primitives.ciphers", "cryptography.hazmat.primitives.poly1305",
            "cryptography.hazmat.primitives.asymmetric.x25519",
            "cryptography.hazmat.primitives.asymmetric.ed25519")


@hookimpl
def sshcore_ciphers() -> Sequence[CipherAlgorithm]:
    _require()
    ctr, gcm, chacha = lazy(_C + "AESCTR"), lazy(_C + "AESGCM"), lazy(_C + "ChaChaPoly")
    return [
        CipherAlgorithm("chacha20-poly1305@openssh.com", 64, 0, 8, chacha, aead=True,
                        tag_size=16, priority=100, implementation_priority=_P),
        CipherAlgorithm("aes128-ctr", 16, 16, 16, ctr, priority=90, implementation_priority=_P),
        CipherAlgorithm("aes192-ctr", 24, 16, 16, ctr, priority=89, implementation_priority=_P),
        CipherAlgorithm("aes256-ctr", 32, 16, 16, ctr, priority=88, implementation_priority=_P),
        CipherAlgorithm("aes128-gcm@openssh.com", 16, 12, 16, gcm, aead=True, tag_size=16,
                        priority=80, implementation_priority=_P),
        CipherAlgorithm("aes256-gcm@openssh.com", 32, 12, 16, gcm, aead=True, tag_size=16,
                        priority=79, implementation_priority=_P),
    ]


def _kex(curve: str, hash_name: str) -> LazyCallable:
    return lazy("sshcore_openssl._kex:ECDHExchange", curve=curve, hash_name=hash_name)


@hookimpl
def sshcore_kex_algorithms() -> Sequence[KexAlgorithm]:
    _require()
    return [
        KexAlgorithm("curve25519-sha256", "sha256", _kex("curve25519", "sha256"), priority=100,
                     implementation_priority=_P),
        KexAlgorithm("curve25519-sha256@libssh.org", "sha256", _kex("curve25519", "sha256"),
                     priority=99, implementation_priority=_P),
        # Off unless named, as in sshcore-kex-ecdh.
        KexAlgorithm("ecdh-sha2-nistp256", "sha256", _kex("nistp256", "sha256"), priority=90,
                     implementation_priority=_P, enabled_by_default=False),
        KexAlgorithm("ecdh-sha2-nistp384", "sha384", _kex("nistp384", "sha384"), priority=89,
                     implementation_priority=_P, enabled_by_default=False),
        KexAlgorithm("ecdh-sha2-nistp521", "sha512", _kex("nistp521", "sha512"), priority=88,
                     implementation_priority=_P, enabled_by_default=False),
    ]


@hookimpl
def sshcore_signature_algorithms() -> Sequence[SignatureAlgorithm]:
    _require()
    d = lazy("sshcore_openssl._keys:decode_public_blob")
    return [
        SignatureAlgorithm("ssh-ed25519", "ssh-ed25519", d, priority=100,
                           implementation_priority=_P),
        SignatureAlgorithm("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", d, priority=90,
                           implementation_priority=_P),
        SignatureAlgorithm("ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384", d, priority=89,
                           implementation_priority=_P),
        SignatureAlgorithm("ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521", d, priority=88,
                           implementation_priority=_P),
        SignatureAlgorithm("rsa-sha2-512", "ssh-rsa", d, priority=80, implementation_priority=_P),
        SignatureAlgorithm("rsa-sha2-256", "ssh-rsa", d, priority=79, implementation_priority=_P),
    ]


@hookimpl(tryfirst=True)
def sshcore_load_private_key(data: bytes, passphrase: bytes | None,
                             filename: str | None) -> Any:
    """Unencrypted OpenSSH key files, read before ``sshcore-keys`` does (see
    ``_keyfile``); ``None`` for anything else, which ``sshcore-keys`` then reads."""
    if b"-----BEGIN OPENSSH PRIVATE KEY-----" not in data:
        return None  # no need to import cryptography for a file this does not read
    from ._keyfile import load_openssh_private

    return load_openssh_private(data)
