"""The SFTP v3 client: requests, replies, remote files and the file-system operations.

``open_sftp_client(conn)`` opens an ``sftp`` subsystem session on an
:class:`sshcore.SSHClientConnection` and returns an :class:`SFTPClient`.  Replies are
matched to requests by id; ordinary requests wait on a future, while bulk transfers
(:mod:`._transfer`) keep many READ/WRITE requests outstanding and handle each reply in a
plain callback, writing received data straight to its destination.

The client uses the OpenSSH extensions the server advertises in SSH_FXP_VERSION:
``limits@openssh.com`` (transfer sizes), ``posix-rename@openssh.com``,
``statvfs``/``fstatvfs``, ``hardlink``, ``fsync``, ``lsetstat``, ``expand-path`` and
``copy-data`` (server-side copies).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import posixpath
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from ._protocol import (FXF, FXP, SFTP_VERSION, PacketParser, Reader, SFTPAttrs, SFTPError,
                        SFTPProtocolError, Status, encode_packet, string, u32, u64)

__all__ = [
    "SFTPClient", "SFTPFile", "SFTPName", "SFTPVFSAttrs", "SFTPLimits", "open_sftp_client",
    "SFTPError", "SFTPEOFError", "SFTPNoSuchFileError", "SFTPPermissionError",
    "SFTPFailureError", "SFTPBadMessageError", "SFTPConnectionLostError",
    "SFTPOpUnsupportedError", "status_error",
]

logger = logging.getLogger("sshcore_sftp.client")

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_REQ = struct.Struct(">IBI")          # length, type, id
_READ_TAIL = struct.Struct(">QI")     # offset, length
_WRITE_TAIL = struct.Struct(">QI")    # offset, data length

#: Used when the server does not send limits@openssh.com: the size every server takes
#: (OpenSSH's sftp uses it then, and the draft requires servers to accept 32 KiB).
DEFAULT_BLOCK_SIZE = 32 * 1024
#: Bytes in flight per transfer by default: the request count is this over the block
#: size, kept within [MIN_REQUESTS, MAX_REQUESTS] (16 x 255 KiB with OpenSSH's limits,
#: 128 x 32 KiB without; more only queues data that the channel window holds back).
IN_FLIGHT = 4 * 1024 * 1024
MIN_REQUESTS, MAX_REQUESTS = 16, 128
#: With limits@openssh.com, blocks of at most this (OpenSSH's sftp goes to the server's
#: maximum, 255 KiB; a little less keeps each reply to a few SSH packets).
LIMITS_BLOCK_CAP = 255 * 1024


#: The SFTP channel's receive window and largest data packet (see open_sftp_client).
DEFAULT_WINDOW = 8 * 1024 * 1024
DEFAULT_MAX_PKTSIZE = 128 * 1024


# --------------------------------------------------------------------------- errors


class SFTPEOFError(SFTPError, EOFError):
    """SSH_FX_EOF: no more data (or no more directory entries)."""


class SFTPNoSuchFileError(SFTPError, FileNotFoundError):
    """SSH_FX_NO_SUCH_FILE."""


class SFTPPermissionError(SFTPError, PermissionError):
    """SSH_FX_PERMISSION_DENIED."""


class SFTPFailureError(SFTPError, OSError):
    """SSH_FX_FAILURE: the operation failed (directory not empty, file exists, ...)."""


class SFTPBadMessageError(SFTPError, OSError):
    """SSH_FX_BAD_MESSAGE: the server did not understand the request."""


class SFTPConnectionLostError(SFTPError, ConnectionError):
    """SSH_FX_NO_CONNECTION / CONNECTION_LOST, or the session ended under a request."""


class SFTPOpUnsupportedError(SFTPError, OSError):
    """SSH_FX_OP_UNSUPPORTED, or an extension the server does not advertise."""


_ERRORS: dict[int, tuple[type[SFTPError], int]] = {
    Status.EOF: (SFTPEOFError, 0),
    Status.NO_SUCH_FILE: (SFTPNoSuchFileError, errno.ENOENT),
    Status.PERMISSION_DENIED: (SFTPPermissionError, errno.EACCES),
    Status.FAILURE: (SFTPFailureError, 0),  # no errno says which failure
    Status.BAD_MESSAGE: (SFTPBadMessageError, errno.EBADMSG),
    Status.NO_CONNECTION: (SFTPConnectionLostError, errno.ENOTCONN),
    Status.CONNECTION_LOST: (SFTPConnectionLostError, errno.ECONNRESET),
    Status.OP_UNSUPPORTED: (SFTPOpUnsupportedError, errno.EOPNOTSUPP),
}


def status_error(code: int, message: str = "", lang: str = "", path: Any = None) -> SFTPError:
    """The exception for a failed SSH_FXP_STATUS: an :class:`SFTPError` subclass that is
    also the matching :class:`OSError` (``FileNotFoundError`` for NO_SUCH_FILE, ...), with
    ``code``, ``errno``, ``filename`` and a message naming the path."""
    cls, err = _ERRORS.get(code, (SFTPFailureError, 0))
    exc = cls(code, message, lang)
    if path is not None:
        exc.args = (f"{exc.message}: {_show(path)}",)
    if isinstance(exc, OSError) and err:
        exc.errno = err
        exc.strerror = exc.message
        exc.filename = _show(path) if path is not None else None
    return exc


def _show(path: Any) -> str:
    return path.decode("utf-8", "surrogateescape") if isinstance(path, bytes) else str(path)


def _closed_error(why: str = "SFTP session closed") -> SFTPConnectionLostError:
    return SFTPConnectionLostError(Status.CONNECTION_LOST, why)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class SFTPName:
    """One SSH_FXP_NAME entry: file name, ``ls -l`` style long name and attributes."""

    filename: str
    longname: str
    attrs: SFTPAttrs


@dataclass(frozen=True, slots=True)
class SFTPVFSAttrs:
    """``statvfs@openssh.com``'s reply (the fields of statvfs(3))."""

    bsize: int
    frsize: int
    blocks: int
    bfree: int
    bavail: int
    files: int
    ffree: int
    favail: int
    fsid: int
    flag: int
    namemax: int


