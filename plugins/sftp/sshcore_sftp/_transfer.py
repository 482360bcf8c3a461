"""Pipelined SFTP transfers: get, put and copy of files and trees.

A transfer keeps up to ``max_requests`` READ (or WRITE) requests of ``block_size`` bytes
outstanding; each reply is handled in a plain callback (no future per request) that
writes received DATA straight to its destination (``os.pwrite`` for a local file) and
sends the next request, so one large file is not bound by the round-trip time.

Trees are walked the same way whichever side is local: :class:`_LocalFS` and
:class:`_RemoteFS` answer the few questions the walk asks.
"""

from __future__ import annotations

import asyncio
import errno
import glob as _glob
import os
import posixpath
import stat as _stat
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._client import (SFTPClient, SFTPNoSuchFileError, _path, _text,
                      iter_paths, status_error)
from ._protocol import FXF, FXP, Reader, SFTPAttrs, SFTPProtocolError, Status, string

__all__ = ["get", "put", "copy", "copy_between", "read_range", "write_range", "local_glob"]

_U32 = struct.Struct(">I")
_READ_TAIL = struct.Struct(">QI")
_WRITE_TAIL = struct.Struct(">QI")
Progress = Callable[[Any, Any, int, int], None]
_STREAM_CHUNK_BLOCKS = 32  # remote -> remote through the client: blocks per round


# --------------------------------------------------------------------------- pipelines


class _Pipeline:
    """What READ and WRITE pipelines share: ``nreq`` requests outstanding on one handle,
    a future for the byte count, the first error."""

    def __init__(self, client: SFTPClient, handle: bytes, start: int, block: int, nreq: int,
                 path: Any, progress: Callable[[int], None] | None) -> None:
        self.client = client
        self.head = string(handle)
        self.next = start
        self.block = block
        self.nreq = max(1, nreq)
        self.path = path
        self.progress = progress
        self.out = 0
        self.err: BaseException | None = None
        self.done = 0
        self.fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def run(self) -> asyncio.Future[int]:
        self._issue()
        self._maybe_finish()
        return self.fut

    def _issue(self) -> None:  # pragma: no cover - each pipeline has its own
        raise NotImplementedError

    def _maybe_finish(self) -> None:  # pragma: no cover - each pipeline has its own
        raise NotImplementedError


class _Reads(_Pipeline):
    """READs of ``[start, end)`` (``end`` None: to EOF) with ``nreq`` outstanding."""

    def __init__(self, client: SFTPClient, handle: bytes, start: int, end: int | None,
                 block: int, nreq: int, sink: Callable[[int, memoryview], Any], path: Any,
                 soft_end: int | None, progress: Callable[[int], None] | None) -> None:
        super().__init__(client, handle, start, block, nreq, path, progress)
        self.end = end
        self.soft_end = soft_end
        self.sink = sink
        self.holes: deque[tuple[int, int]] = deque()
        self.eof: int | None = None

    def _issue(self) -> None:
        send, head, reply = self.client._send, self.head, self._reply
        while self.out < self.nreq and self.err is None:
            if self.holes:
                off, n = self.holes.popleft()
                if self.eof is not None and off >= self.eof:
                    continue
            else:
                off = self.next
                if self.end is not None:
                    if off >= self.end:
                        break
                    n = min(self.block, self.end - off)
                else:
                    if self.eof is not None and off >= self.eof:
                        break
                    # Past the size the file had: one read at a time, to find EOF.
                    if self.soft_end is not None and off >= self.soft_end and self.out:
                        break
                    n = self.block
                self.next = off + n
            try:
                send(FXP.READ, (head, _READ_TAIL.pack(off, n)), reply, (off, n))
            except Exception as exc:  # noqa: BLE001 - the session is gone
                self.err = exc
                break
            self.out += 1

    def _reply(self, ptype: int, payload: memoryview, ctx: tuple[int, int]) -> None:
        off, n = ctx
        self.out -= 1
        try:
            if ptype == FXP.DATA:
                if len(payload) < 8:
                    raise SFTPProtocolError("truncated SSH_FXP_DATA")
                got = _U32.unpack_from(payload, 4)[0]
                if got > n or len(payload) != 8 + got:
                    raise SFTPProtocolError(f"SSH_FXP_DATA of {got} bytes for a {n}-byte READ")
                if got == 0:
                    self._at_eof(off)
                else:
                    self.sink(off, payload[8:])
                    self.done += got
                    if got < n:
                        self.holes.append((off + got, n - got))
                    if self.progress is not None:
                        self.progress(self.done)
            elif ptype == FXP.STATUS:
                r = Reader(payload, 4)
                code = r.uint32()
                if code == Status.EOF:
                    self._at_eof(off)
                else:
                    msg = r.text() if r.remaining >= 4 else ""
                    raise status_error(code, msg, "", self.path)
            elif ptype < 0:
                raise self.client._error or SFTPProtocolError("SFTP session closed")
            else:
                raise SFTPProtocolError(f"unexpected reply type {ptype} to SSH_FXP_READ")
        except BaseException as exc:  # noqa: BLE001 - reported through the future
            if self.err is None:
                self.err = exc
        if self.err is None:
            self._issue()
        self._maybe_finish()

    def _at_eof(self, off: int) -> None:
        self.eof = off if self.eof is None else min(self.eof, off)

    def _maybe_finish(self) -> None:
        if self.out == 0 and not self.fut.done():
            if self.err is not None:
                self.fut.set_exception(self.err)
            else:
                self.fut.set_result(self.done)


