"""RFC 4254 connection protocol, sans-I/O: channels, windows, requests.

Theory of operation (one channel)::

    OPENING --OPEN_CONFIRMATION--> OPEN --send/recv EOF--> (half-closed, per direction)
    OPEN --CLOSE sent--> CLOSE_SENT --CLOSE received--> gone
    OPEN --CLOSE received--> CLOSE is sent back at once --> gone

Outgoing data is queued per channel and sent as the peer's window and maximum packet
size allow; ``pending(channel)`` tells the driver how much waits, for back-pressure.
EOF and CLOSE we are asked to send go out after the queued data.  Incoming data beyond
the window we granted is a protocol error; the window is re-opened as the application
reports data consumed (``consume()``).

Where RFC 4254 says MUST and OpenSSH enforces it, so do we, with a PROTOCOL_ERROR
disconnect (OpenSSH's check in brackets): a WINDOW_ADJUST that takes the window past
2^32-1 [channels.c channel_input_window_adjust, "adjust %u overflows remote window"];
extended data after EOF [channel_input_extended_data, "Received extended_data after
EOF"]; any message for a channel that does not exist [channel_from_packet_id, "packet
referred to nonexistent channel"]; trailing bytes after a fixed-size message
[sshpkt_get_end / ssh_packet_check_eom]; a "session" open after
``no-more-sessions@openssh.com`` [serverloop.c server_request_session].  Stricter than
OpenSSH (which drops or tolerates these): any data after EOF or CLOSE, data past the
window (OpenSSH allows 10% over) or the maximum packet size, a duplicate EOF, and a
WINDOW_ADJUST for an unknown channel.  Extended data OpenSSH would not take (a code other than
stderr, or stderr anywhere but towards a client's session) is dropped, as its "bad ext
data" does, its window credited back.  ``eow@openssh.com`` (OpenSSH PROTOCOL 2.1: the
peer reads no more) drops the channel's queued and future data, as nchan.c
chan_rcvd_eow does by closing the descriptor that feeds the channel; stderr still flows.

What the peer's requests and opens carry is decoded here, with :mod:`sshcore.kernel.chanreq`,
before any event: the events hold the typed objects, and malformed data (a truncated
pty-req, a direct-tcpip open with trailing bytes) is a PROTOCOL_ERROR disconnect, as
OpenSSH's ``sshpkt_fatal`` makes it.  Names the kernel does not know pass through as
bytes.

The connection that owns this layer is seen only through
:class:`sshcore.kernel._layer._LayerHost` (so this module never imports ``connection``).
"""

from __future__ import annotations

import struct
from collections import deque
from typing import TYPE_CHECKING

from . import events as ev
from .._wire import SSHReader, boolean, byte, string, uint32
from .chanreq import (decode_channel_open, decode_channel_request, decode_global_reply,
                      decode_global_request)
from ..errors import LocalProtocolError, RemoteProtocolError
from .messages import EXTENDED_DATA_STDERR, MessageType

if TYPE_CHECKING:
    from ._layer import _LayerHost

_U32X2 = struct.Struct(">II")
_U32X3 = struct.Struct(">III")
_DATA_HEADER = struct.Struct(">BII")
_EXT_HEADER = struct.Struct(">BIII")
_MAX_WINDOW = 0xFFFFFFFF  # RFC 4254 5.2: a window never goes past 2^32 - 1
#: Seconds a channel held back by the short-path limit waits for a window adjust (twice,
#: see ChannelLayer.check_waiting) before it uses the peer's whole window.
WAIT_PATIENCE = 0.5

#: OpenSSH extensions the kernel itself acts on (PROTOCOL 2.1 and 2.2).
EOW = "eow@openssh.com"
NO_MORE_SESSIONS = "no-more-sessions@openssh.com"


