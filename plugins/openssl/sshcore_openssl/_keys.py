"""Public (and private) key objects on OpenSSL: Ed25519 (RFC 8709), ECDSA (RFC 5656) and
RSA (RFC 8332) signatures, with the same checks as ``sshcore-keys``' objects.

:func:`decode_public_blob` is what this plugin's
:class:`~sshcore.plugin.SignatureAlgorithm` descriptors decode peers' keys with (host
keys on a client, user keys on a server).  Unencrypted OpenSSH key files are
read by ``_keyfile`` (everything else by ``sshcore-keys``, which also writes any of
these keys through :meth:`OpenSSLKey.private_fields`); :func:`from_cryptography` wraps
a ``cryptography`` private key so that it signs through OpenSSL too.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                              encode_dss_signature)

from sshcore.errors import KeyImportError, SSHError
from sshcore.keys import certified_private_fields
from sshcore.wire import SSHReader, mpint, string

_RSA_HASH = {"rsa-sha2-512": hashes.SHA512, "rsa-sha2-256": hashes.SHA256,
             "ssh-rsa": hashes.SHA1}
#: ssh curve id -> (cryptography curve, hash, coordinate bytes, bits)
CURVES: dict[str, tuple[Any, Any, int, int]] = {
    "nistp256": (ec.SECP256R1, hashes.SHA256, 32, 256),
    "nistp384": (ec.SECP384R1, hashes.SHA384, 48, 384),
    "nistp521": (ec.SECP521R1, hashes.SHA512, 66, 521),
}
_CURVE_IDS = {"secp256r1": "nistp256", "secp384r1": "nistp384", "secp521r1": "nistp521"}


def uncompressed_point(public_key: Any) -> bytes:
    """An EC public key as SEC1's uncompressed point (``04 || x || y``).  From its numbers:
    ``public_bytes()`` needs ``cryptography``'s serialization package, whose import (with
    the SSH key formats and bcrypt it pulls in) costs ~20 ms at start-up."""
    numbers = public_key.public_numbers()
    size = (public_key.curve.key_size + 7) // 8
    return b"\x04" + numbers.x.to_bytes(size, "big") + numbers.y.to_bytes(size, "big")


def _split_sig(signature: bytes) -> tuple[str, bytes] | None:
    try:
        r = SSHReader(signature)
        alg, sig = r.text("ascii"), r.string()
        r.finish()
    except SSHError:
        return None
    return alg, sig


class OpenSSLKey:
    """Common behaviour: ``_pub`` is a ``cryptography`` public key, ``_priv`` the private
    key or ``None``; subclasses implement the primitives."""

    key_type = ""
    bits = 0

    def __init__(self, public: Any, private: Any = None, comment: str = "") -> None:
        self._pub = public
        self._priv = private
        self.comment = comment
        self.public_blob = self._encode_blob()

    def _encode_blob(self) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def has_private(self) -> bool:
        return self._priv is not None

    def sig_algorithms(self) -> Sequence[str]:
        return [self.key_type]

    def verify(self, data: bytes, signature: bytes, algorithm: str | None = None) -> bool:
        parts = _split_sig(signature)
        if parts is None:
            return False
        alg, sig = parts
        if alg not in self.sig_algorithms() or (algorithm is not None and alg != algorithm):
            return False
        try:
            self._verify(alg, bytes(data), sig)
        except (InvalidSignature, ValueError, TypeError, IndexError, SSHError):
            return False
        return True

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        alg = algorithm or self.sig_algorithms()[0]
        if alg not in self.sig_algorithms():
            raise ValueError(f"{self.key_type} keys cannot make {alg} signatures")
        if self._priv is None:
            raise ValueError("this is a public key: it cannot sign")
        return string(alg) + string(self._sign(alg, bytes(data)))

    def private_fields(self, certificate: bytes | None = None) -> bytes:
        """The key type and private fields in openssh-key-v1's (and the SSH agent
        protocol's) order; with ``certificate``, the certified form an agent takes."""
        if self._priv is None:
            raise KeyImportError("this is a public key: there is no private key to export")
        fields = self._private_fields()
        return fields if certificate is None else certified_private_fields(fields, certificate)

    def _private_fields(self) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def _verify(self, alg: str, data: bytes, sig: bytes) -> None:  # pragma: no cover
        """Raise InvalidSignature (or ValueError) unless ``sig`` is valid."""
        raise NotImplementedError

    def _sign(self, alg: str, data: bytes) -> bytes:  # pragma: no cover
        raise NotImplementedError

    def public_key(self) -> OpenSSLKey:
        return type(self)(self._pub, None, self.comment)

    def __eq__(self, other: object) -> bool:
        # Any key object with the same public blob (sshcore-keys' too) is the same key.
        return getattr(other, "public_blob", None) == self.public_blob

    def __hash__(self) -> int:
        return hash(self.public_blob)

    def __repr__(self) -> str:
        digest = base64.b64encode(hashlib.sha256(self.public_blob).digest()).decode()
        return f"<{type(self).__name__} {self.key_type} SHA256:{digest.rstrip('=')}>"


