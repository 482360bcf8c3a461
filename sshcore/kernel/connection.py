"""The sans-I/O SSH connection: transport + userauth + connection protocol in one facade.

Drive it like h2/aioquic: ``receive_data(data, now)`` (or, without a copy, write into
``get_buffer()`` and call ``buffer_updated(n, now)``, as asyncio's BufferedProtocol
does), then drain ``next_event()``, write ``data_to_send()`` and re-arm ``get_timer()``.
Decisions that need the outside world are events the application answers by calling a
method (``accept_host_key``, ``provide_auth_input``, ``answer_auth``, ``accept_channel``,
and, with ``config.kex_offload``, ``provide_compute_result`` for a key exchange's heavy
work...).  ``send_data(..., more=True)`` holds small writes until ``data_to_send()``, so
that a burst of them leaves as full packets.

Channel requests, global requests and channel opens are typed both ways: the commands
take a :mod:`sshcore.kernel.chanreq` object (``send_channel_request(ch, PtyRequest("xterm"),
True)``, ``open_channel(DirectTcpipOpen(host, port))``), and the events carry one in
their ``decoded`` field.  A name the kernel does not know goes as a string and bytes.
"""

from __future__ import annotations

from typing import Any

from . import events as ev
from ._channels import Channel, ChannelLayer
from ._timeouts import ChannelTimeouts
from ._transport import Transport
from ._userauth import ClientUserauth, ServerUserauth
from .chanreq import (ChannelOpenData, ChannelRequest, GlobalKeepaliveRequest, GlobalReply,
                      GlobalRequest)
from .config import ConnectionConfig
from ..errors import DisconnectReason, ProtocolError, RemoteProtocolError
from ..interfaces import PublicKey
from .messages import CONNECTION_FIRST, CONNECTION_LAST

__all__ = ["Connection", "ConnectionConfig", "SHORT_ROUND_TRIP", "SHORT_SSH_ROUND_TRIP"]

#: Seconds: a network round trip up to this long is a short path (see set_round_trip).
#: At 1 ms, half of sshd's 2 MiB window still moves 1 GB/s.
SHORT_ROUND_TRIP = 0.001
#: ... and the SSH round trip within this (both ends' processing included): the
#: client's SERVICE_REQUEST to its answer, the server's SERVICE_ACCEPT to the first
#: USERAUTH_REQUEST.  Through a local forward or proxy TCP only sees the loopback.
SHORT_SSH_ROUND_TRIP = 0.005


