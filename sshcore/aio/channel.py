"""Channel objects (asyncio side) and the callback-style session classes of the seed API.

Requests travel as :mod:`sshcore.kernel.chanreq` objects: the kernel decodes what the peer
sends (a channel sees ``event.decoded``) and encodes what we send; a channel reaches
the kernel only through its connection's channel services (``conn._send_eof``...).
"""

from __future__ import annotations

import asyncio
import codecs
import logging
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..kernel import events as ev
from ..kernel.chanreq import (BreakRequest,
                              ChannelRequest,
                              EnvRequest,
                              ExecRequest,
                              ExitSignalRequest,
                              ExitStatusRequest,
                              PtyRequest,
                              ShellRequest,
                              SignalRequest,
                              SubsystemRequest,
                              WindowChangeRequest,
                              XonXoffRequest,
                              decode_term_modes)  # noqa: F401 (decode_term_modes: re-exported)
from ..errors import ChannelOpenError, ConnectionLostError, SSHError
from ..kernel.messages import EXTENDED_DATA_STDERR
from ..clientpolicy import (encode_term_modes,
                            session_requests)  # noqa: F401 (encode_term_modes: re-exported)

if TYPE_CHECKING:
    from .connection import SSHConnection

logger = logging.getLogger("sshcore.aio")

#: Writers wait in drain() while more than this much data is queued in the kernel.
HIGH_WATER = 1024 * 1024


class SSHClientSession:
    """Callback interface for a client session (override what you need)."""

    def connection_made(self, chan: SSHClientChannel) -> None:
        pass

    def session_started(self) -> None:
        pass

    def data_received(self, data: bytes | str, datatype: int | None) -> None:
        pass

    def eof_received(self) -> bool:
        return False

    def exit_status_received(self, status: int) -> None:
        pass

    def exit_signal_received(self, signal: str, core_dumped: bool, msg: str, lang: str) -> None:
        pass

    def xon_xoff_requested(self, client_can_do: bool) -> None:
        """The server says whether this side may do XON/XOFF flow control (RFC 4254 6.8)."""

    def connection_lost(self, exc: Exception | None) -> None:
        pass


class SSHServerSession:
    """Callback interface for a server session (override what you need)."""

    def connection_made(self, chan: SSHServerChannel) -> None:
        pass

    def pty_requested(self, term_type: str, term_size: tuple[int, int, int, int],
                      term_modes: Mapping[int, int]) -> bool:
        return False

    def env_requested(self, name: str, value: str) -> bool:
        return False

    def shell_requested(self) -> bool:
        return False

    def exec_requested(self, command: str) -> bool:
        return False

    def subsystem_requested(self, subsystem: str) -> bool:
        return False

    def session_started(self) -> None:
        pass

    def data_received(self, data: bytes | str, datatype: int | None) -> None:
        pass

    def eof_received(self) -> bool:
        """The peer sent EOF; return True to keep sending, otherwise the channel closes."""
        return False

    def terminal_size_changed(self, width: int, height: int, pixwidth: int, pixheight: int) -> None:
        pass

    def signal_received(self, signal: str) -> None:
        pass

    def break_received(self, msec: int) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        pass