class Ed25519Key(OpenSSLKey):
    key_type = "ssh-ed25519"
    bits = 256

    def _encode_blob(self) -> bytes:
        return string(self.key_type) + string(self._pub.public_bytes_raw())

    def _verify(self, alg: str, data: bytes, sig: bytes) -> None:
        if len(sig) != 64:
            raise InvalidSignature
        self._pub.verify(sig, data)

    def _sign(self, alg: str, data: bytes) -> bytes:
        return bytes(self._priv.sign(data))

    def _private_fields(self) -> bytes:
        pub, seed = self._pub.public_bytes_raw(), self._priv.private_bytes_raw()
        return string(self.key_type) + string(pub) + string(seed + pub)

    @classmethod
    def from_public(cls, raw: bytes) -> Ed25519Key:
        if len(raw) != 32:
            raise ValueError("an ed25519 public key is 32 bytes")
        return cls(ed25519.Ed25519PublicKey.from_public_bytes(raw))


class ECDSAKey(OpenSSLKey):
    def __init__(self, public: Any, private: Any = None, comment: str = "") -> None:
        self.curve_id = _CURVE_IDS[public.curve.name]
        self.key_type = f"ecdsa-sha2-{self.curve_id}"
        self.bits = CURVES[self.curve_id][3]
        super().__init__(public, private, comment)

    @property
    def q(self) -> bytes:
        return uncompressed_point(self._pub)

    def _encode_blob(self) -> bytes:
        return string(self.key_type) + string(self.curve_id) + string(self.q)

    def _verify(self, alg: str, data: bytes, sig: bytes) -> None:
        _, hash_cls, size, _ = CURVES[self.curve_id]
        r = SSHReader(sig)
        rr, ss = r.mpint(), r.mpint()
        r.finish()
        if not (0 < rr < 1 << (8 * size) and 0 < ss < 1 << (8 * size)):
            raise InvalidSignature
        if sig != mpint(rr) + mpint(ss):  # only the minimal (canonical) encoding
            raise InvalidSignature
        self._pub.verify(encode_dss_signature(rr, ss), data, ec.ECDSA(hash_cls()))

    def _sign(self, alg: str, data: bytes) -> bytes:
        hash_cls = CURVES[self.curve_id][1]
        rr, ss = decode_dss_signature(self._priv.sign(data, ec.ECDSA(hash_cls())))
        return mpint(rr) + mpint(ss)

    def _private_fields(self) -> bytes:
        d = self._priv.private_numbers().private_value
        return string(self.key_type) + string(self.curve_id) + string(self.q) + mpint(d)

    @classmethod
    def from_public(cls, curve_id: str, q: bytes) -> ECDSAKey:
        if curve_id not in CURVES:
            raise ValueError(f"unknown curve {curve_id}")
        if not q or q[0] != 4:
            raise ValueError("not an uncompressed point")
        # from_encoded_point checks that the point is on the curve.
        return cls(ec.EllipticCurvePublicKey.from_encoded_point(CURVES[curve_id][0](), q))


