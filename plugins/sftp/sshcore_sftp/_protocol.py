"""The SFTP version 3 wire codec (draft-ietf-secsh-filexfer-02), shared by client and server.

Packets are ``uint32 length || byte type || payload``; every request and reply except
INIT/VERSION carries a ``uint32 request-id`` as the first payload field.  The codec is
sans-I/O: :class:`PacketParser` turns received bytes into ``(type, payload)`` pairs and
:func:`encode_packet` builds packets.

Payloads come out of the parser as read-only :class:`memoryview` slices of the received
buffer (no per-packet copy); take ``bytes(payload)`` to keep one beyond the next
``feed()``-free moment, or read fields with :class:`Reader`, whose ``string()`` returns
``memoryview`` slices too (``bytes()`` them, or hand them straight to ``os.write``).
"""

from __future__ import annotations

import stat as _stat
import struct
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from typing import Any

from sshcore.errors import RemoteProtocolError, SSHError

__all__ = [
    "SFTP_VERSION", "MAX_PACKET", "MAX_DATA", "FXP", "Status", "FXF", "ATTR", "SFTPAttrs",
    "SFTPError", "SFTPProtocolError", "Reader", "PacketParser", "encode_packet", "u32", "u64",
    "string", "encode_status", "encode_name", "longname", "OPENSSH_EXTENSIONS",
]

SFTP_VERSION = 3
#: Largest packet (the uint32 length field's value), as OpenSSH's SFTP_MAX_MSG_LENGTH.
MAX_PACKET = 256 * 1024
#: Largest READ/WRITE data length advertised in limits@openssh.com (as OpenSSH: 1 KiB
#: of headroom below MAX_PACKET for the packet and request headers).
MAX_DATA = MAX_PACKET - 1024


class FXP(IntEnum):
    """SSH_FXP_* packet types."""

    INIT = 1
    VERSION = 2
    OPEN = 3
    CLOSE = 4
    READ = 5
    WRITE = 6
    LSTAT = 7
    FSTAT = 8
    SETSTAT = 9
    FSETSTAT = 10
    OPENDIR = 11
    READDIR = 12
    REMOVE = 13
    MKDIR = 14
    RMDIR = 15
    REALPATH = 16
    STAT = 17
    RENAME = 18
    READLINK = 19
    SYMLINK = 20
    STATUS = 101
    HANDLE = 102
    DATA = 103
    NAME = 104
    ATTRS = 105
    EXTENDED = 200
    EXTENDED_REPLY = 201


class Status(IntEnum):
    """SSH_FX_* status codes (section 7)."""

    OK = 0
    EOF = 1
    NO_SUCH_FILE = 2
    PERMISSION_DENIED = 3
    FAILURE = 4
    BAD_MESSAGE = 5
    NO_CONNECTION = 6
    CONNECTION_LOST = 7
    OP_UNSUPPORTED = 8


#: The default message for each status code (the texts OpenSSH's sftp-server sends).
STATUS_MESSAGES: dict[int, str] = {
    Status.OK: "Success",
    Status.EOF: "End of file",
    Status.NO_SUCH_FILE: "No such file",
    Status.PERMISSION_DENIED: "Permission denied",
    Status.FAILURE: "Failure",
    Status.BAD_MESSAGE: "Bad message",
    Status.NO_CONNECTION: "No connection",
    Status.CONNECTION_LOST: "Connection lost",
    Status.OP_UNSUPPORTED: "Operation unsupported",
}


class FXF(IntFlag):
    """SSH_FXF_* open flags (pflags of SSH_FXP_OPEN)."""

    READ = 0x01
    WRITE = 0x02
    APPEND = 0x04
    CREAT = 0x08
    TRUNC = 0x10
    EXCL = 0x20


class ATTR(IntFlag):
    """SSH_FILEXFER_ATTR_* flags: which fields an ATTRS structure carries."""

    SIZE = 0x01
    UIDGID = 0x02
    PERMISSIONS = 0x04
    ACMODTIME = 0x08
    EXTENDED = 0x80000000