async def read_range(client: SFTPClient, handle: bytes, start: int, end: int | None,
                     block: int, nreq: int, sink: Callable[[int, memoryview], Any], path: Any,
                     soft_end: int | None = None,
                     progress: Callable[[int], None] | None = None) -> int:
    """Read ``handle`` from ``start`` to ``end`` (None: EOF), handing each piece to
    ``sink(offset, data)`` as it arrives (out of order); returns the bytes read."""
    return await _Reads(client, handle, start, end, block, nreq, sink, path, soft_end,
                        progress).run()


class _Writes(_Pipeline):
    """WRITEs of what ``source(offset, n)`` returns until it returns less than ``n``."""

    def __init__(self, client: SFTPClient, handle: bytes, start: int,
                 source: Callable[[int, int], Any], block: int, nreq: int, path: Any,
                 progress: Callable[[int], None] | None) -> None:
        super().__init__(client, handle, start, block, nreq, path, progress)
        self.source = source
        self.src_done = False

    def _issue(self) -> None:
        send, head, reply, block = self.client._send, self.head, self._reply, self.block
        while self.out < self.nreq and not self.src_done and self.err is None:
            try:
                data = self.source(self.next, block)
                n = len(data)
                if n < block:
                    self.src_done = True
                if not n:
                    break
                send(FXP.WRITE, (head, _WRITE_TAIL.pack(self.next, n), data), reply, n)
            except BaseException as exc:  # noqa: BLE001 - reported through the future
                self.err = exc
                break
            self.next += n
            self.out += 1

    def _reply(self, ptype: int, payload: memoryview, n: int) -> None:
        self.out -= 1
        try:
            if ptype == FXP.STATUS:
                r = Reader(payload, 4)
                code = r.uint32()
                if code != Status.OK:
                    msg = r.text() if r.remaining >= 4 else ""
                    raise status_error(code, msg, "", self.path)
                self.done += n
                if self.progress is not None:
                    self.progress(self.done)
            elif ptype < 0:
                raise self.client._error or SFTPProtocolError("SFTP session closed")
            else:
                raise SFTPProtocolError(f"unexpected reply type {ptype} to SSH_FXP_WRITE")
        except BaseException as exc:  # noqa: BLE001
            if self.err is None:
                self.err = exc
        if self.err is None:
            self._issue()
        self._maybe_finish()

    def _maybe_finish(self) -> None:
        if self.out == 0 and not self.fut.done():
            if self.err is not None:
                self.fut.set_exception(self.err)
            elif self.src_done:
                self.fut.set_result(self.done)


async def write_range(client: SFTPClient, handle: bytes, start: int,
                      source: Callable[[int, int], Any], block: int, nreq: int, path: Any,
                      progress: Callable[[int], None] | None = None) -> int:
    """Write what ``source(offset, n)`` gives from ``start`` on; returns the bytes written."""
    return await _Writes(client, handle, start, source, block, nreq, path, progress).run()


# --------------------------------------------------------------------------- file systems


@dataclass(slots=True)
class _Info:
    is_dir: bool
    is_file: bool
    size: int
    mode: int
    atime: int
    mtime: int


