"""``sshcore scp SRC... DST`` and ``sshcore sftp [USER@]HOST``, over the SFTP client.

scp works as OpenSSH 9's does by default: over SFTP, ``[user@]host:path`` (or
``scp://[user@]host[:port][/path]``) operands, remote globs expanded by the client,
``-r`` recursive, ``-p`` preserving modes and times, remote-to-remote copies through
this machine (server-side with copy-data when both ends are the same host).  sftp is the
interactive client, with ``-b batchfile`` as OpenSSH's (``-`` before a command ignores
its failure, ``@`` hides its echo).  Batches, commands and ``scp /dev/stdin`` uploads are
read through :mod:`sshcore.aio.stdio`, so stdin may be a file, a pipe, /dev/null or closed.  Both draw a progress meter on a terminal only, and
report a failure as one line on stderr; scp exits 1 when a file failed and 255 when a
connection did.  Run as the ``sshcore`` program, both end their process without the
interpreter's teardown once their output is flushed (see :func:`_exit_now`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob as _glob
import os
import posixpath
import shlex
import shutil
import stat as _stat
import sys
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sshcore.aio.stdio import open_input, open_stdin, read_lines, stdin_fd

from ._progress import ProgressMeter

__all__ = ["parse_remote", "Remote"]


# --------------------------------------------------------------------------- operands


@dataclass(frozen=True, slots=True)
class Remote:
    """A ``[user@]host:path`` operand."""

    user: str | None
    host: str
    port: int | None
    path: str


def parse_remote(arg: str) -> Remote | None:
    """The remote operand ``arg`` denotes, or None for a local path (as scp decides: a
    colon before any slash; ``[v6addr]:path``; ``scp://[user@]host[:port][/path]``)."""
    if arg.startswith("scp://"):
        rest = arg[6:]
        hostpart, slash, path = rest.partition("/")
        user, at, hostport = hostpart.rpartition("@")
        port = None
        if hostport.startswith("["):
            host, _, tail = hostport[1:].partition("]")
            if tail.startswith(":") and tail[1:]:
                port = _port(tail[1:], arg)
        else:
            host, colon, p = hostport.partition(":")
            if colon and p:
                port = _port(p, arg)
        if not host:
            raise ValueError(f"invalid scp URI {arg!r}")
        return Remote(user if at else None, host, port, path if slash else "")
    if arg.startswith("/") or arg.startswith("./"):
        return None
    user: str | None = None
    head = arg
    first_colon = _find_colon(head)
    if first_colon is None:
        return None
    at = head.find("@")
    if 0 <= at < first_colon:
        user, head = head[:at], head[at + 1:]
    colon = _find_colon(head)
    if colon is None:
        return None
    host, path = head[:colon], head[colon + 1:]
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        return None
    return Remote(user or None, host, None, path)


def _find_colon(s: str) -> int | None:
    """OpenSSH's colon(): the host/path colon, skipping [v6] brackets; None if a slash
    comes first (a local path)."""
    in_brackets = False
    for i, ch in enumerate(s):
        if ch == "[" and i == 0:
            in_brackets = True
        elif ch == "]" and in_brackets:
            in_brackets = False
        elif ch == ":" and not in_brackets:
            return i
        elif ch == "/" and not in_brackets:
            return None
    return None


def _port(text: str, arg: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"invalid port in {arg!r}")
    return int(text)


# --------------------------------------------------------------------------- connecting


class _Failure(Exception):
    """A message for stderr, and the exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


async def _connect_sftp(args: argparse.Namespace, user: str | None, host: str,
                        port: int | None, stack: contextlib.AsyncExitStack) -> Any:
    from sshcore import connect
    from sshcore.cli import connection_options

    saved = args.port
    if port is not None:
        args.port = port
    try:
        dest = f"{user}@{host}" if user else host
        target, p, u, known_hosts, kwargs, _ = await connection_options(args, dest)
    finally:
        args.port = saved
    conn = await stack.enter_async_context(
        connect(target, p, username=u, known_hosts=known_hosts, **kwargs))
    options = {k: v for k, v in (("block_size", args.block_size),
                                 ("max_requests", args.requests)) if v}
    return await stack.enter_async_context(conn.start_sftp_client(**options))


def _describe(exc: BaseException) -> str:
    from ._protocol import SFTPError

    if isinstance(exc, SFTPError):
        return str(exc.args[0]) if exc.args else exc.message
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


def _is_file_error(exc: BaseException) -> bool:
    from ._protocol import SFTPError

    from ._client import SFTPConnectionLostError

    if isinstance(exc, SFTPConnectionLostError):
        return False
    return isinstance(exc, (SFTPError, OSError)) and not isinstance(exc, ConnectionError)


def _run(prog: str, coro: Callable[[], Awaitable[int]]) -> int:
    status = _run_command(prog, coro)
    if _whole_program():
        _exit_now(status)
    return status


def _run_command(prog: str, coro: Callable[[], Awaitable[int]]) -> int:
    from sshcore.errors import SSHError

    try:
        return asyncio.run(coro())
    except _Failure as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130
    except (SSHError, OSError, ValueError) as exc:
        status = 1 if _is_file_error(exc) else 255
        print(f"{prog}: {_describe(exc)}", file=sys.stderr)
        return status


def _whole_program() -> bool:
    """Whether this process is the ``sshcore`` program (its console script or ``python -m
    sshcore``) rather than code that called :func:`sshcore.cli.main` itself."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return (getattr(spec, "name", None) == "sshcore.__main__"
            or os.path.basename(sys.argv[0] if sys.argv else "") == "sshcore")


