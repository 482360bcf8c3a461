"""Security-key (FIDO/U2F) public keys, OpenSSH's PROTOCOL.u2f: ``sk-ssh-ed25519@openssh.com``
and ``sk-ecdsa-sha2-nistp256@openssh.com``, verified here (the private half stays in the
token, or in an agent in front of it).

A token does not sign the message itself: it signs ``SHA256(application) || flags ||
counter || SHA256(message)`` (Ed25519 over those 69 bytes; ECDSA over their SHA-256), and
the SSH signature carries the flags and counter after the token's signature.  The flags
say whether a user was present (touched the token, 0x01) and was verified (PIN or
biometrics, 0x04); as sshd, presence is required unless the key's authorized_keys line
says ``no-touch-required``, and verification when it says ``verify-required``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sshcore.errors import SSHError
from sshcore.wire import SSHReader, string, uint32

from ._keys import ECDSAKey, Ed25519Key, SSHKey

SK_ED25519 = "sk-ssh-ed25519@openssh.com"
SK_ECDSA = "sk-ecdsa-sha2-nistp256@openssh.com"
#: PROTOCOL.u2f / the FIDO flags byte
USER_PRESENT, USER_VERIFIED = 0x01, 0x04


def token_message(application: str, flags: int, counter: int, data: bytes) -> bytes:
    """What the token signs for ``data`` (before ECDSA's own SHA-256)."""
    return (hashlib.sha256(application.encode()).digest() + bytes([flags]) + uint32(counter)
            + hashlib.sha256(data).digest())


class SecurityKey:
    """The public half of a security key: the token's key plus its ``application``
    (``ssh:`` by default).  ``require_user_presence`` / ``require_user_verification``
    are the policy :meth:`verify` enforces (set from authorized_keys options by the
    server); ``last_flags`` and ``last_counter`` are those of the last signature checked."""

    key_type = ""
    comment = ""
    has_private = False

    def __init__(self, inner: SSHKey, application: str) -> None:
        self.inner = inner
        self.application = application
        self.require_user_presence = True
        self.require_user_verification = False
        self.last_flags: int | None = None
        self.last_counter: int | None = None

    @property
    def _key(self) -> Any:
        return self.inner._key

    @property
    def public_blob(self) -> bytes:
        inner = self.inner.public_blob
        fields = inner[len(string(self.inner.key_type)):]
        return string(self.key_type) + fields + string(self.application)

    @property
    def bits(self) -> int:
        return int(self.inner.bits)

    def sig_algorithms(self) -> Sequence[str]:
        return [self.key_type]

    def public_key(self) -> SecurityKey:
        return self

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        raise ValueError("a security key signs only in its token (use an SSH agent)")

    def verify(self, data: bytes, signature: bytes, algorithm: str | None = None) -> bool:
        try:
            r = SSHReader(signature)
            alg, sig, flags, counter = r.text("ascii"), r.string(), r.byte(), r.uint32()
            r.finish()
        except SSHError:
            return False
        if alg != self.key_type or (algorithm is not None and algorithm != alg):
            return False
        message = token_message(self.application, flags, counter, data)
        try:
            ok = self._verify_token(message, sig)
        except (ValueError, TypeError, IndexError, SSHError):
            return False
        if not ok:
            return False
        self.last_flags, self.last_counter = flags, counter
        if self.require_user_presence and not flags & USER_PRESENT:
            return False
        return not (self.require_user_verification and not flags & USER_VERIFIED)

    def _verify_token(self, message: bytes, sig: bytes) -> bool:  # pragma: no cover
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecurityKey) and other.public_blob == self.public_blob

    def __hash__(self) -> int:
        return hash(self.public_blob)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key_type} {self.application!r}>"


class SKEd25519Key(SecurityKey):
    key_type = SK_ED25519

    def _verify_token(self, message: bytes, sig: bytes) -> bool:
        # the inner key checks a plain Ed25519 signature over the token's message
        return bool(self.inner._verify("ssh-ed25519", message, sig))


class SKECDSAKey(SecurityKey):
    key_type = SK_ECDSA

    def _verify_token(self, message: bytes, sig: bytes) -> bool:
        # ECDSA P-256 with SHA-256 over the token's message (mpint r, mpint s)
        return bool(self.inner._verify("ecdsa-sha2-nistp256", message, sig))


def decode_sk(key_type: str, r: SSHReader) -> SecurityKey:
    """The rest of an ``sk-*`` public key blob after its type name."""
    if key_type == SK_ED25519:
        inner: SSHKey = Ed25519Key.from_public(r.string())
        return SKEd25519Key(inner, r.text("utf-8"))
    curve_id = r.text("ascii")
    if curve_id != "nistp256":
        raise ValueError(f"{SK_ECDSA} keys are on nistp256, not {curve_id[:20]!r}")
    inner = ECDSAKey.from_public(curve_id, r.string())
    return SKECDSAKey(inner, r.text("utf-8"))


def sk_signature(alg: str, token_sig: bytes, flags: int, counter: int) -> bytes:
    """The SSH signature blob around a token's signature (PROTOCOL.u2f); ECDSA's
    ``token_sig`` is already ``mpint r || mpint s``."""
    return string(alg) + string(token_sig) + bytes([flags]) + uint32(counter)


__all__ = ["SK_ECDSA", "SK_ED25519", "USER_PRESENT", "USER_VERIFIED", "SecurityKey",
           "SKECDSAKey", "SKEd25519Key", "decode_sk", "sk_signature", "token_message"]