class _LocalFS:
    local = True

    async def info(self, path: str, follow: bool = True) -> _Info | None:
        try:
            st = os.stat(path) if follow else os.lstat(path)
        except FileNotFoundError:
            return None
        return _Info(_stat.S_ISDIR(st.st_mode), _stat.S_ISREG(st.st_mode), st.st_size,
                     _stat.S_IMODE(st.st_mode), int(st.st_atime), int(st.st_mtime))

    async def listdir(self, path: str) -> list[str]:
        return sorted(os.listdir(path))

    async def mkdir(self, path: str, mode: int | None) -> None:
        os.mkdir(path, 0o777 if mode is None else mode | 0o700)

    async def set_attrs(self, path: str, info: _Info) -> None:
        os.utime(path, (info.atime, info.mtime))
        os.chmod(path, info.mode)

    def join(self, a: str, b: str) -> str:
        return os.path.join(a, b)

    def basename(self, path: str) -> str:
        return os.path.basename(path.rstrip("/")) or path

    def norm(self, path: Any) -> str:
        return os.fsdecode(path)


class _RemoteFS:
    local = False

    def __init__(self, client: SFTPClient) -> None:
        self.client = client

    async def info(self, path: bytes, follow: bool = True) -> _Info | None:
        try:
            a = await self.client.stat(path, follow_symlinks=follow)
        except SFTPNoSuchFileError:
            return None
        return _attrs_info(a)

    async def listdir(self, path: bytes) -> list[bytes]:
        return [_path(n) for n in await self.client.listdir(path)]

    async def mkdir(self, path: bytes, mode: int | None) -> None:
        await self.client.mkdir(path, None if mode is None else mode | 0o700)

    async def set_attrs(self, path: bytes, info: _Info) -> None:
        await self.client.setstat(path, SFTPAttrs(permissions=info.mode, atime=info.atime,
                                                  mtime=info.mtime))

    def join(self, a: bytes, b: bytes) -> bytes:
        return posixpath.join(a, b)

    def basename(self, path: bytes) -> bytes:
        return posixpath.basename(path.rstrip(b"/")) or path

    def norm(self, path: Any) -> bytes:
        return self.client._abs(path)


def _attrs_info(a: SFTPAttrs) -> _Info:
    mode = a.permissions or 0
    return _Info(_stat.S_ISDIR(mode), _stat.S_ISREG(mode) or not mode, a.size or 0,
                 _stat.S_IMODE(mode), a.atime or 0, a.mtime or 0)


@dataclass(slots=True)
class _Options:
    recurse: bool
    preserve: bool
    progress: Progress | None
    block_size: int | None
    max_requests: int | None
    follow_symlinks: bool


def _name(fs: Any, path: Any) -> str:
    return path if isinstance(path, str) else _text(path)


async def _copy_tree(src_fs: Any, srcs: list[Any], dst_fs: Any, dst: Any, opts: _Options) -> None:
    """cp/scp semantics: into ``dst`` when it is a directory, else onto ``dst`` (one
    source only)."""
    dst = dst_fs.norm(dst)
    dinfo = await dst_fs.info(dst)
    into = dinfo is not None and dinfo.is_dir
    if len(srcs) > 1 and not into:
        raise status_error(Status.FAILURE, "Not a directory (several sources)", path=_name(dst_fs, dst))
    for src in srcs:
        src = src_fs.norm(src)
        info = await src_fs.info(src, follow=True)
        if info is None:
            raise status_error(Status.NO_SUCH_FILE, "No such file or directory",
                               path=_name(src_fs, src))
        target = dst_fs.join(dst, _convert(src_fs.basename(src), dst_fs)) if into else dst
        await _copy_one(src_fs, src, info, dst_fs, target, opts)


def _convert(name: Any, fs: Any) -> Any:
    if fs.local:
        return name if isinstance(name, str) else os.fsdecode(name)
    return name if isinstance(name, bytes) else os.fsencode(name)


