"""Client and server kernels back to back in memory, with the stand-in algorithms."""

from __future__ import annotations

import pytest

from sshcore import events as ev
from sshcore._wire import byte, string, uint32
from sshcore.config import ConnectionConfig
from sshcore.connection import Connection
from sshcore.errors import (DisconnectError, DisconnectReason, KeyExchangeError,
                            LocalProtocolError, ProtocolVersionError, RemoteProtocolError)
from sshcore.testing import ConnectionPair, TestKey, pair_configs


def make_pair(reg, **kw):
    cfgs = pair_configs(reg, **kw)
    cfgs.client.username = "alice"
    cfgs.client.credentials = {"client_keys": [TestKey()], "password": "secret"}
    return ConnectionPair(cfgs.client, cfgs.server)


def handshake(p: ConnectionPair) -> None:
    """Run to an authenticated connection, answering every decision 'yes' (password)."""
    p.pump()
    p.client.accept_host_key()
    p.pump()
    # server: "none" -> refuse (auth required); publickey query -> no; password -> yes
    for _ in range(10):
        pending = [e for e in p.server_events if isinstance(e, ev.AuthRequested)]
        if any(isinstance(e, ev.AuthCompleted) for e in p.server_events):
            break
        last = pending[-1]
        p.server_events.clear()
        p.server.answer_auth(last.method == "password" and last.info["password"] == "secret")
        p.pump()
    assert p.client.authenticated and p.server.authenticated


def test_full_handshake_and_strict_kex(test_registry):
    p = make_pair(test_registry)
    handshake(p)
    kc = [e for e in p.client_events if isinstance(e, ev.KexCompleted)][0]
    assert kc.strict and kc.first
    assert p.server.username == "alice"
    assert any(isinstance(e, ev.ExtInfoReceived) for e in p.client_events)
    assert p.client.server_sig_algs == ["test-key@sshcore.test"]


def open_session(p):
    ch = p.client.open_channel("session")
    p.pump()
    req = [e for e in p.server_events if isinstance(e, ev.ChannelOpenRequested)][-1]
    p.server.accept_channel(req.channel)
    p.pump()
    return ch, req.channel


def test_channel_data_flow_control_and_close(test_registry):
    p = make_pair(test_registry)
    handshake(p)
    ch, sch = open_session(p)
    data = bytes(range(256)) * 20000  # 5 MB: far more than one window
    p.client.send_data(ch, data)
    p.pump()
    got = b"".join(e.data for e in p.server_events if isinstance(e, ev.ChannelData))
    # The server application has not consumed anything: the window stops the flow.
    assert len(got) == ConnectionConfig("client").window_size
    assert p.client.pending(ch) == len(data) - len(got)
    total = len(got)
    for _ in range(100):
        p.server.consume(sch, total)
        p.server_events.clear()
        p.pump()
        chunk = b"".join(e.data for e in p.server_events if isinstance(e, ev.ChannelData))
        got += chunk
        total = len(chunk)
        if len(got) == len(data):
            break
    assert got == data
    p.client.send_eof(ch)
    p.client.close_channel(ch)
    p.pump()
    assert any(isinstance(e, ev.ChannelEOF) for e in p.server_events)
    assert any(isinstance(e, ev.ChannelClosed) for e in p.server_events)
    assert any(isinstance(e, ev.ChannelClosed) for e in p.client_events)


def _received(p):
    got = b"".join(bytes(e.data) for e in p.server_events if isinstance(e, ev.ChannelData))
    p.server_events.clear()
    return got


