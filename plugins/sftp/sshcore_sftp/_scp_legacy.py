"""The legacy SCP protocol (``sshcore scp -O``), for servers without SFTP.

This module owns the protocol: the records (``C`` file, ``D`` directory, ``E`` end of
directory, ``T`` times), the one-byte acknowledgements and ``\\x01``/``\\x02`` error
lines, as OpenSSH's ``scp -t`` (sink) and ``scp -f`` (source) speak them.  The parsing
part is sans-I/O and testable without a network: :func:`parse_response` reads an
acknowledgement, :class:`Sink` is the state machine of a download (fed bytes, giving
events, queueing the acknowledgements to send).  The drivers at the end
(:func:`download`, :func:`upload`, :func:`run`) run it over a session channel.

A download trusts nothing the server sends (CVE-2018-20685, CVE-2019-6111): a name that
is empty, ``.``, ``..`` or holds a slash (or a NUL) is refused at every depth; at the top
level the name must be the one asked for (matching its glob, if it was one), only one
entry comes for a name without wildcards, and a directory comes only with ``-r``.  Any
of these stops the transfer with :class:`SCPProtocolError` before anything is written.
Text from the peer is shown sanitized.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import os
import posixpath
import shlex
import stat as _stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sshcore.errors import SSHError

__all__ = ["SCPError", "SCPProtocolError", "Sink", "parse_response", "file_record",
           "dir_record", "times_record", "download", "upload", "run"]

#: The longest record or error line accepted (OpenSSH's buffer is 2048 bytes).
MAX_LINE = 2048
#: Directories deeper than this in a download are refused.
MAX_DEPTH = 256
_MODE_MASK = 0o7777
_CHUNK = 65536


class SCPError(SSHError):
    """One file or directory could not be copied; the transfer goes on."""


class SCPProtocolError(SCPError):
    """The peer broke the protocol or sent what was not asked for: the transfer stops."""


def sanitize(text: bytes | str) -> str:
    """Peer text made safe for a terminal: control characters escaped."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


# --------------------------------------------------------------------------- records


def _name_bytes(name: str) -> bytes:
    raw = os.fsencode(name)
    if b"\n" in raw or b"/" in raw or not raw:
        raise SCPError(f"{sanitize(name)}: name not allowed in the SCP protocol")
    return raw


def times_record(mtime: float, atime: float) -> bytes:
    """``T`` record: modification then access time, seconds and microseconds."""
    return f"T{int(mtime)} 0 {int(atime)} 0\n".encode()


def file_record(mode: int, size: int, name: str) -> bytes:
    return f"C{mode & _MODE_MASK:04o} {size} ".encode() + _name_bytes(name) + b"\n"


def dir_record(mode: int, name: str) -> bytes:
    return f"D{mode & _MODE_MASK:04o} 0 ".encode() + _name_bytes(name) + b"\n"


END_RECORD = b"E\n"
OK = b"\0"


def error_record(message: str) -> bytes:
    """A non-fatal error the sink or source reports to its peer."""
    return b"\x01scp: " + message.replace("\n", " ").encode("utf-8", "replace") + b"\n"


@dataclass(frozen=True, slots=True)
class Response:
    """An acknowledgement: ok, or an error (``fatal``: the peer stops) with its message."""

    ok: bool
    fatal: bool = False
    message: str = ""


def _take_line(buf: bytearray, start: int = 0) -> bytes | None:
    end = buf.find(b"\n", start)
    if end < 0:
        if len(buf) > MAX_LINE:
            raise SCPProtocolError("protocol error: line too long")
        return None
    if end > MAX_LINE:
        raise SCPProtocolError("protocol error: line too long")
    line = bytes(buf[:end])
    del buf[:end + 1]
    return line


def parse_response(buf: bytearray) -> Response | None:
    """Take one acknowledgement off the front of ``buf`` (None: not all of it yet).

    ``\\0`` is success; ``\\x01 text\\n`` an error, ``\\x02 text\\n`` a fatal one; any other
    first byte starts an error line too (as OpenSSH reads it: a shell's message)."""
    if not buf:
        return None
    if buf[0] == 0:
        del buf[:1]
        return Response(True)
    code = buf[0]
    line = _take_line(buf)
    if line is None:
        return None
    text = line[1:] if code in (1, 2) else line
    return Response(False, fatal=code != 1, message=sanitize(text))