async def _copy_one(src_fs: Any, src: Any, info: _Info, dst_fs: Any, dst: Any,
                    opts: _Options) -> None:
    if info.is_dir:
        if not opts.recurse:
            raise status_error(Status.FAILURE, "Is a directory (use recursion)",
                               path=_name(src_fs, src))
        dinfo = await dst_fs.info(dst)
        if dinfo is None:
            await dst_fs.mkdir(dst, info.mode if opts.preserve else None)
        elif not dinfo.is_dir:
            raise status_error(Status.FAILURE, "Not a directory", path=_name(dst_fs, dst))
        for name in await src_fs.listdir(src):
            child = src_fs.join(src, name)
            cinfo = await src_fs.info(child, follow=opts.follow_symlinks)
            if cinfo is None:
                continue  # a dangling link, or gone meanwhile
            if not (cinfo.is_dir or cinfo.is_file):
                continue  # sockets, devices, links not followed: as scp, skipped
            await _copy_one(src_fs, child, cinfo, dst_fs, dst_fs.join(dst, _convert(name, dst_fs)),
                            opts)
        if opts.preserve:
            await dst_fs.set_attrs(dst, info)
        return
    await _copy_file(src_fs, src, info, dst_fs, dst, opts)


def _meter(opts: _Options, src: Any, dst: Any, total: int) -> Callable[[int], None] | None:
    cb = opts.progress
    if cb is None:
        return None
    s, d = _name(None, src), _name(None, dst)
    cb(s, d, 0, total)
    return lambda done: cb(s, d, done, total)


async def _copy_file(src_fs: Any, src: Any, info: _Info, dst_fs: Any, dst: Any,
                     opts: _Options) -> None:
    meter = _meter(opts, src, dst, info.size)
    if not src_fs.local and dst_fs.local:
        await _download(src_fs.client, src, dst, info, opts, meter)
    elif src_fs.local and not dst_fs.local:
        await _upload(src, dst_fs.client, dst, info, opts, meter)
    elif not src_fs.local and not dst_fs.local:
        await _remote_copy(src_fs.client, src, dst_fs.client, dst, info, opts, meter)
    else:
        raise ValueError("a local-to-local copy is not an SFTP transfer")


def _sizes(client: SFTPClient, opts: _Options) -> tuple[int, int]:
    return opts.block_size or client.block_size, opts.max_requests or client.max_requests


async def _download(client: SFTPClient, src: bytes, dst: str, info: _Info, opts: _Options,
                    meter: Callable[[int], None] | None) -> None:
    block, nreq = _sizes(client, opts)
    handle = await client._open_handle(src, FXF.READ, SFTPAttrs())
    try:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     info.mode if opts.preserve else 0o666)
        try:
            pwrite = os.pwrite

            def sink(offset: int, data: memoryview) -> None:
                while data:
                    n = pwrite(fd, data, offset)
                    data, offset = data[n:], offset + n

            await read_range(client, handle, 0, None, block, nreq, sink, src,
                             soft_end=info.size, progress=meter)
        finally:
            os.close(fd)
    finally:
        if client._error is None:
            await client._close_handle(handle, src)
    if opts.preserve:
        os.utime(dst, (info.atime, info.mtime))
        os.chmod(dst, info.mode)


async def _upload(src: str, client: SFTPClient, dst: bytes, info: _Info, opts: _Options,
                  meter: Callable[[int], None] | None) -> None:
    block, nreq = _sizes(client, opts)
    fd = os.open(src, os.O_RDONLY)
    try:
        attrs = SFTPAttrs(permissions=info.mode) if opts.preserve else SFTPAttrs()
        handle = await client._open_handle(dst, FXF.WRITE | FXF.CREAT | FXF.TRUNC, attrs)
        try:
            pread = os.pread
            await write_range(client, handle, 0, lambda off, n: pread(fd, n, off), block, nreq,
                              dst, progress=meter)
            if opts.preserve:
                await client._status(FXP.FSETSTAT, string(handle) + SFTPAttrs(
                    permissions=info.mode, atime=info.atime, mtime=info.mtime).encode(), dst)
        finally:
            if client._error is None:
                await client._close_handle(handle, dst)
    finally:
        os.close(fd)