class Channel:
    __slots__ = ("local_id", "remote_id", "channel_type", "state", "local_window",
                 "local_max_packet", "window_initial", "consumed", "remote_window",
                 "remote_max_packet", "queue", "queued", "eof_sent", "eof_pending",
                 "close_pending", "close_sent", "close_received", "eof_received",
                 "eow_received", "requests_out", "requests_in", "idle_timeout",
                 "idle_deadline", "touched", "peer_window", "whole_window")

    def __init__(self, local_id: int, channel_type: str, window: int, max_packet: int) -> None:
        self.local_id = local_id
        self.remote_id = -1
        self.channel_type = channel_type
        self.state = "opening"
        self.local_window = window
        self.window_initial = window
        self.local_max_packet = max_packet
        self.consumed = 0
        self.remote_window = 0
        self.peer_window = 0  # the largest window the peer has granted (its buffer, as we see it)
        # The peer left us waiting under the short-path limit: its whole window from now on.
        self.whole_window = False
        self.remote_max_packet = 0
        self.queue: deque[tuple[int | None, bytes | memoryview]] = deque()
        self.queued = 0
        self.eof_sent = self.eof_pending = False
        self.close_pending = self.close_sent = False
        self.close_received = self.eof_received = False
        self.eow_received = False  # the peer reads no more data here (eow@openssh.com)
        # ChannelTimeout (see _timeouts.py): the interval, when it runs out, data sent since
        self.idle_timeout = 0.0
        self.idle_deadline: float | None = None
        self.touched = False
        self.requests_out = 0   # requests we sent with want_reply, awaiting replies
        self.requests_in = 0    # requests we received with want_reply, awaiting our reply