# --------------------------------------------------------------------------- sink (download)


@dataclass(frozen=True, slots=True)
class Times:
    mtime: int
    atime: int


@dataclass(frozen=True, slots=True)
class FileStart:
    """A file comes: ``accept()`` (then its data) or ``reject(message)`` (the source skips it)."""

    name: str
    mode: int
    size: int
    depth: int
    times: Times | None = None


@dataclass(frozen=True, slots=True)
class FileData:
    data: bytes


@dataclass(frozen=True, slots=True)
class FileEnd:
    """All of the file came; ``ok`` is False if the source failed reading it.  Answer
    ``accept()`` (written) or ``reject(message)``."""

    ok: bool
    message: str = ""


@dataclass(frozen=True, slots=True)
class DirStart:
    """A directory comes: ``accept()`` to go into it, or ``reject(message)``."""

    name: str
    mode: int
    depth: int
    times: Times | None = None


@dataclass(frozen=True, slots=True)
class DirEnd:
    """The directory opened last is complete (``times``: its ``T`` record, if any)."""

    times: Times | None = None
    mode: int = 0


@dataclass(frozen=True, slots=True)
class RemoteWarning:
    """The source reported a non-fatal error (sanitized)."""

    message: str


@dataclass(frozen=True, slots=True)
class Done:
    pass


Event = Times | FileStart | FileData | FileEnd | DirStart | DirEnd | RemoteWarning | Done


@dataclass
class _Level:
    mode: int = 0
    times: Times | None = None


