"""Local input for the command-line tools: any descriptor read without blocking the loop,
relayed to a channel (``sshcore run``, ``-W``), and ssh's escape sequences (``~.``).

The event loop can only watch descriptors the kernel can poll: pipes, sockets, terminals.
epoll refuses regular files and some devices (``/dev/null``) with ``EPERM``, so
``sshcore run HOST cmd < file`` cannot use :meth:`loop.connect_read_pipe`.  :func:`open_input`
picks a reader that works for each kind:

- a pollable descriptor is watched with :meth:`loop.add_reader` while a read is pending and
  read with :func:`os.read` once readable.  Its blocking mode is left alone (a terminal or
  pipe is often shared with the shell, which would otherwise find it non-blocking); the
  price: should another process take the data between the wake-up and the read, that
  read waits for more;
- anything else (regular files, ``/dev/null``, other unpollable devices) is read by one
  daemon thread, one bounded chunk per :meth:`InputReader.read`, so a consumer that awaits
  its channel's ``drain()`` between reads never has more than a chunk in hand;
- no descriptor (stdin closed, ``0<&-``) reads as an immediate end of file.

:class:`EscapeScanner` is the sans-I/O part of ssh's EscapeChar: it splits terminal input
into data to send and the escape commands it contains.
"""

from __future__ import annotations

import asyncio
import errno
import os
import queue
import selectors
import sys
import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["CHUNK", "InputReader", "open_input", "open_stdin", "stdin_fd", "read_lines",
           "pump_input", "forward_stdio", "EscapeScanner", "Escape", "parse_escape_char",
           "ESCAPE_HELP"]

#: Bytes asked for per read: a few channel packets' worth, and the most held in memory.
CHUNK = 65536


class InputReader:
    """Reads one local descriptor from a coroutine; ``b""`` means end of file."""

    #: How the descriptor is read: ``"poll"``, ``"thread"`` or ``"closed"``.
    kind = "closed"

    async def read(self, n: int = CHUNK) -> bytes:
        """Up to ``n`` bytes, as soon as some are available; ``b""`` at end of file."""
        return b""

    def close(self) -> None:
        """Stop reading (the descriptor itself stays open: it is not ours)."""


class _PollReader(InputReader):
    kind = "poll"

    def __init__(self, fd: int, loop: asyncio.AbstractEventLoop) -> None:
        self._fd = fd
        self._loop = loop
        self._eof = False
        self._watching = False

    async def read(self, n: int = CHUNK) -> bytes:
        if self._eof:
            return b""
        fut: asyncio.Future[bytes] = self._loop.create_future()

        def readable() -> None:
            if fut.done():
                return
            try:
                data = os.read(self._fd, n)
            except BlockingIOError:  # someone else made it non-blocking and took the data
                return
            except OSError as exc:  # EIO: the terminal hung up (an end); others are raised
                if exc.errno != errno.EIO:
                    fut.set_exception(exc)
                    return
                data = b""
            self._unwatch()
            fut.set_result(data)

        self._loop.add_reader(self._fd, readable)
        self._watching = True
        try:
            data = await fut
        finally:
            self._unwatch()
        if not data:
            self._eof = True
        return data

    def _unwatch(self) -> None:
        if self._watching:
            self._watching = False
            self._loop.remove_reader(self._fd)

    def close(self) -> None:
        self._unwatch()
        self._eof = True