@dataclass(frozen=True, slots=True)
class SFTPLimits:
    """``limits@openssh.com``: the server's maxima (0: no limit given)."""

    max_packet_length: int
    max_read_length: int
    max_write_length: int
    max_open_handles: int


def _path(path: Any) -> bytes:
    if isinstance(path, bytes):
        return path
    if hasattr(path, "__fspath__"):
        path = path.__fspath__()
        if isinstance(path, bytes):
            return path
    if not isinstance(path, str):
        raise TypeError(f"an SFTP path is str or bytes, not {type(path).__name__}")
    return path.encode("utf-8", "surrogateescape")


def _text(data: bytes | memoryview) -> str:
    return bytes(data).decode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------- the session


class _Session:
    """The subsystem channel's callbacks: bytes in -> packets -> the client's dispatch."""

    def __init__(self, client: SFTPClient) -> None:
        self._client = client
        self.chan: Any = None

    def connection_made(self, chan: Any) -> None:
        self.chan = chan

    def session_started(self) -> None:
        pass

    def data_received(self, data: bytes, datatype: int | None) -> None:
        if datatype is not None:  # the server's stderr: only worth a log line
            logger.debug("sftp server stderr: %r", bytes(data)[:200])
            return
        self._client._data_received(data)

    def eof_received(self) -> bool:
        self._client._lost(_closed_error("the SFTP server closed the session"))
        return False

    def exit_status_received(self, status: int) -> None:
        pass

    def exit_signal_received(self, *args: Any) -> None:
        pass

    def xon_xoff_requested(self, client_can_do: bool) -> None:
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        self._client._lost(_closed_error(f"SFTP session lost: {exc}" if exc else
                                         "SFTP session closed"))


#: What a pending request's reply is handed to: ``callback(ptype, payload, ctx)``.
Callback = Callable[[int, memoryview, Any], None]


def _future_reply(ptype: int, payload: memoryview, fut: asyncio.Future[Any]) -> None:
    if not fut.done():
        fut.set_result((ptype, bytes(payload)))