@dataclass
class Sink:
    """The receiving side of ``scp -f``, without I/O.

    ``requested`` are the remote paths asked for (their last components, globs allowed,
    are what the top-level names must match).  Feed what the source sends with
    :meth:`feed`/:meth:`feed_eof`, take events with :meth:`next_event` until it returns
    None, answer :class:`FileStart`, :class:`FileEnd` and :class:`DirStart` with
    :meth:`accept` or :meth:`reject`, and send :meth:`data_to_send` each time.
    """

    requested: Iterable[str]
    recursive: bool = False
    _buf: bytearray = field(default_factory=bytearray)
    _out: bytearray = field(default_factory=lambda: bytearray(OK))  # the first "go"
    _eof: bool = False
    _state: str = "record"  # record, pending, data, status, done
    _pending: Any = None
    _remaining: int = 0
    _times: Times | None = None
    _stack: list[_Level] = field(default_factory=list)
    _first: bool = True
    _patterns: list[str] = field(default_factory=list)
    _seen: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._patterns = [posixpath.basename(p.rstrip("/")) or p for p in self.requested]

    def feed(self, data: bytes) -> None:
        self._buf += data

    def feed_eof(self) -> None:
        self._eof = True

    def data_to_send(self) -> bytes:
        out, self._out = bytes(self._out), bytearray()
        return out

    @property
    def depth(self) -> int:
        return len(self._stack)

    def accept(self) -> None:
        self._answer(None)

    def reject(self, message: str) -> None:
        self._answer(message)

    def _answer(self, message: str | None) -> None:
        if self._state != "pending":
            raise RuntimeError("nothing to answer")
        ev, self._pending = self._pending, None
        self._out += OK if message is None else error_record(message)
        self._state = "record"
        if message is None and isinstance(ev, FileStart):
            self._state, self._remaining = "data", ev.size
        elif message is None and isinstance(ev, DirStart):
            self._stack.append(_Level(ev.mode, ev.times))

    def next_event(self) -> Event | None:
        """The next event, or None when more input is needed (or an answer is due)."""
        if self._state == "pending":
            return None
        if self._state == "done":
            return Done()
        if self._state == "data":
            if self._remaining == 0:
                self._state = "status"
            elif self._buf:
                n = min(self._remaining, len(self._buf))
                data = bytes(self._buf[:n])
                del self._buf[:n]
                self._remaining -= n
                return FileData(data)
            else:
                return self._need("connection closed in the middle of a file")
        if self._state == "status":
            resp = parse_response(self._buf)
            if resp is None:
                return self._need("connection closed at the end of a file")
            if resp.fatal:
                raise SCPProtocolError(resp.message or "the source failed")
            return self._ask(FileEnd(resp.ok, resp.message))
        return self._record()

    def _need(self, why: str) -> None:
        if self._eof:
            raise SCPProtocolError(f"lost connection: {why}")
        return None

    def _ask(self, ev: Any) -> Any:
        self._state, self._pending = "pending", ev
        return ev

    def _record(self) -> Event | None:
        if not self._buf:
            if not self._eof:
                return None
            if self._stack:
                raise SCPProtocolError("lost connection: inside a directory")
            if self._times is not None:
                raise SCPProtocolError("lost connection: after a times record")
            self._state = "done"
            return Done()
        kind = self._buf[0]
        if kind == ord("\n"):
            raise SCPProtocolError("protocol error: unexpected <newline>")
        line = _take_line(self._buf)
        if line is None:
            return self._need("in the middle of a record")
        first, self._first = self._first, False
        if kind in (1, 2):
            if kind == 2:
                raise SCPProtocolError(sanitize(line[1:]))
            return RemoteWarning(sanitize(line[1:]))
        if kind == ord("E"):
            if line != b"E":
                raise SCPProtocolError("protocol error: bad end-of-directory record")
            if not self._stack or self._times is not None:
                raise SCPProtocolError("protocol error: end of a directory not entered")
            level = self._stack.pop()
            self._out += OK
            return DirEnd(level.times, level.mode)
        if kind == ord("T"):
            self._times = _parse_times(line)
            self._out += OK
            return self._times
        if kind not in (ord("C"), ord("D")):
            if first:  # a shell's message before scp ran ("No match.")
                raise SCPProtocolError(sanitize(line))
            raise SCPProtocolError("protocol error: expected control record")
        mode, size, raw = _parse_header(line)
        name = self._check_name(raw, is_dir=kind == ord("D"))
        times, self._times = self._times, None
        if kind == ord("D"):
            if len(self._stack) >= MAX_DEPTH:
                raise SCPProtocolError("protocol error: directories nested too deep")
            return self._ask(DirStart(name, mode, len(self._stack), times))
        return self._ask(FileStart(name, mode, size, len(self._stack), times))

    def _check_name(self, raw: bytes, *, is_dir: bool) -> str:
        shown = sanitize(raw)
        if not raw or b"/" in raw or b"\0" in raw or raw in (b".", b".."):
            raise SCPProtocolError(f"error: unexpected filename: {shown!r}")
        name = os.fsdecode(raw)
        if is_dir and not self.recursive:
            raise SCPProtocolError(f"protocol error: received directory {shown!r} without -r")
        if self._stack:
            return name
        for pattern in self._patterns:
            magic = any(c in pattern for c in "*?[")
            if (fnmatch.fnmatchcase(name, pattern) if magic else name == pattern):
                if not magic:
                    self._seen[pattern] = self._seen.get(pattern, 0) + 1
                    if self._seen[pattern] > 1:
                        raise SCPProtocolError(f"protocol error: {shown!r} sent twice")
                return name
        raise SCPProtocolError(f"protocol error: filename {shown!r} does not match request")


def _parse_times(line: bytes) -> Times:
    parts = line[1:].split(b" ")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        raise SCPProtocolError("protocol error: bad times record")
    msec, musec, asec, ausec = (int(p) for p in parts)
    if musec > 999999 or ausec > 999999 or msec >= 2 ** 63 or asec >= 2 ** 63:
        raise SCPProtocolError("protocol error: times out of range")
    return Times(msec, asec)


def _parse_header(line: bytes) -> tuple[int, int, bytes]:
    modes, sep, rest = line[1:].partition(b" ")
    if len(modes) != 4 or not sep or any(c not in b"01234567" for c in modes):
        raise SCPProtocolError("protocol error: bad mode")
    sizes, sep, name = rest.partition(b" ")
    if not sizes.isdigit() or not sep:
        raise SCPProtocolError("protocol error: bad size")
    size = int(sizes)
    if size >= 2 ** 63:
        raise SCPProtocolError("protocol error: size out of range")
    return int(modes, 8), size, name


# --------------------------------------------------------------------------- drivers


