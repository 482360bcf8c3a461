"""OpenSSH Key Revocation Lists (PROTOCOL.krl) and revoked-key files.

What sshd's ``RevokedKeys`` and ssh's ``RevokedHostKeys`` read: a binary KRL as
``ssh-keygen -k`` writes it (keys revoked explicitly or by SHA-1/SHA-256 hash of their
blob, certificates by serial number, serial range or bitmap and by key ID, per CA or for
every CA), or else a text file of public keys, one a line.  As OpenSSH decides: a
certificate is revoked when its plain key or its CA key is, and a serial of 0 (a CA
that gave none) is never matched by serial.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._wire import SSHReader
from ..errors import KeyImportError, SSHError

KRL_MAGIC = b"SSHKRL\n\0"
KRL_FORMAT_VERSION = 1
_CERTIFICATES, _EXPLICIT_KEY, _SHA1, _SIGNATURE, _SHA256, _EXTENSION = 1, 2, 3, 4, 5, 255
_SERIAL_LIST, _SERIAL_RANGE, _SERIAL_BITMAP, _KEY_ID, _CERT_EXTENSION = 0x20, 0x21, 0x22, 0x23, 0x39
#: a bitmap longer than this many bits is refused (ssh-keygen writes one only where it is
#: smaller than a list, so real KRLs stay far below)
MAX_BITMAP_BITS = 1 << 24


@dataclass
class _CARevocations:
    ranges: list[tuple[int, int]] = field(default_factory=list)
    bitmaps: list[tuple[int, int]] = field(default_factory=list)   # (offset, bits)
    key_ids: set[str] = field(default_factory=set)

    def serial_revoked(self, serial: int) -> bool:
        if any(lo <= serial <= hi for lo, hi in self.ranges):
            return True
        return any(serial >= off and (bits >> (serial - off)) & 1 for off, bits in self.bitmaps)


@dataclass
class RevocationList:
    """Revoked keys and certificates; :meth:`revoked` says whether and why a key is."""

    source: str = "revoked keys"
    krl_version: int = 0
    generated: int = 0
    comment: str = ""
    keys: set[bytes] = field(default_factory=set)          # plain public key blobs
    sha1: set[bytes] = field(default_factory=set)
    sha256: set[bytes] = field(default_factory=set)
    certs: dict[bytes, _CARevocations] = field(default_factory=dict)  # CA blob (b"": any CA)

    # ---------------------------------------------------------------- reading
    @classmethod
    def parse(cls, data: bytes, source: str = "revoked keys") -> RevocationList:
        """A binary KRL, or a text list of public keys.

        :raises KeyImportError: a malformed KRL (or one with an unknown critical extension
            or a signature section, which OpenSSH 9.4+ refuses too)."""
        if data.startswith(KRL_MAGIC):
            try:
                return cls._parse_krl(data, source)
            except SSHError as exc:
                raise KeyImportError(f"{source}: malformed KRL: {exc}") from None
        return cls._parse_text(data, source)

    @classmethod
    def read(cls, path: str | Path) -> RevocationList:
        """:raises KeyImportError: unreadable or malformed (the caller then refuses every
        key, as sshd does)."""
        path = Path(path).expanduser()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise KeyImportError(f"{path}: cannot read revoked keys: {exc.strerror}") from None
        return cls.parse(data, str(path))

    @classmethod
    def _parse_text(cls, data: bytes, source: str) -> RevocationList:
        out = cls(source=source)
        for line in data.decode("utf-8", "replace").splitlines():
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            blob = None
            for candidate in parts[:3]:  # "[marker/options] TYPE BASE64 [comment]"
                try:
                    decoded = base64.b64decode(candidate, validate=True)
                except (binascii.Error, ValueError):
                    continue
                if len(decoded) > 4:
                    blob = decoded
                    break
            if blob is not None:
                out.keys.add(_plain_blob_or_self(blob))
        return out

    @classmethod
    def _parse_krl(cls, data: bytes, source: str) -> RevocationList:
        r = SSHReader(data, len(KRL_MAGIC))
        version = r.uint32()
        if version != KRL_FORMAT_VERSION:
            raise KeyImportError(f"{source}: unsupported KRL format version {version}")
        out = cls(source=source, krl_version=r.uint64(), generated=r.uint64())
        r.uint64()  # flags
        r.string()  # reserved
        out.comment = r.text("utf-8")
        while r.remaining:
            kind, body = r.byte(), r.string()
            s = SSHReader(body)
            if kind == _CERTIFICATES:
                out._certificates(s, source)
            elif kind == _EXPLICIT_KEY:
                while s.remaining:
                    out.keys.add(s.string())
            elif kind in (_SHA1, _SHA256):
                target = out.sha1 if kind == _SHA1 else out.sha256
                while s.remaining:
                    digest = s.string()
                    if len(digest) != (20 if kind == _SHA1 else 32):
                        raise KeyImportError(f"{source}: bad key hash length in KRL")
                    target.add(digest)
            elif kind == _SIGNATURE:
                raise KeyImportError(f"{source}: signed KRLs are not supported (as OpenSSH "
                                     "9.4+; sign the file with ssh-keygen -Y instead)")
            elif kind == _EXTENSION:
                _extension(s, source)
            else:
                raise KeyImportError(f"{source}: unknown KRL section type {kind}")
        return out

    def _certificates(self, s: SSHReader, source: str) -> None:
        ca = s.string()
        s.string()  # reserved
        entry = self.certs.setdefault(ca, _CARevocations())
        while s.remaining:
            kind, body = s.byte(), s.string()
            b = SSHReader(body)
            if kind == _SERIAL_LIST:
                while b.remaining:
                    serial = b.uint64()
                    entry.ranges.append((serial, serial))
            elif kind == _SERIAL_RANGE:
                lo, hi = b.uint64(), b.uint64()
                if lo > hi:
                    raise KeyImportError(f"{source}: KRL serial range {lo}-{hi} is inverted")
                entry.ranges.append((lo, hi))
            elif kind == _SERIAL_BITMAP:
                offset, bits = b.uint64(), b.mpint()
                if bits < 0 or bits.bit_length() > MAX_BITMAP_BITS:
                    raise KeyImportError(f"{source}: KRL serial bitmap too large or negative")
                entry.bitmaps.append((offset, bits))
            elif kind == _KEY_ID:
                while b.remaining:
                    entry.key_ids.add(b.text("utf-8"))
            elif kind == _CERT_EXTENSION:
                _extension(b, source)
            else:
                raise KeyImportError(f"{source}: unknown KRL certificate section type {kind}")
            if kind in (_SERIAL_RANGE, _SERIAL_BITMAP):
                b.finish()

    # ---------------------------------------------------------------- checking
    def revoked(self, key: Any) -> str | None:
        """Why ``key`` (a public key or certificate object) is revoked, or None."""
        cert = key if hasattr(key, "ca") and hasattr(key, "serial") else None
        plain = cert.key if cert is not None else key
        why = self._key_revoked(bytes(plain.public_blob))
        if why is not None:
            return why if cert is None else f"its certified key is {why}"
        if cert is None:
            return None
        why = self._key_revoked(bytes(cert.ca.public_blob))
        if why is not None:
            return f"its CA key is {why}"
        for ca in (bytes(cert.ca.public_blob), b""):
            entry = self.certs.get(ca)
            if entry is None:
                continue
            if cert.key_id in entry.key_ids:
                return f"certificate key ID {cert.key_id!r} is revoked in {self.source}"
            if cert.serial != 0 and entry.serial_revoked(cert.serial):
                return f"certificate serial {cert.serial} is revoked in {self.source}"
        return None

    def _key_revoked(self, blob: bytes) -> str | None:
        if blob in self.keys:
            return f"revoked in {self.source}"
        if hashlib.sha256(blob).digest() in self.sha256 or hashlib.sha1(blob).digest() in self.sha1:
            return f"revoked by hash in {self.source}"
        return None


def _extension(s: SSHReader, source: str) -> None:
    name, critical = s.text("utf-8"), s.boolean()
    s.string()
    if critical:
        raise KeyImportError(f"{source}: unsupported critical KRL extension {name[:60]!r}")


def _plain_blob_or_self(blob: bytes) -> bytes:
    """A certificate line in a text list revokes the certificate's key (OpenSSH matches
    keys in such files without regard to certificates)."""
    try:
        r = SSHReader(blob)
        key_type = r.text("ascii")
        if key_type.endswith("-cert-v01@openssh.com"):
            from .keys import decode_public_blob

            return bytes(decode_public_blob(blob).key.public_blob)
    except (SSHError, KeyImportError):
        pass
    return blob


def key_revoked(source: Any, key: Any) -> str | None:
    """Is ``key`` revoked by ``source`` (a :class:`RevocationList`, or a file path read
    now, as sshd re-reads RevokedKeys)?  An unreadable or malformed file revokes every key,
    as in sshd."""
    if source is None:
        return None
    try:
        table = source if isinstance(source, RevocationList) else RevocationList.read(source)
    except KeyImportError as exc:
        return f"{exc} (refusing every key, as sshd does)"
    return table.revoked(key)
