"""Stateful property tests: a client and a server kernel driven in memory through random
interleavings of legal commands, partial deliveries, timers, rekeys and injected junk.

The property (STYLE.md section 10, h2's ``test_state_machines.py``): every step either
works, or the side that received bad data raises a :class:`ProtocolError` (the peer's
fault, never an ``AssertionError``, ``KeyError``... nor a ``LocalProtocolError`` for a
command that was legal) and is CLOSED from then on.  Invariants checked after every step
cover authentication (only the server's application grants it: a forged
USERAUTH_SUCCESS from the client never authenticates it, CVE-2018-10933) and channel
bookkeeping (windows never negative, queued bytes accounted for).
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from sshcore import events as ev
from sshcore._wire import boolean, string, uint32
from sshcore.errors import ProtocolError
from tests.fuzz.targets import _pair

SIDES = st.sampled_from(["client", "server"])

# Junk: message numbers from every range (transport, kex, userauth, connection, unassigned)
# with random bodies, plus a few well-formed messages sent in the wrong state.
_FORGED = [
    b"\x34",                                                              # USERAUTH_SUCCESS
    b"\x32" + string("alice") + string("ssh-connection") + string("none"),  # USERAUTH_REQUEST
    b"\x5a" + string("session") + uint32(5) + uint32(1 << 20) + uint32(32768),  # CHANNEL_OPEN
    b"\x62" + uint32(0) + string("exec") + boolean(True) + string("id"),  # CHANNEL_REQUEST
    b"\x5e" + uint32(0) + string(b"x" * 100),                             # CHANNEL_DATA
    b"\x15",                                                              # NEWKEYS
    b"\x07" + uint32(1) + string("server-sig-algs") + string("x"),        # EXT_INFO
    b"\x05" + string("ssh-userauth"),                                     # SERVICE_REQUEST
    b"\x02" + string(b""), b"\x04" + boolean(False) + string("d") + string(""),  # IGNORE, DEBUG
    b"\x50" + string("keepalive@openssh.com") + boolean(True),            # GLOBAL_REQUEST
    b"\x51", b"\x52", b"\x63" + uint32(0), b"\x61" + uint32(0),
]
#: What a client sends to skip authentication: libssh CVE-2018-10933 (its own
#: USERAUTH_SUCCESS), Erlang/OTP CVE-2025-32433 (channel open / exec before auth).
_SKIP_AUTH = [_FORGED[0], _FORGED[2], _FORGED[3], _FORGED[-5]]
RANDOM_MESSAGE = st.builds(lambda t, body: bytes([t]) + body, st.integers(1, 255),
                           st.binary(max_size=40))


class KernelPair(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # Deterministic randomness (padding, kex values, cookies): Hypothesis replays runs.
        self.p = _pair(login_timeout=120.0, rekey_seconds=3600.0,
                       random=random.Random(0).randbytes)
        self.now = 0.0
        self.granted = False           # the server's application said yes to some auth
        self.pending_auth: list[ev.AuthRequested] = []
        self.pending_opens: list[int] = []
        self.open: dict[str, set[int]] = {"client": set(), "server": set()}
        self.requests: dict[str, list[int]] = {"client": [], "server": []}
        self.global_in = {"client": 0, "server": 0}
        self.junk_sent = False
        self.host_key_waiting = False

    # ------------------------------------------------------------------ helpers

    def conn(self, side: str):
        return self.p.client if side == "client" else self.p.server

    def other(self, side: str) -> str:
        return "server" if side == "client" else "client"

    def deliver(self, side: str, limit: int | None = None) -> None:
        """Move (up to ``limit`` bytes of) what ``side`` sent to its peer."""
        src, dst = self.conn(side), self.conn(self.other(side))
        data = src.data_to_send()
        if limit is not None and len(data) > limit:
            src._out[:0] = [data[limit:]]  # the rest stays queued, in order
            data = data[:limit]
        if not data or dst.closed:
            return
        was_authenticated = self.p.server.authenticated
        try:
            dst.receive_data(data, self.now)
        except ProtocolError:
            assert dst.closed, "a protocol error must leave the receiver CLOSED"
        # Only the server application's answer authenticates (see answer_auth); bytes
        # from the client alone never do (a forged USERAUTH_SUCCESS: CVE-2018-10933).
        assert self.p.server.authenticated == was_authenticated or dst is self.p.client, \
            "the server authenticated the client on received data alone"
        self.drain(self.other(side))

    def drain(self, side: str) -> None:
        conn = self.conn(side)
        while (e := conn.next_event()) is not None:
            if isinstance(e, (ev.ChannelOpenRequested, ev.ChannelRequestReceived,
                              ev.GlobalRequestReceived)):
                assert conn.authenticated, f"{side} passed on {e!r} before authentication"
            if isinstance(e, ev.HostKeyReceived):
                self.host_key_waiting = True
            elif isinstance(e, ev.AuthRequested):
                self.pending_auth.append(e)
            elif isinstance(e, ev.ChannelOpenRequested):
                self.pending_opens.append(e.channel)
            elif isinstance(e, ev.ChannelOpened):
                self.open[side].add(e.channel)
            elif isinstance(e, (ev.ChannelClosed, ev.ChannelOpenFailed)):
                self.open[side].discard(e.channel)
                self.requests[side] = [c for c in self.requests[side] if c != e.channel]
            elif isinstance(e, ev.ChannelRequestReceived) and e.want_reply:
                self.requests[side].append(e.channel)
            elif isinstance(e, ev.GlobalRequestReceived) and e.want_reply:
                self.global_in[side] += 1
            elif isinstance(e, ev.ChannelData):
                conn.consume(e.channel, len(e.data))
            elif isinstance(e, ev.ConnectionTerminated):
                self.open[side].clear()

    def live(self) -> bool:
        return not (self.p.client.closed or self.p.server.closed)

    def ready(self) -> bool:
        return self.live() and self.p.client.authenticated and self.p.server.authenticated

    # ------------------------------------------------------------------ start

    @initialize(stage=st.integers(0, 3))
    def start(self, stage: int) -> None:
        """Begin fresh (0), after the first kex (1), authenticated (2), or with a session
        channel open (3): random walks from the start alone rarely get deep."""
        if stage >= 1:
            self.pump_until_quiet()
            self.host_key_decision(True)
            self.pump_until_quiet()
        if stage >= 2:
            for _ in range(8):
                while self.pending_auth:
                    req = self.pending_auth.pop(0)
                    self.p.server.answer_auth(req.method == "password")
                    self.granted |= req.method == "password"
                self.pump_until_quiet()
            assert self.p.server.authenticated and self.p.client.authenticated
        if stage >= 3:
            self.open_session()
            self.pump_until_quiet()
            self.answer_open(True)
            self.pump_until_quiet()
            assert self.open["client"] and self.open["server"]

    # ------------------------------------------------------------------ delivery and time

    @rule(side=SIDES)
    def pump(self, side: str) -> None:
        self.deliver(side)

    @rule()
    def pump_until_quiet(self) -> None:
        for _ in range(20):
            if not (self.p.client._out or self.p.server._out):
                break
            self.deliver("client")
            self.deliver("server")

    @rule(side=SIDES, limit=st.integers(1, 64))
    def pump_partial(self, side: str, limit: int) -> None:
        self.deliver(side, limit)

    @rule(dt=st.sampled_from([0.5, 30.0, 200.0, 4000.0]))
    def advance_time(self, dt: float) -> None:
        self.now += dt
        for side in ("client", "server"):
            conn = self.conn(side)
            timer = conn.get_timer()
            if timer is not None and timer <= self.now:
                conn.handle_timer(self.now)  # a timeout closes the connection, never raises
            self.drain(side)

    # ------------------------------------------------------------------ handshake decisions

    @precondition(lambda self: self.host_key_waiting and self.live())
    @rule(accept=st.booleans())
    def host_key_decision(self, accept: bool) -> None:
        self.host_key_waiting = False
        if accept:
            self.p.client.accept_host_key()
        else:
            self.p.client.reject_host_key()
            assert self.p.client.closed
        self.drain("client")

    @precondition(lambda self: self.pending_auth and self.live())
    @rule(grant=st.booleans())
    def answer_auth(self, grant: bool) -> None:
        self.pending_auth.pop(0)
        server = self.p.server
        if not server.userauth.waiting_answer:
            return  # superseded (the connection moved on): nothing to answer
        server.answer_auth(grant)
        self.granted |= grant and server.authenticated
        self.drain("server")

    # ------------------------------------------------------------------ channels

    @precondition(lambda self: self.ready())
    @rule()
    def open_session(self) -> None:
        self.p.client.open_channel("session")

    @precondition(lambda self: self.live() and self.pending_opens)
    @rule(accept=st.booleans())
    def answer_open(self, accept: bool) -> None:
        ch = self.pending_opens.pop(0)
        chan = self.p.server.channels.channels.get(ch)
        if chan is None or chan.state != "opening_remote":
            return
        if accept:
            self.p.server.accept_channel(ch)
            self.open["server"].add(ch)
        else:
            self.p.server.reject_channel(ch, 1, "no")

    def _usable(self, side: str) -> list[int]:
        conn = self.conn(side)
        return sorted(c for c in self.open[side] if (ch := conn.channels.channels.get(c)) is not None
                      and not (ch.eof_pending or ch.eof_sent or ch.close_pending or ch.close_sent))

    @precondition(lambda self: self.ready())
    @rule(side=SIDES, data=st.binary(min_size=1, max_size=3000), pick=st.integers(0, 7),
          stderr=st.booleans())
    def send_data(self, side: str, data: bytes, pick: int, stderr: bool) -> None:
        chans = self._usable(side)
        if chans:
            self.conn(side).send_data(chans[pick % len(chans)], data, 1 if stderr else None)

    @precondition(lambda self: self.ready())
    @rule(side=SIDES, pick=st.integers(0, 7), close=st.booleans())
    def eof_or_close(self, side: str, pick: int, close: bool) -> None:
        chans = self._usable(side)
        if chans:
            ch = chans[pick % len(chans)]
            if close:
                self.conn(side).close_channel(ch)
            else:
                self.conn(side).send_eof(ch)

    @precondition(lambda self: self.ready())
    @rule(side=SIDES, pick=st.integers(0, 7), want_reply=st.booleans())
    def channel_request(self, side: str, pick: int, want_reply: bool) -> None:
        chans = self._usable(side)
        if chans:
            self.conn(side).send_channel_request(chans[pick % len(chans)], "exec", want_reply,
                                                 string("true"))

    @precondition(lambda self: self.live() and (self.requests["client"] or self.requests["server"]))
    @rule(side=SIDES, ok=st.booleans())
    def reply_channel_request(self, side: str, ok: bool) -> None:
        if self.requests[side]:
            self.conn(side).reply_channel_request(self.requests[side].pop(0), ok)

    @precondition(lambda self: self.ready())
    @rule(side=SIDES, want_reply=st.booleans())
    def global_request(self, side: str, want_reply: bool) -> None:
        self.conn(side).send_global_request("test@sshcore.test", want_reply)

    @precondition(lambda self: self.live() and (self.global_in["client"] or self.global_in["server"]))
    @rule(side=SIDES, ok=st.booleans())
    def reply_global(self, side: str, ok: bool) -> None:
        if self.global_in[side]:
            self.global_in[side] -= 1
            self.conn(side).reply_global_request(ok)

    # ------------------------------------------------------------------ transport

    @precondition(lambda self: self.live())
    @rule(side=SIDES)
    def rekey(self, side: str) -> None:
        self.conn(side).start_rekey()  # a no-op before the first kex or during one

    @precondition(lambda self: self.live() and self.p.client.session_id is not None
                  and self.p.server.session_id is not None)
    @rule(side=SIDES, data=st.binary(max_size=20))
    def ignore(self, side: str, data: bytes) -> None:
        self.conn(side).send_ignore(data)

    @precondition(lambda self: self.live())
    @rule(side=SIDES)
    def disconnect(self, side: str) -> None:
        self.conn(side).disconnect()
        assert self.conn(side).closed

    # ------------------------------------------------------------------ hostile input

    @precondition(lambda self: self.live())
    @rule(side=SIDES, payload=RANDOM_MESSAGE)
    def inject_message(self, side: str, payload: bytes) -> None:
        """``side`` turns hostile: a framed, correctly encrypted and MAC'd message that its
        state machine would never have sent."""
        self.junk_sent = True
        self.conn(side)._send_now(payload)

    @precondition(lambda self: self.live())
    @rule(side=SIDES, payload=st.sampled_from(_FORGED))
    def inject_forged(self, side: str, payload: bytes) -> None:
        """The same with a well-formed message that is legal somewhere, just not here."""
        self.inject_message(side, payload)

    @precondition(lambda self: self.live())
    @rule(side=SIDES, junk=st.binary(min_size=1, max_size=64))
    def inject_bytes(self, side: str, junk: bytes) -> None:
        """Raw bytes on the wire: framing, MAC or version-line garbage."""
        self.junk_sent = True
        self.conn(side)._out.append(junk)

    def teardown(self) -> None:
        # How deep the runs got (``pytest --hypothesis-show-statistics`` prints these).
        event(f"authenticated: {self.p.server.authenticated}")
        event(f"channels opened: {bool(self.open['client'])}")
        event(f"closed by a protocol error: {isinstance(self.p.server.error or self.p.client.error, ProtocolError)}")

    @precondition(lambda self: self.live() and not self.p.server.authenticated)
    @rule(payload=st.sampled_from(_SKIP_AUTH))
    def client_skips_auth(self, payload: bytes) -> None:
        self.inject_message("client", payload)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def only_the_server_application_grants_auth(self) -> None:
        if self.p.server.authenticated:
            assert self.granted, "the server authenticated a client its application never accepted"

    @invariant()
    def closed_connections_stay_quiet(self) -> None:
        for conn in (self.p.client, self.p.server):
            if conn.closed:
                conn.data_to_send()  # its DISCONNECT, if any
                conn.receive_data(b"more", self.now)  # ignored once closed
                assert conn.data_to_send() == b"" and conn.closed

    @invariant()
    def channel_bookkeeping(self) -> None:
        for conn in (self.p.client, self.p.server):
            for ch in conn.channels.channels.values():
                assert ch.local_window >= 0 and ch.remote_window >= 0
                assert ch.queued == sum(len(d) for _, d in ch.queue)

    @invariant()
    def honest_pairs_do_not_fail(self) -> None:
        """Without junk, nothing but a DISCONNECT, a refused host key or a timeout ends
        a connection: the legal commands never make the peer see a protocol error."""
        if self.junk_sent:
            return
        for conn in (self.p.client, self.p.server):
            err = conn.error
            if err is not None:
                assert type(err).__name__ in ("DisconnectError", "HostKeyNotVerifiableError",
                                              "NoMoreAuthMethodsError", "KeepaliveTimeoutError"), repr(err)


KernelPair.TestCase.settings = settings(
    max_examples=200, stateful_step_count=40, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_kernel_pair = pytest.mark.timeout(120)(KernelPair.TestCase)