class _Session:
    """A remote ``scp -t``/``scp -f`` run on a session channel (bytes both ways), its
    stderr shown (sanitized) as it comes."""

    def __init__(self, proc: Any, err: Any) -> None:
        self.proc = proc
        self._err = err
        self._buf = bytearray()
        self._stderr_task = asyncio.ensure_future(self._show_stderr())

    @classmethod
    async def start(cls, conn: Any, command: str, err: Any) -> _Session:
        return cls(await conn.create_process(command, encoding=None), err)

    async def _show_stderr(self) -> None:
        async for line in self.proc.stderr:
            print(sanitize(line.rstrip(b"\n")), file=self._err)

    async def read(self) -> bytes:
        return await self.proc.stdout.read(_CHUNK)

    async def response(self) -> Response:
        while (resp := parse_response(self._buf)) is None:
            data = await self.read()
            if not data:
                raise SCPProtocolError("lost connection")
            self._buf += data
        if resp.fatal:
            raise SCPProtocolError(resp.message or "the remote scp failed")
        return resp

    async def write(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        await self.proc.stdin.drain()

    async def finish(self) -> int | None:
        """Close stdin, wait for the remote scp to exit; its exit status."""
        self.proc.stdin.write_eof()
        self._buf.clear()
        while await self.proc.stdout.read(_CHUNK):
            pass
        await self._stderr_task
        result = await self.proc.wait()
        return result.exit_status

    def abort(self) -> None:
        self._stderr_task.cancel()
        self.proc.close()


def _command(mode: str, path: str, *, recursive: bool, preserve: bool, target_dir: bool = False
             ) -> str:
    flags = [mode] + (["-r"] if recursive else []) + (["-p"] if preserve else [])
    flags += ["-d"] if target_dir else []
    return f"scp {' '.join(flags)} -- {_quote(path or '.')}"


def _quote(path: str) -> str:
    """``path`` for the remote shell: quoted, except a leading ``~`` and the glob
    characters ``*?[]``, which the remote shell expands (as scp -O lets it)."""
    head = ""
    if path == "~" or path.startswith("~/"):
        head, path = "~", path[1:]
    out, plain = [head], ""
    for c in path:
        if c in "*?[]":
            out += [shlex.quote(plain) if plain else "", c]
            plain = ""
        else:
            plain += c
    out.append(shlex.quote(plain) if plain else "")
    return "".join(out)


class _Writer:
    """Where a download's records land on the local file system."""

    def __init__(self, target: str, preserve: bool, err: Any) -> None:
        self.target = target
        self.target_is_dir = os.path.isdir(target)
        self.preserve = preserve
        self.err = err
        self.failures = 0
        self.dirs: list[tuple[str, bool]] = []  # each entered directory, and if we made it
        self.fd = -1
        self.path = ""
        self.start: FileStart | None = None
        self.existed = False
        self.error: str | None = None

    def fail(self, message: str, *, ours: bool = True) -> None:
        self.failures += 1
        print(f"sshcore scp: {sanitize(message)}" if ours else message, file=self.err)

    def path_for(self, name: str) -> str:
        if self.dirs:
            return os.path.join(self.dirs[-1][0], name)
        return os.path.join(self.target, name) if self.target_is_dir else self.target

    def dir_start(self, ev: DirStart, sink: Sink) -> None:
        path = self.path_for(ev.name)
        try:
            made = not os.path.isdir(path)
            if made and os.path.lexists(path):
                raise NotADirectoryError(20, "Not a directory", path)
            if made:
                os.mkdir(path, (ev.mode & 0o777) | 0o700)  # writable by us while filled
        except OSError as exc:
            sink.reject(_oserror(exc, path))
            self.fail(_oserror(exc, path))
            return
        sink.accept()
        self.dirs.append((path, made))

    def dir_end(self, ev: DirEnd) -> None:
        path, made = self.dirs.pop()
        try:
            if self.preserve:
                os.chmod(path, ev.mode & _MODE_MASK)
                if ev.times is not None:
                    os.utime(path, (ev.times.atime, ev.times.mtime))
            elif made and ev.mode & 0o700 != 0o700:
                # Now the mode sent, less umask: take off the owner bits it lacks.
                os.chmod(path, _stat.S_IMODE(os.stat(path).st_mode) & ~(0o700 & ~ev.mode))
        except OSError as exc:
            self.fail(_oserror(exc, path))

    def file_start(self, ev: FileStart, sink: Sink) -> None:
        self.path = self.path_for(ev.name)
        self.existed = os.path.lexists(self.path)
        try:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, (ev.mode & 0o777) | 0o200)
        except OSError as exc:
            sink.reject(_oserror(exc, self.path))
            self.fail(_oserror(exc, self.path))
            return
        self.start, self.error = ev, None
        sink.accept()

    def file_data(self, ev: FileData) -> None:
        if self.error is None:
            try:
                _write_all(self.fd, ev.data)
            except OSError as exc:
                self.error = _oserror(exc, self.path)

    def file_end(self, ev: FileEnd, sink: Sink) -> None:
        start = self.start
        assert start is not None
        try:
            if self.error is None:
                os.ftruncate(self.fd, start.size)
                if self.preserve:
                    os.fchmod(self.fd, start.mode & _MODE_MASK)
                elif not self.existed and not start.mode & 0o200:
                    # Created writable to be written: now the mode sent, less umask.
                    os.fchmod(self.fd, _stat.S_IMODE(os.fstat(self.fd).st_mode) & ~0o200)
        except OSError as exc:
            self.error = _oserror(exc, self.path)
        finally:
            self.close()
        if self.preserve and start.times is not None and self.error is None:
            try:
                os.utime(self.path, (start.times.atime, start.times.mtime))
            except OSError as exc:
                self.error = _oserror(exc, self.path)
        if not ev.ok:
            self.fail(ev.message, ours=False)
        if self.error is not None:
            sink.reject(self.error)
            self.fail(self.error)
        else:
            sink.accept()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


