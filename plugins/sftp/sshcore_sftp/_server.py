"""The SFTP v3 server: one session on a subsystem channel, unconfined or rooted at a directory.

Theory of operation
-------------------
By default the client sees the file system as the user running the server does, as with
sshd's sftp-server: absolute paths are real ones, and relative paths (``realpath(".")``
included) start in the home directory.  With a root, the client sees the root directory
as ``/`` and nothing outside it (relative paths start at the root, or at ``home`` inside
it).  Either way every path it sends is resolved by :class:`~sshcore_sftp._root.Root`
(whose directory is ``/`` when unconfined): see :mod:`sshcore_sftp._root`.  The
operation itself then runs on ``(parent directory fd, final name)`` without following
links, so nothing, not even a link swapped in meanwhile, leads outside the root.

Requests are handled in arrival order.  Those that may block on the disk (OPEN, WRITE,
fsync, copy-data, and a READ whose data is not in the page cache: ``RWF_NOWAIT`` tells)
run in one worker thread per session, handed over in batches (one per read from the
channel); any request arriving while the worker is busy queues behind it, so replies
keep the request order and nothing races on a handle.  Everything else, cached reads
included, runs inline on the event loop.  At most
:data:`MAX_OUTSTANDING` requests are in progress; past that the session stops reading,
and the channel window holds the client back.  A packet over
:data:`~sshcore_sftp._protocol.MAX_PACKET`, or one that does not decode, ends the
session: a line on stderr and exit status 11, as OpenSSH's sftp-server.
"""

from __future__ import annotations

import asyncio
import errno
import grp
import logging
import os
import pwd
import stat as _stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ._protocol import (ATTR, FXF, FXP, MAX_DATA, MAX_PACKET, OPENSSH_EXTENSIONS, SFTP_VERSION,
                        PacketParser, Reader, SFTPAttrs, SFTPError, SFTPProtocolError, Status,
                        data_header, encode_name, encode_packet, encode_status, extension_pairs,
                        longname, u32, u64)
from ._root import O_PATH as _O_PATH
from ._root import Resolved as _Resolved
from ._root import Root as _Root

__all__ = ["SFTPServer", "run_sftp_server", "MAX_OUTSTANDING", "MAX_HANDLES", "status_for_errno"]

logger = logging.getLogger("sshcore_sftp.server")

#: Requests in progress at once (OpenSSH's sftp client keeps 64 in flight).
MAX_OUTSTANDING = 128
#: Open file and directory handles per session (limits@openssh.com's max-open-handles).
MAX_HANDLES = 512
#: Entries per SSH_FXP_NAME reply to READDIR (as OpenSSH).
READDIR_BATCH = 100
#: Bytes read from the channel at a time.
_READ_CHUNK = 1024 * 1024
_YIELD_EVERY = 64  # requests handled inline before the loop gets a turn
_NOWAIT: int | None = getattr(os, "RWF_NOWAIT", None)
_EXIT_PROTOCOL_ERROR = 11  # sftp-server's exit status after a bad message


# --------------------------------------------------------------------------- errors

#: errno -> status, as OpenSSH's errno_to_portable().
_ERRNO_STATUS = {
    0: Status.OK,
    errno.ENOENT: Status.NO_SUCH_FILE,
    errno.ENOTDIR: Status.NO_SUCH_FILE,
    errno.EBADF: Status.NO_SUCH_FILE,
    errno.ELOOP: Status.NO_SUCH_FILE,
    errno.EPERM: Status.PERMISSION_DENIED,
    errno.EACCES: Status.PERMISSION_DENIED,
    errno.EFAULT: Status.PERMISSION_DENIED,
    errno.ENAMETOOLONG: Status.BAD_MESSAGE,
    errno.EINVAL: Status.BAD_MESSAGE,
    errno.ENOSYS: Status.OP_UNSUPPORTED,
}


def status_for_errno(err: int | None) -> Status:
    """The SFTP status for an errno value (FAILURE for anything without a closer code)."""
    return _ERRNO_STATUS.get(err or 0, Status.FAILURE) if err else Status.FAILURE


def _status_reply(rid: int, exc: OSError) -> bytes:
    code = status_for_errno(exc.errno)
    text = os.strerror(exc.errno) if exc.errno else (str(exc) or "Failure")
    return encode_status(rid, code, text)


# --------------------------------------------------------------------------- policy