#: Extensions advertised in SSH_FXP_VERSION as name -> version data, in OpenSSH's order.
OPENSSH_EXTENSIONS: tuple[tuple[str, bytes], ...] = (
    ("posix-rename@openssh.com", b"1"),
    ("statvfs@openssh.com", b"2"),
    ("fstatvfs@openssh.com", b"2"),
    ("hardlink@openssh.com", b"1"),
    ("fsync@openssh.com", b"1"),
    ("lsetstat@openssh.com", b"1"),
    ("limits@openssh.com", b"1"),
    ("expand-path@openssh.com", b"1"),
    ("copy-data", b"1"),
)


# --------------------------------------------------------------------------- errors


class SFTPProtocolError(RemoteProtocolError):
    """The peer sent a malformed, truncated or oversized SFTP packet; the session must end."""


class SFTPError(SSHError):
    """An SFTP request failed: ``code`` is the :class:`Status`, ``message`` the peer's text.

    Also an :class:`OSError`-like value for callers: ``errno``-free but with a readable
    ``str()`` (``"No such file: /tmp/x"``).
    """

    def __init__(self, code: int, message: str = "", lang: str = "") -> None:
        try:
            code = Status(code)
        except ValueError:
            pass
        self.code = code
        self.message = message or STATUS_MESSAGES.get(code, f"status {int(code)}")
        self.lang = lang
        super().__init__(self.message)

    @classmethod
    def from_status(cls, code: int, message: str = "", lang: str = "") -> SFTPError:
        """The exception for a received SSH_FXP_STATUS (any code but OK)."""
        return cls(code, message, lang)

    def __repr__(self) -> str:
        name = self.code.name if isinstance(self.code, Status) else str(self.code)
        return f"SFTPError({name}, {self.message!r})"


# --------------------------------------------------------------------------- encoding

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_HDR = struct.Struct(">IB")          # length, type
_HDR_ID = struct.Struct(">IBI")      # length, type, request id
_DATA_HDR = struct.Struct(">IBII")   # length, DATA, id, data length
_STATUS_HDR = struct.Struct(">IBII")  # length, STATUS, id, code


def u32(value: int) -> bytes:
    return _U32.pack(value)


def u64(value: int) -> bytes:
    return _U64.pack(value)


def string(value: bytes | bytearray | memoryview | str) -> bytes:
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    return _U32.pack(len(value)) + value


def encode_packet(ptype: int, request_id: int | None, body: bytes = b"") -> bytes:
    """One packet: length, type, the request id (unless ``None``: INIT/VERSION), body."""
    if request_id is None:
        return _HDR.pack(len(body) + 1, ptype) + body
    return _HDR_ID.pack(len(body) + 5, ptype, request_id) + body


def data_header(request_id: int, length: int) -> bytes:
    """The first 13 bytes of an SSH_FXP_DATA reply carrying ``length`` bytes."""
    return _DATA_HDR.pack(length + 9, FXP.DATA, request_id, length)


def encode_status(request_id: int, code: int, message: str = "", lang: str = "") -> bytes:
    msg = (message or STATUS_MESSAGES.get(code, "")).encode("utf-8", "replace")
    lng = lang.encode("ascii", "replace")
    return (_STATUS_HDR.pack(17 + len(msg) + len(lng), FXP.STATUS, request_id, code)
            + _U32.pack(len(msg)) + msg + _U32.pack(len(lng)) + lng)


def encode_name(request_id: int, entries: Sequence[tuple[bytes, bytes, SFTPAttrs]]) -> bytes:
    """An SSH_FXP_NAME reply: ``(filename, longname, attrs)`` triples."""
    parts = [_U32.pack(len(entries))]
    for name, long, attrs in entries:
        parts += (_U32.pack(len(name)), name, _U32.pack(len(long)), long, attrs.encode())
    return encode_packet(FXP.NAME, request_id, b"".join(parts))


# --------------------------------------------------------------------------- decoding