class SSHChannel:
    """One channel bound to a connection; routes kernel events to a session object."""

    window_size: int | None = None
    max_packet_size: int | None = None
    auto_consume = True

    def __init__(self, session: Any = None, *, encoding: str | None = None,
                 errors: str = "strict") -> None:
        self._session = session
        self._encoding = encoding
        self._errors = errors
        self._conn: SSHConnection | None = None
        self._id = -1
        self._request_waiters: deque[asyncio.Future[bool]] = deque()
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._closed_fut: asyncio.Future[None] | None = None
        self._closed = False
        self._made = False      # connection_made() has been called
        self._early: list[Any] = []  # data/EOF that arrived before that
        self._closing = False   # close() called: no more input is delivered
        self._in_request = False
        self._close_after_request = False
        self._eof_sent = False
        self._eow = False       # the peer sent eow@openssh.com: it reads no more data
        self._decoders: dict[int | None, Any] = {}
        self._zero_copy = False

    def _bind(self, conn: SSHConnection, local_id: int) -> None:
        # Stream-style sessions re-open the window as the application reads (back-pressure);
        # callback sessions get it re-opened as soon as data is delivered.
        if getattr(self._session, "consumes_on_read", False):
            self.auto_consume = False
        # Sessions of ours that only buffer or forward data take it as a memoryview of the
        # decrypted packet; an application's session gets bytes.
        self._zero_copy = bool(getattr(self._session, "accepts_memoryview", False))
        self._conn = conn
        self._id = local_id
        self._closed_fut = conn._loop.create_future()

    def _is_bound(self) -> bool:
        """The channel belongs to a connection (it has a local id there)."""
        return self._conn is not None

    def _opened(self) -> None:
        """The channel is open: tell the session (once, however often this is called)."""
        if self._made:
            return
        self._made = True
        self._on_opened()
        early, self._early = self._early, []
        for event in early:  # what the peer sent before the opener was ready for it
            self._handle_event(event)

    def _on_opened(self) -> None:
        if self._session is not None:
            self._session.connection_made(self)

    # -------------------------------------------------------------- writing

    def _encode(self, data: bytes | str) -> bytes:
        if isinstance(data, str):
            if self._encoding is None:
                raise TypeError("channel is in binary mode: write bytes")
            return data.encode(self._encoding, self._errors)
        return bytes(data)

    def _decode(self, data: bytes | memoryview, datatype: int | None = None) -> bytes | memoryview | str:
        if not self._encoding:
            return data if self._zero_copy else bytes(data)
        dec = self._decoders.get(datatype)
        if dec is None:
            dec = self._decoders[datatype] = codecs.getincrementaldecoder(self._encoding)(self._errors)
        return dec.decode(data)

    def write(self, data: bytes | str, datatype: int | None = None) -> None:
        conn = self._live()
        if self._eof_sent or self._closing:
            raise BrokenPipeError("channel is closed for sending (EOF or close already sent)")
        if self._eow and datatype is None:
            # As a command writing to ssh whose output closed gets EPIPE (sshd closes the
            # pipe when the client's eow@openssh.com arrives); stderr still goes.
            raise BrokenPipeError("the peer reads no more data on this channel "
                                  "(it sent eow@openssh.com)")
        conn._write(self._id, self._encode(data), datatype)

    def write_stderr(self, data: bytes | str) -> None:
        self.write(data, EXTENDED_DATA_STDERR)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def write_eof(self) -> None:
        if self._closed or self._eof_sent:
            return
        self._eof_sent = True
        self._live()._send_eof(self._id)

    def can_write_eof(self) -> bool:
        return True

    def get_write_buffer_size(self) -> int:
        conn = self._conn
        return conn._pending(self._id) if conn is not None else 0

    async def drain(self) -> None:
        while not self._closed and self.get_write_buffer_size() > HIGH_WATER:
            fut = self._live()._loop.create_future()
            self._drain_waiters.append(fut)
            await fut
        if self._closed and self.get_write_buffer_size():
            raise ConnectionLostError("channel closed with data unsent")

    async def drain_quietly(self) -> None:
        try:
            await self.drain()
        except SSHError:
            pass

    def close(self) -> None:
        if self._closed or self._conn is None:
            return
        self._closing = True
        if self._in_request:
            self._close_after_request = True
            return
        self._conn._close_channel(self._id)

    async def wait_closed(self) -> None:
        if self._closed_fut is not None:
            await asyncio.shield(self._closed_fut)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Connection details (``peername``, ``username``, ``algorithms``)."""
        return self._conn.get_extra_info(name, default) if self._conn is not None else default

    def _live(self) -> SSHConnection:
        if self._conn is None or self._closed:
            raise ConnectionLostError("channel is closed")
        return self._conn

    async def send_request(self, request: str | ChannelRequest, data: bytes = b"") -> bool:
        """Send a channel request and wait for the peer's answer (True: success).
        ``request``: a :class:`~sshcore.kernel.chanreq.ChannelRequest` (``PtyRequest``...),
        or any request name with its raw ``data`` (the escape hatch for requests
        sshcore does not know)."""
        conn = self._live()
        fut: asyncio.Future[bool] = conn._loop.create_future()
        self._request_waiters.append(fut)
        conn._send_channel_request(self._id, request, True, data)
        return await fut

    def send_request_nowait(self, request: str | ChannelRequest, data: bytes = b"") -> None:
        """Send a channel request without asking for an answer (see :meth:`send_request`)."""
        self._live()._send_channel_request(self._id, request, False, data)

    def consume(self, nbytes: int) -> None:
        conn = self._conn
        if conn is not None and not self._closed:
            conn._consume(self._id, nbytes, flush=True)

    # -------------------------------------------------------------- kernel events

    def _handle_event(self, event: Any) -> None:
        if not self._made and isinstance(event, (ev.ChannelData, ev.ChannelEOF)):
            self._early.append(event)  # the opener calls _opened() when it can take them
            return
        if self._closing and isinstance(event, (ev.ChannelData, ev.ChannelEOF)):
            # Closed by the application: like an asyncio transport, no more input.
            if isinstance(event, ev.ChannelData) and self._conn is not None:
                self._conn._consume(self._id, len(event.data))
            return
        if isinstance(event, ev.ChannelData):
            if self._session is not None:
                self._session.data_received(self._decode(event.data, event.datatype), event.datatype)
            if self.auto_consume:
                self._conn._consume(self._id, len(event.data))  # type: ignore[union-attr]
        elif isinstance(event, ev.ChannelWindowOpened):
            self._wake_drain()
        elif isinstance(event, ev.ChannelEOWReceived):
            self._eow = True
            self._wake_drain()  # the queued data was dropped: writers need not wait
        elif isinstance(event, ev.ChannelEOF):
            # As in AsyncSSH (and asyncio protocols): a false answer closes the channel;
            # True keeps it half open so this side can still send.
            if self._session is not None and not self._session.eof_received():
                self.close()
        elif isinstance(event, ev.ChannelRequestReceived):
            ok = False
            # A close() from inside the request's callback waits for the reply: nothing may
            # follow CHANNEL_CLOSE on a channel.
            self._in_request = True
            try:
                ok = bool(self._on_request(event))
            except SSHError:
                ok = False
            finally:
                self._in_request = False
            if event.want_reply:
                self._conn._reply_channel_request(self._id, ok)  # type: ignore[union-attr]
            if self._close_after_request:
                self._close_after_request = False
                self.close()
        elif isinstance(event, ev.ChannelRequestReplied):
            if self._request_waiters:
                fut = self._request_waiters.popleft()
                if not fut.done():
                    fut.set_result(event.success)
        elif isinstance(event, ev.ChannelClosed):
            self._connection_lost(None)

    def _wake_drain(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def _on_request(self, event: ev.ChannelRequestReceived) -> bool:
        """Act on a request from the peer (``event.decoded`` is the typed request, None
        for an unknown name); True answers success."""
        return False

    def _connection_lost(self, exc: Exception | None) -> None:
        if self._closed:
            return
        self._closed = True
        self._wake_drain()
        err = exc or ConnectionLostError("channel closed")
        for fut in self._request_waiters:
            if not fut.done():
                fut.set_exception(err)
                fut.exception()
        self._request_waiters.clear()
        if self._closed_fut is not None and not self._closed_fut.done():
            self._closed_fut.set_result(None)
        if self._session is not None and self._made:
            # Like an asyncio protocol: no connection_lost() without connection_made()
            # (a session whose channel never opened learns it from the open's error).
            self._session.connection_lost(exc)


class SSHClientChannel(SSHChannel):
    """A client "session" channel."""

    def __init__(self, session: Any = None, **kwargs: Any) -> None:
        super().__init__(session, **kwargs)
        self.exit_status: int | None = None
        self.exit_signal: tuple[str, bool, str, str] | None = None
        #: The server's last "xon-xoff" request (None: it sent none).
        self.xon_xoff: bool | None = None

    async def _start(self, command: str | None, subsystem: str | None,
                     env: Mapping[str, str] | None, term_type: str | None,
                     term_size: tuple[int, ...] | None, term_modes: Mapping[int, int] | None) -> None:
        x11 = getattr(self._conn, "x11_forwarding", None)
        if subsystem is None and x11 is not None:
            from .x11 import send_x11_request

            send_x11_request(self, self._live(), x11)  # connect(x11_forwarding=True)
        for request, refused in session_requests(
                command, subsystem, env, term_type, term_size, term_modes,
                agent_forwarding=bool(getattr(self._conn, "agent_forwarding_path", None))):
            if refused is None:
                self.send_request_nowait(request)
            elif not await self.send_request(request):
                if not isinstance(request, PtyRequest):
                    self.close()
                raise ChannelOpenError(1, refused)
        if self._session is not None:
            self._session.session_started()

    def change_terminal_size(self, width: int, height: int, pixwidth: int = 0, pixheight: int = 0) -> None:
        self.send_request_nowait(WindowChangeRequest(width, height, pixwidth, pixheight))

    def send_signal(self, signal: str) -> None:
        self.send_request_nowait(SignalRequest(signal))

    async def send_break(self, msec: int) -> bool:
        """Send a BREAK of ``msec`` milliseconds (RFC 4335); True if the server did it (sshd
        only can on a pseudo-terminal)."""
        return await self.send_request(BreakRequest(msec))

    def get_exit_status(self) -> int | None:
        return self.exit_status

    def _on_request(self, event: ev.ChannelRequestReceived) -> bool:
        req = event.decoded
        if isinstance(req, ExitStatusRequest):
            self.exit_status = req.status
            if self._session is not None:
                self._session.exit_status_received(self.exit_status)
            return True
        if isinstance(req, ExitSignalRequest):
            sig, core, msg, lang = req.signal, req.core_dumped, req.message, req.language
            self.exit_signal = (sig, core, msg, lang)
            if self._session is not None:
                self._session.exit_signal_received(sig, core, msg, lang)
            return True
        if isinstance(req, XonXoffRequest):
            self.xon_xoff = req.client_can_do
            callback = getattr(self._session, "xon_xoff_requested", None)
            if callback is not None:
                callback(self.xon_xoff)
            return True
        return False


class SSHServerChannel(SSHChannel):
    """A server "session" channel: decodes requests and hands them to the session."""

    def __init__(self, session: Any = None, **kwargs: Any) -> None:
        super().__init__(session, **kwargs)
        self.env: dict[str, str] = {}
        self.term_type: str | None = None
        self.term_size: tuple[int, int, int, int] = (0, 0, 0, 0)
        self.term_modes: dict[int, int] = {}
        self.command: str | None = None
        self.subsystem: str | None = None
        self._started = False
        self._exited = False
        self._held: list[Any] | None = []

    def _on_request(self, event: ev.ChannelRequestReceived) -> bool:
        s = self._session
        req = event.decoded
        if isinstance(req, EnvRequest):
            name, value = req.variable, req.value
            if s.env_requested(name, value):
                self.env[name] = value
                return True
            return False
        limits = getattr(self._conn, "key_options", None)
        if isinstance(req, PtyRequest):
            term, size, modes = req.term, req.size, req.term_modes
            if limits is not None and not limits.pty:
                return False  # no-pty / restrict in authorized_keys
            if self._started or not s.pty_requested(term, size, modes):
                return False
            self.term_type, self.term_size, self.term_modes = term, size, modes
            return True
        if isinstance(req, (ShellRequest, ExecRequest, SubsystemRequest)):
            if self._started:
                return False
            if limits is not None and limits.environment:
                self.env.update(limits.environment)
            if limits is not None and limits.command is not None:
                # command= in authorized_keys: it runs whatever was asked for, which it
                # finds in SSH_ORIGINAL_COMMAND (as with sshd)
                if isinstance(req, ExecRequest):
                    self.env["SSH_ORIGINAL_COMMAND"] = req.command
                self.command = limits.command
                ok = s.exec_requested(self.command)
            elif isinstance(req, ExecRequest):
                self.command = req.command
                ok = s.exec_requested(self.command)
            elif isinstance(req, SubsystemRequest):
                self.subsystem = req.subsystem
                ok = s.subsystem_requested(self.subsystem)
            else:
                ok = s.shell_requested()
            if ok:
                self._started = True
                assert self._conn is not None
                self._conn._loop.call_soon(self._begin)
            return bool(ok)
        if isinstance(req, WindowChangeRequest):
            self.term_size = req.size
            s.terminal_size_changed(*req.size)
            return True
        if isinstance(req, SignalRequest):
            s.signal_received(req.signal)
            return True
        if isinstance(req, BreakRequest):
            return bool(s.break_received(req.length_ms))
        return False

    def _handle_event(self, event: Any) -> None:
        # Input (and its EOF) waits until session_started() has run, as in AsyncSSH, so a
        # session never sees data or EOF before it has started.
        if self._held is not None and isinstance(event, (ev.ChannelData, ev.ChannelEOF)):
            self._held.append(event)
            return
        super()._handle_event(event)

    def _begin(self) -> None:
        held, self._held = self._held, None
        if self._closed:
            return
        try:
            self._session.session_started()
            for event in held or ():
                super()._handle_event(event)
        except Exception:  # the application's bug ends its session, not the connection
            logger.exception("error in server session callback")
            self.close()

    def exit(self, status: int) -> None:
        """Send the exit status, EOF and close."""
        if self._closed or self._exited:
            return
        self._exited = True
        self.send_request_nowait(ExitStatusRequest(status & 0xFFFFFFFF))
        self.write_eof()
        self.close()

    def exit_with_signal(self, signal: str, core_dumped: bool = False, msg: str = "",
                         lang: str = "") -> None:
        if self._closed or self._exited:
            return
        self._exited = True
        self.send_request_nowait(ExitSignalRequest(signal, core_dumped, msg, lang))
        self.write_eof()
        self.close()

    def set_xon_xoff(self, client_can_do: bool) -> None:
        """Tell the client whether it may do XON/XOFF flow control itself (RFC 4254 6.8)."""
        self.send_request_nowait(XonXoffRequest(client_can_do))

    def get_environment(self) -> dict[str, str]:
        return dict(self.env)

    def get_command(self) -> str | None:
        return self.command

    def get_terminal_type(self) -> str | None:
        return self.term_type

    def get_terminal_size(self) -> tuple[int, int, int, int]:
        return self.term_size