class SFTPClient:
    """An SFTP session (version 3) on one channel; an async context manager.

    Paths are ``str`` (UTF-8, undecodable bytes as surrogate escapes) or ``bytes``;
    relative ones are taken from :meth:`chdir`'s directory, else the server's default
    (the login directory).  Failures raise :func:`status_error`'s exceptions.

    :param block_size: bytes per READ/WRITE; default from limits@openssh.com, else 32 KiB.
    :param max_requests: outstanding requests per transfer (default: 4 MiB worth of
        blocks, from 16 to 128).
    """

    def __init__(self, chan: Any = None, *, block_size: int | None = None,
                 max_requests: int | None = None) -> None:
        self._chan = chan
        self._parser = PacketParser()
        self._pending: dict[int, tuple[Callback, Any]] = {}
        self._next_id = 0
        self._error: Exception | None = None
        self._version_fut: asyncio.Future[tuple[int, dict[str, bytes]]] | None = None
        self.version = 0
        #: Extensions the server advertised: name -> version data.
        self.extensions: dict[str, bytes] = {}
        self.limits: SFTPLimits | None = None
        self._block_size = block_size
        self._max_requests = max_requests
        self._cwd: bytes | None = None
        self._closed = False

    # ------------------------------------------------------------------ set-up

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        self._version_fut = loop.create_future()
        self._write(encode_packet(FXP.INIT, None, u32(SFTP_VERSION)))
        version, ext = await self._version_fut
        if version != SFTP_VERSION:
            raise SFTPProtocolError(f"the server speaks SFTP version {version}, not 3")
        self.version = version
        self.extensions = ext
        if self.supports("limits@openssh.com"):
            r = Reader(await self._extended("limits@openssh.com", b""))
            self.limits = SFTPLimits(r.uint64(), r.uint64(), r.uint64(), r.uint64())

    def supports(self, extension: str) -> bool:
        """Did the server advertise ``extension`` (e.g. ``"posix-rename@openssh.com"``)?"""
        return extension in self.extensions

    @property
    def block_size(self) -> int:
        """Bytes per READ/WRITE request in transfers."""
        if self._block_size:
            return self._block_size
        lim = self.limits
        if lim is not None:
            sizes = [s for s in (lim.max_read_length, lim.max_write_length) if s]
            if lim.max_packet_length:
                sizes.append(lim.max_packet_length - 1024)
            return max(1024, min([LIMITS_BLOCK_CAP] + sizes))
        return DEFAULT_BLOCK_SIZE

    @property
    def max_requests(self) -> int:
        """Outstanding READ/WRITE requests per transfer."""
        if self._max_requests:
            return self._max_requests
        count = max(MIN_REQUESTS, min(MAX_REQUESTS, IN_FLIGHT // self.block_size))
        if self.limits is not None and self.limits.max_open_handles:
            count = min(count, max(1, self.limits.max_open_handles))
        return count

    # ------------------------------------------------------------------ packets

    def _write(self, packet: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._chan.write(packet)

    def _data_received(self, data: bytes) -> None:
        try:
            packets = self._parser.feed(data)
            for ptype, payload in packets:
                self._dispatch(ptype, payload)
        except SFTPProtocolError as exc:
            self._protocol_failure(exc)

    def _dispatch(self, ptype: int, payload: memoryview) -> None:
        if ptype == FXP.VERSION:
            fut = self._version_fut
            if fut is None or fut.done():
                raise SFTPProtocolError("unexpected SSH_FXP_VERSION")
            r = Reader(payload)
            version = r.uint32()
            ext: dict[str, bytes] = {}
            while r.remaining:
                name = r.text()
                ext[name] = r.bytes()
            fut.set_result((version, ext))
            return
        if len(payload) < 4:
            raise SFTPProtocolError("SFTP reply without a request id")
        rid = _U32.unpack_from(payload, 0)[0]
        entry = self._pending.pop(rid, None)
        if entry is None:
            raise SFTPProtocolError(f"SFTP reply (type {ptype}) to no request (id {rid})")
        callback, ctx = entry
        callback(ptype, payload, ctx)

    def _protocol_failure(self, exc: Exception) -> None:
        if self._error is None:
            logger.warning("closing the SFTP session: %s", exc)
            self._lost(exc)
            self._chan.close()

    def _lost(self, exc: Exception) -> None:
        if self._error is None:
            self._error = exc
        if self._version_fut is not None and not self._version_fut.done():
            self._version_fut.set_exception(exc)
            self._version_fut.exception()
        pending, self._pending = self._pending, {}
        for callback, ctx in pending.values():
            try:
                callback(-1, memoryview(b""), ctx)
            except Exception:  # noqa: BLE001 - one broken waiter must not stop the rest
                logger.exception("error while failing an SFTP request")

    def _send(self, ptype: int, body: bytes | Sequence[bytes], callback: Callback,
              ctx: Any) -> int:
        """Send one request; ``callback(ptype, payload, ctx)`` gets its reply (ptype -1:
        the session ended first)."""
        if self._error is not None:
            raise self._error
        rid = self._next_id
        self._next_id = (rid + 1) & 0xFFFFFFFF
        if isinstance(body, bytes):
            packet = _REQ.pack(len(body) + 5, ptype, rid) + body
        else:
            packet = b"".join((_REQ.pack(sum(map(len, body)) + 5, ptype, rid), *body))
        self._pending[rid] = (callback, ctx)
        try:
            self._chan.write(packet)
        except BaseException:
            del self._pending[rid]  # never sent: no reply will come for it
            raise
        return rid

    async def _request(self, ptype: int, body: bytes) -> tuple[int, bytes]:
        fut: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        self._send(ptype, body, _future_reply, fut)
        t, payload = await fut
        if t < 0:
            raise self._error or _closed_error()
        return t, payload

    def _check_status(self, payload: bytes, path: Any = None, eof_ok: bool = False) -> bool:
        """Raise for a failed STATUS; True for OK, False for EOF when ``eof_ok``."""
        r = Reader(payload, 4)
        code = r.uint32()
        if code == Status.OK:
            return True
        if code == Status.EOF and eof_ok:
            return False
        message = r.text() if r.remaining >= 4 else ""
        lang = r.text() if r.remaining >= 4 else ""
        raise status_error(code, message, lang, path)

    async def _expect(self, ptype: int, body: bytes, want: int, path: Any = None,
                      eof_ok: bool = False) -> Reader | None:
        """Send a request wanting reply type ``want``; a STATUS raises (EOF -> None if
        ``eof_ok``).  Returns a reader positioned after the request id."""
        t, payload = await self._request(ptype, body)
        if t == FXP.STATUS:
            if want == FXP.STATUS:
                self._check_status(payload, path)
                return Reader(payload, 4)
            self._check_status(payload, path, eof_ok)
            if eof_ok:
                return None
            raise SFTPProtocolError(f"SSH_FXP_STATUS OK where a reply of type {want} was due")
        if t == want:
            return Reader(payload, 4)
        raise SFTPProtocolError(f"unexpected SFTP reply type {t} (wanted {want})")

    async def _status(self, ptype: int, body: bytes, path: Any = None) -> None:
        await self._expect(ptype, body, FXP.STATUS, path)

    def _need(self, extension: str) -> None:
        if extension not in self.extensions:
            raise SFTPOpUnsupportedError(Status.OP_UNSUPPORTED,
                                         f"the server does not support {extension}")

    async def _extended(self, name: str, body: bytes, path: Any = None) -> bytes:
        """An SSH_FXP_EXTENDED request wanting an EXTENDED_REPLY; returns its data."""
        r = await self._expect(FXP.EXTENDED, string(name) + body, FXP.EXTENDED_REPLY, path)
        assert r is not None
        return bytes(r.rest())

    async def _extended_status(self, name: str, body: bytes, path: Any = None) -> None:
        self._need(name)
        await self._expect(FXP.EXTENDED, string(name) + body, FXP.STATUS, path)

    # ------------------------------------------------------------------ paths

    def _abs(self, path: Any) -> bytes:
        p = _path(path)
        if self._cwd is not None and not p.startswith(b"/"):
            return posixpath.join(self._cwd, p) if p else self._cwd
        return p

    def encode(self, path: Any) -> bytes:
        """``path`` as the bytes sent (relative ones joined to the current directory)."""
        return self._abs(path)

    async def realpath(self, path: Any = ".") -> str:
        """The canonical absolute form of ``path`` (SSH_FXP_REALPATH)."""
        p = self._abs(path)
        r = await self._expect(FXP.REALPATH, string(p), FXP.NAME, p)
        assert r is not None
        if r.uint32() < 1:
            raise SFTPProtocolError("SSH_FXP_NAME without a name for REALPATH")
        return r.text()

    async def expand_path(self, path: Any) -> str:
        """``~`` and ``~user`` expanded by the server (expand-path@openssh.com); without the
        extension, ``~/x`` is taken relative to the login directory."""
        p = _path(path)
        if self.supports("expand-path@openssh.com"):
            self._need("expand-path@openssh.com")
            r = await self._expect(FXP.EXTENDED, string("expand-path@openssh.com") + string(p),
                                   FXP.NAME, p)
            assert r is not None
            if r.uint32() < 1:
                raise SFTPProtocolError("SSH_FXP_NAME without a name for expand-path")
            return r.text()
        if p == b"~" or p.startswith(b"~/"):
            p = p[2:] or b"."
            r = await self._expect(FXP.REALPATH, string(p), FXP.NAME, p)
            assert r is not None
            r.uint32()
            return r.text()
        return await self.realpath(p)

    def getcwd(self) -> str | None:
        """The directory :meth:`chdir` set (None: the server's default)."""
        return _text(self._cwd) if self._cwd is not None else None

    async def chdir(self, path: Any) -> str:
        """Make ``path`` (which must be a directory) the base of relative paths."""
        p = _path(path)
        new = await (self.expand_path(p) if p.startswith(b"~") else self.realpath(p))
        attrs = await self.stat(new)
        if not attrs.is_dir():
            raise status_error(Status.FAILURE, "Not a directory", path=new)
        self._cwd = _path(new)
        return new

    # ------------------------------------------------------------------ attributes

    async def stat(self, path: Any, *, follow_symlinks: bool = True) -> SFTPAttrs:
        p = self._abs(path)
        r = await self._expect(FXP.STAT if follow_symlinks else FXP.LSTAT, string(p), FXP.ATTRS, p)
        assert r is not None
        return r.attrs()

    async def lstat(self, path: Any) -> SFTPAttrs:
        return await self.stat(path, follow_symlinks=False)

    async def setstat(self, path: Any, attrs: SFTPAttrs, *, follow_symlinks: bool = True) -> None:
        p = self._abs(path)
        if follow_symlinks:
            await self._status(FXP.SETSTAT, string(p) + attrs.encode(), p)
        else:
            await self._extended_status("lsetstat@openssh.com", string(p) + attrs.encode(), p)

    async def chmod(self, path: Any, mode: int, *, follow_symlinks: bool = True) -> None:
        await self.setstat(path, SFTPAttrs(permissions=mode & 0o7777),
                           follow_symlinks=follow_symlinks)

    async def chown(self, path: Any, uid: int, gid: int, *, follow_symlinks: bool = True) -> None:
        await self.setstat(path, SFTPAttrs(uid=uid, gid=gid), follow_symlinks=follow_symlinks)

    async def utime(self, path: Any, times: tuple[float, float] | None = None, *,
                    follow_symlinks: bool = True) -> None:
        """Set (atime, mtime); None: now."""
        import time

        atime, mtime = times if times is not None else (time.time(), time.time())
        await self.setstat(path, SFTPAttrs(atime=int(atime), mtime=int(mtime)),
                           follow_symlinks=follow_symlinks)

    async def truncate(self, path: Any, size: int) -> None:
        await self.setstat(path, SFTPAttrs(size=size))

    async def exists(self, path: Any) -> bool:
        try:
            await self.stat(path)
        except SFTPNoSuchFileError:
            return False
        return True

    async def lexists(self, path: Any) -> bool:
        try:
            await self.lstat(path)
        except SFTPNoSuchFileError:
            return False
        return True

    async def isdir(self, path: Any) -> bool:
        try:
            return (await self.stat(path)).is_dir()
        except SFTPNoSuchFileError:
            return False

    async def isfile(self, path: Any) -> bool:
        try:
            return (await self.stat(path)).is_file()
        except SFTPNoSuchFileError:
            return False

    async def islink(self, path: Any) -> bool:
        try:
            return (await self.lstat(path)).is_link()
        except SFTPNoSuchFileError:
            return False

    async def getsize(self, path: Any) -> int:
        return (await self.stat(path)).size or 0

    async def statvfs(self, path: Any = ".") -> SFTPVFSAttrs:
        """File-system figures for ``path`` (statvfs@openssh.com)."""
        self._need("statvfs@openssh.com")
        p = self._abs(path)
        return _vfs(await self._extended("statvfs@openssh.com", string(p), p))

    # ------------------------------------------------------------------ directories

    async def _close_handle(self, handle: bytes, path: Any = None) -> None:
        await self._status(FXP.CLOSE, string(handle), path)

    async def readdir(self, path: Any = ".") -> list[SFTPName]:
        """Every entry of directory ``path``, ``.`` and ``..`` included, as the server sends."""
        p = self._abs(path)
        r = await self._expect(FXP.OPENDIR, string(p), FXP.HANDLE, p)
        assert r is not None
        handle = r.bytes()
        out: list[SFTPName] = []
        try:
            while True:
                r = await self._expect(FXP.READDIR, string(handle), FXP.NAME, p, eof_ok=True)
                if r is None:
                    break
                for _ in range(r.uint32()):
                    out.append(SFTPName(r.text(), r.text(), r.attrs()))
        finally:
            if self._error is None:
                await self._close_handle(handle, p)
        return out

    async def scandir(self, path: Any = ".") -> list[SFTPName]:
        """The entries of ``path`` without ``.`` and ``..``, sorted by name."""
        return sorted((n for n in await self.readdir(path) if n.filename not in (".", "..")),
                      key=lambda n: n.filename)

    async def listdir(self, path: Any = ".") -> list[str]:
        """The names in directory ``path`` (without ``.`` and ``..``), sorted."""
        return [n.filename for n in await self.scandir(path)]

    async def mkdir(self, path: Any, mode: int | None = None) -> None:
        p = self._abs(path)
        attrs = SFTPAttrs(permissions=mode & 0o7777) if mode is not None else SFTPAttrs()
        await self._status(FXP.MKDIR, string(p) + attrs.encode(), p)

    async def makedirs(self, path: Any, mode: int | None = None, exist_ok: bool = False) -> None:
        """Create ``path`` and any missing parents (like :func:`os.makedirs`)."""
        p = self._abs(path).rstrip(b"/") or b"/"
        try:
            attrs = await self.stat(p)
        except SFTPNoSuchFileError:
            pass
        else:
            if attrs.is_dir() and exist_ok:
                return
            raise status_error(Status.FAILURE, "File exists", path=p)
        parent = posixpath.dirname(p)
        if parent and parent != p and not await self.isdir(parent):
            await self.makedirs(parent, mode, exist_ok=True)
        try:
            await self.mkdir(p, mode)
        except SFTPFailureError:
            if not (exist_ok and await self.isdir(p)):
                raise

    async def rmdir(self, path: Any) -> None:
        p = self._abs(path)
        await self._status(FXP.RMDIR, string(p), p)

    async def remove(self, path: Any) -> None:
        p = self._abs(path)
        await self._status(FXP.REMOVE, string(p), p)

    unlink = remove

    async def rmtree(self, path: Any, ignore_errors: bool = False) -> None:
        """Remove ``path`` and everything under it (symbolic links are removed, never
        followed)."""
        p = self._abs(path)
        try:
            if (await self.lstat(p)).is_link():
                raise status_error(Status.FAILURE, "Cannot call rmtree on a symbolic link", path=p)
            for entry in await self.scandir(p):
                child = posixpath.join(p, _path(entry.filename))
                if entry.attrs.is_dir():
                    await self.rmtree(child, ignore_errors)
                else:
                    try:
                        await self.remove(child)
                    except SFTPError:
                        if not ignore_errors:
                            raise
            await self.rmdir(p)
        except SFTPError:
            if not ignore_errors:
                raise

    async def rename(self, old: Any, new: Any, *, overwrite: bool = True) -> None:
        """Rename ``old`` to ``new``.  With ``overwrite`` (the default) and
        posix-rename@openssh.com advertised, an existing ``new`` is replaced atomically;
        otherwise SSH_FXP_RENAME, which fails if ``new`` exists."""
        o, n = self._abs(old), self._abs(new)
        if overwrite and self.supports("posix-rename@openssh.com"):
            await self._extended_status("posix-rename@openssh.com", string(o) + string(n), o)
        else:
            await self._status(FXP.RENAME, string(o) + string(n), o)

    async def posix_rename(self, old: Any, new: Any) -> None:
        o, n = self._abs(old), self._abs(new)
        await self._extended_status("posix-rename@openssh.com", string(o) + string(n), o)

    async def readlink(self, path: Any) -> str:
        p = self._abs(path)
        r = await self._expect(FXP.READLINK, string(p), FXP.NAME, p)
        assert r is not None
        if r.uint32() < 1:
            raise SFTPProtocolError("SSH_FXP_NAME without a name for READLINK")
        return r.text()

    async def symlink(self, target: Any, link: Any) -> None:
        """Create symbolic link ``link`` pointing at ``target``.

        Sent in OpenSSH's order (target first), which OpenSSH's servers and most others
        implement, the reverse of the draft's text.
        """
        t, lnk = _path(target), self._abs(link)
        await self._status(FXP.SYMLINK, string(t) + string(lnk), lnk)

    async def link(self, old: Any, new: Any) -> None:
        """A hard link ``new`` to ``old`` (hardlink@openssh.com)."""
        o, n = self._abs(old), self._abs(new)
        await self._extended_status("hardlink@openssh.com", string(o) + string(n), n)

    async def glob(self, pattern: Any) -> list[str]:
        """Remote paths matching ``pattern`` (``*``, ``?``, ``[...]`` in any component), sorted;
        a pattern without wildcards matches itself if it exists."""
        p = _path(pattern)
        absolute = p.startswith(b"/")
        parts = [c for c in p.split(b"/") if c]
        bases: list[bytes] = [b"/" if absolute else b""]
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt: list[bytes] = []
            for base in bases:
                if not _has_magic(part):
                    cand = posixpath.join(base, part) if base else part
                    if last:
                        if await self.lexists(cand):
                            nxt.append(cand)
                    else:
                        nxt.append(cand)
                    continue
                try:
                    entries = await self.scandir(base or b".")
                except SFTPError:
                    continue
                pat = _text(part)
                for e in entries:
                    if fnmatchcase(e.filename, pat) and (e.filename[:1] != "." or pat[:1] == "."):
                        if last or e.attrs.is_dir() or e.attrs.is_link():
                            nxt.append(posixpath.join(base, _path(e.filename)) if base
                                       else _path(e.filename))
            bases = nxt
        return sorted(_text(b) for b in bases if b)

    # ------------------------------------------------------------------ files

    async def _open_handle(self, path: bytes, pflags: int, attrs: SFTPAttrs) -> bytes:
        r = await self._expect(FXP.OPEN, string(path) + u32(pflags) + attrs.encode(), FXP.HANDLE,
                               path)
        assert r is not None
        return r.bytes()

    async def open(self, path: Any, mode: str = "r", attrs: SFTPAttrs | None = None, *,
                   block_size: int | None = None, max_requests: int | None = None) -> SFTPFile:
        """Open a remote file: ``mode`` as for :func:`open` (``r``, ``w``, ``a``, ``x``, each
        with ``+``; ``b`` is accepted, data is always bytes).  Returns an
        :class:`SFTPFile`, also usable as ``async with await sftp.open(...) as f``."""
        m = mode.replace("b", "")
        flags = {"r": FXF.READ, "w": FXF.WRITE | FXF.CREAT | FXF.TRUNC,
                 "a": FXF.WRITE | FXF.CREAT | FXF.APPEND, "x": FXF.WRITE | FXF.CREAT | FXF.EXCL}
        if not m or m[0] not in flags or set(m[1:]) - {"+"}:
            raise ValueError(f"invalid mode {mode!r}")
        pflags = flags[m[0]]
        if "+" in m:
            pflags |= FXF.READ | FXF.WRITE
        p = self._abs(path)
        handle = await self._open_handle(p, pflags, attrs or SFTPAttrs())
        f = SFTPFile(self, handle, p, append=m[0] == "a", block_size=block_size,
                     max_requests=max_requests)
        if m[0] == "a":
            f._pos = (await f.stat()).size or 0
        return f

    # ------------------------------------------------------------------ transfers

    async def get(self, remotepaths: Any, localpath: Any = None, **kwargs: Any) -> None:
        """Download files: see :func:`sshcore_sftp._transfer.get`."""
        from . import _transfer

        await _transfer.get(self, remotepaths, localpath, **kwargs)

    async def put(self, localpaths: Any, remotepath: Any = None, **kwargs: Any) -> None:
        """Upload files: see :func:`sshcore_sftp._transfer.put`."""
        from . import _transfer

        await _transfer.put(self, localpaths, remotepath, **kwargs)

    async def mget(self, patterns: Any, localpath: Any = None, **kwargs: Any) -> None:
        """:meth:`get` of every remote path matching the glob pattern(s)."""
        from . import _transfer

        await _transfer.get(self, await self._expand(patterns), localpath, **kwargs)

    async def mput(self, patterns: Any, remotepath: Any = None, **kwargs: Any) -> None:
        """:meth:`put` of every local path matching the glob pattern(s)."""
        from . import _transfer

        await _transfer.put(self, _transfer.local_glob(patterns), remotepath, **kwargs)

    async def copy(self, srcpaths: Any, dstpath: Any = None, **kwargs: Any) -> None:
        """Copy remote files on the server: with copy-data, no data crosses the network;
        otherwise it streams through this client.  Same options as :meth:`get`."""
        from . import _transfer

        await _transfer.copy(self, srcpaths, dstpath, **kwargs)

    async def mcopy(self, patterns: Any, dstpath: Any = None, **kwargs: Any) -> None:
        from . import _transfer

        await _transfer.copy(self, await self._expand(patterns), dstpath, **kwargs)

    async def _expand(self, patterns: Any) -> list[str]:
        if isinstance(patterns, (str, bytes)) or hasattr(patterns, "__fspath__"):
            patterns = [patterns]
        out: list[str] = []
        for pat in patterns:
            found = await self.glob(pat)
            if not found:
                raise status_error(Status.NO_SUCH_FILE, "No match", path=pat)
            out += found
        return out

    # ------------------------------------------------------------------ life cycle

    @property
    def closed(self) -> bool:
        return self._closed or self._error is not None

    def exit(self) -> None:
        """Close the session's channel (outstanding requests fail)."""
        self._closed = True
        if self._chan is not None:
            self._chan.close()

    close = exit

    async def wait_closed(self) -> None:
        if self._chan is not None:
            await self._chan.wait_closed()

    async def aclose(self) -> None:
        self.exit()
        await self.wait_closed()

    async def __aenter__(self) -> SFTPClient:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()


def _guard(cls: type, client_of: Callable[[Any], SFTPClient]) -> None:
    """A malformed reply found while decoding it (after its future resolved) ends the
    session too, so that later requests fail at once instead of waiting for answers."""
    import functools
    import inspect

    for name, fn in list(vars(cls).items()):
        if name.startswith("_") or not inspect.iscoroutinefunction(fn):
            continue

        def wrap(fn: Any) -> Any:
            @functools.wraps(fn)
            async def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
                try:
                    return await fn(self, *args, **kwargs)
                except SFTPProtocolError as exc:
                    client_of(self)._protocol_failure(exc)
                    raise
            return guarded
        setattr(cls, name, wrap(fn))


def _has_magic(part: bytes) -> bool:
    return any(c in part for c in (b"*", b"?", b"["))


def _vfs(data: bytes) -> SFTPVFSAttrs:
    r = Reader(data)
    return SFTPVFSAttrs(*(r.uint64() for _ in range(11)))


# --------------------------------------------------------------------------- files


class SFTPFile:
    """An open remote file: ``read``, ``write``, ``seek``, ``tell``, ``stat``, ``close``.

    Reads and writes larger than one block are split into pipelined requests.
    """

    def __init__(self, client: SFTPClient, handle: bytes, path: bytes, *, append: bool = False,
                 block_size: int | None = None, max_requests: int | None = None) -> None:
        self._client = client
        self.handle = handle
        self.path = path
        self._pos = 0
        self._append = append
        self._block = block_size or client.block_size
        self._nreq = max_requests or client.max_requests
        self._closed = False

    @property
    def name(self) -> str:
        return _text(self.path)

    @property
    def closed(self) -> bool:
        return self._closed

    def _live(self) -> None:
        if self._closed:
            raise ValueError("I/O operation on a closed SFTP file")

    async def read(self, size: int = -1, offset: int | None = None) -> bytes:
        """Up to ``size`` bytes (all to EOF when negative) from the current position, or
        from ``offset`` (which leaves the position alone); ``b""`` at EOF."""
        from ._transfer import read_range

        self._live()
        pos = self._pos if offset is None else offset
        if 0 <= size <= self._block:
            data = await self._read_once(pos, size) if size else b""
        else:
            buf = bytearray()
            await read_range(self._client, self.handle, pos, None if size < 0 else pos + size,
                             self._block, self._nreq, _collect(buf, pos), self.path)
            data = bytes(buf)
        if offset is None:
            self._pos = pos + len(data)
        return data

    async def _read_once(self, pos: int, size: int) -> bytes:
        c = self._client
        r = await c._expect(FXP.READ, string(self.handle) + _READ_TAIL.pack(pos, size), FXP.DATA,
                            self.path, eof_ok=True)
        if r is None:
            return b""
        data = r.bytes()
        if len(data) > size:
            raise SFTPProtocolError(f"SSH_FXP_DATA of {len(data)} bytes for a {size}-byte READ")
        return data

    async def write(self, data: bytes | bytearray | memoryview, offset: int | None = None) -> int:
        """Write ``data`` at the current position (or ``offset``); returns its length."""
        from ._transfer import write_range

        self._live()
        mv = memoryview(data).cast("B")
        pos = self._pos if offset is None else offset
        if len(mv) <= self._block:
            await self._client._status(
                FXP.WRITE, string(self.handle) + u64(pos) + u32(len(mv)) + bytes(mv), self.path)
        else:
            await write_range(self._client, self.handle, pos, _from_buffer(mv, pos), self._block,
                              self._nreq, self.path)
        if offset is None:
            self._pos = pos + len(mv)
        return len(mv)

    def seek(self, offset: int, whence: int = 0) -> int:
        """Move the position; ``whence`` 2 (from the end) needs :meth:`seek_end`."""
        if whence == 0:
            self._pos = offset
        elif whence == 1:
            self._pos += offset
        else:
            raise ValueError("seek from the end needs the file size: use await f.seek_end()")
        if self._pos < 0:
            raise ValueError("negative seek position")
        return self._pos

    async def seek_end(self, offset: int = 0) -> int:
        self._pos = max(0, ((await self.stat()).size or 0) + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    async def stat(self) -> SFTPAttrs:
        self._live()
        r = await self._client._expect(FXP.FSTAT, string(self.handle), FXP.ATTRS, self.path)
        assert r is not None
        return r.attrs()

    async def setstat(self, attrs: SFTPAttrs) -> None:
        self._live()
        await self._client._status(FXP.FSETSTAT, string(self.handle) + attrs.encode(), self.path)

    async def truncate(self, size: int | None = None) -> None:
        await self.setstat(SFTPAttrs(size=self._pos if size is None else size))

    async def chmod(self, mode: int) -> None:
        await self.setstat(SFTPAttrs(permissions=mode & 0o7777))

    async def utime(self, times: tuple[float, float]) -> None:
        await self.setstat(SFTPAttrs(atime=int(times[0]), mtime=int(times[1])))

    async def fsync(self) -> None:
        """Flush the file to disk on the server (fsync@openssh.com)."""
        self._live()
        await self._client._extended_status("fsync@openssh.com", string(self.handle), self.path)

    async def statvfs(self) -> SFTPVFSAttrs:
        self._live()
        self._client._need("fstatvfs@openssh.com")
        return _vfs(await self._client._extended("fstatvfs@openssh.com", string(self.handle),
                                                 self.path))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._client._error is None:
            await self._client._close_handle(self.handle, self.path)

    async def __aenter__(self) -> SFTPFile:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    def __aiter__(self) -> Any:
        """``async for chunk in f``: the rest of the file, a block at a time."""
        return self._chunks()

    async def _chunks(self) -> Any:
        while chunk := await self.read(self._block):
            yield chunk


_guard(SFTPClient, lambda c: c)
_guard(SFTPFile, lambda f: f._client)


def _collect(buf: bytearray, start: int) -> Callable[[int, memoryview], None]:
    def sink(offset: int, data: memoryview) -> None:
        at = offset - start
        end = at + len(data)
        if len(buf) < end:
            buf.extend(bytes(end - len(buf)))
        buf[at:end] = data
    return sink


def _from_buffer(mv: memoryview, start: int) -> Callable[[int, int], memoryview]:
    def source(offset: int, n: int) -> memoryview:
        at = offset - start
        return mv[at:at + n]
    return source


# --------------------------------------------------------------------------- opening


async def open_sftp_client(conn: Any, **options: Any) -> SFTPClient:
    """Start the ``sftp`` subsystem on ``conn`` and negotiate SFTP version 3.

    :param block_size: bytes per READ/WRITE in transfers (default from the server's
        limits@openssh.com, else 32 KiB).
    :param max_requests: outstanding requests per transfer (default: 4 MiB worth of
        blocks, from 16 to 128).
    :param env: environment variables to request for the session.
    :param window: the channel's receive window (default 8 MiB: a whole transfer's
        outstanding reads fit in it).
    :param max_pktsize: the largest channel data packet accepted (default 128 KiB:
        fewer, larger packets when the server sends them).
    :raises SFTPError: the server refused the subsystem or spoke no SFTP v3.
    """
    from sshcore.errors import ChannelOpenError

    unknown = set(options) - {"block_size", "max_requests", "env", "window", "max_pktsize"}
    if unknown:
        raise TypeError(f"unknown SFTP client options: {', '.join(sorted(unknown))}")
    client = SFTPClient(block_size=options.get("block_size"),
                        max_requests=options.get("max_requests"))
    session = _Session(client)
    try:
        chan, _ = await conn.create_session(
            lambda: session, subsystem="sftp", encoding=None, env=options.get("env"),
            window=options.get("window", DEFAULT_WINDOW),
            max_pktsize=options.get("max_pktsize", DEFAULT_MAX_PKTSIZE))
    except ChannelOpenError as exc:
        raise SFTPOpUnsupportedError(Status.OP_UNSUPPORTED,
                                     f"the server refused the sftp subsystem: {exc}") from exc
    client._chan = chan
    try:
        await client._start()
    except BaseException:
        chan.close()
        raise
    return client


def iter_paths(paths: Any) -> Iterable[Any]:
    """One path, or each of several."""
    if isinstance(paths, (str, bytes)) or hasattr(paths, "__fspath__"):
        return [paths]
    return list(paths)