class Reader:
    """Reads SFTP data types from a buffer; any overrun raises :class:`SFTPProtocolError`."""

    __slots__ = ("_mv", "_pos", "_end")

    def __init__(self, data: bytes | bytearray | memoryview, pos: int = 0) -> None:
        self._mv = data if isinstance(data, memoryview) else memoryview(data)
        self._pos = pos
        self._end = len(self._mv)

    @property
    def remaining(self) -> int:
        return self._end - self._pos

    def byte(self) -> int:
        if self._pos >= self._end:
            raise SFTPProtocolError("truncated SFTP packet")
        value = self._mv[self._pos]
        self._pos += 1
        return int(value)

    def uint32(self) -> int:
        pos = self._pos
        if pos + 4 > self._end:
            raise SFTPProtocolError("truncated SFTP packet")
        self._pos = pos + 4
        return int(_U32.unpack_from(self._mv, pos)[0])

    def uint64(self) -> int:
        pos = self._pos
        if pos + 8 > self._end:
            raise SFTPProtocolError("truncated SFTP packet")
        self._pos = pos + 8
        return int(_U64.unpack_from(self._mv, pos)[0])

    def string(self) -> memoryview:
        n = self.uint32()
        pos = self._pos
        if pos + n > self._end:
            raise SFTPProtocolError("truncated SFTP packet (string overruns it)")
        self._pos = pos + n
        return self._mv[pos:pos + n]

    def bytes(self) -> bytes:
        return bytes(self.string())

    def text(self) -> str:
        """A UTF-8 string; undecodable bytes survive as surrogate escapes (like os.fsdecode)."""
        return bytes(self.string()).decode("utf-8", "surrogateescape")

    def attrs(self) -> SFTPAttrs:
        return SFTPAttrs.decode(self)

    def rest(self) -> memoryview:
        data = self._mv[self._pos:self._end]
        self._pos = self._end
        return data

    def finish(self) -> None:
        if self._pos != self._end:
            raise SFTPProtocolError("unexpected trailing data in SFTP packet")


class PacketParser:
    """Incremental framing: ``feed(data)`` returns every complete ``(type, payload)``.

    A length of zero or above ``max_packet`` raises :class:`SFTPProtocolError` as soon as
    the 4-byte length arrives, before anything is buffered for it.  ``payload`` (the bytes
    after the type) is a read-only memoryview into the received data.
    """

    __slots__ = ("max_packet", "_buf")

    def __init__(self, max_packet: int = MAX_PACKET) -> None:
        self.max_packet = max_packet
        self._buf = bytearray()

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[tuple[int, memoryview]]:
        if self._buf:
            self._buf += data
            buf: Any = self._buf
        else:
            buf = bytes(data) if not isinstance(data, bytes) else data
        mv = memoryview(buf).toreadonly()
        n = len(mv)
        pos = 0
        out: list[tuple[int, memoryview]] = []
        limit = self.max_packet
        unpack = _U32.unpack_from
        while n - pos >= 4:
            (length,) = unpack(mv, pos)
            if length == 0 or length > limit:
                self._buf = bytearray()
                raise SFTPProtocolError(
                    f"SFTP packet length {length} is {'zero' if not length else f'over the {limit}-byte limit'}")
            end = pos + 4 + length
            if end > n:
                break
            out.append((mv[pos + 4], mv[pos + 5:end]))
            pos = end
        if pos == n:
            if buf is self._buf:
                # The payloads point into it: start a new buffer rather than resize it.
                self._buf = bytearray()
        elif pos or buf is not self._buf:
            self._buf = bytearray(mv[pos:])
        del mv
        return out


# --------------------------------------------------------------------------- attributes