def _exit_now(status: int) -> None:
    """End the process once the transfer is over, as mypy does: flush what was written,
    then skip the interpreter's teardown (freeing every module and object: ~40 ms of
    CPU with the modules a connection loads, a tenth of a short transfer's whole run).
    Files were closed by the transfer; the OS closes the connection's socket."""
    import logging

    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken pipe: nothing more can reach it
    logging.shutdown()
    os._exit(status)


def _transfer_arguments(p: argparse.ArgumentParser) -> None:
    from sshcore.cli import add_connection_arguments

    add_connection_arguments(p, ("-P",))
    p.add_argument("-B", dest="block_size", type=int, metavar="BYTES",
                   help="bytes per read/write request (default: the server's limit, else 32768)")
    p.add_argument("-R", dest="requests", type=int, metavar="N",
                   help="outstanding requests per transfer (default: 4 MiB worth, 16 to 128)")


# --------------------------------------------------------------------------- scp


def _scp_arguments(p: argparse.ArgumentParser) -> None:
    _transfer_arguments(p)
    p.add_argument("-r", dest="recurse", action="store_true", help="copy directories recursively")
    p.add_argument("-p", dest="preserve", action="store_true",
                   help="preserve modification times and modes")
    p.add_argument("-q", dest="quiet", action="store_true", help="no progress meter")
    p.add_argument("-O", dest="legacy", action="store_true",
                   help="use the legacy SCP protocol (remote scp -t/-f) instead of SFTP")
    p.add_argument("operands", nargs="+", metavar="PATH",
                   help="[user@]host:path, scp://[user@]host[:port]/path or a local path")


def _scp_main(args: argparse.Namespace) -> int:
    return _run("sshcore scp", lambda: _scp(args))


