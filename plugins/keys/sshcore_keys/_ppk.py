"""PuTTY private key files (``.ppk``), versions 2 and 3, read and written.

The format (PuTTY manual, appendix C "PPK file format"): a text header naming the key
type, the encryption (``none`` or ``aes256-cbc``) and the comment, the public key blob
and the private fields in base64, and a MAC over all of them.  Version 2 derives the
AES key from the passphrase with SHA-1 and MACs with HMAC-SHA-1; version 3 derives the
AES key, IV and the HMAC-SHA-256 key with Argon2 (``Key-Derivation: Argon2id`` and its
parameters in the header).  Every key type PuTTY has: Ed25519, Ed448, ECDSA
nistp256/384/521, RSA and DSA.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from typing import Any

from sshcore.errors import KeyImportError, KeyPassphraseError, SSHError
from sshcore.wire import SSHReader, mpint, string

from ._keys import DSAKey, ECDSAKey, Ed448Key, Ed25519Key, RSAKey, SSHKey, decode_public_blob
from . import _primitives
from ._primitives import ARGON2_TYPES, argon2

MAGIC = b"PuTTY-User-Key-File-"
#: Bounds on what a file may ask of us (PuTTY's own files use 8 MiB and a few passes).
MAX_LINES = 4096
MAX_ARGON2_MEMORY_KIB = 1 << 20       # 1 GiB
MAX_ARGON2_PASSES = 1 << 16
MAX_ARGON2_PARALLELISM = 64
#: memory (KiB) times passes: 4 GiB-passes, a few seconds at most (puttygen's defaults
#: cost 8 MiB times a few dozen passes); a file asking more is refused, not obeyed
MAX_ARGON2_COST = 1 << 22
V2_MAC_PREFIX = b"putty-private-key-file-mac-key"


def _cbc(key: bytes, iv: bytes) -> Any:
    """AES-256-CBC, as PuTTY encrypts the private section (no padding of its own)."""
    return _primitives.AES.new(key, _primitives.AES.MODE_CBC, iv=iv)


def _argon2(filename: str | None, *args: Any) -> bytes:
    try:
        return argon2(*args)
    except ImportError as exc:
        raise _err(filename, str(exc)) from None


def _err(filename: str | None, why: str, passphrase: bool = False) -> KeyImportError:
    cls = KeyPassphraseError if passphrase else KeyImportError
    return cls(f"{filename or '<key data>'}: {why}")


def is_ppk(data: bytes) -> bool:
    return data.lstrip().startswith(MAGIC)


class _Lines:
    """The ``Name: value`` lines of a PPK file, read in their fixed order."""

    def __init__(self, data: bytes, filename: str | None) -> None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise _err(filename, "PuTTY key file is not UTF-8 text") from None
        self.lines = [line.rstrip() for line in text.strip().splitlines()]
        self.pos = 0
        self.filename = filename

    def header(self, name: str) -> str:
        if self.pos >= len(self.lines):
            raise _err(self.filename, f"truncated PuTTY key file (no {name} line)")
        key, sep, value = self.lines[self.pos].partition(": ")
        if not sep or key != name:
            raise _err(self.filename, f"PuTTY key file: expected {name!r} at line "
                                      f"{self.pos + 1}, found {key[:40]!r}")
        self.pos += 1
        return value

    def peek(self) -> str:
        return self.lines[self.pos].partition(": ")[0] if self.pos < len(self.lines) else ""

    def number(self, name: str, limit: int) -> int:
        value = self.header(name)
        if not value.isdigit() or not 0 < int(value) <= limit:
            raise _err(self.filename, f"PuTTY key file: bad {name} value {value[:20]!r}")
        return int(value)

    def base64(self, name: str) -> bytes:
        count = self.number(name, MAX_LINES)
        if self.pos + count > len(self.lines):
            raise _err(self.filename, f"truncated PuTTY key file ({name} promised {count})")
        body = "".join(self.lines[self.pos:self.pos + count])
        self.pos += count
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise _err(self.filename, f"PuTTY key file: bad base64 in the {name} section") \
                from None


def _v2_cipher_key(passphrase: bytes) -> bytes:
    return (_primitives.SHA1.new(b"\0\0\0\0" + passphrase).digest()
            + _primitives.SHA1.new(b"\0\0\0\1" + passphrase).digest())[:32]


def _mac_data(alg: str, encryption: str, comment: bytes, public: bytes, private: bytes) -> bytes:
    return string(alg) + string(encryption) + string(comment) + string(public) + string(private)


def _mac(version: int, mac_key: bytes, data: bytes) -> bytes:
    digestmod = _primitives.SHA1 if version == 2 else _primitives.SHA256
    return bytes(_primitives.HMAC.new(mac_key, data, digestmod).digest())


def _version(lines: _Lines, filename: str | None) -> tuple[int, str]:
    first = lines.lines[0] if lines.lines else ""
    head, _, alg = first.partition(": ")
    version_text = head[len(MAGIC):] if head.startswith(MAGIC.decode()) else ""
    if version_text not in ("2", "3"):
        if version_text == "1":
            raise _err(filename, "PuTTY key file version 1 (PuTTY before 0.52) is not "
                                 "supported: convert it with a newer puttygen")
        raise _err(filename, f"not a PuTTY key file version 2 or 3 ({head[:40]!r})")
    lines.pos = 1
    return int(version_text), alg


def _decode_public(blob: bytes) -> Any:
    """A plain public key, or (PuTTY 0.78+ embeds them) an OpenSSH certificate."""
    if blob[4:4 + int.from_bytes(blob[:4], "big")].endswith(b"-cert-v01@openssh.com"):
        from ._certs import SSHCertificate

        return SSHCertificate(blob)
    return decode_public_blob(blob)


def load_ppk_public(data: bytes, filename: str | None) -> Any:
    """The public key (and comment) of a ``.ppk`` file, which are stored in clear: a
    certificate when the file carries one."""
    lines = _Lines(data, filename)
    _, alg = _version(lines, filename)
    lines.header("Encryption")
    comment = lines.header("Comment")
    try:
        key = _decode_public(lines.base64("Public-Lines"))
    except ValueError as exc:
        raise _err(filename, f"PuTTY key file: bad public key: {exc}") from None
    if key.key_type != alg:
        raise _err(filename, "PuTTY key file: key type and public key disagree")
    key.comment = comment
    return key


def load_ppk(data: bytes, passphrase: bytes | None, filename: str | None) -> SSHKey:
    """A private key from a ``.ppk`` file (version 2 or 3).

    :raises KeyPassphraseError: encrypted and no passphrase, or the wrong one.
    :raises KeyImportError: anything else wrong with the file."""
    lines = _Lines(data, filename)
    version, alg = _version(lines, filename)
    encryption = lines.header("Encryption")
    if encryption not in ("none", "aes256-cbc"):
        raise _err(filename, f"PuTTY key file: unsupported encryption {encryption[:40]!r}")
    comment = lines.header("Comment").encode()
    public = lines.base64("Public-Lines")
    encrypted = encryption != "none"
    if encrypted and not passphrase:
        raise _err(filename, "key is encrypted and no passphrase was given", True)
    pw = passphrase if encrypted and passphrase else b""
    cipher_key = iv = b""
    if version == 3 and encrypted:
        kind = lines.header("Key-Derivation")
        if kind not in ARGON2_TYPES:
            raise _err(filename, f"PuTTY key file: unknown key derivation {kind[:40]!r}")
        memory = lines.number("Argon2-Memory", MAX_ARGON2_MEMORY_KIB)
        passes = lines.number("Argon2-Passes", MAX_ARGON2_PASSES)
        parallelism = lines.number("Argon2-Parallelism", MAX_ARGON2_PARALLELISM)
        try:
            salt = bytes.fromhex(lines.header("Argon2-Salt"))
        except ValueError:
            raise _err(filename, "PuTTY key file: Argon2-Salt is not hexadecimal") from None
        if len(salt) < 8 or memory < 8 * parallelism or memory * passes > MAX_ARGON2_COST:
            raise _err(filename, "PuTTY key file: Argon2 parameters out of range "
                                 f"({memory} KiB x {passes} passes)")
        derived = _argon2(filename, kind, pw, salt, passes, memory, parallelism, 80)
        cipher_key, iv, mac_key = derived[:32], derived[32:48], derived[48:]
    elif version == 3:
        mac_key = b""
    else:
        mac_key = _primitives.SHA1.new(V2_MAC_PREFIX + pw).digest()
        cipher_key, iv = _v2_cipher_key(pw), bytes(16)
    private = lines.base64("Private-Lines")
    mac_text = lines.header("Private-MAC")
    if lines.pos != len(lines.lines):
        raise _err(filename, f"PuTTY key file: unexpected line {lines.pos + 1}")
    if encrypted:
        if len(private) % 16:
            raise _err(filename, "PuTTY key file: encrypted section is not a whole number "
                                 "of AES blocks")
        private = bytes(_cbc(cipher_key, iv).decrypt(private))
    expected = _mac(version, mac_key, _mac_data(alg, encryption, comment, public, private))
    try:
        mac = bytes.fromhex(mac_text)
    except ValueError:
        raise _err(filename, "PuTTY key file: Private-MAC is not hexadecimal") from None
    if not hmac.compare_digest(mac, expected):
        if encrypted:
            raise _err(filename, "wrong passphrase (PuTTY key MAC mismatch)", True)
        raise _err(filename, "corrupt PuTTY key file (MAC mismatch)")
    try:
        key = _private_key(alg, public, private)
    except SSHError:
        raise _err(filename, "truncated or corrupt PuTTY private key fields") from None
    except (ValueError, ZeroDivisionError, TypeError) as exc:
        raise _err(filename, f"invalid {alg[:40]} key in PuTTY key file: {exc}") from None
    certificate = None
    if alg.endswith("-cert-v01@openssh.com"):
        certificate = _decode_public(public)
        public = certificate.key.public_blob
    if key.public_blob != public:
        raise _err(filename, "PuTTY key file: private key does not match its public key")
    key.comment = comment.decode("utf-8", "replace")
    if certificate is not None:
        # the certificate PuTTY embedded: sshcore.keys.read_key_pair presents the key with it
        key.certificate = certificate  # type: ignore[attr-defined]
    return key


def _private_key(alg: str, public: bytes, private: bytes) -> SSHKey:
    pub = _decode_public(public)
    if hasattr(pub, "ca"):  # a certificate: the private fields are its key's
        pub = pub.key
    elif pub.key_type != alg:
        raise ValueError(f"key type {alg[:40]!r} and public key ({pub.key_type}) disagree")
    r = SSHReader(private)
    key: SSHKey
    k: Any = pub._key
    if isinstance(pub, Ed25519Key):   # and Ed448: the RFC 8032 secret (seed) as a string
        cls = type(pub)
        seed = r.string()
        if len(seed) != cls.size:
            raise ValueError(f"an {cls.curve} secret is {cls.size} bytes, not {len(seed)}")
        key = cls.from_seed(seed)
    elif isinstance(pub, ECDSAKey):
        key = ECDSAKey.from_private(pub.curve_id, r.mpint())
    elif isinstance(pub, RSAKey):
        d, p, q, _iqmp = r.mpint(), r.mpint(), r.mpint(), r.mpint()
        if p * q != k.n:
            raise ValueError("RSA primes do not multiply to the modulus")
        key = RSAKey(_primitives.RSA.construct((k.n, k.e, d, p, q)))
    elif isinstance(pub, DSAKey):
        key = DSAKey(_primitives.DSA.construct((k.y, k.g, k.p, k.q, r.mpint())))
    else:  # pragma: no cover - decode_public_blob knows only the types above
        raise ValueError(f"PuTTY key files do not hold {alg[:40]} keys")
    # PuTTY pads the (encrypted) private fields to the AES block size.
    if r.remaining >= 16:
        raise ValueError("trailing data after the private fields")
    return key


def _private_fields(key: SSHKey) -> bytes:
    k: Any = key._key
    if isinstance(key, Ed25519Key):
        return string(bytes(k.seed))
    if isinstance(key, ECDSAKey):
        return mpint(int(k.d))
    if isinstance(key, RSAKey):
        return mpint(k.d) + mpint(k.p) + mpint(k.q) + mpint(pow(k.q, -1, k.p))
    if isinstance(key, DSAKey):
        return mpint(k.x)
    raise KeyImportError(f"PuTTY key files cannot hold {type(key).__name__} keys")


def _lines64(data: bytes) -> list[str]:
    b64 = base64.b64encode(data).decode()
    return [b64[i:i + 64] for i in range(0, len(b64), 64)] or [""]


def export_ppk(key: SSHKey, passphrase: str | bytes | None = None, comment: str | None = None,
               *, version: int = 3, kdf: str = "Argon2id", memory: int = 8192, passes: int = 8,
               parallelism: int = 1) -> bytes:
    """The ``.ppk`` file of ``key`` as puttygen writes it: version 3 (Argon2id, 8 MiB,
    ``passes`` passes) or version 2, AES-256-CBC encrypted when ``passphrase`` is given.

    :raises KeyImportError: a public key, a key type PuTTY has no format for, or bad
        parameters."""
    from ._formats import adopt

    if isinstance(passphrase, str):
        passphrase = passphrase.encode()
    if version not in (2, 3):
        raise KeyImportError(f"PuTTY key file version must be 2 or 3, not {version}")
    cert = getattr(key, "cert", None)  # sshcore.keys.CertifiedKey: embed its certificate
    if cert is not None:
        key, cert_comment = key.private, getattr(key, "comment", "")
        comment = cert_comment if comment is None else comment
    key = adopt(key)  # a key another plugin read (sshcore-openssl's)
    if not getattr(key, "has_private", False) or not isinstance(key, SSHKey):
        raise KeyImportError("this is a public key: there is no private key to write")
    kdf = {name.lower(): name for name in ARGON2_TYPES}.get(kdf.lower(), kdf)
    if kdf not in ARGON2_TYPES:
        raise KeyImportError(f"unknown Argon2 variant {kdf!r} (Argon2id, Argon2i, Argon2d)")
    comment = key.comment if comment is None else comment
    comment_bytes = comment.encode()
    if b"\n" in comment_bytes or b"\r" in comment_bytes:
        raise KeyImportError("a PuTTY key comment cannot contain a line break")
    alg, public = key.key_type, key.public_blob
    if cert is not None:
        alg, public = cert.key_type, cert.public_blob
    private = _private_fields(key)
    encryption = "aes256-cbc" if passphrase else "none"
    header = [f"PuTTY-User-Key-File-{version}: {alg}", f"Encryption: {encryption}",
              f"Comment: {comment}", f"Public-Lines: {len(_lines64(public))}",
              *_lines64(public)]
    cipher_key = iv = b""
    if passphrase:
        # as PuTTY pads: with the start of the SHA-1 hash of the unpadded fields
        private += _primitives.SHA1.new(private).digest()[:(-len(private)) % 16]
        if version == 3:
            if not (1 <= passes <= MAX_ARGON2_PASSES and 8 * parallelism <= memory
                    <= MAX_ARGON2_MEMORY_KIB and 1 <= parallelism <= MAX_ARGON2_PARALLELISM
                    and memory * passes <= MAX_ARGON2_COST):
                raise KeyImportError("Argon2 parameters out of range")
            salt = secrets.token_bytes(16)
            derived = _argon2(None, kdf, passphrase, salt, passes, memory, parallelism, 80)
            cipher_key, iv, mac_key = derived[:32], derived[32:48], derived[48:]
            header += [f"Key-Derivation: {kdf}", f"Argon2-Memory: {memory}",
                       f"Argon2-Passes: {passes}", f"Argon2-Parallelism: {parallelism}",
                       f"Argon2-Salt: {salt.hex()}"]
        else:
            cipher_key, iv = _v2_cipher_key(passphrase), bytes(16)
            mac_key = _primitives.SHA1.new(V2_MAC_PREFIX + passphrase).digest()
    else:
        mac_key = b"" if version == 3 else _primitives.SHA1.new(V2_MAC_PREFIX).digest()
    mac = _mac(version, mac_key, _mac_data(alg, encryption, comment_bytes, public, private))
    if passphrase:
        private = bytes(_cbc(cipher_key, iv).encrypt(private))
    body = _lines64(private)
    lines = header + [f"Private-Lines: {len(body)}", *body, f"Private-MAC: {mac.hex()}"]
    return ("\n".join(lines) + "\n").encode()