class SFTPServer:
    """The policy of one SFTP session: subclass it to allow or refuse operations.

    ``listen(subsystem_options={"sftp": {"server_class": MyServer, "root": ...}})``.
    :meth:`authorize` is asked before every operation on a path, with the absolute path
    the client sees (the real path without a root; with one, ``/`` is the root); refusing
    answers PERMISSION_DENIED.  Handle operations (READ, WRITE, FSTAT, ...) were decided
    when the handle was opened, except FSETSTAT, which is asked as ``"fsetstat"``.

    ``op`` is the lower-case request name (``"open"``, ``"opendir"``, ``"stat"``,
    ``"lstat"``, ``"setstat"``, ``"fsetstat"``, ``"remove"``, ``"mkdir"``, ``"rmdir"``,
    ``"realpath"``, ``"rename"``, ``"readlink"``, ``"symlink"``) or the extension's name
    (``"posix-rename@openssh.com"``, ``"hardlink@openssh.com"``, ``"statvfs@openssh.com"``,
    ``"lsetstat@openssh.com"``, ``"expand-path@openssh.com"``, ``"copy-data"``);
    ``target`` is the second path of rename/link operations; ``write`` says whether the
    operation changes anything (an OPEN for writing, creating or truncating included).

    ``root`` (``None``: the whole file system) and ``home`` (where relative paths start,
    as the client sees it; default: the home directory of the user running the server
    without a root, ``/`` with one) are read when the session starts, so a subclass may
    set them from :attr:`username`.
    """

    def __init__(self, process: Any, *, root: str | os.PathLike[str] | None = None,
                 home: str | os.PathLike[str] | None = None, read_only: bool = False,
                 authorize: Callable[..., bool] | None = None) -> None:
        self.process = process
        self.root: str | None = os.fspath(root) if root is not None else None
        self.home: str = (os.fspath(home) if home is not None
                          else "/" if self.root is not None else os.path.expanduser("~"))
        self.read_only = read_only
        self._authorize = authorize

    @property
    def username(self) -> str | None:
        """The user the SSH connection authenticated as."""
        get = getattr(self.process, "get_extra_info", None)
        return get("username") if get is not None else None

    def authorize(self, op: str, path: str, *, target: str | None = None,
                  write: bool = False) -> bool:
        if write and self.read_only:
            return False
        if self._authorize is not None:
            return bool(self._authorize(op, path, target=target, write=write))
        return True


# --------------------------------------------------------------------------- handles


class _File:
    __slots__ = ("fd", "vpath", "readable", "writable", "append", "nowait")

    def __init__(self, fd: int, vpath: bytes, readable: bool, writable: bool, append: bool) -> None:
        self.nowait = True  # until the file system says RWF_NOWAIT is not supported
        self.fd = fd
        self.vpath = vpath
        self.readable = readable
        self.writable = writable
        self.append = append

    def close(self) -> None:
        os.close(self.fd)


class _Dir:
    __slots__ = ("fd", "vpath", "names", "pos", "dots")

    def __init__(self, fd: int, vpath: bytes, names: list[bytes],
                 dots: list[tuple[bytes, os.stat_result]]) -> None:
        self.fd = fd
        self.vpath = vpath
        self.names = names
        self.pos = 0
        self.dots = dots

    def close(self) -> None:
        os.close(self.fd)


# --------------------------------------------------------------------------- the session