class _ThreadReader(InputReader):
    """One daemon thread doing the blocking reads, one requested chunk at a time.

    A daemon thread rather than the loop's executor: a read that never returns (an
    unpollable device with nothing to give) must not keep the program from exiting.
    """

    kind = "thread"

    def __init__(self, fd: int, loop: asyncio.AbstractEventLoop) -> None:
        self._fd = fd
        self._loop = loop
        self._eof = False
        self._requests: queue.SimpleQueue[tuple[int, asyncio.Future[bytes]] | None] = (
            queue.SimpleQueue())
        self._thread = threading.Thread(target=self._work, name=f"sshcore-read-fd{fd}",
                                        daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while (request := self._requests.get()) is not None:
            n, fut = request
            exc: OSError | None = None
            try:
                data = os.read(self._fd, n)
            except OSError as e:
                data, exc = b"", e
            try:
                self._loop.call_soon_threadsafe(self._deliver, fut, data, exc)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                return

    @staticmethod
    def _deliver(fut: asyncio.Future[bytes], data: bytes, exc: OSError | None) -> None:
        if fut.done():  # the reader was cancelled meanwhile; the chunk is dropped
            return
        if exc is not None and exc.errno != errno.EIO:
            fut.set_exception(exc)
        else:
            fut.set_result(data)

    async def read(self, n: int = CHUNK) -> bytes:
        if self._eof:
            return b""
        fut: asyncio.Future[bytes] = self._loop.create_future()
        self._requests.put((n, fut))
        data = await fut
        if not data:
            self.close()
        return data

    def close(self) -> None:
        if not self._eof:
            self._eof = True
            self._requests.put(None)


def open_input(fd: int | None, loop: asyncio.AbstractEventLoop | None = None) -> InputReader:
    """A reader for descriptor ``fd`` (None or a closed descriptor: empty input).

    The descriptor is polled when the loop can watch it and read from a thread otherwise;
    the reader never closes it.
    """
    loop = loop or asyncio.get_running_loop()
    if fd is None:
        return InputReader()
    try:
        os.fstat(fd)
    except OSError:
        return InputReader()
    if not _pollable(fd):
        return _ThreadReader(fd, loop)
    return _PollReader(fd, loop)


def _pollable(fd: int) -> bool:
    """Whether the selector asyncio uses can watch ``fd`` (asked of a probe selector, not
    of the loop, whose registration of the same descriptor must not be touched)."""
    with selectors.DefaultSelector() as probe:
        try:
            probe.register(fd, selectors.EVENT_READ)
        except (OSError, ValueError):
            return False
    return True


def stdin_fd() -> int | None:
    """The descriptor of standard input, or None when there is none.

    Python sets ``sys.stdin`` to None when descriptor 0 was closed at start-up; the
    descriptor number 0 may since have been reused by anything (the loop's own epoll
    descriptor, a socket), so it must not be read then.
    """
    stream = sys.stdin
    if stream is None or stream.closed:
        return None
    try:
        return stream.fileno()
    except (OSError, ValueError):
        return None


def open_stdin(loop: asyncio.AbstractEventLoop | None = None) -> InputReader:
    """:func:`open_input` for standard input."""
    return open_input(stdin_fd(), loop)


async def read_lines(reader: InputReader, encoding: str = "utf-8") -> Any:
    """The lines of ``reader`` as text without their line ends, as they arrive (an async
    generator, so a batch can start before its input has ended)."""
    import codecs

    decoder = codecs.getincrementaldecoder(encoding)("replace")
    pending = ""
    while True:
        data = await reader.read()
        pending += decoder.decode(data, final=not data)
        *lines, pending = pending.split("\n")
        for line in lines:
            yield line.removesuffix("\r")
        if not data:
            break
    if pending:
        yield pending.removesuffix("\r")


# --------------------------------------------------------------------------- relaying


async def pump_input(writer: Any, no_stdin: bool = False, on_escape: Any = None,
                     escape_char: int | None = None) -> bool:
    """Copy standard input (any kind) to a channel ``writer``, awaiting its ``drain()``
    between chunks, then send EOF.

    With ``escape_char``, ssh's escapes are taken out of the input and handed to
    ``await on_escape(command)``, which returns True to stop reading.  ``no_stdin``
    (``-n``): send EOF at once.  Returns False when the channel closed first (the rest of
    the input was not wanted), True otherwise.
    """
    from ..errors import SSHError

    reader = InputReader() if no_stdin else open_stdin()
    scanner = EscapeScanner(escape_char) if escape_char is not None else None
    try:
        while data := await _read_or_eof(reader):
            for item in scanner.feed(data) if scanner is not None else (data,):
                if isinstance(item, Escape):
                    if await on_escape(item.command):
                        return True
                    continue
                writer.write(item)
            await writer.drain()
        writer.write_eof()
    except (SSHError, BrokenPipeError):
        return False
    finally:
        reader.close()
    return True


async def _read_or_eof(reader: InputReader) -> bytes:
    """A chunk; an input that cannot be read (``0>file``: not open for reading) is said
    once on stderr and ends there, so the remote side still gets its EOF."""
    try:
        return await reader.read()
    except OSError as exc:
        sys.stderr.write(f"sshcore: cannot read stdin: {exc.strerror or exc}\n")
        sys.stderr.flush()
        return b""


async def forward_stdio(conn: Any, host: str, port: int, *, no_stdin: bool = False) -> int:
    """``ssh -W host:port``: a direct-tcpip channel through ``conn`` relayed to standard
    input and output until it closes; returns the exit status (0).

    The channel's end of file closes standard output (a ProxyCommand's ssh then sees the
    end), as ssh does.  Failing to open the channel raises
    :class:`~sshcore.errors.ChannelOpenError`.
    """
    reader, writer = await conn.open_connection(host, port)
    stdin_task = asyncio.ensure_future(pump_input(writer, no_stdin))
    out = sys.stdout.buffer
    try:
        while data := await reader.read(CHUNK):
            out.write(data)
            out.flush()
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, out.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass
        await writer.wait_closed()
    finally:
        stdin_task.cancel()
        try:
            await stdin_task
        except (Exception, asyncio.CancelledError):  # noqa: BLE001 - ended either way
            pass
    return 0


# --------------------------------------------------------------------------- escapes


def parse_escape_char(text: str) -> int | None:
    """ssh's ``-e`` / EscapeChar value: ``none`` (None), one character, or ``^X`` for a
    control character.  Raises :class:`ValueError` otherwise."""
    if text.lower() == "none":
        return None
    if len(text) == 2 and text[0] == "^":
        return ord(text[1]) & 31
    if len(text) == 1 and ord(text) < 128:
        return ord(text)
    raise ValueError(f"bad escape character {text!r}: one ASCII character, ^X or 'none'")


@dataclass(frozen=True, slots=True)
class Escape:
    """An escape command typed on the terminal: the character after the escape char."""

    command: str


class EscapeScanner:
    """ssh's escape character on terminal input (sans-I/O).

    The escape character counts only at the start of a line (after ``\\r`` or ``\\n``, or
    first of all); the character after it is the command.  ``~~`` sends one ``~``; a
    command this scanner does not know sends both characters, as ssh does.  :meth:`feed`
    returns the bytes to send and :class:`Escape` items in input order.
    """

    #: The commands recognised (anything else passes through as typed).
    COMMANDS = frozenset(".?B")

    def __init__(self, escape_char: int = ord("~")) -> None:
        self.escape_char = escape_char
        self._line_start = True
        self._pending = False  # the escape char was seen at a line start, command next

    def feed(self, data: bytes) -> list[bytes | Escape]:
        out: list[bytes | Escape] = []
        start = 0
        esc = self.escape_char
        for i, ch in enumerate(data):
            if self._pending:
                self._pending = False
                start = i + 1
                if ch == esc:
                    out.append(bytes([esc]))
                    self._line_start = False
                elif chr(ch) in self.COMMANDS:
                    out.append(Escape(chr(ch)))
                    self._line_start = False
                else:
                    out.append(bytes([esc, ch]))
                    self._line_start = ch in (10, 13)
                continue
            if self._line_start and ch == esc:
                if i > start:
                    out.append(bytes(data[start:i]))
                self._pending = True
                start = i + 1
                continue
            self._line_start = ch in (10, 13)
        if not self._pending and start < len(data):
            out.append(bytes(data[start:]))
        return [item for item in out if item != b""]


ESCAPE_HELP = ("Supported escape sequences:\r\n"
               " {c}.   - terminate connection\r\n"
               " {c}B   - send a BREAK to the remote system\r\n"
               " {c}?   - this message\r\n"
               " {c}{c}   - send the escape character by typing it twice\r\n"
               "(Note that escapes are only recognized immediately after newline.)\r\n")
