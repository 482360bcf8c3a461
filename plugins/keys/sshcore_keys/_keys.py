"""Key objects: SSH public blobs (RFC 4253 6.6, RFC 5656, RFC 8709) and signatures."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Any

from sshcore.wire import SSHReader, mpint, string
from sshcore.errors import SSHError

from . import _primitives

_RSA_HASH = {"ssh-rsa": "SHA1", "rsa-sha2-256": "SHA256", "rsa-sha2-512": "SHA512"}
CURVES = {  # ssh curve id -> (pycryptodome name, hash module's name, coordinate bytes)
    "nistp256": ("P-256", "SHA256", 32),
    "nistp384": ("P-384", "SHA384", 48),
    "nistp521": ("P-521", "SHA512", 66),
}


def _rsa_digest(alg: str, data: bytes) -> Any:
    """The hash object an RSA signature of ``alg`` signs over ``data``."""
    return getattr(_primitives, _RSA_HASH[alg]).new(data)


def _split_sig(signature: bytes) -> tuple[str, bytes] | None:
    try:
        r = SSHReader(signature)
        alg, sig = r.text("ascii"), r.string()
        r.finish()
    except SSHError:
        return None
    return alg, sig


class SSHKey:
    """Common behaviour; subclasses set ``key_type`` and implement the primitives."""

    key_type = ""
    comment = ""
    _key: Any

    @property
    def public_blob(self) -> bytes:
        return self._public_blob()

    def _public_blob(self) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def has_private(self) -> bool:
        return bool(getattr(self._key, "has_private", lambda: False)())

    def sig_algorithms(self) -> Sequence[str]:
        return [self.key_type]

    @property
    def bits(self) -> int:
        """Key size as ``ssh-keygen -l`` prints it."""
        k = self._key
        if isinstance(self, Ed448Key):
            return 456
        if isinstance(self, Ed25519Key):
            return 256
        if isinstance(self, ECDSAKey):
            return {"nistp256": 256, "nistp384": 384, "nistp521": 521}[self.curve_id]
        if isinstance(self, RSAKey):
            return int(k.n.bit_length())
        return int(k.p.bit_length())

    def verify(self, data: bytes, signature: bytes, algorithm: str | None = None) -> bool:
        parts = _split_sig(signature)
        if parts is None:
            return False
        alg, sig = parts
        if alg not in self.sig_algorithms() or (algorithm is not None and alg != algorithm):
            return False
        try:
            return self._verify(alg, data, sig)
        except (ValueError, TypeError, IndexError, SSHError):
            return False

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        alg = algorithm or self.sig_algorithms()[0]
        if alg not in self.sig_algorithms():
            raise ValueError(f"{self.key_type} keys cannot make {alg} signatures")
        if not self.has_private:
            raise ValueError("this is a public key: it cannot sign")
        return string(alg) + string(self._sign(alg, data))

    def _verify(self, alg: str, data: bytes, sig: bytes) -> bool:  # pragma: no cover
        raise NotImplementedError

    def _sign(self, alg: str, data: bytes) -> bytes:  # pragma: no cover
        raise NotImplementedError

    def private_fields(self, certificate: bytes | None = None) -> bytes:
        """The key type and private fields in openssh-key-v1's (and the SSH agent
        protocol's) order; with ``certificate``, the certified form an agent takes (see
        :func:`sshcore.keys.private_key_fields`).  A public key raises KeyImportError."""
        from ._formats import private_fields

        return private_fields(self, certificate)

    def public_key(self) -> SSHKey:
        pub = type(self)(self._key.public_key())
        pub.comment = self.comment
        return pub

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SSHKey) and other.public_blob == self.public_blob

    def __hash__(self) -> int:
        return hash(self.public_blob)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key_type} {fingerprint(self)}>"


class Ed25519Key(SSHKey):
    """EdDSA keys (RFC 8709): Ed25519, and Ed448 in the subclass."""

    key_type = "ssh-ed25519"
    curve = "ed25519"
    size = 32          # public key and seed length
    sig_size = 64

    def __init__(self, key: Any) -> None:
        self._key = key

    @property
    def raw_public(self) -> bytes:
        return bytes(self._key.public_key().export_key(format="raw"))

    def _public_blob(self) -> bytes:
        return string(self.key_type) + string(self.raw_public)

    def _verify(self, alg: str, data: bytes, sig: bytes) -> bool:
        if len(sig) != self.sig_size:
            return False
        try:
            _primitives.eddsa.new(self._key, "rfc8032").verify(data, sig)
        except ValueError:
            return False
        return True

    def _sign(self, alg: str, data: bytes) -> bytes:
        return bytes(_primitives.eddsa.new(self._key, "rfc8032").sign(data))

    @classmethod
    def generate(cls) -> Ed25519Key:
        return cls(_primitives.ECC.generate(curve=cls.curve))

    @classmethod
    def from_public(cls, raw: bytes) -> Ed25519Key:
        if len(raw) != cls.size:
            raise ValueError(f"an {cls.curve} public key is {cls.size} bytes")
        return cls(_primitives.eddsa.import_public_key(raw))

    @classmethod
    def from_seed(cls, seed: bytes) -> Ed25519Key:
        return cls(_primitives.eddsa.import_private_key(seed))


class Ed448Key(Ed25519Key):
    key_type = "ssh-ed448"
    curve = "ed448"
    size = 57
    sig_size = 114


class ECDSAKey(SSHKey):
    def __init__(self, key: Any, curve_id: str | None = None) -> None:
        self._key = key
        if curve_id is None:
            curve_id = {"NIST P-256": "nistp256", "NIST P-384": "nistp384",
                        "NIST P-521": "nistp521", "p256": "nistp256", "p384": "nistp384",
                        "p521": "nistp521"}.get(key.curve, "")
            if not curve_id:
                curve_id = {"P-256": "nistp256", "P-384": "nistp384", "P-521": "nistp521"}[key.curve]
        self.curve_id = curve_id
        self.key_type = f"ecdsa-sha2-{curve_id}"

    def public_key(self) -> SSHKey:
        pub = ECDSAKey(self._key.public_key(), self.curve_id)
        pub.comment = self.comment
        return pub

    @property
    def q(self) -> bytes:
        return bytes(self._key.public_key().export_key(format="SEC1", compress=False))

    def _public_blob(self) -> bytes:
        return string(self.key_type) + string(self.curve_id) + string(self.q)

    def _verify(self, alg: str, data: bytes, sig: bytes) -> bool:
        _, hash_name, size = CURVES[self.curve_id]
        hash_mod = getattr(_primitives, hash_name)
        r = SSHReader(sig)
        rr, ss = r.mpint(), r.mpint()
        r.finish()
        if not (0 < rr < 1 << (8 * size) and 0 < ss < 1 << (8 * size)):
            return False
        if sig != mpint(rr) + mpint(ss):  # only the minimal (canonical) encoding
            return False
        raw = rr.to_bytes(size, "big") + ss.to_bytes(size, "big")
        try:
            _primitives.DSS.new(self._key, "fips-186-3").verify(hash_mod.new(data), raw)
        except ValueError:
            return False
        return True

    def _sign(self, alg: str, data: bytes) -> bytes:
        _, hash_name, size = CURVES[self.curve_id]
        hash_mod = getattr(_primitives, hash_name)
        raw = _primitives.DSS.new(self._key, "fips-186-3").sign(hash_mod.new(data))
        return mpint(int.from_bytes(raw[:size], "big")) + mpint(int.from_bytes(raw[size:], "big"))

    @classmethod
    def generate(cls, curve_id: str) -> ECDSAKey:
        return cls(_primitives.ECC.generate(curve=CURVES[curve_id][0]), curve_id)

    @classmethod
    def from_public(cls, curve_id: str, q: bytes) -> ECDSAKey:
        if curve_id not in CURVES:
            raise ValueError(f"unknown curve {curve_id}")
        # import_key checks that the point is on the curve.
        return cls(_primitives.ECC.import_key(q, curve_name=CURVES[curve_id][0]), curve_id)

    @classmethod
    def from_private(cls, curve_id: str, d: int) -> ECDSAKey:
        if curve_id not in CURVES:
            raise ValueError(f"unknown curve {curve_id}")
        return cls(_primitives.ECC.construct(curve=CURVES[curve_id][0], d=d), curve_id)


class RSAKey(SSHKey):
    key_type = "ssh-rsa"

    def __init__(self, key: Any) -> None:
        self._key = key

    def sig_algorithms(self) -> Sequence[str]:
        return ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]

    def _public_blob(self) -> bytes:
        return string(self.key_type) + mpint(self._key.e) + mpint(self._key.n)

    def _verify(self, alg: str, data: bytes, sig: bytes) -> bool:
        size = (self._key.n.bit_length() + 7) // 8
        if len(sig) > size:
            return False
        if self._key.e.bit_length() > 64:
            # As OpenSSL refuses it: a huge public exponent (a peer's 16384-bit e with a
            # 16384-bit n) makes one verification cost seconds of CPU.
            return False
        sig = sig.rjust(size, b"\0")  # OpenSSH accepts (and some peers send) short signatures
        try:
            _primitives.pkcs1_15.new(self._key).verify(_rsa_digest(alg, data), sig)
        except ValueError:
            return False
        return True

    def _sign(self, alg: str, data: bytes) -> bytes:
        return bytes(_primitives.pkcs1_15.new(self._key).sign(_rsa_digest(alg, data)))

    @classmethod
    def generate(cls, bits: int = 3072) -> RSAKey:
        return cls(_primitives.RSA.generate(bits))


class DSAKey(SSHKey):
    key_type = "ssh-dss"

    def __init__(self, key: Any) -> None:
        self._key = key

    def _public_blob(self) -> bytes:
        k = self._key
        return string(self.key_type) + mpint(k.p) + mpint(k.q) + mpint(k.g) + mpint(k.y)

    def _verify(self, alg: str, data: bytes, sig: bytes) -> bool:
        if len(sig) != 40:
            return False
        try:
            digest = _primitives.SHA1.new(data)
            _primitives.DSS.new(self._key, "fips-186-3").verify(digest, sig)
        except ValueError:
            return False
        return True

    def _sign(self, alg: str, data: bytes) -> bytes:
        digest = _primitives.SHA1.new(data)
        return bytes(_primitives.DSS.new(self._key, "fips-186-3").sign(digest))

    @classmethod
    def generate(cls, bits: int = 1024) -> DSAKey:
        return cls(_primitives.DSA.generate(bits))


def decode_public_blob(blob: bytes) -> SSHKey:
    """Decode an SSH public key blob; any malformation raises ValueError."""
    try:
        r = SSHReader(blob)
        key_type = r.text("ascii")
        key: SSHKey
        if key_type == "ssh-ed25519":
            key = Ed25519Key.from_public(r.string())
        elif key_type == "ssh-ed448":
            key = Ed448Key.from_public(r.string())
        elif key_type.startswith("ecdsa-sha2-"):
            curve_id = r.text("ascii")
            if key_type != f"ecdsa-sha2-{curve_id}":
                raise ValueError("ECDSA key type and curve disagree")
            key = ECDSAKey.from_public(curve_id, r.string())
        elif key_type == "ssh-rsa":
            e, n = r.mpint(), r.mpint()
            if e <= 1 or n <= 0 or n.bit_length() < 1024:
                raise ValueError("invalid or too small RSA key")
            key = RSAKey(_primitives.RSA.construct((n, e)))
        elif key_type == "ssh-dss":
            p, q, g, y = r.mpint(), r.mpint(), r.mpint(), r.mpint()
            key = DSAKey(_primitives.DSA.construct((y, g, p, q)))
        elif key_type in ("sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com"):
            from ._sk import decode_sk

            key = decode_sk(key_type, r)  # type: ignore[assignment]
        else:
            raise ValueError(f"unknown key type {key_type!r}")
        r.finish()
    except SSHError as exc:
        raise ValueError(f"malformed public key: {exc}") from None
    return key


def fingerprint(key: Any, hash_name: str = "sha256") -> str:
    """As ``ssh-keygen -l`` prints it: ``SHA256:<base64, no padding>`` or ``MD5:aa:bb:...``."""
    blob = key.public_blob
    if hash_name.lower() == "md5":
        digest = hashlib.md5(blob).hexdigest()
        return "MD5:" + ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def public_key_line(key: Any) -> str:
    line = f"{key.key_type} {base64.b64encode(key.public_blob).decode()}"
    return f"{line} {key.comment}".rstrip() if getattr(key, "comment", "") else line
