"""Blocking channels: a session's processes with file-like stdin/stdout/stderr, and
direct-tcpip channels as socket-like objects."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..kernel.chanreq import ChannelRequest, SignalRequest, WindowChangeRequest
from ..errors import LocalProtocolError, ProcessError
from ._driver import ChannelState, Chunks, Driver

#: Writers wait while more than this much is queued in the kernel for a channel.
HIGH_WATER = 1 << 20
_UNSET: Any = object()


class ChannelBase:
    """One open channel of a :class:`~sshcore.blocking.SSHClientConnection`."""

    def __init__(self, conn: Any, state: ChannelState) -> None:
        self._conn = conn
        self._drv: Driver = conn._drv
        self._state = state
        self._closed = False

    #: the limit of this channel's calls made without ``timeout=`` (unset: the
    #: connection's ``timeout``)
    default_timeout: Any = _UNSET

    def _timeout(self, timeout: Any) -> float | None:
        if timeout is not _UNSET:
            return timeout
        return self._conn.timeout if self.default_timeout is _UNSET else self.default_timeout

    # -------------------------------------------------------------- reading

    def _buffer(self, stderr: bool) -> Chunks:
        return self._state.stderr if stderr else self._state.stdout

    def _take(self, buf: Chunks, n: int) -> bytes:
        """Take up to ``n`` received bytes (lock held), re-opening the window for them."""
        data = buf.take(n)
        if data and not self._state.autoconsume and not self._state.closed:
            try:
                self._drv.kernel.consume(self._state.id, len(data))
            except LocalProtocolError:
                pass  # the channel is gone: no window to re-open
            self._drv.flush()
        return data

    def _take_parts(self, buf: Chunks) -> list[Any]:
        """Take everything received as the pieces it came in (bytes or memoryviews, no
        copy; lock held), re-opening the window for it."""
        n = len(buf)
        parts = buf.take_parts()
        if n and not self._state.autoconsume and not self._state.closed:
            try:
                self._drv.kernel.consume(self._state.id, n)
            except LocalProtocolError:
                pass  # the channel is gone: no window to re-open
            self._drv.flush()
        return parts

    def _read(self, size: int, timeout: Any, stderr: bool = False) -> bytes:
        st = self._state
        buf = self._buffer(stderr)
        with self._drv.lock:
            if size < 0:  # to EOF, re-opening the window as data comes
                t = self._timeout(timeout)
                deadline = None if t is None else time.monotonic() + t
                out = bytearray()
                while True:
                    left = None if deadline is None else max(0.0, deadline - time.monotonic())
                    self._wait(lambda: buf or st.eof, left, "read")
                    out += self._take(buf, len(buf))
                    if (st.eof or st.closed) and not buf:
                        return bytes(out)
            if size == 0:
                return b""
            self._wait(lambda: buf or st.eof or st.closed, timeout, "read")
            return self._take(buf, size)

    def _readline(self, timeout: Any, stderr: bool = False) -> bytes:
        st = self._state
        buf = self._buffer(stderr)
        with self._drv.lock:
            self._wait(lambda: buf.find(b"\n") >= 0 or st.eof or st.closed, timeout, "readline")
            end = buf.find(b"\n")
            return self._take(buf, len(buf) if end < 0 else end + 1)

    def _wait(self, predicate: Any, timeout: Any, what: str) -> Any:
        st = self._state

        def ready() -> Any:
            return predicate() or st.closed
        return self._drv.wait(ready, self._timeout(timeout), what)

    # -------------------------------------------------------------- writing

    def _write(self, data: bytes, timeout: Any, datatype: int | None = None) -> int:
        if isinstance(data, str):
            raise TypeError("write() takes bytes (encode text first)")
        st = self._state
        drv = self._drv
        with drv.lock:
            if st.eow or st.closed:
                raise BrokenPipeError("the remote side reads no more on this channel")
            if st.eof_sent:
                raise ValueError("write after EOF")
            try:
                drv.call(drv.kernel.send_data, st.id, bytes(data), datatype)
            except LocalProtocolError:
                if drv.kernel.closed:
                    raise
                raise BrokenPipeError("the channel is closed") from None
            drv.wait(lambda: st.closed or drv.kernel.pending(st.id) <= HIGH_WATER,
                     self._timeout(timeout), "write")
        return len(data)

    def _gone(self) -> bool:
        """The connection is over (its kernel may close before the I/O thread ends):
        nothing more can be sent, and closing or EOF is then no error."""
        return self._drv.finished or self._drv.kernel.closed

    def _send_eof(self) -> None:
        st = self._state
        with self._drv.lock:
            if not st.eof_sent and not st.closed and not self._gone():
                st.eof_sent = True
                self._drv.call(self._drv.kernel.send_eof, st.id)

    def close(self) -> None:
        """Close the channel (does not wait for the peer's CLOSE)."""
        st = self._state
        with self._drv.lock:
            self._closed = True
            if not st.closed and not self._gone():
                try:
                    self._drv.call(self._drv.kernel.close_channel, st.id)
                except LocalProtocolError:
                    pass  # already gone

    def _request(self, request: str | ChannelRequest, data: bytes, timeout: Any) -> bool:
        """Send a channel request (typed, or a name and raw data) and wait for the answer."""
        st = self._state
        with self._drv.lock:
            self._drv.call(self._drv.kernel.send_channel_request, st.id, request, True, data)
            self._drv.wait(lambda: st.replies or st.closed, self._timeout(timeout),
                           request if isinstance(request, str) else request.name)
            return st.replies.popleft() if st.replies else False


class ChannelFile:
    """A file object over one direction of a channel (``mode`` "rb" or "wb")."""

    def __init__(self, chan: ChannelBase, mode: str, stderr: bool = False,
                 encoding: str | None = None) -> None:
        self._chan = chan
        self.mode = mode
        self._stderr = stderr
        self.encoding = encoding
        self.closed = False

    def _out(self, data: bytes) -> Any:
        return data.decode(self.encoding, "replace") if self.encoding else data

    def readable(self) -> bool:
        return "r" in self.mode

    def writable(self) -> bool:
        return "w" in self.mode

    def read(self, size: int = -1, timeout: Any = _UNSET) -> Any:
        """Up to ``size`` bytes (all, until EOF, with -1); b"" at EOF."""
        return self._out(self._chan._read(size, timeout, self._stderr))

    def read1(self, size: int = -1, timeout: Any = _UNSET) -> Any:
        return self.read(size if size >= 0 else 1 << 20, timeout)

    def readline(self, size: int = -1, timeout: Any = _UNSET) -> Any:
        return self._out(self._chan._readline(timeout, self._stderr))

    def readlines(self) -> list[Any]:
        return list(self)

    def __iter__(self) -> Iterator[Any]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def write(self, data: Any, timeout: Any = _UNSET) -> int:
        if isinstance(data, str):
            data = data.encode(self.encoding or "utf-8")
        return self._chan._write(data, timeout, 1 if self._stderr else None)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        """For stdin: send EOF (the remote command sees its input end)."""
        if not self.closed and "w" in self.mode:
            self._chan._send_eof()
        self.closed = True

    # paramiko's ChannelFile has .channel; scripts use stdout.channel.recv_exit_status()
    @property
    def channel(self) -> Any:
        return self._chan

    def __enter__(self) -> ChannelFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@dataclass
class CompletedProcess:
    """What :meth:`SSHClientConnection.run` returns."""

    command: str | None
    exit_status: int | None
    exit_signal: tuple[str, bool, str, str] | None
    stdout: Any
    stderr: Any

    @property
    def returncode(self) -> int | None:
        """As :class:`subprocess.CompletedProcess`: the exit status, or minus... None
        when the command died of a signal (see ``exit_signal``)."""
        return self.exit_status


class SSHProcess(ChannelBase):
    """A remote command (or shell) on a session channel: ``stdin``, ``stdout`` and
    ``stderr`` are file objects; :meth:`wait` returns the exit status."""

    def __init__(self, conn: Any, state: ChannelState, command: str | None,
                 encoding: str | None = None) -> None:
        super().__init__(conn, state)
        self.command = command
        self.stdin = ChannelFile(self, "wb", encoding=encoding)
        self.stdout = ChannelFile(self, "rb", encoding=encoding)
        self.stderr = ChannelFile(self, "rb", stderr=True, encoding=encoding)

    @property
    def exit_status(self) -> int | None:
        return self._state.exit_status

    @property
    def exit_signal(self) -> tuple[str, bool, str, str] | None:
        return self._state.exit_signal

    def wait(self, timeout: Any = _UNSET) -> int:
        """Wait for the command to end; its exit status (-1 if it died of a signal or
        sent none, as paramiko's ``recv_exit_status`` says)."""
        st = self._state
        self._wait(lambda: st.exit_status is not None or st.exit_signal is not None, timeout,
                   "wait for the exit status")
        return st.exit_status if st.exit_status is not None else -1

    recv_exit_status = wait

    def exit_status_ready(self) -> bool:
        st = self._state
        return st.exit_status is not None or st.exit_signal is not None or st.closed

    def send_signal(self, signal: str) -> None:
        self._drv.call(self._drv.kernel.send_channel_request, self._state.id,
                       SignalRequest(signal), False)

    def change_terminal_size(self, width: int, height: int) -> None:
        self._drv.call(self._drv.kernel.send_channel_request, self._state.id,
                       WindowChangeRequest(width, height), False)

    def communicate(self, input: bytes | None = None, timeout: Any = _UNSET) -> tuple[bytes, bytes]:
        if input:
            self.stdin.write(input, timeout)
        self.stdin.close()
        st = self._state
        self._wait(lambda: st.closed, timeout, "communicate")
        with self._drv.lock:
            return bytes(self._take(st.stdout, len(st.stdout))), bytes(self._take(st.stderr, len(st.stderr)))

    def collect(self, check: bool = False, timeout: Any = _UNSET) -> CompletedProcess:
        out, err = self.communicate(None, timeout)
        enc = self.stdout.encoding
        result = CompletedProcess(self.command, self.exit_status, self.exit_signal,
                                  out.decode(enc, "replace") if enc else out,
                                  err.decode(enc, "replace") if enc else err)
        if check and (result.exit_status != 0 or result.exit_signal):
            raise ProcessError(self.command, result.exit_status,
                               result.exit_signal[0] if result.exit_signal else None,
                               result.stdout, result.stderr)
        return result

    def __enter__(self) -> SSHProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class ChannelSocket(ChannelBase):
    """A direct-tcpip channel shaped like a socket: ``recv``, ``send``, ``sendall``,
    ``shutdown``, ``close``, ``settimeout`` (the timeout of each call; None blocks)."""

    def __init__(self, conn: Any, state: ChannelState) -> None:
        super().__init__(conn, state)
        self._sock_timeout: float | None = conn.timeout
        self._lock = threading.Lock()

    def settimeout(self, timeout: float | None) -> None:
        self._sock_timeout = timeout

    def gettimeout(self) -> float | None:
        return self._sock_timeout

    def recv(self, size: int) -> bytes:
        return self._read(size, self._sock_timeout)

    def send(self, data: bytes) -> int:
        return self._write(bytes(data), self._sock_timeout)

    sendall = send  # the kernel takes everything; send() waits for room as sendall would

    def shutdown(self, how: int = 1) -> None:
        """SHUT_WR (1) or SHUT_RDWR (2) sends EOF; reading stops only with close()."""
        if how in (1, 2):
            self._send_eof()

    def makefile(self, mode: str = "rb") -> ChannelFile:
        return ChannelFile(self, "wb" if "w" in mode else "rb")

    def __enter__(self) -> ChannelSocket:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