async def download(conn: Any, remote: str, target: str, *, recursive: bool = False,
                   preserve: bool = False, err: Any = None) -> int:
    """Copy ``remote`` (a path or glob on the server) to the local ``target`` with
    ``scp -f``; the number of files that failed (each reported on ``err``).

    :raises SCPProtocolError: the server broke the protocol or sent what was not asked
        for; nothing is written for the offending record.
    """
    err = err if err is not None else sys.stderr
    session = await _Session.start(conn, _command("-f", remote, recursive=recursive,
                                                  preserve=preserve), err)
    sink = Sink([remote], recursive=recursive)
    w = _Writer(target, preserve, err)
    try:
        while True:
            out = sink.data_to_send()
            if out:
                await session.write(out)
            ev = sink.next_event()
            if ev is None:
                data = await session.read()
                if data:
                    sink.feed(data)
                else:
                    sink.feed_eof()
            elif isinstance(ev, Done):
                break
            elif isinstance(ev, FileData):
                w.file_data(ev)
            elif isinstance(ev, FileStart):
                w.file_start(ev, sink)
            elif isinstance(ev, FileEnd):
                w.file_end(ev, sink)
            elif isinstance(ev, DirStart):
                w.dir_start(ev, sink)
            elif isinstance(ev, DirEnd):
                w.dir_end(ev)
            elif isinstance(ev, RemoteWarning):
                w.fail(ev.message, ours=False)
    except BaseException:
        w.close()
        session.abort()
        raise
    status = await session.finish()
    return w.failures or int(status not in (0, None))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _oserror(exc: OSError, path: str) -> str:
    return f"{path}: {exc.strerror or exc}"