@dataclass(slots=True)
class SFTPAttrs:
    """File attributes (section 5); ``None`` fields are absent on the wire."""

    size: int | None = None
    uid: int | None = None
    gid: int | None = None
    permissions: int | None = None
    atime: int | None = None
    mtime: int | None = None
    extended: list[tuple[bytes, bytes]] = field(default_factory=list)

    @property
    def flags(self) -> ATTR:
        f = ATTR(0)
        if self.size is not None:
            f |= ATTR.SIZE
        if self.uid is not None or self.gid is not None:
            f |= ATTR.UIDGID
        if self.permissions is not None:
            f |= ATTR.PERMISSIONS
        if self.atime is not None or self.mtime is not None:
            f |= ATTR.ACMODTIME
        if self.extended:
            f |= ATTR.EXTENDED
        return f

    def encode(self) -> bytes:
        flags = self.flags
        parts = [_U32.pack(flags)]
        if flags & ATTR.SIZE:
            parts.append(_U64.pack(self.size))
        if flags & ATTR.UIDGID:
            parts.append(_U32.pack(self.uid or 0) + _U32.pack(self.gid or 0))
        if flags & ATTR.PERMISSIONS:
            parts.append(_U32.pack(self.permissions))
        if flags & ATTR.ACMODTIME:
            atime = self.atime if self.atime is not None else self.mtime
            mtime = self.mtime if self.mtime is not None else self.atime
            parts.append(_U32.pack(atime) + _U32.pack(mtime))  # type: ignore[arg-type]
        if flags & ATTR.EXTENDED:
            parts.append(_U32.pack(len(self.extended)))
            for name, value in self.extended:
                parts += (_U32.pack(len(name)), name, _U32.pack(len(value)), value)
        return b"".join(parts)

    @classmethod
    def decode(cls, reader: Reader) -> SFTPAttrs:
        flags = reader.uint32()
        a = cls()
        if flags & ATTR.SIZE:
            a.size = reader.uint64()
        if flags & ATTR.UIDGID:
            a.uid = reader.uint32()
            a.gid = reader.uint32()
        if flags & ATTR.PERMISSIONS:
            a.permissions = reader.uint32()
        if flags & ATTR.ACMODTIME:
            a.atime = reader.uint32()
            a.mtime = reader.uint32()
        if flags & ATTR.EXTENDED:
            count = reader.uint32()
            if count > reader.remaining // 8:  # each pair takes at least 8 bytes
                raise SFTPProtocolError(f"ATTRS claims {count} extended pairs")
            a.extended = [(reader.bytes(), reader.bytes()) for _ in range(count)]
        return a

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> SFTPAttrs:
        r = Reader(data)
        a = cls.decode(r)
        r.finish()
        return a

    @classmethod
    def from_stat(cls, st: Any) -> SFTPAttrs:
        """From an :func:`os.stat_result` (times truncated to whole seconds, as in v3)."""
        return cls(size=st.st_size, uid=st.st_uid, gid=st.st_gid, permissions=st.st_mode,
                   atime=int(st.st_atime) & 0xFFFFFFFF, mtime=int(st.st_mtime) & 0xFFFFFFFF)

    # The stat-like conveniences clients want.
    def is_dir(self) -> bool:
        return self.permissions is not None and _stat.S_ISDIR(self.permissions)

    def is_file(self) -> bool:
        return self.permissions is not None and _stat.S_ISREG(self.permissions)

    def is_link(self) -> bool:
        return self.permissions is not None and _stat.S_ISLNK(self.permissions)


def longname(name: bytes, attrs: SFTPAttrs, *, owner: str | None = None,
             group: str | None = None, nlink: int = 1, now: float | None = None) -> bytes:
    """An ``ls -l`` style line for SSH_FXP_NAME, as OpenSSH's ``ls_file`` formats it."""
    mode = attrs.permissions or 0
    perms = _stat.filemode(mode)
    user = owner if owner is not None else str(attrs.uid or 0)
    grp = group if group is not None else str(attrs.gid or 0)
    mtime = attrs.mtime or 0
    now = time.time() if now is None else now
    fmt = "%b %e %H:%M" if abs(now - mtime) < 182 * 86400 else "%b %e  %Y"
    when = time.strftime(fmt, time.localtime(mtime))
    head = f"{perms} {nlink:3d} {user:<8.8s} {grp:<8.8s} {attrs.size or 0:8d} {when} "
    return head.encode("utf-8", "surrogateescape") + name


def extension_pairs(pairs: Iterable[tuple[str, bytes]]) -> bytes:
    return b"".join(string(name) + string(value) for name, value in pairs)