async def _remote_copy(sc: SFTPClient, src: bytes, dc: SFTPClient, dst: bytes, info: _Info,
                       opts: _Options, meter: Callable[[int], None] | None) -> None:
    rh = await sc._open_handle(src, FXF.READ, SFTPAttrs())
    try:
        attrs = SFTPAttrs(permissions=info.mode) if opts.preserve else SFTPAttrs()
        wh = await dc._open_handle(dst, FXF.WRITE | FXF.CREAT | FXF.TRUNC, attrs)
        try:
            if sc is dc and sc.supports("copy-data"):
                # Server-side: read-handle, offset, length (0: to EOF), write-handle, offset.
                await sc._extended_status("copy-data", string(rh) + struct.pack(">QQ", 0, 0)
                                          + string(wh) + struct.pack(">Q", 0), src)
                if meter is not None:
                    meter(info.size)
            else:
                await _stream(sc, rh, src, dc, wh, dst, opts, meter)
            if opts.preserve:
                await dc._status(FXP.FSETSTAT, string(wh) + SFTPAttrs(
                    permissions=info.mode, atime=info.atime, mtime=info.mtime).encode(), dst)
        finally:
            if dc._error is None:
                await dc._close_handle(wh, dst)
    finally:
        if sc._error is None:
            await sc._close_handle(rh, src)


async def _stream(sc: SFTPClient, rh: bytes, src: bytes, dc: SFTPClient, wh: bytes, dst: bytes,
                  opts: _Options, meter: Callable[[int], None] | None) -> None:
    """Remote to remote through this client: pipelined rounds of reads, then of writes."""
    rblock, rreq = _sizes(sc, opts)
    wblock, wreq = _sizes(dc, opts)
    chunk = max(rblock, wblock) * _STREAM_CHUNK_BLOCKS
    pos = 0
    while True:
        buf = bytearray()

        def sink(offset: int, data: memoryview, base: int = pos) -> None:
            at = offset - base
            if len(buf) < at + len(data):
                buf.extend(bytes(at + len(data) - len(buf)))
            buf[at:at + len(data)] = data

        got = await read_range(sc, rh, pos, pos + chunk, rblock, rreq, sink, src)
        if not got:
            return
        mv = memoryview(buf)[:got]
        await write_range(dc, wh, pos, lambda off, n, base=pos: mv[off - base:off - base + n],
                          wblock, wreq, dst)
        pos += got
        if meter is not None:
            meter(pos)
        if got < chunk:
            return


# --------------------------------------------------------------------------- public


def _options(recurse: bool = False, preserve: bool = False, progress: Progress | None = None,
             block_size: int | None = None, max_requests: int | None = None,
             follow_symlinks: bool = True) -> _Options:
    return _Options(recurse, preserve, progress, block_size, max_requests, follow_symlinks)


async def get(client: SFTPClient, remotepaths: Any, localpath: Any = None, **kwargs: Any) -> None:
    """Download ``remotepaths`` (one path or several) to ``localpath`` (default: the
    current directory).  ``recurse=True`` copies directories, ``preserve=True`` keeps
    modes and times, ``progress(src, dst, done, total)`` is called as data arrives;
    ``block_size``/``max_requests`` override the client's transfer sizes."""
    await _copy_tree(_RemoteFS(client), list(iter_paths(remotepaths)), _LocalFS(),
                     "." if localpath is None else localpath, _options(**kwargs))


async def put(client: SFTPClient, localpaths: Any, remotepath: Any = None, **kwargs: Any) -> None:
    """Upload ``localpaths`` to ``remotepath`` (default: the remote current directory);
    the options are :func:`get`'s."""
    await _copy_tree(_LocalFS(), list(iter_paths(localpaths)), _RemoteFS(client),
                     "." if remotepath is None else remotepath, _options(**kwargs))


async def copy(client: SFTPClient, srcpaths: Any, dstpath: Any = None, **kwargs: Any) -> None:
    """Copy remote files to remote ``dstpath`` on the same server (copy-data when the
    server has it)."""
    fs = _RemoteFS(client)
    await _copy_tree(fs, list(iter_paths(srcpaths)), fs, "." if dstpath is None else dstpath,
                     _options(**kwargs))


async def copy_between(src_client: SFTPClient, srcpaths: Any, dst_client: SFTPClient,
                       dstpath: Any, **kwargs: Any) -> None:
    """Copy from one server to another through this client (scp's remote-to-remote)."""
    await _copy_tree(_RemoteFS(src_client), list(iter_paths(srcpaths)), _RemoteFS(dst_client),
                     dstpath, _options(**kwargs))


def local_glob(patterns: Any) -> list[str]:
    """Local paths matching the glob pattern(s); a pattern matching nothing is an error."""
    out: list[str] = []
    for pat in iter_paths(patterns):
        pat = os.fsdecode(pat)
        found = sorted(_glob.glob(os.path.expanduser(pat)))
        if not found:
            raise FileNotFoundError(errno.ENOENT, "No match", pat)
        out += found
    return out