async def _scp(args: argparse.Namespace) -> int:
    from . import _transfer

    if len(args.operands) < 2:
        raise _Failure("usage: sshcore scp [-Oprq] [-P port] [-i key] [-o opt] SRC... DST", 2)
    try:
        parsed = [(op, parse_remote(op)) for op in args.operands]
    except ValueError as exc:
        raise _Failure(str(exc), 2) from None
    *sources, (dst_arg, dst) = parsed
    if args.legacy and (dst is not None or any(src is not None for _, src in sources)):
        from . import _scp_legacy

        return await _scp_legacy.run(args, sources, dst_arg, dst)
    meter = None if args.quiet else ProgressMeter(sys.stdout)
    progress = meter if meter is not None and meter.enabled else None
    opts = dict(recurse=args.recurse, preserve=args.preserve, progress=progress)
    status = 0
    async with contextlib.AsyncExitStack() as stack:
        clients: dict[tuple[str | None, str, int | None], Any] = {}

        async def client_for(r: Remote) -> Any:
            key = (r.user, r.host, r.port)
            if key not in clients:
                try:
                    clients[key] = await _connect_sftp(args, r.user, r.host, r.port, stack)
                except Exception as exc:  # noqa: BLE001 - any failure to reach the host
                    raise _Failure(f"{r.host}: {_describe(exc)}", 255) from None
            return clients[key]

        dst_client = await client_for(dst) if dst is not None else None
        dst_path: Any = (dst.path or ".") if dst is not None else dst_arg
        if len(sources) > 1:
            is_dir = (await dst_client.isdir(dst_path) if dst_client is not None
                      else os.path.isdir(dst_path))
            if not is_dir:
                raise _Failure(f"target '{dst_arg}': Not a directory")
        for src_arg, src in sources:
            try:
                if src is None:
                    paths = sorted(_glob.glob(src_arg)) if _glob.has_magic(src_arg) else [src_arg]
                    if not paths:
                        raise _Failure(f"{src_arg}: No such file or directory")
                    if dst_client is None:
                        _local_copy(paths, dst_path, args.recurse, args.preserve)
                        continue
                    streams = [p for p in paths if _is_stream(p)]
                    for path in streams:  # /dev/stdin, a named pipe, /dev/null
                        await _put_stream(dst_client, path, dst_path, args.block_size)
                    files = [p for p in paths if p not in streams]
                    if files:
                        await _transfer.put(dst_client, files, dst_path, **opts)
                    continue
                sc = await client_for(src)
                paths = [src.path or "."]
                if _glob.has_magic(src.path):
                    paths = await sc.glob(src.path)
                    if not paths:
                        raise _Failure(f"{src_arg}: No such file or directory")
                if dst_client is None:
                    await _transfer.get(sc, paths, dst_path, **opts)
                elif sc is dst_client:
                    await _transfer.copy(sc, paths, dst_path, **opts)
                else:
                    await _transfer.copy_between(sc, paths, dst_client, dst_path, **opts)
            except _Failure as exc:
                if exc.status != 1:
                    raise
                print(f"sshcore scp: {exc}", file=sys.stderr)
                status = 1
            except Exception as exc:  # noqa: BLE001 - reported per source, as scp does
                if not _is_file_error(exc):
                    raise
                print(f"sshcore scp: {_describe(exc)}", file=sys.stderr)
                status = 1
            finally:
                if meter is not None:
                    meter.finish()
    return status