class _Session:
    def __init__(self, process: Any, policy: SFTPServer) -> None:
        self.process = process
        self.policy = policy
        self.root = _Root("/" if policy.root is None else policy.root)
        try:
            self.root.home = self._home(policy.home)
        except BaseException:
            self.root.close()
            raise
        self.handles: dict[bytes, _File | _Dir] = {}
        self._next_handle = 0
        self.parser = PacketParser(MAX_PACKET)
        self.initialized = False
        self.loop = asyncio.get_running_loop()
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sftp-io")
        self.inflight = 0
        self.batch: list[tuple[Callable[[int, Reader], bytes], int, Reader]] = []
        self.fatal: BaseException | None = None
        self._slot: asyncio.Future[None] | None = None
        self._users: dict[int, str] = {}
        self._groups: dict[int, str] = {}
        self.handlers: dict[int, Callable[[int, Reader], bytes]] = {
            FXP.OPEN: self.do_open, FXP.CLOSE: self.do_close, FXP.READ: self.do_read,
            FXP.WRITE: self.do_write, FXP.LSTAT: self.do_lstat, FXP.FSTAT: self.do_fstat,
            FXP.SETSTAT: self.do_setstat, FXP.FSETSTAT: self.do_fsetstat,
            FXP.OPENDIR: self.do_opendir, FXP.READDIR: self.do_readdir,
            FXP.REMOVE: self.do_remove, FXP.MKDIR: self.do_mkdir, FXP.RMDIR: self.do_rmdir,
            FXP.REALPATH: self.do_realpath, FXP.STAT: self.do_stat, FXP.RENAME: self.do_rename,
            FXP.READLINK: self.do_readlink, FXP.SYMLINK: self.do_symlink,
        }
        self.threaded = {FXP.OPEN, FXP.READ, FXP.WRITE}
        self.extensions: dict[bytes, Callable[[int, Reader], bytes]] = {
            b"posix-rename@openssh.com": self.ext_posix_rename,
            b"statvfs@openssh.com": self.ext_statvfs,
            b"fstatvfs@openssh.com": self.ext_fstatvfs,
            b"hardlink@openssh.com": self.ext_hardlink,
            b"fsync@openssh.com": self.ext_fsync,
            b"lsetstat@openssh.com": self.ext_lsetstat,
            b"limits@openssh.com": self.ext_limits,
            b"expand-path@openssh.com": self.ext_expand_path,
            b"copy-data": self.ext_copy_data,
        }
        self.threaded_ext = {b"fsync@openssh.com", b"copy-data"}

    # ---------------------------------------------------------------- the loop

    async def run(self) -> int:
        stdin = self.process.stdin
        stdout = self.process.stdout
        try:
            while True:
                data = await stdin.read(_READ_CHUNK)
                if not data:
                    break
                for n, (ptype, payload) in enumerate(self.parser.feed(data), 1):
                    if n % _YIELD_EVERY == 0:
                        # A megabyte of tiny requests must not hold the loop: let others run.
                        self.flush_batch()
                        await asyncio.sleep(0)
                    if self.inflight >= MAX_OUTSTANDING:
                        self.flush_batch()
                        while self.inflight >= MAX_OUTSTANDING:
                            await self._wait_slot()
                    self.dispatch(ptype, payload)
                    if self.fatal is not None:
                        raise self.fatal
                self.flush_batch()
                if self.fatal is not None:
                    raise self.fatal
                await stdout.drain()
            self.flush_batch()
            while self.inflight:
                await self._wait_slot()
            if self.fatal is not None:
                raise self.fatal
            return 0
        except SFTPProtocolError as exc:
            self.abort(exc)
            return _EXIT_PROTOCOL_ERROR
        finally:
            # Queued behind anything still running in the worker, so no fd is closed under it.
            self.pool.submit(self._close_all)
            self.pool.shutdown(wait=False)

    def _home(self, home: str) -> bytes:
        """The session's starting directory as the client sees it, canonical; ``/`` when
        it is not a directory (sshd starts a session whose home is missing in ``/``)."""
        raw = b"/" + os.fsencode(home).lstrip(b"/")
        try:
            with _Resolved(*self.root.resolve(raw, True)) as p:
                if _stat.S_ISDIR(os.stat(p.name, dir_fd=p.dirfd, follow_symlinks=False).st_mode):
                    return p.vpath
        except OSError as exc:
            logger.warning("sftp: home directory %r: %s; starting in /", home, exc.strerror)
        else:
            logger.warning("sftp: home directory %r is not a directory; starting in /", home)
        return b"/"

    def abort(self, exc: BaseException) -> None:
        """A bad packet: say why on stderr and end the channel with exit status 11."""
        if self.fatal is None:
            self.fatal = exc
        if getattr(self, "_aborted", False):
            return
        self._aborted = True
        logger.info("sftp session ends: %s", exc)
        try:
            self.process.stderr.write(f"sftp-server: {exc}\n".encode())
            self.process.exit(_EXIT_PROTOCOL_ERROR)
        except Exception:  # noqa: BLE001 - the channel may be gone already
            pass

    def _close_all(self) -> None:
        for h in self.handles.values():
            try:
                h.close()
            except OSError:
                pass
        self.handles.clear()
        self.root.close()

    async def _wait_slot(self) -> None:
        self._slot = self.loop.create_future()
        await self._slot

    def _wake(self) -> None:
        if self._slot is not None and not self._slot.done():
            self._slot.set_result(None)

    def dispatch(self, ptype: int, payload: memoryview) -> None:
        r = Reader(payload)
        if not self.initialized:
            if ptype != FXP.INIT:
                raise SFTPProtocolError(f"expected SSH_FXP_INIT, got packet type {ptype}")
            r.uint32()  # the client's version: we speak 3 whatever it says (as OpenSSH)
            self.initialized = True
            self.send(encode_packet(FXP.VERSION, None,
                                    u32(SFTP_VERSION) + extension_pairs(OPENSSH_EXTENSIONS)))
            return
        if ptype == FXP.INIT:
            raise SFTPProtocolError("duplicate SSH_FXP_INIT")
        rid = r.uint32()
        if ptype == FXP.EXTENDED:
            name = bytes(r.string())
            handler = self.extensions.get(name)
            threaded = name in self.threaded_ext
            if handler is None:
                self.send(encode_status(rid, Status.OP_UNSUPPORTED,
                                        f"Unsupported extension {name.decode('ascii', 'replace')}"))
                return
        else:
            handler = self.handlers.get(ptype)  # type: ignore[assignment]
            threaded = ptype in self.threaded
            if handler is None:
                self.send(encode_status(rid, Status.OP_UNSUPPORTED, f"Unknown message type {ptype}"))
                return
        if ptype == FXP.READ and not self.inflight and _NOWAIT is not None:
            # Data already in the page cache is read right here; only a read that would
            # wait for the disk goes to the worker.
            reply = self.call(self.read_cached, rid, r)
            if reply is not None:
                self.send(reply)
                return
            r = Reader(payload, 4)
        if threaded or self.inflight:
            # To the worker, behind whatever it has (requests keep their order).
            self.inflight += 1
            self.batch.append((handler, rid, r))
        else:
            self.send(self.call(handler, rid, r))

    def flush_batch(self) -> None:
        """Hand the requests queued from one read of the channel to the worker at once
        (one thread hand-off per batch, not per request)."""
        if self.batch:
            jobs, self.batch = self.batch, []
            self.pool.submit(self._run_jobs, jobs)

    def _run_jobs(self, jobs: list[tuple[Callable[[int, Reader], bytes], int, Reader]]) -> None:
        """In the worker: run the jobs in order, posting replies back to the loop about
        every 256 KiB so the client's pipeline keeps moving."""
        out: list[bytes] = []
        size = 0
        done = 0
        post = self.loop.call_soon_threadsafe
        try:
            for i, (handler, rid, r) in enumerate(jobs):
                try:
                    reply = self.call(handler, rid, r)
                except BaseException as exc:  # a protocol error: the session ends
                    post(self._deliver, out, len(jobs) - done, exc)
                    return
                out.append(reply)
                size += len(reply)
                if size >= MAX_PACKET and i + 1 < len(jobs):
                    post(self._deliver, out, len(out), None)
                    done += len(out)
                    out, size = [], 0
            post(self._deliver, out, len(jobs) - done, None)
        except RuntimeError:  # the event loop is closed: nobody is listening any more
            pass

    def _deliver(self, replies: list[bytes], count: int, exc: BaseException | None) -> None:
        self.inflight -= count
        for reply in replies:
            self.send(reply)
        self._wake()
        if exc is not None:
            self.abort(exc)

    def call(self, handler: Callable[[int, Reader], bytes], rid: int, r: Reader) -> bytes:
        try:
            return handler(rid, r)
        except SFTPError as exc:
            return encode_status(rid, exc.code, exc.message)
        except OSError as exc:
            return _status_reply(rid, exc)
        except (SFTPProtocolError, MemoryError):
            raise
        except (ValueError, OverflowError) as exc:
            return encode_status(rid, Status.BAD_MESSAGE, str(exc))
        except Exception:  # a bug here must not take the session down silently
            logger.exception("sftp request %d failed", rid)
            return encode_status(rid, Status.FAILURE, "Internal server error")

    def send(self, packet: bytes) -> None:
        try:
            self.process.stdout.write(packet)
        except Exception:  # noqa: BLE001 - closed channel: the read loop ends on EOF
            pass

    # ---------------------------------------------------------------- helpers

    def check(self, op: str, path: _Resolved | bytes, *, target: _Resolved | str | None = None,
              write: bool = False) -> None:
        vpath = path.text if isinstance(path, _Resolved) else os.fsdecode(path)
        tgt = target.text if isinstance(target, _Resolved) else target
        if not self.policy.authorize(op, vpath, target=tgt, write=write):
            raise SFTPError(Status.PERMISSION_DENIED, f"{op} {vpath}: refused by the server's policy")

    def resolve(self, r: Reader, follow: bool) -> _Resolved:
        return _Resolved(*self.root.resolve(bytes(r.string()), follow))

    def new_handle(self, obj: _File | _Dir) -> bytes:
        if len(self.handles) >= MAX_HANDLES:
            obj.close()
            raise SFTPError(Status.FAILURE, f"too many open handles (at most {MAX_HANDLES})")
        self._next_handle += 1
        handle = b"%d" % self._next_handle
        self.handles[handle] = obj
        return handle

    def get_handle(self, r: Reader) -> _File | _Dir:
        h = self.handles.get(bytes(r.string()))
        if h is None:
            raise SFTPError(Status.FAILURE, "Invalid handle")
        return h

    def get_file(self, r: Reader) -> _File:
        h = self.get_handle(r)
        if not isinstance(h, _File):
            raise SFTPError(Status.FAILURE, "Handle is a directory, not a file")
        return h

    def ok(self, rid: int) -> bytes:
        return encode_status(rid, Status.OK)

    def attrs_reply(self, rid: int, st: os.stat_result) -> bytes:
        return encode_packet(FXP.ATTRS, rid, SFTPAttrs.from_stat(st).encode())

    def user(self, uid: int) -> str:
        name = self._users.get(uid)
        if name is None:
            try:
                name = pwd.getpwuid(uid).pw_name
            except KeyError:
                name = str(uid)
            self._users[uid] = name
        return name

    def group(self, gid: int) -> str:
        name = self._groups.get(gid)
        if name is None:
            try:
                name = grp.getgrgid(gid).gr_name
            except KeyError:
                name = str(gid)
            self._groups[gid] = name
        return name

    def refuse_root(self, p: _Resolved, op: str) -> None:
        if p.is_root:
            raise SFTPError(Status.PERMISSION_DENIED, f"{op}: the root directory cannot be changed")

    def apply_attrs(self, p: _Resolved | None, fd: int | None, a: SFTPAttrs, follow: bool) -> None:
        """SETSTAT/FSETSTAT/lsetstat: size, permissions, times, owner (OpenSSH's order)."""
        if p is not None:
            st = os.stat(p.name, dir_fd=p.dirfd, follow_symlinks=False)
            is_link = _stat.S_ISLNK(st.st_mode)
        else:
            is_link = False
        if a.size is not None:
            if fd is not None:
                os.ftruncate(fd, a.size)
            else:
                assert p is not None
                if is_link:
                    raise SFTPError(Status.OP_UNSUPPORTED, "cannot truncate a symbolic link")
                tfd = os.open(p.name, os.O_WRONLY | os.O_NOFOLLOW, dir_fd=p.dirfd)
                try:
                    os.ftruncate(tfd, a.size)
                finally:
                    os.close(tfd)
        if a.permissions is not None:
            mode = a.permissions & 0o7777
            if fd is not None:
                os.fchmod(fd, mode)
            else:
                assert p is not None
                if is_link:
                    raise OSError(errno.EOPNOTSUPP, "cannot change the mode of a symbolic link")
                pfd = os.open(p.name, _O_PATH | os.O_NOFOLLOW, dir_fd=p.dirfd)
                try:
                    try:
                        os.chmod(f"/proc/self/fd/{pfd}", mode)
                    except FileNotFoundError:  # no /proc: by name (the final name is no link)
                        os.chmod(p.name, mode, dir_fd=p.dirfd)
                finally:
                    os.close(pfd)
        if a.atime is not None or a.mtime is not None:
            times = (a.atime or 0, a.mtime or 0)
            if fd is not None:
                os.utime(fd, times)
            else:
                assert p is not None
                os.utime(p.name, times, dir_fd=p.dirfd, follow_symlinks=False)
        if a.uid is not None or a.gid is not None:
            uid = -1 if a.uid is None else a.uid
            gid = -1 if a.gid is None else a.gid
            if fd is not None:
                os.fchown(fd, uid, gid)
            else:
                assert p is not None
                os.chown(p.name, uid, gid, dir_fd=p.dirfd, follow_symlinks=False)

    # ---------------------------------------------------------------- files

    def do_open(self, rid: int, r: Reader) -> bytes:
        raw = bytes(r.string())
        pflags = r.uint32()
        a = r.attrs()
        rw = pflags & (FXF.READ | FXF.WRITE)
        flags = os.O_RDWR if rw == FXF.READ | FXF.WRITE else os.O_WRONLY if rw == FXF.WRITE else os.O_RDONLY
        if pflags & FXF.APPEND:
            flags |= os.O_APPEND
        if pflags & FXF.CREAT:
            flags |= os.O_CREAT
        if pflags & FXF.TRUNC:
            flags |= os.O_TRUNC
        if pflags & FXF.EXCL:
            flags |= os.O_EXCL
        write = bool(pflags & (FXF.WRITE | FXF.APPEND | FXF.CREAT | FXF.TRUNC))
        mode = a.permissions & 0o7777 if a.permissions is not None else 0o666
        with _Resolved(*self.root.resolve(raw, True)) as p:
            self.check("open", p, write=write)
            fd = os.open(p.name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=p.dirfd)
            vpath = p.vpath
        handle = self.new_handle(_File(fd, vpath, rw != FXF.WRITE, bool(rw & FXF.WRITE),
                                       bool(pflags & FXF.APPEND)))
        return encode_packet(FXP.HANDLE, rid, u32(len(handle)) + handle)

    def do_close(self, rid: int, r: Reader) -> bytes:
        key = bytes(r.string())
        h = self.handles.pop(key, None)
        if h is None:
            raise SFTPError(Status.FAILURE, "Invalid handle")
        h.close()
        return self.ok(rid)

    def do_read(self, rid: int, r: Reader) -> bytes:
        h = self.get_file(r)
        if not h.readable:
            raise SFTPError(Status.PERMISSION_DENIED, "Handle is not open for reading")
        offset = r.uint64()
        length = min(r.uint32(), MAX_DATA)
        data = os.pread(h.fd, length, offset)
        if not data:
            return encode_status(rid, Status.EOF)
        return data_header(rid, len(data)) + data

    def read_cached(self, rid: int, r: Reader) -> bytes | bytearray | None:
        """READ without blocking (``RWF_NOWAIT``): the reply, or ``None`` if the data is not
        in the page cache (or the file system cannot tell)."""
        h = self.get_file(r)
        if not h.nowait or not h.readable:
            return None  # the worker's do_read answers (or refuses)
        offset = r.uint64()
        length = min(r.uint32(), MAX_DATA)
        buf = bytearray(13 + length)
        view = memoryview(buf)
        try:
            n = os.preadv(h.fd, [view[13:]], offset, _NOWAIT)
        except BlockingIOError:
            return None
        except OSError as exc:
            if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL):
                h.nowait = False
                return None
            raise
        finally:
            view.release()
        if not n:
            return encode_status(rid, Status.EOF)
        if n < length:
            # Only part is cached, or this is the end of the file.  A short reply costs the
            # client a round trip for the rest (OpenSSH's sftp re-requests serially), so
            # unless the file really ends here the worker reads the whole request.
            if offset + n < os.fstat(h.fd).st_size:
                return None
            del buf[13 + n:]
        buf[:13] = data_header(rid, n)
        return buf

    def do_write(self, rid: int, r: Reader) -> bytes:
        h = self.get_file(r)
        if not h.writable:
            raise SFTPError(Status.PERMISSION_DENIED, "Handle is not open for writing")
        offset = r.uint64()
        data = r.string()
        fd = h.fd
        while data:
            n = os.write(fd, data) if h.append else os.pwrite(fd, data, offset)
            data = data[n:]
            offset += n
        return self.ok(rid)

    def do_fstat(self, rid: int, r: Reader) -> bytes:
        return self.attrs_reply(rid, os.fstat(self.get_handle(r).fd))

    def do_fsetstat(self, rid: int, r: Reader) -> bytes:
        h = self.get_handle(r)
        a = r.attrs()
        self.check("fsetstat", h.vpath, write=True)
        self.apply_attrs(None, h.fd, a, True)
        return self.ok(rid)

    # ---------------------------------------------------------------- paths

    def do_stat(self, rid: int, r: Reader) -> bytes:
        with self.resolve(r, True) as p:
            self.check("stat", p)
            return self.attrs_reply(rid, os.stat(p.name, dir_fd=p.dirfd, follow_symlinks=False))

    def do_lstat(self, rid: int, r: Reader) -> bytes:
        with self.resolve(r, False) as p:
            self.check("lstat", p)
            return self.attrs_reply(rid, os.stat(p.name, dir_fd=p.dirfd, follow_symlinks=False))

    def do_setstat(self, rid: int, r: Reader) -> bytes:
        with self.resolve(r, True) as p:
            a = r.attrs()
            self.check("setstat", p, write=True)
            self.apply_attrs(p, None, a, True)
        return self.ok(rid)

    def ext_lsetstat(self, rid: int, r: Reader) -> bytes:
        with self.resolve(r, False) as p:
            a = r.attrs()
            self.check("lsetstat@openssh.com", p, write=True)
            if a.size is not None:
                raise SFTPError(Status.OP_UNSUPPORTED, "lsetstat cannot change the size")
            self.apply_attrs(p, None, a, False)
        return self.ok(rid)

    def do_opendir(self, rid: int, r: Reader) -> bytes:
        with self.resolve(r, True) as p:
            self.check("opendir", p)
            fd = os.open(p.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                         dir_fd=p.dirfd)
            try:
                names = [os.fsencode(n) for n in os.listdir(fd)]
                dots = [(b".", os.fstat(fd)),
                        (b"..", os.stat(p.dirfd) if not p.is_root else os.fstat(fd))]
            except BaseException:
                os.close(fd)
                raise
            vpath = p.vpath
        handle = self.new_handle(_Dir(fd, vpath, names, dots))  # type: ignore[arg-type]
        return encode_packet(FXP.HANDLE, rid, u32(len(handle)) + handle)

    def do_readdir(self, rid: int, r: Reader) -> bytes:
        h = self.get_handle(r)
        if not isinstance(h, _Dir):
            raise SFTPError(Status.FAILURE, "Handle is a file, not a directory")
        entries: list[tuple[bytes, bytes, SFTPAttrs]] = []

        def add(name: bytes, st: os.stat_result) -> None:
            a = SFTPAttrs.from_stat(st)
            entries.append((name, longname(name, a, owner=self.user(st.st_uid),
                                           group=self.group(st.st_gid), nlink=st.st_nlink), a))

        while h.dots and len(entries) < READDIR_BATCH:
            add(*h.dots.pop(0))
        while h.pos < len(h.names) and len(entries) < READDIR_BATCH:
            name = h.names[h.pos]
            h.pos += 1
            try:
                st = os.stat(name, dir_fd=h.fd, follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed since OPENDIR
            add(name, st)
        if not entries:
            return encode_status(rid, Status.EOF)
        return encode_name(rid, entries)

    def do_remove(self, rid: int, r: Reader) -> bytes:
        with self.resolve(r, False) as p:
            self.check("remove", p, write=True)
            self.refuse_root(p, "remove")
            os.unlink(p.name, dir_fd=p.dirfd)
        return self.ok(rid)

    def do_mkdir(self, rid: int, r: Reader) -> bytes:
        with self.resolve(r, False) as p:
            a = r.attrs()
            self.check("mkdir", p, write=True)
            if p.is_root:
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST))
            mode = a.permissions & 0o7777 if a.permissions is not None else 0o777
            os.mkdir(p.name, mode, dir_fd=p.dirfd)
        return self.ok(rid)

    def do_rmdir(self, rid: int, r: Reader) -> bytes:
        with self.resolve(r, False) as p:
            self.check("rmdir", p, write=True)
            self.refuse_root(p, "rmdir")
            os.rmdir(p.name, dir_fd=p.dirfd)
        return self.ok(rid)

    def _realpath(self, raw: bytes, op: str) -> bytes:
        with _Resolved(*self.root.resolve(raw or b".", True)) as p:
            # As realpath(3) in OpenSSH: the final component may be missing, nothing before it.
            self.check(op, p)
            return p.vpath

    def do_realpath(self, rid: int, r: Reader) -> bytes:
        vpath = self._realpath(bytes(r.string()), "realpath")
        return encode_name(rid, [(vpath, vpath, SFTPAttrs())])

    def ext_expand_path(self, rid: int, r: Reader) -> bytes:
        raw = bytes(r.string())
        if raw.startswith(b"~"):
            # "~", "~/x", and "~user/x" for the user logged in (or running the server): the
            # session's home.  Other users have theirs (from the password database) only
            # when the session is not confined to a root.
            user, _, rest = raw[1:].partition(b"/")
            home = self.root.home
            if user and os.fsdecode(user) not in self.home_users():
                home = self.other_home(os.fsdecode(user))
            raw = home + b"/" + rest
        vpath = self._realpath(raw, "expand-path@openssh.com")
        return encode_name(rid, [(vpath, vpath, SFTPAttrs())])

    def other_home(self, user: str) -> bytes:
        """Another user's home directory for expand-path (only without a root)."""
        if self.policy.root is None:
            try:
                return os.fsencode(pwd.getpwnam(user).pw_dir)
            except KeyError:
                pass
        raise SFTPError(Status.NO_SUCH_FILE, f"No home directory for {user} here")

    def home_users(self) -> set[str]:
        names = {self.user(os.geteuid())}
        if self.policy.username:
            names.add(self.policy.username)
        return names

    def _two_paths(self, r: Reader) -> tuple[_Resolved, _Resolved]:
        old = self.resolve(r, False)
        try:
            new = self.resolve(r, False)
        except BaseException:
            old.close()
            raise
        return old, new

    def do_rename(self, rid: int, r: Reader) -> bytes:
        old, new = self._two_paths(r)
        with old, new:
            self.check("rename", old, target=new, write=True)
            self.refuse_root(old, "rename")
            self.refuse_root(new, "rename")
            try:
                os.stat(new.name, dir_fd=new.dirfd, follow_symlinks=False)
            except FileNotFoundError:
                pass
            else:  # SFTP's rename never overwrites (posix-rename@openssh.com does)
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST))
            os.rename(old.name, new.name, src_dir_fd=old.dirfd, dst_dir_fd=new.dirfd)
        return self.ok(rid)

    def ext_posix_rename(self, rid: int, r: Reader) -> bytes:
        old, new = self._two_paths(r)
        with old, new:
            self.check("posix-rename@openssh.com", old, target=new, write=True)
            self.refuse_root(old, "rename")
            self.refuse_root(new, "rename")
            os.rename(old.name, new.name, src_dir_fd=old.dirfd, dst_dir_fd=new.dirfd)
        return self.ok(rid)

    def ext_hardlink(self, rid: int, r: Reader) -> bytes:
        old, new = self._two_paths(r)
        with old, new:
            self.check("hardlink@openssh.com", new, target=old, write=True)
            self.refuse_root(new, "hardlink")
            os.link(old.name, new.name, src_dir_fd=old.dirfd, dst_dir_fd=new.dirfd,
                    follow_symlinks=False)
        return self.ok(rid)

    def do_readlink(self, rid: int, r: Reader) -> bytes:
        with self.resolve(r, False) as p:
            self.check("readlink", p)
            target = os.readlink(p.name, dir_fd=p.dirfd)
        return encode_name(rid, [(target, target, SFTPAttrs())])

    def do_symlink(self, rid: int, r: Reader) -> bytes:
        # OpenSSH's order (the draft has them the other way round): target, then link path.
        target = bytes(r.string())
        if b"\0" in target:
            raise OSError(errno.EINVAL, "path contains a NUL byte")
        with self.resolve(r, False) as link:
            self.check("symlink", link, target=os.fsdecode(target), write=True)
            self.refuse_root(link, "symlink")
            # The target is stored as given: it is resolved inside the root on every use.
            os.symlink(target, link.name, dir_fd=link.dirfd)
        return self.ok(rid)

    # ---------------------------------------------------------------- extensions

    @staticmethod
    def _statvfs_reply(rid: int, v: os.statvfs_result) -> bytes:
        fields = (v.f_bsize, v.f_frsize, v.f_blocks, v.f_bfree, v.f_bavail, v.f_files,
                  v.f_ffree, v.f_favail, v.f_fsid, v.f_flag, v.f_namemax)
        return encode_packet(FXP.EXTENDED_REPLY, rid, b"".join(u64(f & (2**64 - 1)) for f in fields))

    def ext_statvfs(self, rid: int, r: Reader) -> bytes:
        with self.resolve(r, True) as p:
            self.check("statvfs@openssh.com", p)
            fd = os.open(p.name, _O_PATH | os.O_NOFOLLOW, dir_fd=p.dirfd)
            try:
                return self._statvfs_reply(rid, os.statvfs(fd))
            finally:
                os.close(fd)

    def ext_fstatvfs(self, rid: int, r: Reader) -> bytes:
        return self._statvfs_reply(rid, os.statvfs(self.get_handle(r).fd))

    def ext_fsync(self, rid: int, r: Reader) -> bytes:
        os.fsync(self.get_file(r).fd)
        return self.ok(rid)

    def ext_limits(self, rid: int, r: Reader) -> bytes:
        return encode_packet(FXP.EXTENDED_REPLY, rid,
                             u64(MAX_PACKET) + u64(MAX_DATA) + u64(MAX_DATA) + u64(MAX_HANDLES))

    def ext_copy_data(self, rid: int, r: Reader) -> bytes:
        src = self.get_file(r)
        src_off = r.uint64()
        length = r.uint64()
        dst = self.get_file(r)
        dst_off = r.uint64()
        if not src.readable:
            raise SFTPError(Status.PERMISSION_DENIED, "copy-data: source handle is not open for reading")
        if not dst.writable:
            raise SFTPError(Status.PERMISSION_DENIED, "copy-data: destination handle is not open for writing")
        if src is dst and length and src_off < dst_off + length and dst_off < src_off + length:
            raise SFTPError(Status.FAILURE, "copy-data: overlapping ranges in the same file")
        if src is dst and not length:
            raise SFTPError(Status.FAILURE, "copy-data: copying a file onto itself needs a length")
        self.check("copy-data", src.vpath, target=os.fsdecode(dst.vpath), write=True)
        remaining = length or None
        use_kernel = not dst.append
        while remaining is None or remaining > 0:
            chunk = 8 << 20 if remaining is None else min(remaining, 8 << 20)
            n = 0
            if use_kernel:
                try:
                    n = os.copy_file_range(src.fd, dst.fd, chunk, src_off, dst_off)
                except OSError as exc:
                    if exc.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS,
                                         errno.EOPNOTSUPP, errno.EBADF):
                        raise
                    use_kernel = False
            if not use_kernel:
                data = os.pread(src.fd, min(chunk, 256 * 1024), src_off)
                n = len(data)
                view = memoryview(data)
                off = dst_off
                while view:
                    w = os.write(dst.fd, view) if dst.append else os.pwrite(dst.fd, view, off)
                    view = view[w:]
                    off += w
            if not n:
                break
            src_off += n
            dst_off += n
            if remaining is not None:
                remaining -= n
        return self.ok(rid)