@pytest.mark.parametrize("rtt, short", [(None, False), (0.05, False), (0.0002, True)])
def test_a_short_path_keeps_half_the_window_in_flight(test_registry, rtt, short):
    """Told of a short round trip (the same host, a LAN), the client keeps at most half
    the peer's window plus a packet in flight (sshd's channel buffer grows costly when
    a whole window waits in it); not told, or told of a long one, the whole window.
    Either way everything arrives, the peer re-opening the window as it reads."""
    p = make_pair(test_registry)
    handshake(p)
    p.client.set_round_trip(rtt)
    ch, sch = open_session(p)
    chan = p.client.channels.channels[ch]
    window, packet = chan.remote_window, chan.remote_max_packet
    limit = window // 2 + packet if short else window
    data = bytes(range(256)) * 20000  # 5 MB: more than two windows
    p.client.send_data(ch, data)
    p.pump()
    got = _received(p)
    assert len(got) == limit
    # the server's application reads all it has, round after round
    unread = len(got)
    for _ in range(200):
        if len(got) == len(data):
            break
        p.server.consume(sch, unread)
        p.pump()
        chunk = _received(p)
        got += chunk
        unread = len(chunk)
        in_flight = chan.peer_window - chan.remote_window
        assert in_flight <= limit
    assert got == data


def test_a_short_path_sends_full_packets_between_adjusts(test_registry):
    """Under the short-path limit, an adjust that is not a whole number of packets
    leaves the remainder queued for the next one instead of sending a short packet
    after every adjust (sshd re-opens the window by what it wrote, any amount, and its
    cost is per packet)."""
    p = make_pair(test_registry)
    handshake(p)
    p.client.set_round_trip(0.0001)
    ch, sch = open_session(p)
    packet = p.client.channels.channels[ch].remote_max_packet
    p.client.send_data(ch, bytes(6 * 1024 * 1024))
    p.pump()
    p.server_events.clear()
    for _ in range(3):
        p.server.consume(sch, 4 * packet + 100)
        p.pump()
    sizes = [len(e.data) for e in p.server_events if isinstance(e, ev.ChannelData)]
    assert sizes and set(sizes) == {packet}, sizes
    assert sum(sizes) == 12 * packet  # the 3 x 100 bytes wait for the next adjust


def test_a_peer_that_never_reopens_the_window_gets_all_of_it_after_a_wait(test_registry):
    """Held back by the short-path limit, a channel whose peer sends no window adjust
    (it grants back less than it read, say) is not left waiting for ever: found so at
    two timer checks in a row, it uses the peer's whole window.  A peer that does
    re-open the window between the checks keeps the limit."""
    p = make_pair(test_registry)
    handshake(p)
    p.client.set_round_trip(0.0001)
    ch, sch = open_session(p)
    chan = p.client.channels.channels[ch]
    window, packet = chan.remote_window, chan.remote_max_packet
    p.client.send_data(ch, bytes(3 * window))
    p.pump()
    assert len(_received(p)) == window // 2 + packet
    # the server's application reads some: an adjust comes between the checks
    first = p.client.get_timer()
    assert first is not None
    p.client.handle_timer(first)
    p.server.consume(sch, 4 * packet)
    p.pump()
    assert len(_received(p)) == 4 * packet
    # nothing more is read, and no adjust comes: the first check since only notes it
    p.client.handle_timer(p.client.get_timer())
    p.pump()
    assert not _received(p) and not chan.whole_window
    p.client_events.clear()
    p.client.handle_timer(p.client.get_timer())
    p.pump()
    assert len(_received(p)) == window // 2 - packet  # the rest of the window
    assert chan.remote_window == 0 and chan.whole_window
    # as after an adjust, the driver hears that more may be written
    assert any(isinstance(e, ev.ChannelWindowOpened) and e.channel == ch for e in p.client_events)


def test_the_window_reopens_every_four_packets_read(test_registry):
    """The receiver re-opens the window once four packets' worth (or half the window, if
    less) has been read, not only after half of a 2 MiB window: a sender keeping half
    the window in flight would otherwise stop and wait at every adjust."""
    p = make_pair(test_registry)
    handshake(p)
    ch, sch = open_session(p)
    chan = p.client.channels.channels[ch]
    window, packet = chan.remote_window, chan.remote_max_packet
    assert window // 2 > 4 * packet
    p.client.send_data(ch, bytes(300000))
    p.pump()
    assert len(_received(p)) == 300000
    p.server.consume(sch, 4 * packet - 1)
    p.pump()
    assert chan.remote_window == window - 300000
    p.server.consume(sch, 1)
    p.pump()
    assert chan.remote_window == window - 300000 + 4 * packet