def _is_stream(path: str) -> bool:
    """Whether a local source is read as a stream (a pipe, socket or device: ``/dev/stdin``
    with stdin a pipe) rather than as a file with a size and offsets."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False  # missing: the transfer reports it
    return not (_stat.S_ISREG(mode) or _stat.S_ISDIR(mode))


async def _put_stream(client: Any, src: str, dst: Any, block: int | None) -> None:
    """Upload what ``src`` gives until its end, in order (it cannot be read at offsets),
    through a reader that never blocks the connection (see :mod:`sshcore.aio.stdio`)."""
    if await client.isdir(dst):
        dst = posixpath.join(dst, os.path.basename(src.rstrip("/")))
    fd = os.open(src, os.O_RDONLY)
    try:
        reader = open_input(fd)
        try:
            async with await client.open(dst, "wb") as f:
                while data := await reader.read(block or 65536):
                    await f.write(data)
        finally:
            reader.close()
    finally:
        os.close(fd)


def _local_copy(paths: list[str], dst: str, recurse: bool, preserve: bool) -> None:
    into = os.path.isdir(dst)
    for src in paths:
        target = os.path.join(dst, os.path.basename(src.rstrip("/"))) if into else dst
        if os.path.isdir(src):
            if not recurse:
                raise _Failure(f"{src}: Is a directory (use -r)")
            shutil.copytree(src, target, dirs_exist_ok=True,
                            copy_function=shutil.copy2 if preserve else shutil.copy)
        else:
            (shutil.copy2 if preserve else shutil.copy)(src, target)


# --------------------------------------------------------------------------- sftp


def _sftp_arguments(p: argparse.ArgumentParser) -> None:
    _transfer_arguments(p)
    p.add_argument("-b", dest="batch", metavar="BATCHFILE",
                   help="read commands from BATCHFILE ('-': stdin); stop at the first failure")
    p.add_argument("-q", dest="quiet", action="store_true", help="no progress meter")
    p.add_argument("destination", help="[USER@]HOST[:DIR]")


def _sftp_main(args: argparse.Namespace) -> int:
    return _run("sshcore sftp", lambda: _sftp(args))


async def _sftp(args: argparse.Namespace) -> int:
    if args.batch is not None:  # as OpenSSH's sftp -b: nobody is there to type a password
        args.option = [*(args.option or []), "BatchMode=yes"]
    r = parse_remote(args.destination)
    if r is None:
        user, _, host = args.destination.rpartition("@")
        r = Remote(user or None, host, None, "")
    async with contextlib.AsyncExitStack() as stack:
        try:
            client = await _connect_sftp(args, r.user, r.host, r.port, stack)
        except Exception as exc:  # noqa: BLE001
            raise _Failure(f"{r.host}: {_describe(exc)}", 255) from None
        shell = SFTPShell(client, quiet=args.quiet or args.batch is not None)
        if r.path:
            await shell.run_line(f"cd {shlex.quote(r.path)}")
        if args.batch is not None:
            with _input(args.batch) as reader:
                return await shell.run_batch(read_lines(reader))
        if not _stdin_is_a_terminal():  # commands from a file or a pipe, as OpenSSH's sftp
            with _input("-") as reader:
                return await shell.run_commands(read_lines(reader))
        return await shell.interactive()


def _stdin_is_a_terminal() -> bool:
    fd = stdin_fd()
    return fd is not None and os.isatty(fd)


@contextlib.contextmanager
def _input(path: str) -> Any:
    """A reader for ``path`` (``-``: stdin), whatever it is: a regular file, a pipe,
    /dev/null, a closed stdin (empty); never blocking the connection's loop."""
    if path == "-":
        reader = open_stdin()
        try:
            yield reader
        finally:
            reader.close()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        reader = open_input(fd)
        try:
            yield reader
        finally:
            reader.close()
    finally:
        os.close(fd)


async def _lines(lines: Iterable[str] | AsyncIterable[str]) -> AsyncIterator[str]:
    if isinstance(lines, AsyncIterable):
        async for line in lines:
            yield line
    else:
        for line in lines:
            yield line


def _prefixes(raw: str) -> tuple[str, bool, bool]:
    """A command line's text without its ``-`` (ignore a failure) and ``@`` (no echo)
    prefixes: (line, ignore, echo); blank lines and ``#`` comments give ``""``."""
    line = raw.strip()
    if line.startswith("#"):
        return "", False, False
    ignore, echo = False, True
    while line[:1] in ("-", "@"):
        if line[0] == "-":
            ignore = True
        else:
            echo = False
        line = line[1:].lstrip()
    return line, ignore, echo


class _CommandError(Exception):
    pass


