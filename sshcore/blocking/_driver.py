"""The blocking front-end's engine: one socket, one sans-I/O kernel, one I/O thread.

Thread model (documented in :mod:`sshcore.blocking`): each connection has one I/O
thread (``selectors`` over its socket, a wake-up socket pair and the kernel's timer) and
one lock.  Every touch of the kernel happens under the lock, from the I/O thread
(received bytes, timers, events) or from an application thread (a command: open a
channel, send data...); application threads then wait on the lock's condition, each
with its own deadline, for the state the I/O thread publishes.  Any number of threads
may share a connection.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .._tcp import round_trip
from ..kernel import events as ev
from ..clientpolicy import UnknownHost, parse_exit_request, rejection_message
from ..kernel.connection import Connection
from ..errors import (ChannelOpenError, ConnectionLostError, DisconnectError, DisconnectReason,
                      HostKeyNotVerifiableError, PermissionDeniedError, ProtocolError, SSHError)

logger = logging.getLogger("sshcore.blocking")

_READ_SIZE = 256 * 1024
#: Linux's option to acknowledge received TCP data at once (None elsewhere).
_TCP_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)
#: Reads smaller than this are acknowledged at once (see :meth:`Driver._ack_now`).
_QUICKACK_BELOW = 16384
_FOREVER = object()


class SSHTimeoutError(SSHError, TimeoutError):
    """A blocking call of :mod:`sshcore.blocking` did not finish within its ``timeout``
    (the connection itself stays usable; connecting raises
    :class:`~sshcore.ConnectTimeoutError` instead)."""


class Chunks:
    """Received bytes, kept as the chunks they came in: bytes, or memoryviews of the
    kernel's decrypted packets (each a new object, never reused: the asyncio adapter's
    process streams keep them too), copied once, when taken."""

    __slots__ = ("parts", "head", "size")

    def __init__(self) -> None:
        self.parts: deque[Any] = deque()  # bytes or memoryview
        self.head = 0      # bytes of parts[0] already taken
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size > 0

    def append(self, data: bytes | memoryview) -> None:
        if data:
            self.parts.append(data)
            self.size += len(data)

    def find(self, sub: bytes) -> int:
        """Offset of ``sub`` (one byte, as b"\\n") from the start, or -1."""
        base, start = 0, self.head
        parts = self.parts
        for n, part in enumerate(parts):
            if type(part) is memoryview:  # searched: made bytes once (readline's case)
                part = parts[n] = bytes(part)
            i = part.find(sub, start)
            if i >= 0:
                return base + i - start
            base += len(part) - start
            start = 0
        return -1

    def take_parts(self) -> list[Any]:
        """Everything, as the pieces it came in (no copy)."""
        parts = list(self.parts)
        if parts and self.head:
            parts[0] = memoryview(parts[0])[self.head:]
        self.parts.clear()
        self.head = self.size = 0
        return parts

    def take(self, n: int) -> bytes:
        n = min(n, self.size)
        out = []
        need = n
        while need:
            part = self.parts[0]
            avail = len(part) - self.head
            if avail <= need:
                out.append(part[self.head:] if self.head else part)
                self.parts.popleft()
                self.head = 0
                need -= avail
            else:
                out.append(part[self.head:self.head + need])
                self.head += need
                need = 0
        self.size -= n
        if len(out) == 1:
            return out[0] if type(out[0]) is bytes else bytes(out[0])
        return b"".join(out)


class ChannelState:
    """What the I/O thread learned about one channel (read under the driver's lock)."""

    def __init__(self, local_id: int, autoconsume: bool = False) -> None:
        self.id = local_id
        self.opened = False
        self.open_error: Exception | None = None
        self.open_data = b""
        self.stdout = Chunks()
        self.stderr = Chunks()
        self.merge_stderr = False
        self.autoconsume = autoconsume
        self.eof = False
        self.closed = False
        self.eow = False
        self.eof_sent = False
        self.exit_status: int | None = None
        self.exit_signal: tuple[str, bool, str, str] | None = None
        self.replies: deque[bool] = deque()
        self.requests: deque[ev.ChannelRequestReceived] = deque()  # server side


class Driver:
    """Runs a kernel :class:`~sshcore.kernel.connection.Connection` over ``sock`` in a thread.

    ``handler`` (the client or server policy) gets the events the driver does not
    handle itself, under the lock.
    """

    def __init__(self, sock: socket.socket, kernel: Connection, handler: Any,
                 name: str = "sshcore") -> None:
        self.sock = sock
        sock.setblocking(False)
        #: the TCP socket, while TCP_QUICKACK works on it
        self._quickack: Any = None
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if _TCP_QUICKACK is not None:
                self._quickack = sock
        kernel.set_round_trip(round_trip(sock))
        self.kernel = kernel
        self.handler = handler
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.channels: dict[int, ChannelState] = {}
        self.global_replies: deque[tuple[bool, bytes]] = deque()
        self.error: Exception | None = None
        self.ready = False          # authenticated (client) / running (server)
        self.finished = False       # the I/O thread is done: nothing more will come
        #: where ComputeRequested jobs run (connect's ``kex_executor``); None: inline
        self.executor: Any = None
        self._out = bytearray()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    # ------------------------------------------------------------------ application side

    def wake(self) -> None:
        """Tell the I/O thread the kernel has something to send (call under the lock or not)."""
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # already awake, or closing

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a kernel command under the lock; the I/O thread then sends what it made."""
        with self.lock:
            self.check_open()
            try:
                result = fn(*args)
            except ProtocolError as exc:
                if self.kernel.closed:
                    self.set_error(exc)
                raise
            self.flush()
            return result

    def check_open(self) -> None:
        if self.finished or self.kernel.closed:
            raise self.error or ConnectionLostError("connection is closed")

    def wait(self, predicate: Callable[[], Any], timeout: float | None, what: str) -> Any:
        """Wait (lock held or not) until ``predicate()`` is true; raises
        :class:`SSHTimeoutError` after ``timeout`` seconds, or the connection's error
        if it ends first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate()
                if value:
                    return value
                if self.finished:
                    raise self.error or ConnectionLostError("connection closed")
                if deadline is None:
                    self.cond.wait()
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SSHTimeoutError(f"{what}: timed out after {timeout:g} s")
                self.cond.wait(left)

    def set_error(self, exc: Exception) -> None:
        if self.error is None:
            self.error = exc

    def close(self, timeout: float | None = 10.0) -> None:
        """Disconnect politely and wait (up to ``timeout``) for the I/O thread to end."""
        with self.lock:
            if not self.kernel.closed:
                self.kernel.disconnect(DisconnectReason.BY_APPLICATION, "closed by application")
                self.flush()
            self.wake()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        if self._thread.is_alive():
            self._shutdown()

    # ------------------------------------------------------------------ I/O thread

    def flush(self) -> None:
        """Send what the kernel has to send, from this thread if the socket takes it at
        once (no hop to the I/O thread); the rest waits for the I/O thread, woken to
        poll for room.  Call with the lock held."""
        if self.finished:
            return
        data = self.kernel.data_to_send()
        if data:
            if self._out:
                self._out += data
            else:
                self._out = bytearray(data[self._send(data):])
        elif self._out:
            del self._out[:self._send(self._out)]
        if self._out and threading.current_thread() is not self._thread:
            self.wake()

    def _send(self, data: Any) -> int:
        try:
            return self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError as exc:
            self._lost(exc)
            return len(data)

    def _receive(self) -> None:
        """Read what the socket has straight into the kernel's buffer (lock held)."""
        k = self.kernel
        try:
            if k.closed:
                n = len(self.sock.recv(_READ_SIZE))
                if not n:
                    self._out.clear()
                return
            buf = k.get_buffer(_READ_SIZE)
            n = self.sock.recv_into(buf)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lost(exc)
            return
        if n:
            if self._quickack is not None and n < _QUICKACK_BELOW:
                self._ack_now()
            self._feed(k.buffer_updated, n, time.monotonic())
        else:  # the peer closed the TCP connection
            self._feed(k.receive_data, b"", time.monotonic())
            self._out.clear()
            k.abandon()
        self._process()  # before any application thread sees the kernel
        self.flush()

    def _ack_now(self) -> None:
        """Acknowledge what was just read at once (Linux's TCP_QUICKACK, which the kernel
        clears again by itself) instead of after the ~40 ms delayed-ACK timer, as the
        asyncio adapter does: sshd leaves Nagle on for non-interactive sessions, so it
        holds a small packet until the previous one is acknowledged; after the login
        it sends hostkeys-00@openssh.com (no answer due) and then held the confirmation
        of the first channel until our delayed ACK.  Only after small reads: in a bulk
        flow ACKs go out anyway."""
        try:
            self._quickack.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
        except OSError:
            self._quickack = None

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        try:
            sel.register(self.sock, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            writing = False
            linger: float | None = None
            while True:
                with self.lock:
                    self._process()
                    self.flush()
                    if self.kernel.closed:
                        if not self._out:
                            break
                        if linger is None:
                            linger = time.monotonic() + 2.0  # last words (DISCONNECT)
                        elif time.monotonic() > linger:
                            break
                    timer = self.kernel.get_timer()
                    want_write = bool(self._out)
                if want_write != writing:
                    sel.modify(self.sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if want_write else 0))
                    writing = want_write
                now = time.monotonic()
                timeout = None if timer is None else max(0.0, timer - now)
                if linger is not None:
                    timeout = max(0.0, min(timeout if timeout is not None else 1.0, linger - now))
                for key, mask in sel.select(timeout):
                    if key.fileobj is self._wake_r:
                        try:
                            while self._wake_r.recv(4096):
                                pass
                        except (BlockingIOError, InterruptedError):
                            pass
                        continue
                    with self.lock:
                        if mask & selectors.EVENT_WRITE:
                            self.flush()
                        if mask & selectors.EVENT_READ:
                            self._receive()
                with self.lock:
                    when = self.kernel.get_timer()
                    if when is not None and time.monotonic() >= when and not self.kernel.closed:
                        self._feed(self.kernel.handle_timer, time.monotonic())
                        self._process()
        except Exception as exc:  # a bug: end the connection, never hang its users
            logger.exception("internal error in the blocking SSH driver")
            self.set_error(exc)
        finally:
            sel.close()
            self._shutdown()

    def _lost(self, exc: OSError) -> None:
        with self.lock:
            self.set_error(ConnectionLostError(f"connection lost: {exc}"))
            self.kernel.abandon()
            self._out.clear()

    def _feed(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except ProtocolError as exc:
            if not self._clean(exc):
                self.set_error(exc)

    def _clean(self, exc: Exception) -> bool:
        return (isinstance(exc, DisconnectError) and exc.reason == DisconnectReason.BY_APPLICATION
                and self.ready)

    def _shutdown(self) -> None:
        with self.cond:
            if self.finished:
                return
            self.finished = True
            if self.error is None and not self.ready:
                self.error = ConnectionLostError("connection closed")
            for chan in self.channels.values():
                chan.closed = True
            self.cond.notify_all()
        for s in (self.sock, self._wake_r, self._wake_w):
            try:
                s.close()
            except OSError:
                pass
        on_closed = getattr(self.handler, "on_closed", None)
        if on_closed is not None:
            on_closed()

    # ------------------------------------------------------------------ events (lock held)

    def _process(self) -> None:
        kernel = self.kernel
        seen = False
        while True:
            event = kernel.next_event()
            if event is None:
                break
            seen = True
            try:
                self._dispatch(event)
            except SSHError as exc:
                self.set_error(exc)
                kernel.disconnect(getattr(exc, "reason", DisconnectReason.BY_APPLICATION), str(exc))
            except Exception as exc:  # an application callback's bug
                logger.exception("error while handling %s", type(event).__name__)
                self.set_error(exc)
                kernel.disconnect(DisconnectReason.BY_APPLICATION, "internal error")
        if seen:
            self.cond.notify_all()

    def _dispatch(self, event: ev.Event) -> None:
        k = self.kernel
        chan = self.channels.get(getattr(event, "channel", -1))
        if isinstance(event, ev.ChannelData):
            if chan is None:
                return
            data = event.data  # a view of the decrypted packet: copied once, when read
            if event.datatype == 1 and not chan.merge_stderr:
                chan.stderr.append(data)
            else:
                chan.stdout.append(data)
            if chan.autoconsume:
                k.consume(chan.id, len(data))
        elif isinstance(event, ev.ChannelWindowOpened):
            pass  # writers re-check pending() on notify
        elif isinstance(event, ev.ChannelEOF):
            if chan is not None:
                chan.eof = True
        elif isinstance(event, ev.ChannelEOWReceived):
            if chan is not None:
                chan.eow = True
        elif isinstance(event, ev.ChannelClosed):
            if chan is not None:
                chan.closed = chan.eof = True
                self.channels.pop(event.channel, None)
        elif isinstance(event, ev.ChannelRequestReplied):
            if chan is not None:
                chan.replies.append(event.success)
        elif isinstance(event, ev.ChannelRequestReceived):
            self._on_channel_request(chan, event)
        elif isinstance(event, ev.ChannelOpened):
            if chan is not None:
                chan.opened = True
                chan.open_data = event.data
        elif isinstance(event, ev.ChannelOpenFailed):
            if chan is not None:
                chan.open_error = ChannelOpenError(event.code, event.reason)
                chan.closed = True
                self.channels.pop(event.channel, None)
        elif isinstance(event, ev.GlobalRequestReplied):
            self.global_replies.append((event.success, bytes(event.data)))
        elif isinstance(event, ev.GlobalRequestReceived):
            if event.want_reply:
                k.reply_global_request(False)
        elif isinstance(event, ev.ComputeRequested):
            self._compute(event)
        elif isinstance(event, ev.ConnectionTerminated):
            if event.error is not None and not self._clean(event.error):
                self.set_error(event.error)
        else:
            self.handler.handle_event(self, event)

    def _compute(self, event: ev.ComputeRequested) -> None:
        """Key exchange work: to ``executor`` (a process pool) when there is one, its
        result fed back from the pool's thread; else here, inline."""
        k = self.kernel
        if self.executor is None:
            try:
                result = event.fn(*event.args)
            except Exception as exc:  # noqa: BLE001 - the kex fails, cleanly
                k.compute_failed(event.job, exc)
                return
            k.provide_compute_result(event.job, result)
            return

        def done(fut: Any) -> None:
            with self.lock:
                if k.closed:
                    return
                exc = fut.exception()
                if exc is not None:
                    self._feed(k.compute_failed, event.job, exc)
                else:
                    self._feed(k.provide_compute_result, event.job, fut.result())
                self._process()
                self.wake()
        try:
            self.executor.submit(event.fn, *event.args).add_done_callback(done)
        except Exception as exc:  # noqa: BLE001 - a shut-down pool: the kex fails, cleanly
            k.compute_failed(event.job, exc)

    def _on_channel_request(self, chan: ChannelState | None, event: ev.ChannelRequestReceived) -> None:
        if chan is None:
            return
        if self.kernel.is_client:
            parsed = parse_exit_request(event.decoded)  # the kernel decoded it
            if parsed is not None:
                if parsed[0] == "status":
                    chan.exit_status = parsed[1]
                else:
                    chan.exit_signal = parsed[1]
            if event.want_reply:
                self.kernel.reply_channel_request(event.channel, parsed is not None)
            return
        chan.requests.append(event)
        self.handler.channel_request(self, chan, event)


class ClientPolicy:
    """Client decisions for the driver: host key, authentication input, completion."""

    def __init__(self, opts: Any, on_closed: Callable[[], None] | None = None) -> None:
        self.opts = opts
        self.checker = opts.host_key_checker()
        self.server_host_key: Any = None
        self.username: str | None = None
        self._on_closed = on_closed

    def on_closed(self) -> None:
        if self._on_closed is not None:
            self._on_closed()

    def handle_event(self, drv: Driver, event: ev.Event) -> None:
        k = drv.kernel
        opts = self.opts
        if isinstance(event, ev.HostKeyReceived):
            self.server_host_key = event.key
            verdict = self.checker.check(event.key)
            if isinstance(verdict, UnknownHost):
                verdict = verdict.conclude(opts.unknown_host_handler(opts.host, opts.port, event.key))
            if hasattr(verdict, "__await__"):
                if hasattr(verdict, "close"):
                    verdict.close()  # a coroutine nobody will await
                verdict = "the known_hosts callable returned an awaitable (the blocking API needs a bool)"
            if verdict is True or (verdict and not isinstance(verdict, str)):
                k.set_time(time.monotonic())  # the SERVICE_REQUEST is timed from here
                k.accept_host_key()
            else:
                why = verdict if isinstance(verdict, str) else "host key rejected by the application"
                drv.set_error(HostKeyNotVerifiableError(
                    rejection_message(opts.host, opts.port, event.key, why)))
                k.reject_host_key(why)
        elif isinstance(event, ev.AuthInputRequested):
            from ..clientpolicy import auth_answer

            if event.kind == "sign":
                info = event.info
                try:
                    k.provide_auth_input(bytes(info["key"].sign(info["data"], info["algorithm"])))
                except SSHError as exc:
                    logger.warning("%s", exc)
                    k.provide_auth_input(None)
                return
            answer = auth_answer(event.kind, event.info, password=opts.password,
                                 kbdint_handler=opts.kbdint_handler,
                                 password_change=opts.password_change)
            k.provide_auth_input(None if answer is None else answer())
        elif isinstance(event, ev.AuthCompleted):
            self.username = event.username
            drv.ready = True
        elif isinstance(event, ev.AuthExhausted):
            from ..clientpolicy import exhausted_message

            tried = k.auth_methods_tried
            drv.set_error(PermissionDeniedError(exhausted_message(event.allowed, tried),
                                                allowed=tuple(event.allowed), tried=tried))
            k.disconnect(DisconnectReason.NO_MORE_AUTH_METHODS_AVAILABLE,
                         "no more authentication methods available")
        elif isinstance(event, ev.ChannelOpenRequested):
            k.reject_channel(event.channel, 1, f"{event.channel_type} channels are not "
                                               "accepted by this client")
        elif isinstance(event, ev.AuthBannerReceived):
            logger.info("server banner: %r", event.message[:1000])