@pytest.mark.parametrize("hop, short", [(0.0001, True), (0.01, False)])
def test_both_ends_check_the_path_with_ssh_round_trips(test_registry, hop, short):
    """TCP says the round trip is short, but through a local forward or a proxy on the
    same host the client sees its SERVICE_REQUEST answered, and the server sees its
    SERVICE_ACCEPT followed by the first USERAUTH_REQUEST, a long round trip later:
    there the whole window is what fills the pipe, so the limit stays off.  (``hop``:
    the seconds each delivery takes.)"""
    p = make_pair(test_registry)
    p.client.set_round_trip(0.0001)
    p.server.set_round_trip(0.0001)
    p.hop = hop
    handshake(p)
    assert p.client.channels.short_path is short
    assert p.server.channels.short_path is short


def test_a_short_path_never_passes_the_peer_window(test_registry):
    """A window under two packets: the short path's limit (half of it plus a packet)
    would be more than the window, which stays the limit."""
    p = make_pair(test_registry, window_size=40000)
    handshake(p)
    p.client.set_round_trip(0.0001)
    ch, sch = open_session(p)
    assert p.client.channels.channels[ch].remote_window == 40000
    p.client.send_data(ch, bytes(100000))
    p.pump()
    assert len(_received(p)) == 40000


class BufferedPair(ConnectionPair):
    """Bytes go in as asyncio's BufferedProtocol puts them: into ``get_buffer()``."""

    def pump(self, rounds: int = 50) -> None:
        for _ in range(rounds):
            moved = False
            for src, dst, log in ((self.client, self.server, self.server_events),
                                  (self.server, self.client, self.client_events)):
                data = memoryview(src.data_to_send())
                while data and not dst.closed:
                    view = dst.get_buffer(-1)
                    n = min(len(view), len(data))
                    view[:n] = data[:n]
                    dst.buffer_updated(n, 0.0)
                    data = data[n:]
                    moved = True
            for conn, log in ((self.client, self.client_events), (self.server, self.server_events)):
                while (event := conn.next_event()) is not None:
                    log.append(event)
                    moved = True
            if not moved:
                return


def test_idle_connection_holds_no_buffers(test_registry):
    """Authenticated and idle, a kernel keeps no receive buffer, no scratch buffer of the
    version exchange and no preface (a server holds thousands of idle connections);
    traffic afterwards still flows, a large transfer included, and once a small read
    empties the receive buffer it is given back again."""
    cfgs = pair_configs(test_registry)
    cfgs.client.username = "alice"
    cfgs.client.credentials = {"client_keys": [TestKey()], "password": "secret"}
    p = BufferedPair(cfgs.client, cfgs.server)
    handshake(p)
    for conn in (p.client, p.server):
        assert conn._scratch is None and conn._preface is None
        assert len(conn._reader._buf) == 0
        assert conn.next_event() is None
    ch, sch = open_session(p)
    data = bytes(range(256)) * 1000
    p.client.send_data(ch, data)
    p.pump()
    assert b"".join(e.data for e in p.server_events if isinstance(e, ev.ChannelData)) == data
    assert len(p.server._reader._buf) > 4096  # grown for the bulk reads, and kept while they last
    p.client.send_data(ch, b"tail")
    p.pump()
    assert p.server_events[-1].data == b"tail"
    assert len(p.server._reader._buf) == 0  # a small read emptied it: given back


def test_peer_exceeding_window_is_protocol_error(test_registry):
    p = make_pair(test_registry)
    handshake(p)
    ch, sch = open_session(p)
    # Forge data past the server's window by lying about the window we were given.
    p.client.channels.channels[ch].remote_window = 10**9
    p.client.send_data(ch, b"x" * 32768 * 70)
    with pytest.raises(RemoteProtocolError, match="window"):
        p.pump()
    assert p.server.closed


def test_many_channels(test_registry):
    p = make_pair(test_registry)
    handshake(p)
    pairs = [open_session(p) for _ in range(50)]
    for i, (ch, _) in enumerate(pairs):
        p.client.send_data(ch, f"channel {i}".encode())
    p.pump()
    by_chan = {e.channel: bytes(e.data) for e in p.server_events if isinstance(e, ev.ChannelData)}
    assert sorted(by_chan[s] for _, s in pairs) == sorted(f"channel {i}".encode() for i in range(50))