class SFTPShell:
    """The commands of OpenSSH's sftp, on an :class:`SFTPClient`."""

    def __init__(self, client: Any, *, quiet: bool = False, out: Any = None) -> None:
        self.client = client
        self.out = out or sys.stdout
        meter = ProgressMeter(self.out)
        self.meter = meter if meter.enabled and not quiet else None
        self.done = False
        self.commands: dict[str, Callable[[list[str]], Awaitable[None]]] = {
            "ls": self.ls, "dir": self.ls, "cd": self.cd, "chdir": self.cd, "lcd": self.lcd,
            "lchdir": self.lcd, "pwd": self.pwd, "lpwd": self.lpwd, "get": self.get,
            "mget": self.get, "put": self.put, "mput": self.put, "reget": self.get,
            "mkdir": self.mkdir, "lmkdir": self.lmkdir, "rmdir": self.rmdir, "rm": self.rm,
            "rename": self.rename, "ln": self.ln, "symlink": self.symlink, "chmod": self.chmod,
            "stat": self.stat, "df": self.df, "lls": self.lls, "copy": self.copy, "cp": self.copy,
            "help": self.help, "?": self.help, "bye": self.bye, "exit": self.bye,
            "quit": self.bye, "version": self.version,
        }

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # ------------------------------------------------------------------ running

    async def run_line(self, line: str) -> None:
        """Run one command line; failures raise :class:`_CommandError` (message set)."""
        try:
            words = shlex.split(line, comments=False)
        except ValueError as exc:
            raise _CommandError(f"Invalid command line: {exc}") from None
        if not words:
            return
        name, argv = words[0], words[1:]
        fn = self.commands.get(name)
        if fn is None:
            raise _CommandError(f"Invalid command: {name}")
        try:
            await fn(argv)
        except _CommandError:
            raise
        except Exception as exc:  # noqa: BLE001
            from sshcore.errors import SSHError

            if isinstance(exc, (SSHError, OSError, ValueError)) and _is_file_error(exc) \
                    or isinstance(exc, ValueError):
                raise _CommandError(_describe(exc)) from None
            raise
        finally:
            if self.meter is not None:
                self.meter.finish()

    async def run_commands(self, lines: Iterable[str] | AsyncIterable[str]) -> int:
        """Commands from a file or pipe (not a terminal, no -b): echo each one and go on
        after a failure, as OpenSSH's sftp does; exit 0 at the end of the input."""
        async for raw in _lines(lines):
            line, _, echo = _prefixes(raw)
            if not line:
                continue
            if echo:
                self.say(f"sftp> {line}")
            try:
                await self.run_line(line)
            except _CommandError as exc:
                print(f"sshcore sftp: {exc}", file=sys.stderr, flush=True)
            if self.done:
                break
        return 0

    async def run_batch(self, lines: Iterable[str] | AsyncIterable[str]) -> int:
        """OpenSSH's -b: echo each command, stop at the first failure (exit 1) unless the
        command starts with ``-``; ``@`` suppresses the echo.  Each line runs as soon as it
        has been read (``lines`` may be an async iterable still being written)."""
        async for raw in _lines(lines):
            line, ignore, echo = _prefixes(raw)
            if not line:
                continue
            if echo:
                self.say(f"sftp> {line}")
            try:
                await self.run_line(line)
            except _CommandError as exc:
                print(f"sshcore sftp: {exc}", file=sys.stderr, flush=True)
                if not ignore:
                    return 1
            if self.done:
                break
        return 0

    async def interactive(self) -> int:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401 - line editing for input()
        while not self.done:
            try:
                line = await loop.run_in_executor(None, input, "sftp> ")
            except EOFError:
                self.say("")
                break
            try:
                await self.run_line(line)
            except _CommandError as exc:
                print(f"sshcore sftp: {exc}", file=sys.stderr, flush=True)
        return 0

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _flags(argv: list[str], allowed: str) -> tuple[set[str], list[str]]:
        flags: set[str] = set()
        rest: list[str] = []
        for i, a in enumerate(argv):
            if a == "--":
                rest += argv[i + 1:]
                break
            if a.startswith("-") and len(a) > 1 and not rest:
                for ch in a[1:]:
                    if ch not in allowed:
                        raise _CommandError(f"unknown option -{ch}")
                    flags.add(ch)
            else:
                rest.append(a)
        return flags, rest

    @staticmethod
    def _need(argv: list[str], lo: int, hi: int, usage: str) -> None:
        if not lo <= len(argv) <= hi:
            raise _CommandError(f"usage: {usage}")

    async def _remote_glob(self, pattern: str) -> list[str]:
        if not _glob.has_magic(pattern):
            return [pattern]
        found = await self.client.glob(pattern)
        if not found:
            raise _CommandError(f"{pattern}: No such file or directory")
        return found

    def _progress(self) -> Any:
        return self.meter

    # ------------------------------------------------------------------ commands

    async def ls(self, argv: list[str]) -> None:
        flags, rest = self._flags(argv, "lanh1")
        targets = rest or ["."]
        for target in targets:
            paths = await self._remote_glob(target)
            for path in paths:
                attrs = await self.client.stat(path)
                if attrs.is_dir() and (not _glob.has_magic(target)):
                    entries = await self.client.readdir(path)
                    entries = [e for e in entries if "a" in flags or not e.filename.startswith(".")]
                    entries.sort(key=lambda e: e.filename)
                    for e in entries:
                        self.say(e.longname if "l" in flags else e.filename)
                else:
                    if "l" in flags:
                        from ._protocol import longname

                        self.say(longname(path.encode("utf-8", "surrogateescape"), attrs).decode(
                            "utf-8", "surrogateescape"))
                    else:
                        self.say(path)

    async def lls(self, argv: list[str]) -> None:
        _, rest = self._flags(argv, "la1")
        for name in sorted(os.listdir(rest[0] if rest else ".")):
            self.say(name)

    async def cd(self, argv: list[str]) -> None:
        self._need(argv, 0, 1, "cd [path]")
        await self.client.chdir(argv[0] if argv else "~")

    async def lcd(self, argv: list[str]) -> None:
        self._need(argv, 0, 1, "lcd [path]")
        try:
            os.chdir(os.path.expanduser(argv[0] if argv else "~"))
        except OSError as exc:
            raise _CommandError(f"Couldn't change local directory to \"{argv[0] if argv else '~'}\": "
                                f"{exc.strerror}") from None

    async def pwd(self, argv: list[str]) -> None:
        cwd = self.client.getcwd() or await self.client.realpath(".")
        self.say(f"Remote working directory: {cwd}")

    async def lpwd(self, argv: list[str]) -> None:
        self.say(f"Local working directory: {os.getcwd()}")

    async def get(self, argv: list[str]) -> None:
        flags, rest = self._flags(argv, "rRpPfa")
        self._need(rest, 1, 2, "get [-rp] remote [local]")
        paths = await self._remote_glob(rest[0])
        dst = rest[1] if len(rest) > 1 else "."
        for p in paths:
            self.say(f"Fetching {p} to {dst if len(rest) > 1 else posixpath.basename(p)}")
        await self.client.get(paths, dst, recurse=bool(flags & {"r", "R"}),
                               preserve=bool(flags & {"p", "P"}), progress=self._progress())

    async def put(self, argv: list[str]) -> None:
        flags, rest = self._flags(argv, "rRpPfa")
        self._need(rest, 1, 2, "put [-rp] local [remote]")
        paths = sorted(_glob.glob(os.path.expanduser(rest[0]))) if _glob.has_magic(rest[0]) \
            else [os.path.expanduser(rest[0])]
        if not paths:
            raise _CommandError(f"{rest[0]}: No such file or directory")
        dst = rest[1] if len(rest) > 1 else "."
        for p in paths:
            self.say(f"Uploading {p} to {dst if len(rest) > 1 else os.path.basename(p)}")
        await self.client.put(paths, dst, recurse=bool(flags & {"r", "R"}),
                              preserve=bool(flags & {"p", "P"}), progress=self._progress())

    async def copy(self, argv: list[str]) -> None:
        flags, rest = self._flags(argv, "rp")
        self._need(rest, 2, 2, "copy [-rp] oldpath newpath")
        await self.client.copy(await self._remote_glob(rest[0]), rest[1],
                               recurse="r" in flags, preserve="p" in flags)

    async def mkdir(self, argv: list[str]) -> None:
        _, rest = self._flags(argv, "p")
        self._need(rest, 1, 1, "mkdir path")
        await self.client.mkdir(rest[0])

    async def lmkdir(self, argv: list[str]) -> None:
        self._need(argv, 1, 1, "lmkdir path")
        os.mkdir(argv[0])

    async def rmdir(self, argv: list[str]) -> None:
        self._need(argv, 1, 1, "rmdir path")
        await self.client.rmdir(argv[0])

    async def rm(self, argv: list[str]) -> None:
        self._need(argv, 1, 1, "rm path")
        for p in await self._remote_glob(argv[0]):
            await self.client.remove(p)

    async def rename(self, argv: list[str]) -> None:
        _, rest = self._flags(argv, "l")
        self._need(rest, 2, 2, "rename oldpath newpath")
        await self.client.rename(rest[0], rest[1])

    async def ln(self, argv: list[str]) -> None:
        flags, rest = self._flags(argv, "s")
        self._need(rest, 2, 2, "ln [-s] oldpath newpath")
        if "s" in flags:
            await self.client.symlink(rest[0], rest[1])
        else:
            await self.client.link(rest[0], rest[1])

    async def symlink(self, argv: list[str]) -> None:
        self._need(argv, 2, 2, "symlink oldpath newpath")
        await self.client.symlink(argv[0], argv[1])

    async def chmod(self, argv: list[str]) -> None:
        _, rest = self._flags(argv, "h")
        self._need(rest, 2, 2, "chmod mode path")
        try:
            mode = int(rest[0], 8)
        except ValueError:
            raise _CommandError(f"bad mode {rest[0]!r} (octal, like 644)") from None
        for p in await self._remote_glob(rest[1]):
            self.say(f"Changing mode on {p}")
            await self.client.chmod(p, mode)

    async def stat(self, argv: list[str]) -> None:
        self._need(argv, 1, 1, "stat path")
        a = await self.client.lstat(argv[0])
        mode = a.permissions or 0
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(a.mtime or 0))
        self.say(f"  File: {argv[0]}\n  Size: {a.size}  Type: {_kind(mode)}  Mode: "
                 f"{_stat.filemode(mode)} ({_stat.S_IMODE(mode):04o})  Uid: {a.uid}  Gid: {a.gid}\n"
                 f"Modify: {when}")

    async def df(self, argv: list[str]) -> None:
        flags, rest = self._flags(argv, "hi")
        v = await self.client.statvfs(rest[0] if rest else ".")
        if "i" in flags:
            self.say(f"{'Inodes':>10} {'Used':>10} {'Avail':>10} {'(root)':>10} %Capacity")
            used = v.files - v.ffree
            self.say(f"{v.files:10d} {used:10d} {v.favail:10d} {v.ffree:10d} "
                     f"{(100 * used // v.files) if v.files else 0:8d}%")
            return
        size, used, avail = (v.frsize * v.blocks, v.frsize * (v.blocks - v.bfree),
                             v.frsize * v.bavail)
        cap = 100 * (v.blocks - v.bfree) // v.blocks if v.blocks else 0
        if "h" in flags:
            from ._progress import format_size

            self.say(f"{'Size':>8} {'Used':>8} {'Avail':>8} {'(root)':>8} %Capacity")
            self.say(f"{format_size(size):>8} {format_size(used):>8} {format_size(avail):>8} "
                     f"{format_size(v.frsize * v.bfree):>8} {cap:8d}%")
        else:
            self.say(f"{'Size':>12} {'Used':>12} {'Avail':>12} {'(root)':>12} %Capacity")
            self.say(f"{size // 1024:12d} {used // 1024:12d} {avail // 1024:12d} "
                     f"{v.frsize * v.bfree // 1024:12d} {cap:8d}%")

    async def version(self, argv: list[str]) -> None:
        self.say(f"SFTP protocol version {self.client.version}")

    async def help(self, argv: list[str]) -> None:
        self.say("Available commands: " + " ".join(sorted(self.commands)))

    async def bye(self, argv: list[str]) -> None:
        self.done = True


def _kind(mode: int) -> str:
    for test, name in ((_stat.S_ISDIR, "directory"), (_stat.S_ISLNK, "symbolic link"),
                       (_stat.S_ISREG, "regular file")):
        if test(mode):
            return name
    return "other"

