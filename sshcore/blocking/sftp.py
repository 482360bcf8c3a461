"""Blocking SFTP (version 3) over a :class:`~sshcore.blocking.SSHClientConnection`.

The wire format, attributes and errors are the SFTP plugin's (``sshcore_sftp``): its
I/O-free ``_protocol`` module encodes and parses packets, and its error classes
(:class:`~sshcore_sftp.SFTPNoSuchFileError` is also a :class:`FileNotFoundError`, ...)
are raised here too.  Requests are pipelined: replies are matched by id, so several
threads may share one :class:`SFTPClient`; transfers keep up to ``max_requests``
READ/WRITE requests in flight.  Every call takes ``timeout=`` (default: the
connection's ``timeout``) and raises :class:`~sshcore.blocking.SSHTimeoutError`.
"""

from __future__ import annotations

import os
import posixpath
import stat as stat_mod
import struct
from collections import deque
from collections.abc import Iterator
from typing import Any

from ..errors import SSHError
from ._channel import _UNSET

try:
    from sshcore_sftp._client import (SFTPFailureError, SFTPName, SFTPNoSuchFileError, _path,
                                      _text, status_error)
    from sshcore_sftp._protocol import (FXF, FXP, SFTP_VERSION, PacketParser, Reader, SFTPAttrs,
                                        SFTPError, SFTPProtocolError, Status, encode_packet,
                                        string, u32, u64)
except ImportError as exc:  # pragma: no cover - the plugin is a separate distribution
    raise SSHError("SFTP needs the sshcore-sftp plugin (pip install sshcore-sftp)") from exc

__all__ = ["SFTPClient", "SFTPFile", "SFTPAttrs", "SFTPError", "SFTPName"]

_REQ = struct.Struct(">IBI")
_U32 = struct.Struct(">I")
BLOCK = 32 * 1024
MAX_REQUESTS = 64