def test_channel_requests_and_replies(test_registry):
    p = make_pair(test_registry)
    handshake(p)
    ch, sch = open_session(p)
    p.client.send_channel_request(ch, "exec", True, string("ls"))
    p.pump()
    req = [e for e in p.server_events if isinstance(e, ev.ChannelRequestReceived)][-1]
    assert (req.request, req.want_reply, req.data) == ("exec", True, string("ls"))
    p.server.reply_channel_request(sch, True)
    p.pump()
    assert [e.success for e in p.client_events if isinstance(e, ev.ChannelRequestReplied)] == [True]


def test_rekey_keeps_connection_working(test_registry):
    p = make_pair(test_registry)
    handshake(p)
    ch, sch = open_session(p)
    sid = p.client.session_id
    p.client.start_rekey()
    p.client.send_data(ch, b"during rekey")  # held back until NEWKEYS
    p.pump()
    assert p.client.statistics()["key_exchanges"] == 2
    assert p.server.statistics()["key_exchanges"] == 2
    assert p.client.session_id == sid
    assert b"during rekey" in b"".join(e.data for e in p.server_events if isinstance(e, ev.ChannelData))


def test_rekey_by_bytes(test_registry):
    p = make_pair(test_registry, rekey_bytes=100_000)
    handshake(p)
    ch, sch = open_session(p)
    for _ in range(10):
        p.client.send_data(ch, b"y" * 30000)
        p.pump()
        p.server.consume(sch, 30000)
        p.pump()
    assert p.client.statistics()["key_exchanges"] >= 2


def test_no_common_cipher_names_family_and_lists(test_registry):
    cfgs = pair_configs(test_registry)
    cfgs.server.mac_algs = []  # impossible: expand() refuses an empty list
    with pytest.raises(Exception, match="leaves nothing"):
        Connection(cfgs.server)


def test_negotiation_failure_message(test_registry):
    from sshcore.kernel._kexinit import KexInit, negotiate

    c = KexInit(["a"], ["k"], ["c1"], ["c1"], ["m"], ["m"], ["none"], ["none"], [], [], False)
    s = KexInit(["a"], ["k"], ["c2"], ["c2"], ["m"], ["m"], ["none"], ["none"], [], [], False)
    with pytest.raises(KeyExchangeError, match=r"client->server cipher.*\[c1\].*\[c2\]"):
        negotiate(c, s, set())


def test_host_key_rejection_disconnects(test_registry):
    p = make_pair(test_registry)
    p.pump()
    p.client.reject_host_key("no thanks")
    assert p.client.closed
    with pytest.raises(DisconnectError) as info:
        p.pump()
    assert info.value.code == DisconnectReason.HOST_KEY_NOT_VERIFIABLE


def test_bad_version_line(test_registry):
    cfgs = pair_configs(test_registry)
    server = Connection(cfgs.server)
    with pytest.raises(ProtocolVersionError):
        server.receive_data(b"SSH-1.5-old\r\n")
    assert server.closed


def _raw_client_after_kex(test_registry):
    """A pair where the client has finished the kex; returns (pair, send_raw)."""
    p = make_pair(test_registry)
    p.pump()
    p.client.accept_host_key()
    p.pump()
    return p


def test_client_sending_userauth_success_is_disconnected(test_registry):
    # The class of bug behind libssh CVE-2018-10933.
    p = _raw_client_after_kex(test_registry)
    p.client.send_payload(byte(52))
    with pytest.raises(RemoteProtocolError):
        p.pump()
    assert p.server.closed and not p.server.authenticated


def test_channel_open_before_auth_is_disconnected(test_registry):
    # Erlang/OTP CVE-2025-32433: connection-protocol messages before authentication.
    p = _raw_client_after_kex(test_registry)
    p.client.send_payload(byte(90) + string("session") + uint32(0) + uint32(1000) + uint32(1000))
    with pytest.raises(RemoteProtocolError, match="before authentication"):
        p.pump()
    assert p.server.closed
    p.client.send_payload  # client sees the DISCONNECT
    with pytest.raises(DisconnectError):
        p.client.receive_data(p.server.data_to_send())


