"""Hook implementations: signature algorithms, key types and key file formats."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sshcore import hookimpl
from sshcore.interfaces import KeyFormat, KeyType, SignatureAlgorithm, lazy, require

from . import _names

# Descriptors name their implementations; pycryptodome loads at the first key operation.
decode_public_blob = lazy("sshcore_keys._keys:decode_public_blob")
decode_certificate = lazy("sshcore_keys._certs:decode_certificate")
_F = "sshcore_keys._formats:"
_G = "sshcore_keys._generate:"
_P = "sshcore_keys._ppk:"


@hookimpl
def sshcore_signature_algorithms() -> Sequence[SignatureAlgorithm]:
    require("Crypto.Signature.eddsa", "Crypto.PublicKey.ECC", "bcrypt")
    d = decode_public_blob
    return [
        SignatureAlgorithm("ssh-ed25519", "ssh-ed25519", d, priority=100),
        SignatureAlgorithm("ssh-ed448", "ssh-ed448", d, priority=95),
        SignatureAlgorithm("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", d, priority=90),
        SignatureAlgorithm("ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384", d, priority=89),
        SignatureAlgorithm("ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521", d, priority=88),
        SignatureAlgorithm("rsa-sha2-512", "ssh-rsa", d, priority=80),
        SignatureAlgorithm("rsa-sha2-256", "ssh-rsa", d, priority=79),
        # legacy: SHA-1 signatures, off unless asked for by name
        SignatureAlgorithm("ssh-rsa", "ssh-rsa", d, priority=10, enabled_by_default=False),
        SignatureAlgorithm("ssh-dss", "ssh-dss", d, priority=5, enabled_by_default=False),
        # security keys (FIDO, PROTOCOL.u2f): verified here, signed by the token or agent
        SignatureAlgorithm("sk-ssh-ed25519@openssh.com", "sk-ssh-ed25519@openssh.com", d,
                           priority=70),
        SignatureAlgorithm("sk-ecdsa-sha2-nistp256@openssh.com",
                           "sk-ecdsa-sha2-nistp256@openssh.com", d, priority=69),
        # OpenSSH certificates: preferred when both sides have them (as in OpenSSH)
        *(SignatureAlgorithm(name, _names.SUFFIX.join([_cert_type(base), ""]),
                             decode_certificate, priority=_priority(base) + 100,
                             enabled_by_default=base not in ("ssh-rsa", "ssh-dss"))
          for name, base in _names.CERT_SIG_ALGS.items()),
    ]


def _cert_type(base_alg: str) -> str:
    if base_alg.startswith("sk-"):  # sk-ssh-ed25519@openssh.com -> sk-ssh-ed25519
        return base_alg.removesuffix("@openssh.com")
    return "ssh-rsa" if base_alg.startswith("rsa-sha2-") else base_alg


def _priority(base_alg: str) -> int:
    return {"ssh-ed25519": 100, "ecdsa-sha2-nistp256": 90, "ecdsa-sha2-nistp384": 89,
            "ecdsa-sha2-nistp521": 88, "rsa-sha2-512": 80, "rsa-sha2-256": 79,
            "sk-ssh-ed25519@openssh.com": 70,
            "sk-ecdsa-sha2-nistp256@openssh.com": 69}.get(base_alg, 0)


@hookimpl
def sshcore_key_types() -> Sequence[KeyType]:
    return [
        KeyType("ssh-ed25519", lazy(_G + "ed25519"), priority=100),
        KeyType("ssh-ed448", lazy(_G + "ed448"), priority=95),
        KeyType("ecdsa-sha2-nistp256", lazy(_G + "ecdsa", "nistp256"), priority=90),
        KeyType("ecdsa-sha2-nistp384", lazy(_G + "ecdsa", "nistp384"), priority=89),
        KeyType("ecdsa-sha2-nistp521", lazy(_G + "ecdsa", "nistp521"), priority=88),
        KeyType("ssh-rsa", lazy(_G + "rsa"), priority=80),
        KeyType("ssh-dss", lazy(_G + "dsa"), priority=5),
    ]


@hookimpl
def sshcore_key_formats() -> Sequence[KeyFormat]:
    return [
        KeyFormat("openssh", export_private=lazy(_F + "export_openssh_private"),
                  export_public=lazy(_F + "export_public_line")),
        KeyFormat("rfc4716", export_public=lazy(_F + "export_rfc4716")),
        *(KeyFormat(name, export_private=lazy(_F + "export_pkcs_private", pkcs8=pkcs8, der=der),
                    export_public=lazy(_F + "export_pkcs_public", pkcs8=pkcs8, der=der))
          for name, pkcs8, der in (("pkcs1", False, False), ("pkcs1-der", False, True),
                                   ("pkcs8", True, False), ("pkcs8-der", True, True))),
        # PuTTY's .ppk: "ppk" is version 3 (Argon2id), "ppk2" the older version 2
        KeyFormat("ppk", export_private=lazy(_P + "export_ppk", version=3)),
        KeyFormat("ppk2", export_private=lazy(_P + "export_ppk", version=2)),
    ]


@hookimpl
def sshcore_load_private_key(data: bytes, passphrase: bytes | None, filename: str | None) -> Any:
    from . import _formats, _ppk

    if _ppk.is_ppk(data):
        return _ppk.load_ppk(data, passphrase, filename)
    if _formats.BEGIN in data:
        return _formats.load_openssh_private(data, passphrase, filename)
    return _formats.load_pem_private(data, passphrase, filename)


@hookimpl
def sshcore_load_public_key(data: bytes, filename: str | None) -> Any:
    from . import _formats, _ppk

    if _ppk.is_ppk(data):  # its public half is in clear: no passphrase needed
        return _ppk.load_ppk_public(data, filename)
    return _formats.load_public(data, filename)