class SFTPClient:
    """An SFTP session on its own channel; a context manager (``close()`` ends it)."""

    def __init__(self, conn: Any, proc: Any) -> None:
        self._conn = conn
        self._proc = proc
        self._drv = conn._drv
        self._state = proc._state
        self._parser = PacketParser()
        self._replies: dict[Any, tuple[int, Any]] = {}  # payload: bytes or a view
        self._next_id = 0
        self.extensions: dict[str, bytes] = {}
        self.block_size = BLOCK
        self.max_requests = MAX_REQUESTS

    @classmethod
    def start(cls, conn: Any, timeout: float | None) -> SFTPClient:
        proc = conn._session(None, subsystem="sftp", timeout=timeout)
        client = cls(conn, proc)
        try:
            with client._drv.lock:
                proc._write(encode_packet(FXP.INIT, None, u32(SFTP_VERSION)), timeout)
                ptype, payload = client._wait("version", timeout)
            r = Reader(payload)
            version = r.uint32()
            if version != SFTP_VERSION:
                raise SFTPProtocolError(f"the server speaks SFTP version {version}, not 3")
            while r.remaining:
                name = r.text()
                client.extensions[name] = r.bytes()
            if "limits@openssh.com" in client.extensions:
                r = Reader(client._extended("limits@openssh.com", b"", None, timeout))
                max_packet, max_read, max_write = r.uint64(), r.uint64(), r.uint64()
                sizes = [s for s in (max_read, max_write) if s]
                if max_packet:
                    sizes.append(max_packet - 1024)
                client.block_size = max(1024, min([255 * 1024] + sizes))
                client.max_requests = max(16, min(MAX_REQUESTS, (4 << 20) // client.block_size))
        except BaseException:
            proc.close()
            raise
        return client

    # -------------------------------------------------------------- packets

    def _t(self, timeout: Any) -> float | None:
        return self._conn.timeout if timeout is _UNSET else timeout

    def _pump(self) -> None:
        """Parse what the channel received (lock held) into replies by request id."""
        buf = self._state.stdout
        if not buf:
            return
        # Each received piece straight to the parser (no join), and each reply kept as
        # the parser's view (it never reuses a buffer it handed views of): a READ's data
        # is copied once, when the caller takes it out of the reply.
        for data in self._proc._take_parts(buf):
            for ptype, payload in self._parser.feed(data):
                if ptype == FXP.VERSION:
                    self._replies["version"] = (ptype, bytes(payload))
                    continue
                if len(payload) < 4:
                    raise SFTPProtocolError("SFTP reply without a request id")
                self._replies[_U32.unpack_from(payload, 0)[0]] = (ptype, payload)

    def _wait(self, rid: Any, timeout: Any) -> tuple[int, bytes]:
        st = self._state

        def ready() -> bool:
            self._pump()
            return rid in self._replies or st.eof or st.closed
        self._drv.wait(ready, self._t(timeout), "SFTP request")
        with self._drv.lock:
            if rid not in self._replies:
                raise status_error(Status.CONNECTION_LOST, "SFTP session closed")
            return self._replies.pop(rid)

    def _send(self, ptype: int, body: bytes, timeout: Any = _UNSET) -> int:
        with self._drv.lock:
            rid = self._next_id
            self._next_id = (rid + 1) & 0xFFFFFFFF
            self._proc._write(_REQ.pack(len(body) + 5, ptype, rid) + body, self._t(timeout))
            return rid

    @staticmethod
    def _check_status(payload: bytes, path: Any = None, eof_ok: bool = False) -> bool:
        r = Reader(payload, 4)
        code = r.uint32()
        if code == Status.OK:
            return True
        if code == Status.EOF and eof_ok:
            return False
        message = r.text() if r.remaining >= 4 else ""
        lang = r.text() if r.remaining >= 4 else ""
        raise status_error(code, message, lang, path)

    def _reply(self, rid: int, want: int, path: Any, timeout: Any, eof_ok: bool = False) -> Reader | None:
        t, payload = self._wait(rid, timeout)
        if t == FXP.STATUS:
            ok = self._check_status(payload, path, eof_ok)
            if want == FXP.STATUS or not ok:
                return Reader(payload, 4) if ok else None
            raise SFTPProtocolError(f"SSH_FXP_STATUS OK where a reply of type {want} was due")
        if t == want:
            return Reader(payload, 4)
        raise SFTPProtocolError(f"unexpected SFTP reply type {t} (wanted {want})")

    def _expect(self, ptype: int, body: bytes, want: int, path: Any = None,
                timeout: Any = _UNSET, eof_ok: bool = False) -> Reader | None:
        t = self._t(timeout)
        return self._reply(self._send(ptype, body, t), want, path, t, eof_ok)

    def _extended(self, name: str, body: bytes, path: Any, timeout: Any) -> bytes:
        r = self._expect(FXP.EXTENDED, string(name) + body, FXP.EXTENDED_REPLY, path, timeout)
        assert r is not None
        return bytes(r.rest())

    # -------------------------------------------------------------- file system

    def stat(self, path: Any, *, follow_symlinks: bool = True, timeout: Any = _UNSET) -> SFTPAttrs:
        p = _path(path)
        r = self._expect(FXP.STAT if follow_symlinks else FXP.LSTAT, string(p), FXP.ATTRS, p, timeout)
        assert r is not None
        return r.attrs()

    def lstat(self, path: Any, timeout: Any = _UNSET) -> SFTPAttrs:
        return self.stat(path, follow_symlinks=False, timeout=timeout)

    def exists(self, path: Any, timeout: Any = _UNSET) -> bool:
        try:
            self.stat(path, timeout=timeout)
        except SFTPNoSuchFileError:
            return False
        return True

    def isdir(self, path: Any, timeout: Any = _UNSET) -> bool:
        try:
            return self.stat(path, timeout=timeout).is_dir()
        except SFTPNoSuchFileError:
            return False

    def chmod(self, path: Any, mode: int, timeout: Any = _UNSET) -> None:
        p = _path(path)
        self._expect(FXP.SETSTAT, string(p) + SFTPAttrs(permissions=mode & 0o7777).encode(),
                     FXP.STATUS, p, timeout)

    def listdir_attr(self, path: Any = ".", timeout: Any = _UNSET) -> list[SFTPName]:
        """The entries of ``path`` without ``.`` and ``..``, sorted by name."""
        p = _path(path)
        r = self._expect(FXP.OPENDIR, string(p), FXP.HANDLE, p, timeout)
        assert r is not None
        handle = r.bytes()
        out: list[SFTPName] = []
        try:
            while True:
                r = self._expect(FXP.READDIR, string(handle), FXP.NAME, p, timeout, eof_ok=True)
                if r is None:
                    break
                for _ in range(r.uint32()):
                    out.append(SFTPName(r.text(), r.text(), r.attrs()))
        finally:
            self._expect(FXP.CLOSE, string(handle), FXP.STATUS, p, timeout)
        return sorted((n for n in out if n.filename not in (".", "..")), key=lambda n: n.filename)

    def listdir(self, path: Any = ".", timeout: Any = _UNSET) -> list[str]:
        """The names in directory ``path`` (without ``.`` and ``..``), sorted."""
        return [n.filename for n in self.listdir_attr(path, timeout)]

    def mkdir(self, path: Any, mode: int | None = None, timeout: Any = _UNSET) -> None:
        p = _path(path)
        attrs = SFTPAttrs(permissions=mode & 0o7777) if mode is not None else SFTPAttrs()
        self._expect(FXP.MKDIR, string(p) + attrs.encode(), FXP.STATUS, p, timeout)

    def makedirs(self, path: Any, mode: int | None = None, exist_ok: bool = False,
                 timeout: Any = _UNSET) -> None:
        """Create ``path`` and any missing parents (like :func:`os.makedirs`)."""
        p = _path(path).rstrip(b"/") or b"/"
        if self.exists(p, timeout):
            if exist_ok and self.isdir(p, timeout):
                return
            raise status_error(Status.FAILURE, "File exists", path=p)
        parent = posixpath.dirname(p)
        if parent and parent != p and not self.isdir(parent, timeout):
            self.makedirs(parent, mode, exist_ok=True, timeout=timeout)
        try:
            self.mkdir(p, mode, timeout)
        except SFTPFailureError:
            if not (exist_ok and self.isdir(p, timeout)):
                raise

    def rmdir(self, path: Any, timeout: Any = _UNSET) -> None:
        p = _path(path)
        self._expect(FXP.RMDIR, string(p), FXP.STATUS, p, timeout)

    def remove(self, path: Any, timeout: Any = _UNSET) -> None:
        p = _path(path)
        self._expect(FXP.REMOVE, string(p), FXP.STATUS, p, timeout)

    unlink = remove

    def rmtree(self, path: Any, timeout: Any = _UNSET) -> None:
        """Remove ``path`` and everything under it (links are removed, never followed)."""
        p = _path(path)
        if self.lstat(p, timeout).is_link():
            raise status_error(Status.FAILURE, "Cannot call rmtree on a symbolic link", path=p)
        for entry in self.listdir_attr(p, timeout):
            child = posixpath.join(p, _path(entry.filename))
            if entry.attrs.is_dir() and not entry.attrs.is_link():
                self.rmtree(child, timeout)
            else:
                self.remove(child, timeout)
        self.rmdir(p, timeout)

    def rename(self, old: Any, new: Any, *, overwrite: bool = True, timeout: Any = _UNSET) -> None:
        """Rename; with ``overwrite`` and posix-rename@openssh.com, replacing ``new``."""
        o, n = _path(old), _path(new)
        if overwrite and "posix-rename@openssh.com" in self.extensions:
            self._expect(FXP.EXTENDED, string("posix-rename@openssh.com") + string(o) + string(n),
                         FXP.STATUS, o, timeout)
        else:
            self._expect(FXP.RENAME, string(o) + string(n), FXP.STATUS, o, timeout)

    def normalize(self, path: Any = ".", timeout: Any = _UNSET) -> str:
        p = _path(path)
        r = self._expect(FXP.REALPATH, string(p), FXP.NAME, p, timeout)
        assert r is not None
        if r.uint32() < 1:
            raise SFTPProtocolError("SSH_FXP_NAME without a name for REALPATH")
        return r.text()

    realpath = normalize

    # -------------------------------------------------------------- files

    def open(self, path: Any, mode: str = "r", timeout: Any = _UNSET) -> SFTPFile:
        """A remote file object (``r``, ``w``, ``a``, ``x``, each with ``+``; data is bytes)."""
        m = mode.replace("b", "")
        flags = {"r": FXF.READ, "w": FXF.WRITE | FXF.CREAT | FXF.TRUNC,
                 "a": FXF.WRITE | FXF.CREAT | FXF.APPEND, "x": FXF.WRITE | FXF.CREAT | FXF.EXCL}
        if not m or m[0] not in flags or set(m[1:]) - {"+"}:
            raise ValueError(f"invalid mode {mode!r}")
        pflags = flags[m[0]] | (FXF.READ | FXF.WRITE if "+" in m else 0)
        p = _path(path)
        r = self._expect(FXP.OPEN, string(p) + u32(pflags) + SFTPAttrs().encode(), FXP.HANDLE,
                         p, timeout)
        assert r is not None
        f = SFTPFile(self, r.bytes(), p, self._t(timeout))
        if m[0] == "a":
            f._pos = f.stat().size or 0
        return f

    file = open

    def get(self, remotepath: Any, localpath: Any, timeout: Any = _UNSET) -> int:
        """Download a file; returns its size.  ``timeout`` bounds each request."""
        with self.open(remotepath, "rb", timeout) as f, open(localpath, "wb") as out:
            size = 0
            for chunk in f._chunks(0, None):
                out.write(chunk)
                size += len(chunk)
            return size

    def put(self, localpath: Any, remotepath: Any, timeout: Any = _UNSET) -> SFTPAttrs:
        """Upload a file (its permission bits too); returns the remote attributes."""
        with open(localpath, "rb") as src, self.open(remotepath, "wb", timeout) as f:
            f._write_stream(iter(lambda: src.read(self.block_size), b""), 0)
            f.chmod(stat_mod.S_IMODE(os.fstat(src.fileno()).st_mode))
            return f.stat()

    def close(self) -> None:
        self._proc.close()

    def __enter__(self) -> SFTPClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class SFTPFile:
    """A remote file: ``read``, ``readline``, iteration, ``write``, ``seek``, ``tell``,
    ``stat``, ``close``; a context manager."""

    def __init__(self, client: SFTPClient, handle: bytes, path: bytes, timeout: float | None) -> None:
        self._c = client
        self.handle = handle
        self.path = path
        self.timeout = timeout
        self._pos = 0
        self._rbuf = b""
        self.closed = False

    @property
    def name(self) -> str:
        return _text(self.path)

    def _chunks(self, start: int, end: int | None) -> Iterator[bytes]:
        """The file's bytes from ``start`` to ``end`` (None: EOF), READs pipelined."""
        c, block = self._c, self._c.block_size
        inflight: deque[tuple[int, int, int]] = deque()
        nxt = start
        eof = False
        while True:
            while not eof and len(inflight) < c.max_requests and (end is None or nxt < end):
                n = block if end is None else min(block, end - nxt)
                rid = c._send(FXP.READ, string(self.handle) + u64(nxt) + u32(n), self.timeout)
                inflight.append((rid, nxt, n))
                nxt += n
            if not inflight:
                return
            rid, off, n = inflight.popleft()
            r = c._reply(rid, FXP.DATA, self.path, self.timeout, eof_ok=True)
            if r is None:
                eof = True
                continue
            data = r.bytes()
            if eof:
                continue  # a reply past the EOF we already saw
            yield data
            if len(data) < n:  # a short read: ask again for the rest, in order
                for rid2, _, _ in inflight:
                    c._reply(rid2, FXP.DATA, self.path, self.timeout, eof_ok=True)
                inflight.clear()
                nxt = off + len(data)

    def read(self, size: int = -1) -> bytes:
        out = self._rbuf[:size] if size >= 0 else self._rbuf
        self._rbuf = self._rbuf[len(out):]
        want = None if size < 0 else size - len(out)
        if want != 0:
            parts = [out]
            got = len(out)
            for chunk in self._chunks(self._pos + len(out), None if want is None else self._pos + size):
                parts.append(chunk)
                got += len(chunk)
            out = b"".join(parts)
        self._pos += len(out)
        return out

    def readline(self) -> bytes:
        line = b""
        while True:
            end = self._rbuf.find(b"\n")
            if end >= 0:
                line += self._rbuf[:end + 1]
                self._rbuf = self._rbuf[end + 1:]
                self._pos += end + 1
                return line
            chunk = next(self._chunks(self._pos + len(self._rbuf), self._pos + len(self._rbuf) + self._c.block_size), b"")
            if not chunk:
                line += self._rbuf
                self._pos += len(self._rbuf)
                self._rbuf = b""
                return line
            self._rbuf += chunk

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def _write_stream(self, chunks: Any, pos: int) -> int:
        c = self._c
        inflight: deque[int] = deque()
        for chunk in chunks:
            while len(inflight) >= c.max_requests:
                c._reply(inflight.popleft(), FXP.STATUS, self.path, self.timeout)
            inflight.append(c._send(FXP.WRITE, string(self.handle) + u64(pos) + u32(len(chunk))
                                    + bytes(chunk), self.timeout))
            pos += len(chunk)
        while inflight:
            c._reply(inflight.popleft(), FXP.STATUS, self.path, self.timeout)
        return pos

    def write(self, data: bytes) -> int:
        mv = memoryview(data).cast("B")
        block = self._c.block_size
        self._rbuf = b""
        self._pos = self._write_stream((mv[i:i + block] for i in range(0, len(mv), block)), self._pos)
        return len(mv)

    def seek(self, offset: int, whence: int = 0) -> int:
        self._pos = self.tell()
        self._rbuf = b""
        if whence == 1:
            offset += self._pos
        elif whence == 2:
            offset += self.stat().size or 0
        if offset < 0:
            raise ValueError("negative seek position")
        self._pos = offset
        return offset

    def tell(self) -> int:
        return self._pos

    def stat(self) -> SFTPAttrs:
        r = self._c._expect(FXP.FSTAT, string(self.handle), FXP.ATTRS, self.path, self.timeout)
        assert r is not None
        return r.attrs()

    def chmod(self, mode: int) -> None:
        self._c._expect(FXP.FSETSTAT, string(self.handle) + SFTPAttrs(permissions=mode & 0o7777).encode(),
                        FXP.STATUS, self.path, self.timeout)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._c._expect(FXP.CLOSE, string(self.handle), FXP.STATUS, self.path, self.timeout)

    def __enter__(self) -> SFTPFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