def test_server_sending_userauth_request_is_error(test_registry):
    p = _raw_client_after_kex(test_registry)
    p.server.send_payload(byte(50) + string("x") + string("ssh-connection") + string("none"))
    with pytest.raises(RemoteProtocolError):
        p.pump()


def test_ignore_during_strict_initial_kex_is_fatal(test_registry):
    # Terrapin: under strict kex, an IGNORE before NEWKEYS ends the connection.
    cfgs = pair_configs(test_registry)
    client = Connection(cfgs.client)
    server = Connection(cfgs.server)
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    client._send_now(byte(2) + string(b""))  # inject IGNORE after KEXINIT
    with pytest.raises(RemoteProtocolError, match="strict"):
        server.receive_data(client.data_to_send())


def test_require_strict_kex_refuses_peer_without_it(test_registry):
    from sshcore.kernel import _kexinit

    cfgs = pair_configs(test_registry, require_strict_kex=True)
    client = Connection(cfgs.client)
    server = Connection(pair_configs(test_registry).server)
    # Strip the strict marker from the server's KEXINIT by disabling it on the instance.
    orig = _kexinit.STRICT_SERVER
    server._send_kexinit.__func__  # noqa: B018
    server._out.clear()
    server._out.append((server.local_version + "\r\n").encode())
    server._kex = None
    import sshcore.kernel._transport as tr
    tr.STRICT_SERVER, saved = "not-strict@x", tr.STRICT_SERVER
    try:
        server._start_kex(first=True)
    finally:
        tr.STRICT_SERVER = saved
    assert orig == saved
    with pytest.raises(KeyExchangeError, match="strict"):
        client.receive_data(server.data_to_send())


def test_unknown_message_gets_unimplemented(test_registry):
    p = make_pair(test_registry)
    handshake(p)
    p.client.send_payload(byte(200) + b"whatever")
    p.client_events.clear()
    p.pump()
    assert not p.server.closed and not p.client.closed


def test_too_many_auth_failures_disconnects(test_registry):
    p = make_pair(test_registry, max_auth_tries=2)
    p.client.config.credentials = {"client_keys": [TestKey(), TestKey(), TestKey(), TestKey()]}
    p.pump()
    p.client.accept_host_key()
    p.pump()
    with pytest.raises(DisconnectError):
        for _ in range(10):
            reqs = [e for e in p.server_events if isinstance(e, ev.AuthRequested)]
            p.server_events.clear()
            if reqs:
                p.server.answer_auth(False)
            p.pump()
    assert p.server.closed


def test_auth_exhausted_event(test_registry):
    p = make_pair(test_registry)
    p.client.config.credentials = {}
    p.pump()
    p.client.accept_host_key()
    p.pump()
    p.server.answer_auth(False)  # "none"
    p.pump()
    assert any(isinstance(e, ev.AuthExhausted) for e in p.client_events)


def test_login_timeout(test_registry):
    p = make_pair(test_registry, login_timeout=5.0)
    p.pump()
    p.client.accept_host_key()
    p.pump()
    when = p.server.get_timer()
    assert when is not None and when <= 5.0
    p.server.handle_timer(when)
    assert p.server.closed


def test_api_misuse_is_local_error(test_registry):
    p = make_pair(test_registry)
    with pytest.raises(LocalProtocolError):
        p.client.open_channel("session")


def _raw_client_packets(*payloads):
    from sshcore.kernel._framing import PacketWriter

    w = PacketWriter()
    return b"SSH-2.0-raw\r\n" + b"".join(w.pack(p) for p in payloads)


def _kexinit(kex, follows, hostkey="test-key@sshcore.test"):
    from sshcore.kernel._kexinit import KexInit
    from sshcore.testing import CIPHER, MAC

    return KexInit(kex, [hostkey], [CIPHER], [CIPHER], [MAC], [MAC], ["none"], ["none"], [], [],
                   follows).encode(b"\0" * 16)


