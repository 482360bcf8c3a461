"""Stream-style process API on top of session channels (client and server)."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal as _signal
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..kernel.chanreq import EOWRequest
from ..errors import ConnectionLostError, ProcessError, SSHError
from ..kernel.messages import EXTENDED_DATA_STDERR
from .channel import SSHClientChannel, SSHClientSession, SSHServerChannel, SSHServerSession

#: ``create_process(stderr=STDOUT)``: the remote stderr arrives merged into stdout.
STDOUT = -2  # the value subprocess.STDOUT has


@dataclass
class SSHCompletedProcess:
    command: str | None
    exit_status: int | None
    exit_signal: tuple[str, bool, str, str] | None
    stdout: Any
    stderr: Any

    @property
    def returncode(self) -> int | None:
        if self.exit_signal is not None:
            num = getattr(_signal, "SIG" + self.exit_signal[0], None)
            return -int(num) if num is not None else -1
        return self.exit_status


class SSHStreamReader:
    """Buffers one direction of channel data; reading re-opens the channel window."""

    def __init__(self, chan: Any, encoding: str | None, errors: str = "strict") -> None:
        self._chan = chan
        self._buf: deque[bytes] = deque()
        self._size = 0
        self._eof = False
        self._exc: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._decoder = codecs.getincrementaldecoder(encoding)(errors) if encoding else None

    def _feed(self, data: bytes) -> None:
        self._buf.append(data)
        self._size += len(data)
        self._wake()

    def _feed_eof(self, exc: Exception | None = None) -> None:
        self._eof = True
        if exc is not None and self._exc is None:
            self._exc = exc
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        self._waiter = None

    async def _wait(self) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        await self._waiter

    def _take(self, n: int) -> bytes:
        if len(self._buf) == 1 and n >= self._size:
            # The common case when reading big chunks: hand the one buffered chunk over as is.
            taken = self._buf.popleft()
            self._size = 0
            if taken:
                self._chan.consume(len(taken))
            # Channel data arrives as views of decrypted packets: the application gets
            # bytes, and this is the one copy made of them.
            return taken if type(taken) is bytes else bytes(taken)
        data = b"".join(self._buf)
        self._buf.clear()
        taken, rest = data[:n], data[n:]
        if rest:
            self._buf.append(rest)
        self._size = len(rest)
        if taken:
            self._chan.consume(len(taken))
        return taken

    def _out(self, data: bytes, final: bool = False) -> Any:
        if self._decoder is None:
            return data
        return self._decoder.decode(data, final)

    def at_eof(self) -> bool:
        return self._eof and not self._size

    async def read(self, n: int = -1) -> Any:
        if n < 0:
            # Take data as it comes, so the window keeps re-opening until EOF.
            chunks = []
            while True:
                if self._size:
                    chunks.append(self._take(self._size))
                if self._eof:
                    return self._out(b"".join(chunks), final=True)
                await self._wait()
        while not self._size and not self._eof:
            await self._wait()
        return self._out(self._take(min(n, self._size)), final=self._eof and n >= self._size)

    async def readline(self) -> Any:
        return await self.readuntil(b"\n", partial_ok=True)

    async def readuntil(self, separator: bytes = b"\n", partial_ok: bool = False) -> Any:
        while True:
            data = b"".join(self._buf)
            idx = data.find(separator)
            if idx >= 0:
                self._buf.clear()
                self._buf.append(data)
                return self._out(self._take(idx + len(separator)))
            if self._eof:
                if partial_ok:
                    return self._out(self._take(self._size), final=True)
                raise asyncio.IncompleteReadError(data, None)
            await self._wait()

    async def readexactly(self, n: int) -> Any:
        while self._size < n:
            if self._eof:
                raise asyncio.IncompleteReadError(b"".join(self._buf), n)
            await self._wait()
        return self._out(self._take(n))

    def __aiter__(self) -> SSHStreamReader:
        return self

    async def __anext__(self) -> Any:
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line


class SSHStreamWriter:
    def __init__(self, chan: Any, datatype: int | None, encoding: str | None,
                 errors: str = "strict") -> None:
        self._chan = chan
        self._datatype = datatype
        self._encoding = encoding
        self._errors = errors

    def write(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode(self._encoding or "utf-8", self._errors)
        self._chan.write(data, self._datatype)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def write_eof(self) -> None:
        if self._datatype is None:
            self._chan.write_eof()

    def can_write_eof(self) -> bool:
        return self._datatype is None

    async def drain(self) -> None:
        await self._chan.drain()

    def close(self) -> None:
        self.write_eof()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class SSHClientProcess(SSHClientSession):
    """A remote process: ``stdin`` writer, ``stdout``/``stderr`` readers, ``wait()``."""

    consumes_on_read = True
    accepts_memoryview = True  # data only goes into buffers or a socket

    def __init__(self, encoding: str | None = "utf-8", errors: str = "strict",
                 merge_stderr: bool = False) -> None:
        self._encoding = encoding
        self._errors = errors
        self._merge_stderr = merge_stderr
        self.channel: SSHClientChannel | None = None
        self.command: str | None = None
        self._closed: asyncio.Future[None] = asyncio.get_event_loop().create_future()
        self._expecter: Any = None

    def connection_made(self, chan: Any) -> None:
        self.channel = chan
        self.stdin = SSHStreamWriter(chan, None, self._encoding, self._errors)
        self.stdout = SSHStreamReader(chan, self._encoding, self._errors)
        self.stderr = SSHStreamReader(chan, self._encoding, self._errors)

    def data_received(self, data: Any, datatype: int | None) -> None:
        to_stderr = datatype == EXTENDED_DATA_STDERR and not self._merge_stderr
        (self.stderr if to_stderr else self.stdout)._feed(data)

    def eof_received(self) -> bool:
        self.stdout._feed_eof()
        self.stderr._feed_eof()
        return True  # the exit status and close come from the server

    def connection_lost(self, exc: Exception | None) -> None:
        self.stdout._feed_eof(exc)
        self.stderr._feed_eof(exc)
        if not self._closed.done():
            self._closed.set_result(None)

    @property
    def exit_status(self) -> int | None:
        return self.channel.exit_status if self.channel else None

    @property
    def exit_signal(self) -> tuple[str, bool, str, str] | None:
        return self.channel.exit_signal if self.channel else None

    @property
    def returncode(self) -> int | None:
        return SSHCompletedProcess(None, self.exit_status, self.exit_signal, None, None).returncode

    def change_terminal_size(self, width: int, height: int, pixwidth: int = 0, pixheight: int = 0) -> None:
        assert self.channel is not None
        self.channel.change_terminal_size(width, height, pixwidth, pixheight)

    def send_signal(self, signal: str) -> None:
        assert self.channel is not None
        self.channel.send_signal(signal)

    async def send_break(self, msec: int) -> bool:
        assert self.channel is not None
        return await self.channel.send_break(msec)

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)

    @property
    def expecter(self) -> Any:
        """The :class:`~sshcore.aio.expect.Expecter` of this process, created on first use;
        from then on it reads stdout and stderr (both, always, so neither stalls)."""
        if self._expecter is None:
            from .expect import Expecter

            self._expecter = Expecter(self)
        return self._expecter

    async def expect(self, patterns: Any, *, timeout: float | None = None, stream: str = "stdout",
                     pager: Mapping[Any, Any] | None = None) -> Any:
        """Wait for one of ``patterns`` on ``stream``; see :meth:`.Expecter.expect`."""
        return await self.expecter.expect(patterns, timeout=timeout, stream=stream, pager=pager)

    def sendline(self, line: str | bytes = "") -> None:
        """Write ``line`` and a newline to stdin (for answering prompts)."""
        self.expecter.sendline(line)

    async def wait(self, check: bool = False) -> SSHCompletedProcess:
        """Wait for the process to exit, collecting any unread output."""
        if self._expecter is not None:
            stdout, stderr = await self._expecter.finish()
        else:
            stdout, stderr = await asyncio.gather(self.stdout.read(), self.stderr.read())
        await self.wait_closed()
        result = SSHCompletedProcess(self.command, self.exit_status, self.exit_signal, stdout, stderr)
        if check and (result.exit_status != 0 or result.exit_signal):
            raise ProcessError(self.command, result.exit_status,
                               result.exit_signal[0] if result.exit_signal else None, stdout, stderr)
        if result.exit_status is None and result.exit_signal is None:
            pass  # the server closed the channel without reporting a status
        return result

    async def __aenter__(self) -> SSHClientProcess:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self.close()
        await self.wait_closed()
        if self._expecter is not None:
            self._expecter.close()


# --------------------------------------------------------------------------- server side

ProcessFactory = Callable[["SSHServerProcess"], Awaitable[Any] | Any]


class SSHServerProcess(SSHServerSession):
    """Server side of a session as streams; ``process_factory(process)`` runs it."""

    consumes_on_read = True
    accepts_memoryview = True  # data only goes into buffers or a socket

    def __init__(self, process_factory: ProcessFactory, encoding: str | None = None,
                 errors: str = "strict", accept_env: Callable[[str], bool] | None = None,
                 allow_pty: bool = True,
                 accept_subsystem: Callable[[str], bool] | None = None) -> None:
        self._factory = process_factory
        self._encoding = encoding
        self._errors = errors
        self._accept_env = accept_env
        self._allow_pty = allow_pty
        self._accept_subsystem = accept_subsystem
        self.channel: SSHServerChannel | None = None
        self._task: asyncio.Task[Any] | None = None

    def connection_made(self, chan: Any) -> None:
        self.channel = chan
        self.stdin = SSHStreamReader(chan, self._encoding, self._errors)
        self.stdout = SSHStreamWriter(chan, None, self._encoding, self._errors)
        self.stderr = SSHStreamWriter(chan, EXTENDED_DATA_STDERR, self._encoding, self._errors)

    def use_binary(self) -> None:
        """Switch stdin, stdout and stderr to bytes (for subsystems such as sftp)."""
        self._encoding = None
        self.stdin._decoder = None
        for writer in (self.stdout, self.stderr):
            writer._encoding = None

    # requests
    def env_requested(self, name: str, value: str) -> bool:
        return self._accept_env is not None and self._accept_env(name)

    def pty_requested(self, term_type: str, term_size: Any, term_modes: Any) -> bool:
        return self._allow_pty

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        return True

    def subsystem_requested(self, subsystem: str) -> bool:
        return self._accept_subsystem is not None and self._accept_subsystem(subsystem)

    @property
    def command(self) -> str | None:
        return self.channel.command if self.channel else None

    @property
    def subsystem(self) -> str | None:
        return self.channel.subsystem if self.channel else None

    @property
    def env(self) -> dict[str, str]:
        return self.channel.env if self.channel else {}

    @property
    def term_type(self) -> str | None:
        return self.channel.term_type if self.channel else None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.channel.get_extra_info(name, default) if self.channel else default

    def session_started(self) -> None:
        self._task = asyncio.get_event_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            result = self._factory(self)
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                result = await result
        except ConnectionLostError:
            return
        except Exception as exc:  # the handler failed: report it as exit status 1
            chan = self.channel
            if isinstance(exc, BrokenPipeError) and chan is not None and chan._eow:
                # It wrote on after the client's eow@openssh.com: report what a command
                # writing to a closed pipe gets, SIGPIPE, as sshd would.
                if not chan._closed:
                    self.exit_with_signal("PIPE")
                return
            import logging

            logging.getLogger("sshcore.server").exception("process handler failed")
            result = 1
        if self.channel is not None and not self.channel._closed:
            await self.channel.drain_quietly()
            self.exit(result if isinstance(result, int) else 0)

    def data_received(self, data: Any, datatype: int | None) -> None:
        self.stdin._feed(data)

    def eof_received(self) -> bool:
        self.stdin._feed_eof()
        return True  # the process goes on writing until it exits

    def connection_lost(self, exc: Exception | None) -> None:
        self.stdin._feed_eof(exc)
        if self._task is not None and not self._task.done() and exc is not None:
            self._task.cancel()

    #: Set by whoever runs the process: called with (cols, rows, xpixel, ypixel) / signal name.
    on_resize: Callable[[int, int, int, int], None] | None = None
    on_signal: Callable[[str], None] | None = None
    #: Set by whoever runs the process: called with the BREAK length in ms (None: refuse).
    on_break: Callable[[int], None] | None = None

    def break_received(self, msec: int) -> bool:
        if self.on_break is None:
            return False
        try:
            self.on_break(msec)
        except OSError:
            return False
        return True

    def terminal_size_changed(self, width: int, height: int, pixwidth: int, pixheight: int) -> None:
        if self.on_resize is not None:
            self.on_resize(width, height, pixwidth, pixheight)

    def signal_received(self, signal: str) -> None:
        if self.on_signal is not None:
            self.on_signal(signal)

    @property
    def term_size(self) -> tuple[int, int, int, int]:
        return self.channel.term_size if self.channel else (0, 0, 0, 0)

    def exit(self, status: int) -> None:
        if self.channel is not None:
            self.channel.exit(status)

    def exit_with_signal(self, signal: str, core_dumped: bool = False, msg: str = "") -> None:
        if self.channel is not None:
            self.channel.exit_with_signal(signal, core_dumped, msg)


def _set_winsize(fd: int, size: tuple[int, int, int, int]) -> None:
    import fcntl
    import struct
    import termios

    cols, rows, xpix, ypix = size
    if cols and rows:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, xpix, ypix))


async def _run_in_pty(process: SSHServerProcess, args: list[str], env: dict[str, str]) -> int:
    """Give the command a real pseudo-terminal (``ssh -t``), like sshd does."""
    import pty
    import termios

    master, slave = pty.openpty()
    _set_winsize(master, process.term_size)
    from .ttymodes import apply_modes

    attrs = apply_modes(termios.tcgetattr(slave), process.channel.term_modes if process.channel else {})
    termios.tcsetattr(slave, termios.TCSANOW, attrs)

    def child_setup() -> None:
        import fcntl

        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    try:
        proc = await _spawn(args, dict(stdin=slave, stdout=slave, stderr=slave, env=env,
                                       cwd=os.path.expanduser("~"), preexec_fn=child_setup),
                            parent_fds=(slave,), cancel_fds=(master,))
    except asyncio.CancelledError:
        raise
    except BaseException:
        os.close(master)
        raise
    loop = asyncio.get_running_loop()
    process.on_resize = lambda c, r, x, y: _set_winsize(master, (c, r, x, y))
    process.on_signal = lambda name: _send_signal(proc.pid, name)
    process.on_break = lambda msec: termios.tcsendbreak(master, 0)  # as sshd does
    done = loop.create_future()

    def readable() -> None:
        try:
            data = os.read(master, 65536)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(master)
            if not done.done():
                done.set_result(None)
            return
        try:
            process.stdout.write(data)
        except BrokenPipeError:
            pass  # the client sent eow@openssh.com: it reads no more, the output is dropped

    loop.add_reader(master, readable)

    async def pump_in() -> None:
        while data := await process.stdin.read(65536):
            raw = data if isinstance(data, bytes) else data.encode()
            while raw:
                n = os.write(master, raw)
                raw = raw[n:]

    in_task = asyncio.ensure_future(pump_in())
    try:
        await done
        status = await proc.wait()
    finally:
        in_task.cancel()
        loop.remove_reader(master)
        os.close(master)
        if proc.returncode is None:
            _send_signal(proc.pid, "HUP")
    return status


#: Processes whose session ended while they were being started, until they are reaped.
_orphans: set[asyncio.Task[None]] = set()


async def _spawn(args: list[str], kwargs: dict[str, Any], *, parent_fds: tuple[int, ...] = (),
                 cancel_fds: tuple[int, ...] = ()) -> asyncio.subprocess.Process:
    """``create_subprocess_exec`` that the session's end cannot interrupt half-way.

    Cancelled while it connects the child's pipes, asyncio kills only the child's own pid
    and waits for every pipe to close.  A shell that forked (``sh -c 'a; b'``, or dash
    running a lone command) leaves a grandchild holding those pipes and waiting on its
    stdin, which the server holds: neither ever exits, and the descriptors stay open.  So
    the start runs to its end, shielded, and a process whose session is already gone gets
    what every other one gets when its session ends: SIGHUP to its whole process group
    and its input closed, then it is reaped.  Each child leads its own session (pty
    ``setsid`` or ``start_new_session``), so its pid is its process group.

    ``parent_fds`` (a pty's slave end) are closed once the child has them, however the
    start ends; ``cancel_fds`` (the pty's master end) only if the session ended first,
    since otherwise the caller goes on using them.
    """
    start = asyncio.ensure_future(asyncio.create_subprocess_exec(*args, **kwargs))

    def started(_: asyncio.Future[Any]) -> None:
        for fd in parent_fds:
            os.close(fd)
    start.add_done_callback(started)
    try:
        return await asyncio.shield(start)
    except asyncio.CancelledError:
        async def hang_up() -> None:
            try:
                proc = await start
            except Exception:  # noqa: BLE001 - nothing was started, nothing to reap
                proc = None
            if proc is not None:
                _send_signal(proc.pid, "HUP")
            for fd in cancel_fds:
                os.close(fd)
            if proc is not None:
                if proc.stdin is not None:
                    proc.stdin.close()
                await proc.wait()

        task = asyncio.ensure_future(hang_up())
        # Tasks of a loop that was closed before they ended will never end: let them go.
        _orphans.difference_update([t for t in _orphans if t.get_loop().is_closed()])
        _orphans.add(task)
        task.add_done_callback(_orphans.discard)
        raise


def _send_signal(pid: int, name: str) -> None:
    signum = getattr(_signal, "SIG" + name, None)
    if signum is not None:
        try:
            os.killpg(pid, signum)
        except (ProcessLookupError, PermissionError):
            pass


async def run_subprocess(process: SSHServerProcess, *, shell: str | None = None,
                         base_env: Mapping[str, str] | None = None,
                         subsystems: Mapping[str, str] | None = None) -> int | None:
    """Run the requested command (or a shell) as a real subprocess, like sshd does.

    A session that asked for a pseudo-terminal gets one; otherwise stdin/stdout/stderr
    are pipes and stderr travels as extended data.  A subsystem runs the command
    ``subsystems`` gives for it (sshd's ``Subsystem``), through the shell.
    """
    shell = shell or os.environ.get("SHELL") or "/bin/sh"
    env = dict(base_env if base_env is not None else os.environ)
    if base_env is None:  # as sshd: the session's agent is the forwarded one, never the server's
        env.pop("SSH_AUTH_SOCK", None)
    env.update(process.env)
    pty = process.term_type is not None  # a pty-req, even one with an empty TERM (ssh -t without TERM)
    if pty:
        env["TERM"] = process.term_type or ""  # as sshd sets it
    if process.subsystem is not None:
        command = (subsystems or {}).get(process.subsystem)
        if command is None:
            process.stderr.write(f"subsystem {process.subsystem} is not configured\n")
            return 1
        args = [shell, "-c", command]
    elif process.command is not None:
        args = [shell, "-c", process.command]
    else:
        args = [shell, "-i"] if pty else [shell]
    if pty:
        status = await _run_in_pty(process, args, env)
        return _report(process, status)
    proc = await _spawn(args, dict(stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                   stderr=asyncio.subprocess.PIPE, env=env,
                                   cwd=os.path.expanduser("~"), start_new_session=True))
    assert proc.stdin and proc.stdout and proc.stderr
    process.on_signal = lambda name: _send_signal(proc.pid, name)

    async def pump_in() -> None:
        try:
            while True:
                data = await process.stdin.read(65536)
                if not data:
                    break
                proc.stdin.write(data if isinstance(data, bytes) else data.encode())  # type: ignore[union-attr]
                await proc.stdin.drain()  # type: ignore[union-attr]
        except (BrokenPipeError, ConnectionResetError):
            _send_eow(process)  # the command closed its stdin
        except ConnectionLostError:
            pass
        finally:
            try:
                proc.stdin.close()  # type: ignore[union-attr]
            except Exception:  # noqa: BLE001
                pass

    async def pump_out(stream: asyncio.StreamReader, writer: SSHStreamWriter, fd: int) -> None:
        while True:
            data = await stream.read(65536)
            if not data:
                break
            try:
                writer.write(data)
            except BrokenPipeError:
                # The client sent eow@openssh.com (its output closed): close our end of
                # the pipe, so the command gets EPIPE/SIGPIPE, as sshd does (nchan.c
                # chan_rcvd_eow -> chan_shutdown_read).
                pipe = proc._transport.get_pipe_transport(fd)  # type: ignore[attr-defined]
                if pipe is not None:
                    pipe.close()
                break
            await writer.drain()

    in_task = asyncio.ensure_future(pump_in())
    try:
        await asyncio.gather(pump_out(proc.stdout, process.stdout, 1),
                             pump_out(proc.stderr, process.stderr, 2))
        status = await proc.wait()
    except (asyncio.CancelledError, ConnectionLostError):
        if proc.returncode is None:
            _send_signal(proc.pid, "HUP")
        raise
    finally:
        in_task.cancel()
    return _report(process, status)


def _send_eow(process: SSHServerProcess) -> None:
    """The command reads no more: tell the client, which may then stop sending, as sshd
    does (nchan.c chan_write_failed -> chan_send_eow2).  Only to peers that know
    eow@openssh.com: sshd sends it only to OpenSSH (compat.c, SSH_NEW_OPENSSH); and
    sshcore."""
    chan = process.channel
    if chan is None or chan._closed or chan._closing:
        return
    software = (chan.get_extra_info("peer_version") or "").split("-", 2)[-1]
    if software.startswith(("OpenSSH", "sshcore")) and not software.startswith("OpenSSH_4"):
        with contextlib.suppress(SSHError):  # the connection may be over meanwhile
            chan.send_request_nowait(EOWRequest())


def _report(process: SSHServerProcess, status: int) -> int | None:
    if status < 0:
        name = _signal.Signals(-status).name[3:]
        process.exit_with_signal(name, False, "")
        return None
    return status