class Connection(Transport):
    """``now``: when the connection started (the server's login grace time runs from it)."""

    __slots__ = ("userauth", "channels", "username", "_auth_deadline", "_last_heard",
                 "_last_probe", "_probes", "keepalives_sent", "_timeouts", "_tcp_round_trip",
                 "_ssh_asked_at", "_ssh_round_trip")

    def __init__(self, config: ConnectionConfig, now: float = 0.0) -> None:
        super().__init__(config)
        self._now = now
        # The sub-layers get this connection as their _layer._LayerHost (send, emit, clock,
        # state), never as a Connection: they do not import this module.
        self.userauth: ClientUserauth | ServerUserauth = (
            ClientUserauth(self) if self.is_client else ServerUserauth(self))
        self.channels = ChannelLayer(self)
        self.username: str | None = None
        # OpenSSH's LoginGraceTime: from the first byte to USERAUTH_SUCCESS, so a peer
        # that stays silent or trickles its version line or kex is dropped too.
        self._auth_deadline: float | None = (
            now + config.login_timeout
            if not self.is_client and config.login_timeout is not None else None)
        self._last_heard = 0.0     # when the peer last sent us anything
        self._last_probe = 0.0
        self._probes = 0           # keepalives sent since we last heard from the peer
        self.keepalives_sent = 0
        self._timeouts = ChannelTimeouts(config.channel_timeouts, config.unused_connection_timeout)
        # set_round_trip's value; when the SERVICE_REQUEST (client) or SERVICE_ACCEPT
        # (server) went, and how long the answer took
        self._tcp_round_trip: float | None = None
        self._ssh_asked_at: float | None = None
        self._ssh_round_trip: float | None = None

    # ------------------------------------------------------------------ layering

    def on_first_kex_done(self) -> None:
        if self.is_client:
            # Sent with our NEWKEYS, once the host key is accepted: the driver says when
            # (set_time), or it is while the server's NEWKEYS is handled.  (sshd answers
            # at once; it delays even a "none" USERAUTH_REQUEST's failure by ~7 ms.)
            self._ssh_asked_at = self._now
            self.request_service("ssh-userauth")

    def on_service_accepted(self) -> None:
        if self.is_client:
            if self._ssh_asked_at is not None and self._ssh_round_trip is None:
                self._ssh_round_trip = self._now - self._ssh_asked_at
                self._update_path()
            assert isinstance(self.userauth, ClientUserauth)
            self.userauth.start()
            return
        # Sent while the SERVICE_REQUEST is handled; clients send their first
        # USERAUTH_REQUEST as soon as this arrives.
        self._ssh_asked_at = self._now
        if self.config.banner:
            assert isinstance(self.userauth, ServerUserauth)
            self.userauth.send_banner(self.config.banner)

    def on_auth_success(self, username: str) -> None:
        self.authenticated = True
        self.username = username
        self._auth_deadline = None
        self.start_delayed_compression()
        if self.is_client:
            self.allow_ext_info()
        self._events.append(ev.AuthCompleted(username))

    def upper_dispatch(self, mtype: int, payload: bytes) -> None:
        if 50 <= mtype <= 79:
            if not self.service_accepted:
                raise RemoteProtocolError(f"userauth message {mtype} before the service was accepted")
            if self.is_client and mtype == 50:
                raise RemoteProtocolError("server sent USERAUTH_REQUEST")
            if not self.is_client and mtype in (51, 52, 53):
                raise RemoteProtocolError(f"client sent server-only userauth message {mtype}")
            if not self.is_client and self._ssh_round_trip is None and self._ssh_asked_at is not None:
                self._ssh_round_trip = self._now - self._ssh_asked_at
                self._update_path()
            self.userauth.dispatch(mtype, payload)
            return
        if CONNECTION_FIRST <= mtype <= CONNECTION_LAST:
            if not self.authenticated:
                raise RemoteProtocolError(f"connection message {mtype} before authentication")
            self.channels.dispatch(mtype, payload)
            return
        raise RemoteProtocolError(f"unexpected message {mtype}")

    # ------------------------------------------------------------------ timers

    def receive_data(self, data: bytes, now: float = 0.0) -> None:
        if data:
            self._last_heard = now
            self._probes = 0
        super().receive_data(data, now)

    def buffer_updated(self, nbytes: int, now: float = 0.0) -> None:
        if nbytes:
            self._last_heard = now
            self._probes = 0
        super().buffer_updated(nbytes, now)

    def _keepalive_due(self) -> float | None:
        interval = self.config.keepalive_interval
        if interval is None or not self.authenticated or self.closed:
            return None
        return max(self._last_heard, self._last_probe) + interval

    def channel_opened(self, ch: Channel) -> None:
        """The channel layer's note that ``ch`` is open (its idle interval starts)."""
        self._timeouts.opened(ch, self._now)

    def _idle_due(self) -> float | None:
        if self.closed:
            return None
        return self._timeouts.deadline(self.channels, self.authenticated, self._now)

    def get_timer(self) -> float | None:
        timers = [t for t in (super().get_timer(), self._auth_deadline, self._keepalive_due(),
                              self._idle_due(), self.channels.waiting_deadline) if t is not None]
        return min(timers) if timers else None

    def handle_timer(self, now: float) -> None:
        if self._auth_deadline is not None and now >= self._auth_deadline and not self.closed:
            from ..errors import NoMoreAuthMethodsError

            self._fail(NoMoreAuthMethodsError("authentication timed out"))
            return
        due = self._keepalive_due()
        if due is not None and now >= due:
            if self._probes >= self.config.keepalive_count_max:
                from ..errors import KeepaliveTimeoutError

                self._fail(KeepaliveTimeoutError(
                    f"no answer from the peer to {self._probes} keepalives "
                    f"{self.config.keepalive_interval:g} s apart"))
                return
            self._probes += 1
            self.keepalives_sent += 1
            self._last_probe = now
            self._guard(self.channels.global_request, GlobalKeepaliveRequest.name, True, b"", True)
        if not self.closed:
            idle, unused = self._timeouts.expire(self.channels, self.authenticated, now)
            if unused:
                self.disconnect(DisconnectReason.BY_APPLICATION, "unused connection timeout "
                                f"({self._timeouts.unused:g} s without channels)")
                return
            for channel in idle:
                self._events.append(ev.ChannelIdleTimeout(channel))
                self._guard(self.channels.close, channel)
            waiting = self.channels.waiting_deadline
            if waiting is not None and now >= waiting:
                self._guard(self.channels.check_waiting, now)
        super().handle_timer(now)

    # ------------------------------------------------------------------ application answers

    def _guard(self, fn: Any, *args: Any) -> None:
        """Run an application command; a protocol failure it causes ends the connection."""
        try:
            fn(*args)
            if not self.closed:
                self._process_packets()
        except ProtocolError as exc:
            self._fail(exc)

    def provide_auth_input(self, answer: Any) -> None:
        assert isinstance(self.userauth, ClientUserauth)
        self._guard(self.userauth.provide_input, answer)

    def answer_auth(self, answer: Any) -> None:
        assert isinstance(self.userauth, ServerUserauth)
        self._guard(self.userauth.answer, answer)

    def decode_user_key(self, blob: bytes, algorithm: str) -> PublicKey | None:
        if algorithm not in self.config.user_sig_algs():
            return None
        try:
            desc = self.registry.get("signature", algorithm)
            key: PublicKey = desc.decode(blob)
        except Exception:  # noqa: BLE001 - a malformed key from the peer is just "no"
            return None
        if not self.key_size_ok(key):
            return None
        return key

    # ------------------------------------------------------------------ channel commands

    def open_channel(self, channel_type: str | ChannelOpenData, data: bytes = b"",
                     window: int | None = None, max_packet: int | None = None) -> int:
        """Open a channel; returns its local id (a ChannelOpened or ChannelOpenFailed
        event follows).  ``channel_type``: a :class:`~sshcore.kernel.chanreq.ChannelOpenData`
        (its type and payload), or a type name with its raw payload ``data``."""
        self._require_auth()
        if isinstance(channel_type, ChannelOpenData):
            channel_type, data = channel_type.name, _typed_data(channel_type, data)
        return self.channels.open(channel_type, data, window, max_packet)

    def accept_channel(self, channel: int, data: bytes = b"") -> None:
        self.channels.accept(channel, data)

    def reject_channel(self, channel: int, code: int, reason: str = "") -> None:
        self.channels.reject(channel, code, reason)

    def send_data(self, channel: int, data: bytes, datatype: int | None = None, *,
                  more: bool = False) -> None:
        """``more=True``: more data follows soon; hold small writes back until the next
        :meth:`data_to_send` (or a full packet's worth), so they leave coalesced."""
        self.channels.send_data(channel, data, datatype, more)

    def data_to_send(self) -> bytes:
        if self.channels.corked and not self.closed:
            self.channels.flush_corked()
        return super().data_to_send()

    def disconnect(self, reason: int = DisconnectReason.BY_APPLICATION,
                   description: str = "disconnected by application") -> None:
        if self.channels.corked and not self.closed:
            self.channels.flush_corked()  # what the application wrote goes before DISCONNECT
        super().disconnect(reason, description)

    def send_eof(self, channel: int) -> None:
        self.channels.send_eof(channel)

    def close_channel(self, channel: int) -> None:
        if not self.closed:
            self.channels.close(channel)

    def send_channel_request(self, channel: int, request: str | ChannelRequest,
                             want_reply: bool = False, data: bytes = b"") -> None:
        """Send a channel request: a :class:`~sshcore.kernel.chanreq.ChannelRequest`
        (``PtyRequest``, ``ExecRequest``, ``ExitStatusRequest``...), or a request name
        with its raw ``data``.  With ``want_reply`` a ChannelRequestReplied follows."""
        if isinstance(request, ChannelRequest):
            request, data = request.name, _typed_data(request, data)
        self.channels.send_request(channel, request, want_reply, data)

    def reply_channel_request(self, channel: int, success: bool) -> None:
        self.channels.reply_request(channel, success)

    def consume(self, channel: int, nbytes: int) -> None:
        if not self.closed:
            self.channels.consume(channel, nbytes)

    def pending(self, channel: int) -> int:
        return self.channels.pending(channel)

    def set_round_trip(self, seconds: float | None) -> None:
        """The driver's measure of the network's round trip (TCP's own estimate, say),
        or None when it has none.  Up to :data:`SHORT_ROUND_TRIP` (the same host, a
        LAN) channels keep at most half of the peer's window, plus a packet, in flight
        rather than all of it: there the data in flight waits in the peer's buffers,
        not in the network (see ``ChannelLayer._flush``).  Unknown or longer: the
        whole window, as RFC 4254 allows.  The SSH round trip must also be within
        :data:`SHORT_SSH_ROUND_TRIP` (a client's SERVICE_REQUEST answered, a server's
        SERVICE_ACCEPT followed by the first USERAUTH_REQUEST): through a local forward
        (``ssh -L``) or a proxy on the same host, TCP's round trip is the loopback's."""
        self._tcp_round_trip = seconds
        self._update_path()

    def _update_path(self) -> None:
        tcp, ssh = self._tcp_round_trip, self._ssh_round_trip
        self.channels.short_path = (tcp is not None and 0 <= tcp <= SHORT_ROUND_TRIP
                                    and ssh is not None and 0 <= ssh <= SHORT_SSH_ROUND_TRIP)

    def send_global_request(self, request: str | GlobalRequest, want_reply: bool = False,
                            data: bytes = b"") -> None:
        """Send a global request: a :class:`~sshcore.kernel.chanreq.GlobalRequest`
        (``TcpipForwardRequest``...), or a name with its raw ``data``.  With
        ``want_reply`` a GlobalRequestReplied follows (replies come in request order)."""
        self._require_auth()
        if isinstance(request, GlobalRequest):
            request, data = request.name, _typed_data(request, data)
        self.channels.global_request(request, want_reply, data)

    def reply_global_request(self, success: bool, data: bytes | GlobalReply = b"") -> None:
        """Answer the oldest global request waiting for a reply; ``data`` (success
        only): a :class:`~sshcore.kernel.chanreq.GlobalReply` (``ForwardPortReply``...) or
        raw bytes."""
        if isinstance(data, GlobalReply):
            data = data.encode()
        self.channels.reply_global(success, data)

    # ------------------------------------------------------------------ state for drivers

    def abandon(self) -> None:
        """The driver gives the connection up without a word: its socket is gone, or
        the kernel raised something other than a protocol error (a bug).  The
        connection counts as closed from now on; nothing more is sent and no event
        follows (a clean end is :meth:`disconnect`)."""
        self.closed = True

    @property
    def has_held_data(self) -> bool:
        """Some channel holds data written with ``send_data(more=True)``: the next
        :meth:`data_to_send` sends it (a driver that batches writes checks this at the
        end of a burst)."""
        return bool(self.channels.corked)

    def channel_count(self, channel_type: str | None = None) -> int:
        """How many channels exist (open, being opened, or closing), of
        ``channel_type`` only when given.  A server counts ``"session"`` for its
        MaxSessions limit; the channel whose ChannelOpenRequested is being decided is
        included."""
        return self.channels.count(channel_type)

    @property
    def auth_methods_tried(self) -> tuple[str, ...]:
        """Client: the authentication methods tried so far, in order (for a "permission
        denied" message); a server's is empty."""
        methods = getattr(self.userauth, "methods", None)
        return tuple(methods) if isinstance(self.userauth, ClientUserauth) and methods else ()

    @property
    def auth_failures(self) -> int:
        """Server: failed authentication attempts so far (counted as OpenSSH counts
        them against MaxAuthTries); a client's is 0."""
        return self.userauth.failures if isinstance(self.userauth, ServerUserauth) else 0

    @property
    def auth_deadline(self) -> float | None:
        """Server: when authentication must be over (the login grace time, on the
        clock of ``now``), None once authenticated or without a limit."""
        return self._auth_deadline

    def send_no_more_sessions(self) -> None:
        """Client: send ``no-more-sessions@openssh.com`` (OpenSSH PROTOCOL 2.2), as ssh
        does when it will open no more sessions; opening one afterwards is a
        :class:`~sshcore.errors.LocalProtocolError`, and a server that knows the
        extension disconnects a peer that tries."""
        self._require_auth()
        self.channels.send_no_more_sessions()

    @property
    def no_more_sessions(self) -> bool:
        """Server: the client sent ``no-more-sessions@openssh.com`` (any further
        "session" open is a protocol error).  Client: we sent it."""
        return self.channels.no_more_sessions

    def _require_auth(self) -> None:
        from ..errors import LocalProtocolError

        if not self.authenticated:
            raise LocalProtocolError("not authenticated yet")
        if self.closed:
            raise LocalProtocolError("connection is closed")


def _typed_data(value: ChannelRequest | GlobalRequest | ChannelOpenData, data: bytes) -> bytes:
    if data:
        from ..errors import LocalProtocolError

        raise LocalProtocolError(f"{type(value).__name__} carries its own data; pass none")
    return value.encode()