def test_wrong_guess_packet_is_ignored(test_registry):
    from sshcore.testing import KEX

    server = Connection(pair_configs(test_registry).server)
    init = _kexinit(["made-up-kex@x", KEX], follows=True)
    guess = byte(30) + b"garbage that would break the kex"
    real = byte(30) + string(b"c" * 32)
    server.receive_data(_raw_client_packets(init, guess, real))
    assert not server.closed
    # the server answered the real KEX init (with message 31) and sent NEWKEYS
    assert server._kex.result is not None and server._kex.newkeys_sent


def test_right_guess_packet_is_used(test_registry):
    from sshcore.testing import KEX

    server = Connection(pair_configs(test_registry).server)
    init = _kexinit([KEX], follows=True)
    server.receive_data(_raw_client_packets(init, byte(30) + string(b"c" * 32)))
    assert server._kex.result is not None


def test_ignore_debug_tolerated_without_strict_kex(test_registry):
    from sshcore.testing import KEX

    server = Connection(pair_configs(test_registry).server)
    init = _kexinit([KEX], follows=False)  # no strict-kex marker: a pre-Terrapin peer
    ignore = byte(2) + string(b"x")
    debug = byte(4) + b"\x00" + string("hello") + string("")
    server.receive_data(_raw_client_packets(init, ignore, debug, byte(30) + string(b"c" * 32)))
    assert not server.closed and not server.strict_kex
    assert server._kex.result is not None


def test_kexinit_not_first_under_strict_kex_is_fatal(test_registry):
    from sshcore.testing import KEX
    from sshcore.kernel._kexinit import STRICT_CLIENT

    server = Connection(pair_configs(test_registry).server)
    init = _kexinit([KEX, STRICT_CLIENT], follows=False)
    with pytest.raises(RemoteProtocolError, match="first packet"):
        server.receive_data(_raw_client_packets(byte(2) + string(b""), init))


def test_strict_kex_resets_sequence_numbers(test_registry):
    p = make_pair(test_registry)
    p.pump()
    p.client.accept_host_key()
    p.pump()
    # After NEWKEYS both directions restarted at 0, so only a handful of packets counted since.
    assert p.client._writer.seq < 10 and p.server._reader.seq < 10
    assert p.client._writer.packets_sent > p.client._writer.seq


def test_small_writes_waiting_for_the_window_leave_coalesced(test_registry):
    """Writes queued while the peer's window is shut go out as few full packets once it
    opens, in order; a write made with the window open leaves at once, alone."""
    p = make_pair(test_registry)
    handshake(p)
    ch, sch = open_session(p)
    c = p.client
    chan = c.channels.channels[ch]
    window = chan.remote_window
    c.send_data(ch, b"w" * window)           # fills the window exactly
    p.pump()
    before = c.statistics()["packets_sent"]
    msgs = [bytes([i % 251]) * 1000 for i in range(100)]
    for m in msgs:
        c.send_data(ch, m)                    # queued: the window is shut
    assert c.statistics()["packets_sent"] == before
    p.server_events.clear()
    p.server.consume(sch, window)             # the server's application read it all
    p.pump()
    got = b"".join(bytes(e.data) for e in p.server_events if isinstance(e, ev.ChannelData))
    assert got == b"".join(msgs)
    sent = c.statistics()["packets_sent"] - before
    assert sent <= 100 * 1000 // chan.remote_max_packet + 3, sent
    # with the window open, a small write is not held back for company
    before = c.statistics()["packets_sent"]
    c.send_data(ch, b"now")
    assert c.statistics()["packets_sent"] == before + 1


def _server_data(p):
    """What the server received on its channels since its events were last cleared, in
    order: ("data", bytes), ("request", name), ("eof",), ("close",)."""
    out = []
    for e in p.server_events:
        if isinstance(e, ev.ChannelData):
            if out and out[-1][0] == "data":
                out[-1] = ("data", out[-1][1] + bytes(e.data))
            else:
                out.append(("data", bytes(e.data)))
        elif isinstance(e, ev.ChannelRequestReceived):
            out.append(("request", e.request))
        elif isinstance(e, ev.ChannelEOF):
            out.append(("eof",))
    return out