# --------------------------------------------------------------------------- entry point


async def run_sftp_server(process: Any, *, root: str | os.PathLike[str] | None = None,
                          home: str | os.PathLike[str] | None = None, read_only: bool = False,
                          authorize: Callable[..., bool] | None = None,
                          server_class: type[SFTPServer] = SFTPServer) -> int:
    """Serve one SFTP session on ``process`` (binary ``stdin``/``stdout``/``stderr``).

    :param root: the directory the client sees as ``/``; nothing outside it can be
        reached.  Default ``None``: the client sees the file system as the user running
        the server does (absolute paths are real paths), as with sshd's sftp-server.
    :param home: where relative paths (and ``realpath(".")``, ``~``) start, as the client
        sees it (default: the home directory of the user running the server without a
        root, ``/`` with one).
    :param read_only: refuse every operation that changes something.
    :param authorize: ``authorize(op, path, *, target, write) -> bool``, asked before each
        operation (see :class:`SFTPServer`).
    :param server_class: an :class:`SFTPServer` subclass overriding ``authorize``.
    :returns: the exit status: 0 when the client ends the session, 11 after a malformed
        or oversized packet.
    """
    policy = server_class(process, root=root, home=home, read_only=read_only, authorize=authorize)
    try:
        session = _Session(process, policy)
    except OSError as exc:
        process.stderr.write(f"sftp-server: cannot open root {policy.root}: {exc.strerror}\n".encode())
        return 1
    return await session.run()
