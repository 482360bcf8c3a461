"""asyncio Protocol driving the sans-I/O :class:`sshcore.kernel.connection.Connection`.

No protocol logic here: bytes go into the kernel, events come out and are routed to
channel objects, host-key / auth decisions are taken (maybe asynchronously) and fed
back, and ``data_to_send()`` is written.  Messages are the kernel's: requests and
channel opens go to it as :mod:`sshcore.kernel.chanreq` objects and come back decoded in its
events; nothing here encodes or parses SSH wire data.

Only this class holds the kernel (``self._conn``).  The channel objects and helpers of
this package reach it through the small set of methods below ("channel services":
``_send_channel_request``, ``_send_eof``, ``_consume``...), which call the kernel's
public commands and flush what they produce.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import socket
from typing import Any, Callable

from .._tcp import round_trip
from ..kernel import events as ev
from ..kernel.chanreq import ChannelOpenData, ChannelRequest, GlobalReply, GlobalRequest
from ..kernel.connection import Connection
from ..kernel.config import ConnectionConfig
from ..errors import (ChannelOpenError, ChannelOpenFailureReason, ConnectionLostError,
                      DisconnectError, DisconnectReason, ProtocolError, RemoteProtocolError,
                      SSHError)

logger = logging.getLogger("sshcore.aio")
#: Where reads go before the kernel exists or after it closed: shared by every
#: connection, since what lands there is dropped unread.
_DISCARD = memoryview(bytearray(4096))

#: Linux's option to acknowledge received TCP data at once (None elsewhere).
_TCP_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)
#: Reads smaller than this are acknowledged at once (see SSHConnection._ack_now).
_QUICKACK_BELOW = 16384


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


class SSHConnection(asyncio.BufferedProtocol):
    """Shared client/server machinery.

    Slotted, and what an idle connection needs no more than sometimes (tasks,
    listeners, a waiter for the close) is made when first needed: a server holds one
    of these per connection."""

    __slots__ = ("_config", "_conn", "_transport", "_loop", "_timer", "_timer_at", "_channels",
                 "_opening", "_global_waiters", "_global_replies", "_listener_set", "_tasks",
                 "_is_closed", "_closed_waiter", "_error", "_ready", "_processing", "_burst",
                 "kex_executor", "peer_addr", "username", "__weakref__", "_quickack", "_ack_due")

    def __init__(self, config: ConnectionConfig) -> None:
        self._config = config
        self._conn: Connection | None = None
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_event_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._channels: dict[int, Any] = {}
        self._opening: dict[int, asyncio.Future[Any]] = {}
        # Lists read from the front (few entries; an empty list is far smaller than an
        # empty deque).
        self._global_waiters: list[asyncio.Future[ev.GlobalRequestReplied]] = []
        # Replies to the peer's global requests, in request order (some are decided later).
        self._global_replies: list[asyncio.Future[tuple[bool, bytes]]] = []
        self._listener_set: set[Any] | None = None  # see _listeners
        self._tasks: set[asyncio.Task[Any]] | None = None
        self._is_closed = False
        self._closed_waiter: asyncio.Future[None] | None = None  # made by wait_closed()
        self._error: Exception | None = None
        self._ready: asyncio.Future[None] = self._loop.create_future()
        self._processing = False
        self._burst: asyncio.Handle | None = None  # set while this loop iteration writes
        #: Where ComputeRequested jobs run (config.kex_offload is set when it is given).
        self.kex_executor: Any = None
        self.peer_addr: tuple[Any, ...] | None = None
        self.username: str | None = None
        self._quickack: Any = None  # the TCP socket, while TCP_QUICKACK works on it
        #: None: no ACK check scheduled; True: one is, and the ACK is still owed; False:
        #: one is, but data we sent since carried the ACK
        self._ack_due: bool | None = None

    @property
    def _listeners(self) -> set[Any]:
        """Forwarding listeners closed with the connection (made on first use)."""
        listeners = self._listener_set
        if listeners is None:
            listeners = self._listener_set = set()
        return listeners

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self.peer_addr = transport.get_extra_info("peername")
        sock = transport.get_extra_info("socket")
        if (_TCP_QUICKACK is not None and sock is not None
                and sock.family in (socket.AF_INET, socket.AF_INET6)):
            self._quickack = sock
        try:
            self._conn = Connection(self._config, self._loop.time())
        except SSHError as exc:
            self._set_error(exc)
            transport.close()
            return
        self._conn.set_round_trip(round_trip(sock))
        self._flush()

    # The socket reads straight into the kernel's receive buffer (no copy, no new bytes
    # object per read).  data_received stays for transports that do not buffer.

    def get_buffer(self, sizehint: int) -> memoryview:
        conn = self._conn
        if conn is None or conn.closed:
            return _DISCARD
        return conn.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        conn = self._conn
        if conn is None or conn.closed:
            return
        self._intake(conn.buffer_updated, nbytes)
        if self._quickack is not None and nbytes < _QUICKACK_BELOW:
            self._owe_ack()

    def data_received(self, data: bytes) -> None:
        self._feed(data)
        if self._quickack is not None and len(data) < _QUICKACK_BELOW:
            self._owe_ack()

    def _owe_ack(self) -> None:
        """A small read is to be acknowledged soon, not after the delayed-ACK timer.  sshd
        does not set TCP_NODELAY on non-interactive sessions, so its Nagle holds a small
        packet until the previous one is acknowledged: right after authentication it
        sends hostkeys-00@openssh.com, which needs no answer, and then held the
        confirmation of our first channel ~40 ms, until our delayed ACK went out.  If
        what we send in reply (in this loop iteration or the next) carries the ACK,
        nothing more is needed; otherwise :meth:`_ack_if_quiet` forces it out.  Only
        after small reads: in a bulk flow ACKs go out anyway."""
        if self._ack_due is None:
            self._loop.call_soon(self._ack_if_quiet)
        self._ack_due = True

    def _ack_if_quiet(self) -> None:
        """Acknowledge at once (Linux's TCP_QUICKACK, which the kernel clears again by
        itself) what was read, unless data sent since carried the ACK.  The setsockopt
        is a system call and sends a segment of its own: after every read of a 1-byte
        echo it cost ~7 µs of the client's ~90 µs per round trip."""
        due, self._ack_due = self._ack_due, None
        if due and self._quickack is not None:
            try:
                self._quickack.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
            except OSError:
                self._quickack = None

    def eof_received(self) -> bool:
        self._feed(b"")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None and not self._conn.closed:
            self._feed(b"")
        self._finish(self._error or ConnectionLostError("connection lost"))

    # ------------------------------------------------------------------ kernel driving

    def _feed(self, data: bytes) -> None:
        conn = self._conn
        if conn is None or conn.closed:
            return
        self._intake(conn.receive_data, data)

    def _intake(self, fn: Callable[[Any, float], None], arg: Any) -> None:
        self._feed_kernel(fn, arg, self._loop.time())

    def _feed_kernel(self, fn: Callable[..., None], *args: Any) -> None:
        """Give the kernel something from outside (bytes, a computed result): a protocol
        error closes the connection as the kernel decided; any other exception is a bug,
        which closes it too but never kills the event loop."""
        conn = self._conn
        assert conn is not None
        try:
            fn(*args)
        except ProtocolError as exc:
            if not self._is_clean_disconnect(exc):
                self._set_error(exc)
        except Exception as exc:
            logger.exception("internal error in the SSH kernel")
            self._set_error(exc)
            conn.abandon()
        self._process()

    def _process(self) -> None:
        conn = self._conn
        if conn is None or self._processing:
            return
        self._processing = True
        try:
            while True:
                event = conn.next_event()
                if event is None:
                    break
                try:
                    self._handle_event(event)
                except SSHError as exc:
                    self._set_error(exc)
                    conn.disconnect(getattr(exc, "reason", DisconnectReason.BY_APPLICATION), str(exc))
                except Exception as exc:  # an application callback or a bug: never kill the loop
                    logger.exception("error while handling %s", type(event).__name__)
                    self._set_error(exc)
                    conn.disconnect(DisconnectReason.BY_APPLICATION, "internal error")
        finally:
            self._processing = False
        self._flush()

    def _flush(self) -> None:
        conn = self._conn
        if conn is None or self._transport is None:
            return
        data = conn.data_to_send()
        if data and not self._transport.is_closing():
            self._transport.write(data)
            if self._ack_due and not self._transport.get_write_buffer_size():
                self._ack_due = False  # it went to the socket, the ACK with it
        if conn.closed:
            if self._timer:
                self._timer.cancel()
            if not self._transport.is_closing():
                self._transport.close()
            self._finish(self._error)
            return
        when = conn.get_timer()
        if when != self._timer_at:
            if self._timer:
                self._timer.cancel()
            self._timer = self._loop.call_at(when, self._on_timer) if when is not None else None
            self._timer_at = when

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        if self._conn is not None:
            self._conn.handle_timer(self._loop.time())
            self._process()

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a kernel command, then flush what it produced."""
        if self._conn is None or self._conn.closed:
            raise self._error or ConnectionLostError("connection is closed")
        result = fn(*args)
        self._process()
        return result

    def _write(self, channel: int, data: Any, datatype: int | None) -> None:
        """Channel data.  The first write of an event-loop iteration leaves at once; the
        writes that follow it in the same iteration are held in the kernel
        (``more=True``) until the iteration ends, or a full packet's worth is queued, so
        a burst of small writes leaves as a few full packets while a lone write gains
        no latency.  (Without this, a writer faster than sshd swamps it with 1 KiB
        packets: sshd grows its channel buffer 1 KiB at a time, a copy each, and slows
        to ~1,000 packets/s.)"""
        conn = self._conn
        if conn is None or conn.closed:
            raise self._error or ConnectionLostError("connection is closed")
        burst = self._burst is not None
        conn.send_data(channel, data, datatype, more=burst)
        if not burst:
            self._burst = self._loop.call_soon(self._burst_over)
            self._process()

    def _burst_over(self) -> None:
        self._burst = None
        if self._conn is not None and self._conn.has_held_data:
            self._process()

    def _add_task(self, task: asyncio.Task[Any]) -> None:
        tasks = self._tasks
        if tasks is None:
            tasks = self._tasks = set()
        tasks.add(task)

    def _spawn(self, coro: Any) -> None:
        task = self._loop.create_task(coro)
        self._add_task(task)
        task.add_done_callback(self._task_done)

    def _spawn_quiet(self, coro: Any) -> None:
        """A task whose failure concerns only itself (one forwarded socket, say)."""
        task = self._loop.create_task(coro)
        self._add_task(task)

        def done(t: asyncio.Task[Any]) -> None:
            if self._tasks is not None:
                self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                logger.warning("forwarding task failed: %s", t.exception())
        task.add_done_callback(done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if self._tasks is not None:
            self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            assert exc is not None
            if not isinstance(exc, SSHError):
                logger.error("error in connection task", exc_info=exc)
            self._set_error(exc if isinstance(exc, Exception) else SSHError(str(exc)))
            if self._conn is not None and not self._conn.closed:
                reason = getattr(exc, "reason", DisconnectReason.BY_APPLICATION)
                self._conn.disconnect(reason, str(exc) if isinstance(exc, SSHError) else "internal error")
                self._process()

    def _set_error(self, exc: Exception) -> None:
        if self._error is None:
            self._error = exc

    def _finish(self, exc: Exception | None) -> None:
        if self._is_closed:
            return
        self._is_closed = True
        waiter = self._closed_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if not self._ready.done():
            self._ready.set_exception(exc or ConnectionLostError("connection closed"))
            self._ready.exception()  # mark retrieved
        err = exc or ConnectionLostError("connection closed")
        for fut in list(self._opening.values()):
            if not fut.done():
                fut.set_exception(err)
        for fut in self._global_waiters:
            if not fut.done():
                fut.set_exception(err)
        for chan in list(self._channels.values()):
            chan._connection_lost(exc)
        self._channels.clear()
        if self._listener_set:
            for listener in list(self._listener_set):
                listener.close()
            self._listener_set.clear()
        if self._tasks:
            for task in list(self._tasks):
                task.cancel()
        self.on_closed(exc)

    def on_closed(self, exc: Exception | None) -> None:
        pass

    # ------------------------------------------------------------------ events

    event_handlers: dict[type, Callable[[Any, Any], None]] = {}

    def _handle_event(self, event: ev.Event) -> None:
        handler = self.event_handlers.get(type(event))
        if handler is not None:
            handler(self, event)

    def _on_compute_requested(self, event: ev.ComputeRequested) -> None:
        """Key exchange work, to the executor (a process pool); its result goes back to
        the kernel when done, unless the connection ended meanwhile."""
        try:
            fut = self._loop.run_in_executor(self.kex_executor, event.fn, *event.args)
        except Exception as exc:  # noqa: BLE001 - a shut-down pool: the kex fails, cleanly
            fut = self._loop.create_future()
            fut.set_exception(exc)

        def done(f: asyncio.Future[Any]) -> None:
            conn = self._conn
            if conn is None or conn.closed or f.cancelled():
                return
            exc = f.exception()
            if exc is not None:
                self._feed_kernel(conn.compute_failed, event.job, exc)
            else:
                self._feed_kernel(conn.provide_compute_result, event.job, f.result())
        fut.add_done_callback(done)

    def _on_kex_completed(self, event: ev.KexCompleted) -> None:
        """What a key exchange settled on, at debug level (as ``ssh -v`` shows it); the
        names are from our own lists, so safe to print."""
        a = event.algorithms
        logger.debug("kex: algorithm: %s, host key algorithm: %s", a["kex"], a["host_key"])
        for way, d in (("client->server", "cs"), ("server->client", "sc")):
            logger.debug("kex: %s cipher: %s MAC: %s compression: %s", way, a[f"enc_{d}"],
                         a[f"mac_{d}"], a[f"comp_{d}"])

    def _on_terminated(self, event: ev.ConnectionTerminated) -> None:
        if event.error is not None and not self._is_clean_disconnect(event.error):
            self._set_error(event.error)

    def _is_clean_disconnect(self, exc: Exception) -> bool:
        """The peer said goodbye ("disconnected by application") once the connection was
        up: a normal close, as in AsyncSSH, so ``connection_lost(None)``."""
        return (isinstance(exc, DisconnectError) and exc.reason == DisconnectReason.BY_APPLICATION
                and self._ready.done() and not self._ready.cancelled()
                and self._ready.exception() is None)

    def _on_channel_opened(self, event: ev.ChannelOpened) -> None:
        fut = self._opening.pop(event.channel, None)
        if fut is not None and not fut.done():
            fut.set_result(event.data)

    def _on_channel_open_failed(self, event: ev.ChannelOpenFailed) -> None:
        fut = self._opening.pop(event.channel, None)
        self._channels.pop(event.channel, None)
        if fut is not None and not fut.done():
            fut.set_exception(ChannelOpenError(event.code, event.reason))

    def _route(self, event: Any) -> None:
        chan = self._channels.get(event.channel)
        if chan is not None:
            chan._handle_event(event)
            if isinstance(event, ev.ChannelClosed):
                self._channels.pop(event.channel, None)

    def _on_channel_open_requested(self, event: ev.ChannelOpenRequested) -> None:
        try:
            chan = self.channel_open_requested(event.channel, event.channel_type, event.data,
                                               event.decoded)
        except ChannelOpenError as exc:
            self._conn.reject_channel(event.channel, exc.code, exc.reason)  # type: ignore[union-attr]
            return
        if inspect.isawaitable(chan):
            # Decided later (e.g. after connecting the socket a forwarded channel leads to).
            async def decide(pending: Any) -> None:
                try:
                    result = await pending
                except ChannelOpenError as exc:
                    if self._conn is not None and not self._conn.closed:
                        self._conn.reject_channel(event.channel, exc.code, exc.reason)
                        self._process()
                    return
                if self._conn is None or self._conn.closed:
                    if result is not None:
                        result._connection_lost(None)
                    return
                self._finish_channel_open(event, result)
                self._process()
            self._spawn_quiet(decide(chan))
            return
        self._finish_channel_open(event, chan)

    def _finish_channel_open(self, event: ev.ChannelOpenRequested, chan: Any) -> None:
        if chan is None:
            self._conn.reject_channel(event.channel,  # type: ignore[union-attr]
                                      ChannelOpenFailureReason.UNKNOWN_CHANNEL_TYPE,
                                      f"unsupported channel type {event.channel_type}")
            return
        if not chan._is_bound():
            chan._bind(self, event.channel)
        self._channels[event.channel] = chan
        self._conn.accept_channel(event.channel)  # type: ignore[union-attr]
        chan._opened()

    def channel_open_requested(self, channel: int, channel_type: str, data: bytes,
                               decoded: ChannelOpenData | None = None) -> Any:
        """Decide a channel the peer opens: a channel object, an awaitable of one, or
        None (refused); raise ChannelOpenError to refuse with a reason.  ``decoded``:
        the kernel's typed reading of ``data`` (None for an unknown type)."""
        return None

    def _on_global_request(self, event: ev.GlobalRequestReceived) -> None:
        if event.want_reply and len(self._global_replies) >= self._config.max_pending_global_requests:
            # Replies go out in request order, so requests queued behind a slow decision
            # pile up: a peer may not keep more than this many waiting.
            raise RemoteProtocolError("too many global requests waiting for a reply")
        try:
            answer = self.global_request_received(event.request, event.data, event.decoded)
        except (SSHError, ValueError):
            answer = False
        fut: asyncio.Future[Any] = self._loop.create_future()
        if event.want_reply:
            self._global_replies.append(fut)
        if inspect.isawaitable(answer):
            async def decide(pending: Any) -> None:
                try:
                    result = await pending
                except (SSHError, OSError, ValueError):
                    result = False
                if not fut.done():
                    fut.set_result(result)
                self._send_global_replies()
                self._process()
            self._spawn_quiet(decide(answer))
        else:
            fut.set_result(answer)
            self._send_global_replies()

    def _send_global_replies(self) -> None:
        """Replies go out in the order the requests came (RFC 4254 section 4)."""
        conn = self._conn
        while self._global_replies and self._global_replies[0].done():
            result = self._global_replies.pop(0).result()
            if conn is None or conn.closed:
                continue
            if isinstance(result, (bytes, GlobalReply)):
                conn.reply_global_request(True, result)
            else:
                conn.reply_global_request(bool(result))

    def global_request_received(self, request: str, data: bytes,
                                decoded: GlobalRequest | None = None) -> Any:
        """Return True/False, reply data (bytes or a :class:`~sshcore.kernel.chanreq.GlobalReply`,
        meaning success) or an awaitable of either.  ``decoded``: the kernel's typed
        reading of ``data`` (None for an unknown request)."""
        return False

    def _on_global_reply(self, event: ev.GlobalRequestReplied) -> None:
        if self._global_waiters:
            fut = self._global_waiters.pop(0)
            if not fut.done():
                fut.set_result(event)

    # ------------------------------------------------------------------ channel services
    # What this package's channel objects ask of the kernel: each calls one public
    # kernel command for the channel ``local_id`` and flushes what it produced.

    def _kernel_open(self) -> bool:
        """The kernel exists and its connection is not over."""
        return self._conn is not None and not self._conn.closed

    def _send_channel_request(self, local_id: int, request: str | ChannelRequest,
                              want_reply: bool, data: bytes = b"") -> None:
        """Send a channel request (typed, or a name and raw data); raises
        :class:`~sshcore.errors.ConnectionLostError` once the connection is over."""
        self._call(self._kernel().send_channel_request, local_id, request, want_reply, data)

    def _reply_channel_request(self, local_id: int, success: bool) -> None:
        if self._kernel_open():
            self._kernel().reply_channel_request(local_id, success)

    def _send_eof(self, local_id: int) -> None:
        self._call(self._kernel().send_eof, local_id)

    def _close_channel(self, local_id: int) -> None:
        """Close the channel (queued data goes first); nothing once the connection is over."""
        if self._kernel_open():
            self._call(self._kernel().close_channel, local_id)

    def _consume(self, local_id: int, nbytes: int, flush: bool = False) -> None:
        """The application took ``nbytes`` of the channel's data: the window re-opens
        (sent at once with ``flush``, else with the next flush)."""
        if self._conn is not None:
            self._conn.consume(local_id, nbytes)
            if flush:
                self._flush()

    def _pending(self, local_id: int) -> int:
        """Bytes written to the channel that the kernel has not sent yet."""
        return self._conn.pending(local_id) if self._conn is not None else 0

    def _kernel(self) -> Connection:
        if self._conn is None:
            raise self._error or ConnectionLostError("connection is not up")
        return self._conn

    # ------------------------------------------------------------------ public API

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """``peername``, ``username``, ``algorithms`` (negotiated), ``peer_version``
        (the peer's SSH version line)."""
        if name == "peername":
            return self.peer_addr
        if name == "peer_version":
            return self.peer_version if self.peer_version is not None else default
        if name == "algorithms" and self._conn is not None and self._conn.negotiated:
            return self._conn.negotiated.as_dict()
        if name == "username":
            return self.username
        return default

    @property
    def is_closed(self) -> bool:
        return self._is_closed

    @property
    def peer_version(self) -> str | None:
        """The peer's SSH identification string (``SSH-2.0-OpenSSH_9.6``...), None
        until it arrived."""
        return self._conn.peer_version if self._conn is not None else None

    @property
    def session_id(self) -> bytes | None:
        """The session identifier (the first key exchange's hash), None before it."""
        return self._conn.session_id if self._conn is not None else None

    @property
    def auth_deadline(self) -> float | None:
        """Server: when authentication must be over (LoginGraceTime, on the event
        loop's clock); None once authenticated, without a limit, or before the start."""
        return self._conn.auth_deadline if self._conn is not None else None

    @property
    def auth_failures(self) -> int:
        """Server: failed authentication attempts so far (0 on a client)."""
        return self._conn.auth_failures if self._conn is not None else 0

    def _hostbound_proof(self) -> tuple[bytes, bytes, bytes] | None:
        """(server host key blob, session id, its signature over the exchange hash) once
        the first key exchange is over, for an agent's session-bind@openssh.com."""
        conn = self._conn
        if conn is None or not conn.host_key_signature or not conn.session_id:
            return None
        return (conn.host_key_blob, conn.session_id, conn.host_key_signature)

    def statistics(self) -> dict[str, Any]:
        return self._conn.statistics() if self._conn is not None else {}

    async def open_channel(self, channel_type: str | ChannelOpenData, chan: Any,
                           data: bytes = b"") -> bytes:
        """Open a channel and bind it to ``chan`` (an SSHChannel); returns the
        confirmation data.  ``channel_type``: a :class:`~sshcore.kernel.chanreq.ChannelOpenData`
        (type and payload), or a type name with its raw ``data``."""
        assert self._conn is not None
        local_id = self._call(self._conn.open_channel, channel_type, data, chan.window_size,
                              chan.max_packet_size)
        chan._bind(self, local_id)
        self._channels[local_id] = chan
        fut: asyncio.Future[bytes] = self._loop.create_future()
        self._opening[local_id] = fut
        result = await fut
        return result

    async def global_request(self, request: str | GlobalRequest,
                             data: bytes = b"") -> tuple[bool, bytes]:
        """Send a global request with want-reply; (success, the reply's raw data)."""
        reply = await self._global_request(request, data)
        return reply.success, reply.data

    async def _global_request(self, request: str | GlobalRequest,
                              data: bytes = b"") -> ev.GlobalRequestReplied:
        """Send a global request with want-reply; the reply event (its ``decoded``
        holds the typed reply data)."""
        assert self._conn is not None
        fut: asyncio.Future[ev.GlobalRequestReplied] = self._loop.create_future()
        self._global_waiters.append(fut)
        self._call(self._conn.send_global_request, request, True, data)
        return await fut

    def _send_global_request_nowait(self, request: str | GlobalRequest) -> None:
        """Send a global request without want-reply; nothing once the connection is over."""
        if self._kernel_open():
            self._call(self._kernel().send_global_request, request, False)

    def close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.disconnect(DisconnectReason.BY_APPLICATION, "closed by application")
            self._process()
        elif self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    async def wait_closed(self) -> None:
        if self._is_closed:
            return
        waiter = self._closed_waiter
        if waiter is None:
            waiter = self._closed_waiter = self._loop.create_future()
        await asyncio.shield(waiter)  # one waiter cancelled leaves the others waiting

    async def aclose(self) -> None:
        self.close()
        await self.wait_closed()

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()


SSHConnection.event_handlers = {
    ev.ConnectionTerminated: SSHConnection._on_terminated,
    ev.ComputeRequested: SSHConnection._on_compute_requested,
    ev.KexCompleted: SSHConnection._on_kex_completed,
    ev.ChannelOpened: SSHConnection._on_channel_opened,
    ev.ChannelOpenFailed: SSHConnection._on_channel_open_failed,
    ev.ChannelOpenRequested: SSHConnection._on_channel_open_requested,
    ev.ChannelData: SSHConnection._route,
    ev.ChannelEOF: SSHConnection._route,
    ev.ChannelClosed: SSHConnection._route,
    ev.ChannelRequestReceived: SSHConnection._route,
    ev.ChannelEOWReceived: SSHConnection._route,
    ev.ChannelRequestReplied: SSHConnection._route,
    ev.ChannelWindowOpened: SSHConnection._route,
    ev.GlobalRequestReceived: SSHConnection._on_global_request,
    ev.GlobalRequestReplied: SSHConnection._on_global_reply,
}


__all__ = ["SSHConnection"]