class ChannelLayer:
    __slots__ = ("host", "_send", "_emit", "_is_client", "channels", "corked", "_next_id",
                 "global_out", "global_owners", "global_in", "no_more_sessions",
                 "short_path", "waiting", "waiting_deadline")

    def __init__(self, host: _LayerHost) -> None:
        self.host = host                   # config, the clock, channel_opened()
        self._send = host.send_payload     # bound once: these two run per packet
        self._emit = host._events.append
        self._is_client = host.is_client
        self.channels: dict[int, Channel] = {}
        # Channels holding data sent with more=True, in the order it was sent: it leaves
        # at the next data_to_send() (or sooner, see send_data).
        self.corked: dict[int, Channel] = {}
        self._next_id = 0
        self.global_out = 0   # global requests awaiting replies (FIFO)
        # ... each one's name, and whether it is the kernel's own (a keepalive)
        self.global_owners: list[tuple[str, bool]] = []
        self.global_in = 0
        # Server: the client sent no-more-sessions@openssh.com (no "session" opens after it).
        # Client: we sent it (and so may open no more sessions ourselves).
        self.no_more_sessions = False
        # The network's round trip is short (see Connection.set_round_trip): keep at most
        # half of each peer's window, plus a packet, in flight.
        self.short_path = False
        # Channels held back by that limit with data queued and no window adjust since:
        # local id -> how many timer checks found them so (see check_waiting).
        self.waiting: dict[int, int] = {}
        self.waiting_deadline: float | None = None

    # ------------------------------------------------------------------ helpers

    def _alloc(self, channel_type: str, window: int | None, max_packet: int | None) -> Channel:
        if len(self.channels) >= self.host.config.max_channels:
            raise LocalProtocolError("too many open channels")
        while self._next_id in self.channels:
            self._next_id = (self._next_id + 1) & 0xFFFFFFFF
        cfg = self.host.config
        ch = Channel(self._next_id, channel_type, window or cfg.window_size,
                     max_packet or cfg.max_packet_size)
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF
        self.channels[ch.local_id] = ch
        return ch

    def _get(self, payload: bytes, opening: bool = False) -> tuple[Channel, SSHReader]:
        r = SSHReader(payload, 1)
        return self._lookup(r.uint32(), payload[0], opening), r

    def _lookup(self, local: int, mtype: int, opening: bool = False) -> Channel:
        """The channel a message names.  Until the peer has answered our CHANNEL_OPEN,
        only its answer (``opening=True``) may name the channel: data, requests or a
        close before it are protocol errors (and we could not address a reply)."""
        ch = self.channels.get(local)
        if ch is None or ch.state == "opening_remote" or (ch.state == "opening" and not opening):
            raise RemoteProtocolError(f"message {mtype} for unknown channel {local}")
        return ch

    def _chan(self, local_id: int) -> Channel:
        ch = self.channels.get(local_id)
        if ch is None:
            raise LocalProtocolError(f"no channel {local_id}")
        return ch

    # ------------------------------------------------------------------ commands

    def open(self, channel_type: str, data: bytes = b"", window: int | None = None,
             max_packet: int | None = None) -> int:
        if channel_type == "session" and self.no_more_sessions:
            raise LocalProtocolError("no-more-sessions@openssh.com was sent: no more sessions")
        ch = self._alloc(channel_type, window, max_packet)
        self._send(b"".join((byte(MessageType.CHANNEL_OPEN), string(channel_type),
                             uint32(ch.local_id), uint32(ch.local_window),
                             uint32(ch.local_max_packet), data)))
        return ch.local_id

    def accept(self, local_id: int, data: bytes = b"") -> None:
        ch = self._chan(local_id)
        if ch.state != "opening_remote":
            raise LocalProtocolError("channel is not waiting to be accepted")
        ch.state = "open"
        self.host.channel_opened(ch)
        self._send(b"".join((byte(MessageType.CHANNEL_OPEN_CONFIRMATION),
                             uint32(ch.remote_id), uint32(ch.local_id),
                             uint32(ch.local_window), uint32(ch.local_max_packet), data)))

    def reject(self, local_id: int, code: int, reason: str = "") -> None:
        ch = self._chan(local_id)
        if ch.state != "opening_remote":
            raise LocalProtocolError("channel is not waiting to be accepted")
        del self.channels[local_id]
        self._send(b"".join((byte(MessageType.CHANNEL_OPEN_FAILURE), uint32(ch.remote_id),
                             uint32(code), string(reason), string(""))))

    def send_data(self, local_id: int, data: bytes, datatype: int | None = None,
                  more: bool = False) -> None:
        """Queue ``data`` and packetise what the peer's window allows.  ``more=True``
        (like TCP's MSG_MORE): more data follows soon, so hold it until the next
        data_to_send(), or until a full packet's worth is queued, so that many small
        writes leave as a few full packets rather than one small packet each."""
        ch = self._chan(local_id)
        if ch.eof_pending or ch.eof_sent or ch.close_pending or ch.close_sent:
            raise LocalProtocolError("cannot send data after EOF or close")
        if not data or (ch.eow_received and datatype is None):
            return  # after eow@openssh.com the peer reads no more: dropped, as OpenSSH does
        ch.queue.append((datatype, bytes(data)))
        ch.queued += len(data)
        ch.touched = True
        if ch.state != "open":
            return
        if not more:
            self._flush(ch)
        elif ch.queued >= ch.remote_max_packet:
            self._flush(ch, whole_only=True)  # the full packets; a short tail stays held
            if ch.queue:
                self.corked[local_id] = ch
        else:
            self.corked[local_id] = ch

    def flush_corked(self) -> None:
        """Send what send_data(more=True) held back (as far as the windows allow)."""
        corked, self.corked = self.corked, {}
        for ch in corked.values():
            if ch.state == "open" and not ch.close_sent:
                self._flush(ch)

    def count(self, channel_type: str | None = None) -> int:
        """Channels that exist (open, or being opened or closed), of one type or all."""
        if channel_type is None:
            return len(self.channels)
        return sum(1 for ch in self.channels.values() if ch.channel_type == channel_type)

    def pending(self, local_id: int) -> int:
        ch = self.channels.get(local_id)
        return ch.queued if ch is not None else 0

    def send_eof(self, local_id: int) -> None:
        ch = self._chan(local_id)
        if ch.eof_pending or ch.eof_sent or ch.close_pending or ch.close_sent:
            return
        ch.eof_pending = True
        if ch.state == "open":
            self._flush(ch)

    def close(self, local_id: int) -> None:
        ch = self.channels.get(local_id)
        if ch is None or ch.close_pending or ch.close_sent:
            return
        ch.close_pending = True
        if ch.state == "open":
            self._flush(ch)

    def abort(self, local_id: int) -> None:
        """Close now, dropping queued data."""
        ch = self.channels.get(local_id)
        if ch is None:
            return
        ch.queue.clear()
        ch.queued = 0
        self.close(local_id)

    def send_request(self, local_id: int, request: str, want_reply: bool, data: bytes = b"") -> None:
        ch = self._chan(local_id)
        if ch.close_sent or ch.close_pending:
            raise LocalProtocolError("channel is closing")
        if ch.queue and ch.state == "open":
            self._flush(ch)  # held-back data goes before the request (exit-status after output)
        if want_reply:
            ch.requests_out += 1
        self._send(b"".join((byte(MessageType.CHANNEL_REQUEST), uint32(ch.remote_id),
                             string(request), boolean(want_reply), data)))

    def reply_request(self, local_id: int, success: bool) -> None:
        ch = self.channels.get(local_id)
        if ch is None or ch.close_sent:
            return
        if ch.requests_in <= 0:
            raise LocalProtocolError("no channel request is waiting for a reply")
        ch.requests_in -= 1
        mtype = MessageType.CHANNEL_SUCCESS if success else MessageType.CHANNEL_FAILURE
        self._send(byte(mtype) + uint32(ch.remote_id))

    def consume(self, local_id: int, nbytes: int) -> None:
        """The application took ``nbytes`` of received data: re-open the window, by what
        was taken, once that is four packets or half the window (whichever is less; as
        sshd, which re-opens after three).  A sender that keeps only half our window in
        flight (as ours does on a short path) then never runs dry waiting for it."""
        ch = self.channels.get(local_id)
        if ch is None or ch.close_sent or ch.close_received:
            return
        ch.consumed += nbytes
        if ch.consumed >= min(ch.window_initial // 2, 4 * ch.local_max_packet):
            adj, ch.consumed = ch.consumed, 0
            ch.local_window += adj
            self._send(byte(MessageType.CHANNEL_WINDOW_ADJUST) + uint32(ch.remote_id)
                       + uint32(adj))

    def global_request(self, request: str, want_reply: bool, data: bytes = b"",
                       internal: bool = False) -> None:
        """``internal``: the kernel's own request (a keepalive), whose reply is not an event."""
        if want_reply:
            self.global_out += 1
            self.global_owners.append((request, internal))
        self._send(byte(MessageType.GLOBAL_REQUEST) + string(request)
                   + boolean(want_reply) + data)

    def send_no_more_sessions(self) -> None:
        """Client: tell the server we open no more sessions (OpenSSH's ssh does this
        unless it is a ControlMaster), so a hijacked connection cannot be given one."""
        if not self._is_client:
            raise LocalProtocolError("only a client sends no-more-sessions@openssh.com")
        if self.no_more_sessions:
            return
        self.no_more_sessions = True
        self.global_request(NO_MORE_SESSIONS, False)

    def reply_global(self, success: bool, data: bytes = b"") -> None:
        if self.global_in <= 0:
            raise LocalProtocolError("no global request is waiting for a reply")
        self.global_in -= 1
        if success:
            self._send(byte(MessageType.REQUEST_SUCCESS) + data)
        else:
            self._send(byte(MessageType.REQUEST_FAILURE))

    def _flush(self, ch: Channel, whole_only: bool = False) -> None:
        """Packetise queued data as far as the window allows, then a pending EOF and
        CLOSE.  ``whole_only``: only full packets (the window's or the peer's limit).

        On a short path (``short_path``) no more than half the peer's window, plus one
        packet, is in flight: what the peer has received but not yet passed on sits in
        its buffers, not in the network, and a full window of it is costly there.
        OpenSSH's sshd grows a channel's buffer by reallocation while its consumed
        prefix is under half of it; with 2 MiB in flight that buffer reached ~4 MB,
        re-allocated (a fresh mmap, copy and unmap) for each 32 KiB packet, and a
        connection's first 64 MiB upload ran at a third of the speed of one kept to
        half the window.  Every peer we know re-opens the window once half of it is
        used (sshd after three packets), so this does not wait on a window that will
        not come (and :meth:`check_waiting` ends the limit for a peer that would make
        it); on a long path the whole window is used, as ever, since there it is what
        fills the pipe."""
        send = self._send
        rid = ch.remote_id
        window = ch.remote_window
        held = 0
        if self.short_path and not ch.whole_window:
            # in flight = peer_window - remote_window; at most peer_window/2 + a packet
            held = max(0, ch.peer_window - ch.peer_window // 2 - ch.remote_max_packet)
            window -= held
        while ch.queue and window > 0:
            datatype, data = ch.queue[0]
            limit = min(window, ch.remote_max_packet)
            if whole_only and ch.queued < limit:
                return
            if held and limit < ch.remote_max_packet <= ch.remote_window and ch.queued > limit:
                # Only the limit stands between us and a full packet, and more than it
                # allows is queued: wait for the next adjust rather than send a short
                # one after every adjust (in flight is then over half the window, so
                # an adjust comes).
                break
            n = min(len(data), limit)
            if n == len(data):
                ch.queue.popleft()
                chunk = data
                # Small writes that waited for the window leave together, in one packet
                # up to the limit, not one packet (and one write by the peer) each.
                if ch.queue and ch.queue[0][0] == datatype and n + len(ch.queue[0][1]) <= limit:
                    parts = [data]
                    while ch.queue and ch.queue[0][0] == datatype and n + len(ch.queue[0][1]) <= limit:
                        nxt = ch.queue.popleft()[1]
                        parts.append(nxt)
                        n += len(nxt)
                    chunk = b"".join(parts)
            else:
                # A view, not a copy, of what is left: a large write goes out in many
                # packets, and re-copying its tail for each would be quadratic.
                view = data if type(data) is memoryview else memoryview(data)
                chunk = view[:n]
                ch.queue[0] = (datatype, view[n:])
            ch.queued -= n
            ch.remote_window -= n
            window -= n
            if datatype is None:
                send((_DATA_HEADER.pack(MessageType.CHANNEL_DATA, rid, n), chunk))
            else:
                send((_EXT_HEADER.pack(MessageType.CHANNEL_EXTENDED_DATA, rid, datatype, n), chunk))
        if ch.queue:
            if held and ch.remote_window > 0 and ch.local_id not in self.waiting:
                # held back by the short-path limit alone: see check_waiting
                self.waiting[ch.local_id] = 0
                if self.waiting_deadline is None:
                    self.waiting_deadline = self.host._now + WAIT_PATIENCE
            return
        if ch.eof_pending and not ch.eof_sent:
            ch.eof_sent = True
            send(byte(MessageType.CHANNEL_EOF) + uint32(rid))
        if ch.close_pending and not ch.close_sent:
            ch.close_sent = True
            send(byte(MessageType.CHANNEL_CLOSE) + uint32(rid))
            self._maybe_free(ch)

    def check_waiting(self, now: float) -> None:
        """The timer for channels held back by the short-path limit.  A peer that
        re-opens its window only once more than half of it is used (none we know of),
        or that grants back less than it read, would leave such a channel waiting for
        an adjust that never comes.  A channel found still waiting, with no adjust, at
        two checks ``WAIT_PATIENCE`` apart (the first may come early: the clock the
        kernel last saw can be old) uses the peer's whole window from then on."""
        self.waiting_deadline = None
        for local_id, checks in list(self.waiting.items()):
            ch = self.channels.get(local_id)
            if ch is None or not ch.queue or ch.close_sent:
                del self.waiting[local_id]
            elif checks == 0:
                self.waiting[local_id] = 1
            else:
                del self.waiting[local_id]
                ch.whole_window = True
                self._flush(ch)
                self._emit(ev.ChannelWindowOpened(local_id))  # writers may go on
        if self.waiting:
            self.waiting_deadline = now + WAIT_PATIENCE

    def _maybe_free(self, ch: Channel) -> None:
        if ch.close_sent and ch.close_received:
            self.channels.pop(ch.local_id, None)
            self._emit(ev.ChannelClosed(ch.local_id))

    # ------------------------------------------------------------------ incoming

    def dispatch(self, mtype: int, payload: bytes) -> None:
        handler = _DISPATCH.get(mtype)
        if handler is None:
            raise RemoteProtocolError(f"unexpected connection message {mtype}")
        handler(self, payload)

    def _on_open(self, payload: bytes) -> None:
        r = SSHReader(payload, 1)
        ctype = r.text("ascii")
        remote_id, window, max_packet = r.uint32(), r.uint32(), r.uint32()
        data = r.rest()
        if ctype == "session" and not self._is_client:
            if data:  # RFC 4254 6.1 (serverloop.c server_request_session: sshpkt_get_end)
                raise RemoteProtocolError("unexpected data in a session CHANNEL_OPEN")
            if self.no_more_sessions:
                # serverloop.c server_request_session disconnects with these words.
                raise RemoteProtocolError("Possible attack: attempt to open a session after "
                                          "additional sessions disabled")
        decoded = decode_channel_open(ctype, data)
        if len(self.channels) >= self.host.config.max_channels:
            self._send(b"".join((byte(MessageType.CHANNEL_OPEN_FAILURE), uint32(remote_id),
                                 uint32(4), string("too many channels"), string(""))))
            return
        ch = self._alloc(ctype, None, None)
        ch.state = "opening_remote"
        ch.remote_id, ch.remote_window, ch.remote_max_packet = remote_id, window, max(max_packet, 1)
        ch.peer_window = window
        self._emit(ev.ChannelOpenRequested(ch.local_id, ctype, data, decoded))

    def _on_open_confirmation(self, payload: bytes) -> None:
        ch, r = self._get(payload, opening=True)
        if ch.state != "opening":
            raise RemoteProtocolError("unexpected CHANNEL_OPEN_CONFIRMATION")
        ch.remote_id, ch.remote_window, ch.remote_max_packet = r.uint32(), r.uint32(), max(r.uint32(), 1)
        ch.peer_window = ch.remote_window
        ch.state = "open"
        self.host.channel_opened(ch)
        self._emit(ev.ChannelOpened(ch.local_id, r.rest()))
        self._flush(ch)

    def _on_open_failure(self, payload: bytes) -> None:
        ch, r = self._get(payload, opening=True)
        if ch.state != "opening":
            raise RemoteProtocolError("unexpected CHANNEL_OPEN_FAILURE")
        code = r.uint32()
        reason = r.string().decode("utf-8", "replace")
        r.string()  # language tag
        r.finish()
        del self.channels[ch.local_id]
        self._emit(ev.ChannelOpenFailed(ch.local_id, code, reason))

    def _on_window_adjust(self, payload: bytes) -> None:
        ch, r = self._get(payload)
        n = r.uint32()
        r.finish()
        if ch.remote_window + n > _MAX_WINDOW:
            # OpenSSH channels.c: fatal("channel %d: adjust %u overflows remote window %u")
            raise RemoteProtocolError(f"channel {ch.local_id}: adjust {n} overflows the window "
                                      f"{ch.remote_window} (RFC 4254 5.2: at most 2^32-1)")
        ch.remote_window += n
        if ch.remote_window > ch.peer_window:
            ch.peer_window = ch.remote_window
        self.waiting.pop(ch.local_id, None)
        if ch.state == "open":
            self._flush(ch)
            self._emit(ev.ChannelWindowOpened(ch.local_id))

    def _receive(self, ch: Channel, data: bytes, datatype: int | None,
                 deliver: bool = True) -> None:
        if ch.state != "open" or ch.eof_received or ch.close_received:
            raise RemoteProtocolError("channel data after EOF or close, or before open")
        n = len(data)
        if n > ch.local_window:
            raise RemoteProtocolError("peer sent more data than the channel window allows")
        if n > ch.local_max_packet:
            raise RemoteProtocolError("channel data exceeds the maximum packet size")
        ch.local_window -= n
        if ch.idle_deadline is not None:
            ch.idle_deadline = self.host._now + ch.idle_timeout
        if ch.close_sent or not deliver:
            return
        self._emit(ev.ChannelData(ch.local_id, data, datatype))

    def _on_data(self, payload: bytes | memoryview) -> None:
        # The hot path: parsed in place, the data stays a view of the decrypted packet.
        if len(payload) < 9:
            raise RemoteProtocolError("truncated CHANNEL_DATA")
        local, n = _U32X2.unpack_from(payload, 1)
        if 9 + n != len(payload):
            raise RemoteProtocolError("CHANNEL_DATA length does not match the packet")
        self._receive(self._lookup(local, payload[0]), payload[9:], None)

    def _on_extended_data(self, payload: bytes | memoryview) -> None:
        if len(payload) < 13:
            raise RemoteProtocolError("truncated CHANNEL_EXTENDED_DATA")
        local, datatype, n = _U32X3.unpack_from(payload, 1)
        if 13 + n != len(payload):
            raise RemoteProtocolError("CHANNEL_EXTENDED_DATA length does not match the packet")
        ch = self._lookup(local, payload[0])
        if datatype != EXTENDED_DATA_STDERR or not (self._is_client
                                                    and ch.channel_type == "session"):
            # OpenSSH takes extended data only as a session's stderr, by the client; other
            # codes, and stderr sent anywhere else, are "bad ext data", dropped.  The peer
            # counted them against its window: check them as data, then credit them back.
            self._receive(ch, payload[13:], datatype, deliver=False)
            self.consume(ch.local_id, n)
            return
        self._receive(ch, payload[13:], datatype)

    def _on_eof(self, payload: bytes) -> None:
        ch, r = self._get(payload)
        r.finish()
        if ch.eof_received or ch.close_received:
            raise RemoteProtocolError("duplicate CHANNEL_EOF")
        ch.eof_received = True
        self._emit(ev.ChannelEOF(ch.local_id))

    def _on_close(self, payload: bytes) -> None:
        ch, r = self._get(payload)
        r.finish()
        if ch.close_received:
            raise RemoteProtocolError("duplicate CHANNEL_CLOSE")
        ch.close_received = True
        if not ch.close_sent:
            ch.queue.clear()
            ch.queued = 0
            ch.close_pending = True
            if ch.state == "open":
                self._flush(ch)
        self._maybe_free(ch)

    def _on_request(self, payload: bytes) -> None:
        ch, r = self._get(payload)
        request = r.text("ascii")
        want_reply = r.boolean()
        if request == EOW:
            r.finish()  # serverloop.c / clientloop.c: sshpkt_get_end
            self._on_eow(ch)
            if not want_reply:
                return
            # The reply goes out in order with the channel's other requests: the
            # application gives it (OpenSSH answers FAILURE, having acted on it anyway).
        data = r.rest()
        decoded = decode_channel_request(request, data)
        if want_reply:
            ch.requests_in += 1
        self._emit(ev.ChannelRequestReceived(ch.local_id, request, want_reply, data, decoded))

    def _on_eow(self, ch: Channel) -> None:
        """The peer reads no more data (its output closed): drop what waits for it and
        what is written from now on, as OpenSSH's chan_rcvd_eow does by closing the
        descriptor that feeds the channel.  Extended data (stderr) still goes."""
        if ch.eow_received:
            return
        ch.eow_received = True
        if ch.queue:
            kept = deque(item for item in ch.queue if item[0] is not None)
            ch.queued = sum(len(item[1]) for item in kept)
            ch.queue = kept
            if ch.state == "open" and not ch.close_sent:
                self._flush(ch)  # a pending EOF or CLOSE may go now
        self._emit(ev.ChannelEOWReceived(ch.local_id))

    def _on_request_reply(self, payload: bytes) -> None:
        ch, r = self._get(payload)
        r.finish()
        if ch.requests_out <= 0:
            raise RemoteProtocolError("channel request reply without a request")
        ch.requests_out -= 1
        self._emit(ev.ChannelRequestReplied(ch.local_id,
                                            payload[0] == MessageType.CHANNEL_SUCCESS))

    def _on_global_request(self, payload: bytes) -> None:
        r = SSHReader(payload, 1)
        request = r.text("ascii")
        want_reply = r.boolean()
        data = r.rest()
        decoded = decode_global_request(request, data)
        if request == NO_MORE_SESSIONS and not self._is_client:
            # serverloop.c server_input_global_request: no_more_sessions = 1, success.  The
            # event still goes to the application, which answers it (in order) if asked.
            self.no_more_sessions = True
        if want_reply:
            self.global_in += 1
        self._emit(ev.GlobalRequestReceived(request, want_reply, data, decoded))

    def _on_global_reply(self, payload: bytes) -> None:
        if self.global_out <= 0:
            raise RemoteProtocolError("global request reply without a request")
        self.global_out -= 1
        request, internal = self.global_owners.pop(0)
        if internal:
            return  # a keepalive's answer: hearing it was the point
        success = payload[0] == MessageType.REQUEST_SUCCESS
        data = bytes(payload[1:])
        decoded = decode_global_reply(request, data) if success else None
        self._emit(ev.GlobalRequestReplied(success, data, request, decoded))


_DISPATCH = {
    MessageType.GLOBAL_REQUEST: ChannelLayer._on_global_request,
    MessageType.REQUEST_SUCCESS: ChannelLayer._on_global_reply,
    MessageType.REQUEST_FAILURE: ChannelLayer._on_global_reply,
    MessageType.CHANNEL_OPEN: ChannelLayer._on_open,
    MessageType.CHANNEL_OPEN_CONFIRMATION: ChannelLayer._on_open_confirmation,
    MessageType.CHANNEL_OPEN_FAILURE: ChannelLayer._on_open_failure,
    MessageType.CHANNEL_WINDOW_ADJUST: ChannelLayer._on_window_adjust,
    MessageType.CHANNEL_DATA: ChannelLayer._on_data,
    MessageType.CHANNEL_EXTENDED_DATA: ChannelLayer._on_extended_data,
    MessageType.CHANNEL_EOF: ChannelLayer._on_eof,
    MessageType.CHANNEL_CLOSE: ChannelLayer._on_close,
    MessageType.CHANNEL_REQUEST: ChannelLayer._on_request,
    MessageType.CHANNEL_SUCCESS: ChannelLayer._on_request_reply,
    MessageType.CHANNEL_FAILURE: ChannelLayer._on_request_reply,
}