class RSAKey(OpenSSLKey):
    key_type = "ssh-rsa"

    def __init__(self, public: Any, private: Any = None, comment: str = "") -> None:
        self.bits = int(public.key_size)
        super().__init__(public, private, comment)

    def sig_algorithms(self) -> Sequence[str]:
        return ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]

    def _encode_blob(self) -> bytes:
        numbers = self._pub.public_numbers()
        return string(self.key_type) + mpint(numbers.e) + mpint(numbers.n)

    def _verify(self, alg: str, data: bytes, sig: bytes) -> None:
        size = (self.bits + 7) // 8
        if len(sig) > size:
            raise InvalidSignature
        if self._pub.public_numbers().e.bit_length() > 64:
            # A huge public exponent makes one verification cost seconds of CPU.
            raise InvalidSignature
        sig = sig.rjust(size, b"\0")  # OpenSSH accepts (and some peers send) short signatures
        self._pub.verify(sig, data, padding.PKCS1v15(), _RSA_HASH[alg]())

    def _sign(self, alg: str, data: bytes) -> bytes:
        return bytes(self._priv.sign(data, padding.PKCS1v15(), _RSA_HASH[alg]()))

    def _private_fields(self) -> bytes:
        k = self._priv.private_numbers()
        pub = k.public_numbers
        return string(self.key_type) + b"".join(
            mpint(v) for v in (pub.n, pub.e, k.d, pow(k.q, -1, k.p), k.p, k.q))

    @classmethod
    def from_numbers(cls, e: int, n: int) -> RSAKey:
        if e <= 1 or n <= 0 or n.bit_length() < 1024:
            raise ValueError("invalid or too small RSA key")
        return cls(rsa.RSAPublicNumbers(e, n).public_key())


def decode_public_blob(blob: bytes) -> OpenSSLKey:
    """Decode an SSH public key blob; any malformation raises ValueError."""
    try:
        r = SSHReader(blob)
        key_type = r.text("ascii")
        key: OpenSSLKey
        if key_type == "ssh-ed25519":
            key = Ed25519Key.from_public(r.string())
        elif key_type.startswith("ecdsa-sha2-"):
            curve_id = r.text("ascii")
            if key_type != f"ecdsa-sha2-{curve_id}":
                raise ValueError("ECDSA key type and curve disagree")
            key = ECDSAKey.from_public(curve_id, r.string())
        elif key_type == "ssh-rsa":
            e, n = r.mpint(), r.mpint()
            key = RSAKey.from_numbers(e, n)
        else:
            raise ValueError(f"unknown key type {key_type!r}")
        r.finish()
    except SSHError as exc:
        raise ValueError(f"malformed public key: {exc}") from None
    return key


def from_cryptography(private_key: Any, comment: str = "") -> OpenSSLKey:
    """An sshcore private key object (it signs through OpenSSL) for a ``cryptography``
    Ed25519, ECDSA (P-256/384/521) or RSA private key, e.g. from
    ``cryptography.hazmat.primitives.serialization.load_ssh_private_key``.

    :raises ValueError: another kind of key.
    """
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return Ed25519Key(private_key.public_key(), private_key, comment)
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        if private_key.curve.name not in _CURVE_IDS:
            raise ValueError(f"unsupported curve {private_key.curve.name}")
        return ECDSAKey(private_key.public_key(), private_key, comment)
    if isinstance(private_key, rsa.RSAPrivateKey):
        return RSAKey(private_key.public_key(), private_key, comment)
    raise ValueError(f"unsupported private key type {type(private_key).__name__}")