async def upload(conn: Any, paths: list[str], target: str, *, recursive: bool = False,
                 preserve: bool = False, target_dir: bool = False, err: Any = None) -> int:
    """Copy local ``paths`` to ``target`` on the server with ``scp -t``; the number of
    files that failed (each reported on ``err``)."""
    err = err if err is not None else sys.stderr
    session = await _Session.start(conn, _command("-t", target, recursive=recursive,
                                                  preserve=preserve, target_dir=target_dir), err)
    failures = 0

    def fail(message: str) -> None:
        nonlocal failures
        failures += 1
        print(sanitize(message), file=err)

    async def answered(record: bytes) -> bool:
        await session.write(record)
        resp = await session.response()
        if not resp.ok:
            fail(resp.message)
        return resp.ok

    async def send(path: str) -> None:
        try:
            st = os.stat(path)
        except OSError as exc:
            fail(f"sshcore scp: {_oserror(exc, path)}")
            return
        name = os.path.basename(path.rstrip("/")) or path
        try:
            header = (dir_record(st.st_mode, name) if _stat.S_ISDIR(st.st_mode)
                      else file_record(st.st_mode, st.st_size, name))
        except SCPError as exc:  # a newline in the name: the protocol cannot carry it
            fail(f"sshcore scp: {exc}")
            return
        if _stat.S_ISDIR(st.st_mode) and recursive:
            try:
                entries = sorted(os.listdir(path))
            except OSError as exc:
                fail(f"sshcore scp: {_oserror(exc, path)}")
                return
            if preserve and not await answered(times_record(st.st_mtime, st.st_atime)):
                return
            if not await answered(header):
                return
            for entry in entries:
                await send(os.path.join(path, entry))
            await answered(END_RECORD)
            return
        if not _stat.S_ISREG(st.st_mode):
            fail(f"sshcore scp: {path}: not a regular file")
            return
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed below, around awaits
        except OSError as exc:
            fail(f"sshcore scp: {_oserror(exc, path)}")
            return
        with f:
            if preserve and not await answered(times_record(st.st_mtime, st.st_atime)):
                return
            if not await answered(header):
                return
            left, problem = st.st_size, None
            while left:
                try:
                    chunk = f.read(min(left, _CHUNK)) if problem is None else b""
                except OSError as exc:
                    problem, chunk = _oserror(exc, path), b""
                if not chunk:  # shrank or failed: keep the stream in step with zeros
                    problem = problem or f"{path}: file changed size while read"
                    chunk = bytes(min(left, _CHUNK))
                await session.write(chunk)
                left -= len(chunk)
            await answered(OK if problem is None else error_record(problem))
            if problem is not None:
                fail(f"sshcore scp: {problem}")

    try:
        resp = await session.response()  # the sink's "ready"
        if not resp.ok:
            raise SCPProtocolError(resp.message)
        for path in paths:
            await send(path)
    except BaseException:
        session.abort()
        raise
    status = await session.finish()
    return failures or int(status not in (0, None))


async def _connect(args: Any, remote: Any, stack: contextlib.AsyncExitStack) -> Any:
    from sshcore import connect
    from sshcore.cli import connection_options

    saved = args.port
    if remote.port is not None:
        args.port = remote.port
    try:
        dest = f"{remote.user}@{remote.host}" if remote.user else remote.host
        target, port, user, known_hosts, kwargs, _ = await connection_options(args, dest)
    finally:
        args.port = saved
    return await stack.enter_async_context(
        connect(target, port, username=user, known_hosts=known_hosts, **kwargs))


async def run(args: Any, sources: list[tuple[str, Any]], dst_arg: str, dst: Any) -> int:
    """``sshcore scp -O``: ``sources``/``dst`` are (operand, Remote or None) as the scp
    command parsed them; the exit status (1: a file failed or the server misbehaved).
    A connection that fails raises, for the caller to report (status 255)."""
    err = sys.stderr
    if dst is not None and any(r is not None for _, r in sources):
        print("sshcore scp: -O copies between two remote hosts are not supported", file=err)
        return 1
    if dst is None and any(r is None for _, r in sources):
        print("sshcore scp: -O copies from a local path to a local path are not supported",
              file=err)
        return 1
    status = 0
    conns: dict[tuple[Any, ...], Any] = {}
    async with contextlib.AsyncExitStack() as stack:

        async def conn_for(remote: Any) -> Any:
            key = (remote.user, remote.host, remote.port)
            if key not in conns:
                conns[key] = await _connect(args, remote, stack)
            return conns[key]

        try:
            if dst is not None:
                local = []
                for path, _ in sources:
                    if os.path.exists(path):
                        local.append(path)
                    else:
                        print(f"sshcore scp: {path}: No such file or directory", file=err)
                        status = 1
                if local and await upload(await conn_for(dst), local, dst.path or ".",
                                          recursive=args.recurse, preserve=args.preserve,
                                          target_dir=len(sources) > 1, err=err):
                    status = 1
                return status
            if len(sources) > 1 and not os.path.isdir(dst_arg):
                print(f"sshcore scp: target '{sanitize(dst_arg)}': Not a directory", file=err)
                return 1
            for _, src in sources:
                if await download(await conn_for(src), src.path or ".", dst_arg,
                                  recursive=args.recurse, preserve=args.preserve, err=err):
                    status = 1
        except SCPProtocolError as exc:
            print(f"sshcore scp: {exc}", file=err)
            return 1
    return status