def test_writes_with_more_leave_coalesced_at_data_to_send(test_registry):
    """send_data(more=True) holds small writes until data_to_send(): a hundred 1 KB
    writes leave as a few full packets, not a hundred small ones."""
    p = make_pair(test_registry)
    handshake(p)
    ch, sch = open_session(p)
    c = p.client
    max_packet = c.channels.channels[ch].remote_max_packet
    before = c.statistics()["packets_sent"]
    msgs = [bytes([i % 251]) * 1000 for i in range(100)]
    for i, m in enumerate(msgs):
        c.send_data(ch, m, more=True)
    # every full packet's worth left as soon as it was queued; a short tail is held
    held = c.pending(ch)
    assert 0 < held < max_packet
    early = c.statistics()["packets_sent"] - before
    assert early >= 2
    p.server_events.clear()
    p.pump()
    assert c.pending(ch) == 0
    assert _server_data(p) == [("data", b"".join(msgs))]
    sizes = [len(e.data) for e in p.server_events if isinstance(e, ev.ChannelData)]
    assert len(sizes) == early + 1
    assert all(n > max_packet - 1000 for n in sizes[:-1]), sizes  # full packets, whole writes
    # a lone write with more=True leaves at the next data_to_send()
    before = c.statistics()["packets_sent"]
    c.send_data(ch, b"x", more=True)
    assert c.statistics()["packets_sent"] == before
    assert c.data_to_send()
    assert c.statistics()["packets_sent"] == before + 1


@pytest.mark.parametrize("then", ["request", "eof", "close", "disconnect"])
def test_held_back_data_goes_before_what_follows_it(test_registry, then):
    """Data held by more=True is never overtaken by a later request, EOF, CLOSE or
    DISCONNECT on the same connection (the exit-status after the output it ends)."""
    p = make_pair(test_registry)
    handshake(p)
    ch, sch = open_session(p)
    c = p.client
    p.server_events.clear()
    c.send_data(ch, b"output", more=True)
    if then == "request":
        c.send_channel_request(ch, "exit-status", False, uint32(3))
        c.send_data(ch, b"more", more=True)
        p.pump()
        assert _server_data(p) == [("data", b"output"), ("request", "exit-status"), ("data", b"more")]
    elif then == "eof":
        c.send_eof(ch)
        p.pump()
        assert _server_data(p) == [("data", b"output"), ("eof",)]
    elif then == "close":
        c.close_channel(ch)
        p.pump()
        assert _server_data(p) == [("data", b"output")]
        assert any(isinstance(e, ev.ChannelClosed) and e.channel == sch for e in p.server_events)
    else:
        c.disconnect()
        with pytest.raises(DisconnectError):
            p.pump()
        while (e := p.server.next_event()) is not None:
            p.server_events.append(e)
        assert _server_data(p) == [("data", b"output")]
        assert p.server.closed


@pytest.mark.parametrize("payload", [
    byte(98) + uint32(0) + string("exec") + b"\x01" + string("id"),   # CHANNEL_REQUEST
    byte(94) + uint32(0) + string("data"),                             # CHANNEL_DATA
    byte(96) + uint32(0),                                              # CHANNEL_EOF
    byte(97) + uint32(0),                                              # CHANNEL_CLOSE
    byte(93) + uint32(0) + uint32(1000),                               # CHANNEL_WINDOW_ADJUST
], ids=["request", "data", "eof", "close", "window-adjust"])
def test_messages_for_a_channel_the_peer_has_not_confirmed_are_errors(test_registry, payload):
    """Until the peer answers our CHANNEL_OPEN, nothing else may name that channel (found
    by the kernel-pair state machine: a request there was accepted, and our reply, with
    no peer channel id to address it to, failed to encode)."""
    p = make_pair(test_registry)
    handshake(p)
    ch = p.client.open_channel("session")
    assert ch == 0
    p.server._send_now(payload)  # before the server's application has accepted it
    with pytest.raises(RemoteProtocolError):
        p.client.receive_data(p.server.data_to_send(), 0.0)
    assert p.client.closed
