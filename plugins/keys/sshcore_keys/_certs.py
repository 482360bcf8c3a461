"""OpenSSH certificates (PROTOCOL.certkeys): ``*-cert-v01@openssh.com`` for every key type.

A certificate is a public key plus identity, validity and options, signed by a CA key.
:class:`SSHCertificate` parses and checks one (``sshcore.keys.CertifiedKey`` pairs a
private key with its certificate to authenticate or serve as it).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sshcore.wire import SSHReader, string
from sshcore.errors import SSHError

from ._keys import SSHKey, decode_public_blob

USER_CERT, HOST_CERT = 1, 2
from ._names import CERT_SIG_ALGS, CERT_TYPES, SUFFIX  # noqa: F401  (re-exported)
_KNOWN_CRITICAL = {"force-command", "source-address", "verify-required"}


class CertificateError(SSHError, ValueError):
    """A certificate is malformed, or not valid for this use."""


def _packed_strings(data: bytes) -> list[str]:
    r = SSHReader(data)
    out = []
    while r.remaining:
        out.append(r.text())
    return out


def _options(data: bytes) -> dict[str, str]:
    """Critical options / extensions: name -> value (the value is itself a string, or empty)."""
    r = SSHReader(data)
    out: dict[str, str] = {}
    last = ""
    while r.remaining:
        name, value = r.text(), r.string()
        if name <= last:
            raise CertificateError("certificate options are not in order")
        last = name
        out[name] = _packed_strings(value)[0] if value else ""
    return out


class SSHCertificate:
    """A parsed certificate; ``key`` is the certified public key, ``ca`` the signer's."""

    def __init__(self, blob: bytes) -> None:
        try:
            r = SSHReader(blob)
            self.key_type = r.text("ascii")
            if self.key_type not in CERT_TYPES:
                raise CertificateError(f"unknown certificate type {self.key_type!r}")
            plain_type, fields = CERT_TYPES[self.key_type]
            self.nonce = r.string()
            parts = [string(plain_type)]
            for kind in fields:
                parts.append(string(r.string()) if kind == "s" else _raw_mpint(r))
            self.key: SSHKey = decode_public_blob(b"".join(parts))
            self.serial = r.uint64()
            self.cert_type = r.uint32()
            self.key_id = r.text()
            self.principals = _packed_strings(r.string())
            self.valid_after = r.uint64()
            self.valid_before = r.uint64()
            self.critical_options = _options(r.string())
            self.extensions = _options(r.string())
            r.string()  # reserved
            self.ca: SSHKey = decode_public_blob(r.string())
            signed_len = len(blob) - r.remaining
            self.signature = r.string()
            r.finish()
        except SSHError as exc:
            if isinstance(exc, CertificateError):
                raise
            raise CertificateError(f"malformed certificate: {exc}") from None
        if self.cert_type not in (USER_CERT, HOST_CERT):
            raise CertificateError(f"unknown certificate kind {self.cert_type}")
        self.public_blob = bytes(blob)
        self._signed = bytes(blob[:signed_len])
        self.comment = ""

    # ---------------------------------------------------------------- as a public key
    def sig_algorithms(self) -> Sequence[str]:
        plain = set(self.key.sig_algorithms())
        return [name for name, base in CERT_SIG_ALGS.items() if base in plain]

    def verify(self, data: bytes, signature: bytes, algorithm: str | None = None) -> bool:
        """A signature by the certified key (named with the plain algorithm on the wire)."""
        if algorithm is not None and algorithm not in self.sig_algorithms():
            return False
        return bool(self.key.verify(data, signature, CERT_SIG_ALGS.get(algorithm or "")))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SSHCertificate) and other.public_blob == self.public_blob

    def __hash__(self) -> int:
        return hash(self.public_blob)

    def __repr__(self) -> str:
        kind = "user" if self.cert_type == USER_CERT else "host"
        return f"<SSHCertificate {kind} {self.key_type} id={self.key_id!r} {self.principals}>"

    # ---------------------------------------------------------------- validation
    def ca_signature_valid(self) -> bool:
        try:  # the algorithm name leads (a security key's flags and counter follow its sig)
            alg = SSHReader(self.signature).text("ascii")
        except SSHError:
            return False
        if alg in ("ssh-rsa", "ssh-dss"):
            # SHA-1: refused for CA signatures, as OpenSSH 8.2+ does (CASignatureAlgorithms)
            return False
        if hasattr(self.ca, "require_user_presence"):
            # a security-key CA: its flags are no user's presence (OpenSSH ignores them)
            self.ca.require_user_presence = False
        return bool(self.ca.verify(self._signed, self.signature, alg))

    def problem(self, cert_type: int, principal: str | None, now: float | None = None) -> str | None:
        """Why this certificate may not be used as ``cert_type`` for ``principal`` now
        (None: it may).  The caller has already checked that it trusts ``ca``."""
        now = time.time() if now is None else now
        if self.cert_type != cert_type:
            return f"a {'host' if self.cert_type == HOST_CERT else 'user'} certificate, not a " \
                   f"{'host' if cert_type == HOST_CERT else 'user'} certificate"
        if now < self.valid_after:
            return "certificate is not yet valid"
        if now >= self.valid_before:
            return "certificate has expired"
        if principal is not None and self.principals and principal not in self.principals:
            return f"certificate is not valid for {principal!r} (principals: " \
                   f"{', '.join(self.principals)})"
        if principal is not None and not self.principals and cert_type == HOST_CERT:
            return "host certificate lists no principals"
        unknown = set(self.critical_options) - _KNOWN_CRITICAL
        if unknown:
            return f"unsupported critical option {sorted(unknown)[0]!r}"
        if not self.ca_signature_valid():
            return "certificate signature by its CA is invalid (or uses SHA-1 ssh-rsa/ssh-dss)"
        return None


def _raw_mpint(r: SSHReader) -> bytes:
    from sshcore.wire import mpint

    return mpint(r.mpint())


def decode_certificate(blob: bytes) -> SSHCertificate:
    return SSHCertificate(blob)
