"""Resource limits, each configurable through connect()/listen(), with OpenSSH-like
defaults; each test drives a hostile peer past the limit and checks the exact reaction."""

from __future__ import annotations

import asyncio
import inspect
import os
import random
import subprocess
import sys
import time
import zlib

import pytest
from conftest import PASSWORD, USER, assert_serves, client, echo_command, run, serve
from rawpeer import RawPeer, hostile_server

import sshcore
from sshcore._wire import SSHReader, boolean, byte, string, uint32
from sshcore.aio.channel import HIGH_WATER
from sshcore.aio.server import SSHServer, parse_max_startups, startups_should_drop
from sshcore.config import ConnectionConfig
from sshcore.errors import ClosedBeforeBannerError, ConfigurationError, ProtocolError
from sshcore.errors import DisconnectReason as R
from sshcore.errors import ProtocolVersionError
from sshcore.messages import MessageType as M
from sshcore.testing import TestKey


def _ignore_packet(packet_length: int) -> bytes:
    """A clear IGNORE packet whose packet_length field is exactly ``packet_length``
    (which the caller keeps 4 short of a multiple of 8)."""
    padlen = 4
    data = bytes(packet_length - 1 - 5 - padlen)
    return uint32(packet_length) + bytes([padlen]) + byte(M.IGNORE) + string(data) + bytes(padlen)


# --------------------------------------------------------------------------- packet length

@pytest.mark.parametrize("limit", [None, 64 * 1024])
def test_oversized_packet_is_refused_from_its_length_field(test_registry, limit):
    """packet_length > 256 KiB (or the configured limit) ends the connection as soon as
    the 4-byte length is read: the server never waits for (or buffers) the body."""
    max_len = limit or 256 * 1024

    async def main():
        async with await serve(test_registry, TestKey(), max_packet_length=limit) as srv:
            # exactly the limit is fine (length + 4 a multiple of 8)
            ok = await RawPeer.connect(srv.port, test_registry, strict=False)
            await ok.hello()
            ok.send_packet(_ignore_packet(max_len - 4))
            await ok.key_exchange()
            await ok.service_request()
            await ok.aclose()
            peer = await RawPeer.connect(srv.port, test_registry)
            await peer.hello()
            peer.send_bytes(uint32(max_len + 4))  # the length field only
            code = await asyncio.wait_for(peer.expect_disconnect(), 2)
            await peer.aclose()
            await assert_serves(srv.port, test_registry)
            return code
    assert run(main()) == R.PROTOCOL_ERROR


def test_client_refuses_oversized_packet_from_server(test_registry):
    codes = []

    async def handler(peer):
        peer.send_bytes(uint32(256 * 1024 + 4))
        codes.append(await peer.expect_disconnect())

    async def main():
        async with hostile_server(handler, test_registry, TestKey()) as hs:
            with pytest.raises(ProtocolError, match="packet length"):
                await client(hs.port, test_registry)
    run(main())
    assert codes == [R.PROTOCOL_ERROR]


def test_limit_defaults_are_openssh_like():
    cfg = ConnectionConfig("server")
    assert (cfg.max_packet_length, cfg.max_decompressed_size) == (256 * 1024, 256 * 1024)
    assert (cfg.max_banner_line, cfg.max_pre_banner_lines) == (8192, 1024)
    assert (cfg.login_timeout, cfg.max_auth_tries, cfg.min_rsa_bits) == (120.0, 6, 2048)
    params = inspect.signature(sshcore.listen).parameters
    assert params["login_timeout"].default == 120.0
    assert params["max_auth_tries"].default == 6
    assert params["max_startups"].default == "10:30:100"
    assert params["max_sessions"].default == 10


def test_negative_limit_is_a_configuration_error(test_registry):
    async def main():
        with pytest.raises(ConfigurationError, match="max_channels"):
            await serve(test_registry, TestKey(), max_channels=-1)
    run(main())


# --------------------------------------------------------------------------- banner lines

async def _login_handler(peer):
    await peer.key_exchange()
    await peer.accept_login()
    await peer.recv_type(M.DISCONNECT, skip=(M.IGNORE, M.GLOBAL_REQUEST))


@pytest.mark.parametrize("preface, options, ok", [
    ([b"hello"] * 1024, {}, True),
    ([b"hello"] * 1025, {}, False),
    ([b"x" * 8192], {}, True),
    ([b"x" * 8193], {}, False),
    ([b"hello"] * 3, {"max_pre_banner_lines": 2}, False),
    ([b"x" * 101], {"max_banner_line": 100}, False),
    ([b"x" * 100] * 2, {"max_banner_line": 100, "max_pre_banner_lines": 2}, True),
], ids=["1024-lines", "1025-lines", "8192-bytes", "8193-bytes", "lines-configured",
        "length-configured", "both-at-limit"])
def test_client_limits_lines_before_the_server_version(test_registry, preface, options, ok):
    codes = []

    async def refuse(peer):
        codes.append(await peer.expect_disconnect())

    async def main():
        async with hostile_server(_login_handler if ok else refuse, test_registry, TestKey(),
                                  preface=preface) as hs:
            if ok:
                conn = await client(hs.port, test_registry, **options)
                await conn.aclose()
            else:
                with pytest.raises(ProtocolVersionError, match="line"):
                    await client(hs.port, test_registry, **options)
    run(main())
    assert codes == ([] if ok else [R.PROTOCOL_VERSION_NOT_SUPPORTED])


@pytest.mark.parametrize("lines", [[b"SSH-2.0-" + b"v" * 300], [b"hello", b"SSH-2.0-x"]],
                         ids=["version-line-over-255", "line-before-version"])
def test_server_refuses_bad_client_version_lines(test_registry, lines):
    async def main():
        async with await serve(test_registry, TestKey()) as srv:
            peer = await RawPeer.connect(srv.port, test_registry)
            await peer.read_version()
            peer.send_bytes(b"".join(line + b"\r\n" for line in lines))
            code = await peer.expect_disconnect()
            await peer.aclose()
            await assert_serves(srv.port, test_registry)
            return code
    assert run(main()) == R.PROTOCOL_VERSION_NOT_SUPPORTED


# --------------------------------------------------------------------------- LoginGraceTime

@pytest.mark.parametrize("behaviour", ["silent", "trickling", "after-kex", "failing-auth"])
def test_login_grace_time_drops_slow_peers(test_registry, behaviour):
    """LoginGraceTime runs from the connection, not from the end of the kex: a peer
    that says nothing, trickles its version line one byte at a time, or stops after
    the kex is disconnected when it runs out, while others are served meanwhile."""
    async def main():
        async with await serve(test_registry, TestKey(), login_timeout=1.0) as srv:
            start = time.monotonic()
            peer = await RawPeer.connect(srv.port, test_registry)
            await peer.read_version()
            trickle = None
            if behaviour == "trickling":
                async def dribble():
                    for b in b"SSH-2.0-" + b"t" * 200:
                        peer.send_bytes(bytes([b]))
                        await asyncio.sleep(0.05)
                trickle = asyncio.create_task(dribble())
            elif behaviour in ("after-kex", "failing-auth"):
                await peer.send_version()
                await peer.key_exchange()
                await peer.service_request()
            if behaviour == "failing-auth":
                assert (await peer.password_auth(USER, "wrong"))[0] == M.USERAUTH_FAILURE
            await assert_serves(srv.port, test_registry)  # the server is not blocked
            code = await peer.expect_disconnect(timeout=5)
            elapsed = time.monotonic() - start
            if trickle is not None:
                trickle.cancel()
            await peer.aclose()
            return code, elapsed
    code, elapsed = run(main())
    assert code == R.NO_MORE_AUTH_METHODS_AVAILABLE
    assert 0.9 <= elapsed < 3.0


def test_login_grace_time_stops_at_authentication(test_registry):
    async def main():
        async with await serve(test_registry, TestKey(), login_timeout=0.5) as srv:
            peer = await RawPeer.connect(srv.port, test_registry)
            await peer.login(USER, PASSWORD)
            await peer.expect_silence(1.2)  # long past the grace time: still connected
            await peer.open_session()
            await peer.aclose()
    run(main())


# --------------------------------------------------------------------------- MaxAuthTries

@pytest.mark.parametrize("tries", [None, 3])
def test_max_auth_tries(test_registry, tries):
    """The MaxAuthTries-th failed attempt (6 by default) is answered with DISCONNECT
    (no more auth methods), not USERAUTH_FAILURE; "none" queries do not count."""
    n = tries or 6

    async def main():
        options = {} if tries is None else {"max_auth_tries": tries}  # None: listen()'s default
        async with await serve(test_registry, TestKey(), **options) as srv:
            peer = await RawPeer.connect(srv.port, test_registry)
            await peer.handshake()
            await peer.service_request()
            for _ in range(3):
                peer.userauth_request(USER, "none")
                assert (await peer.recv_type(M.USERAUTH_FAILURE))[0] == M.USERAUTH_FAILURE
            for _ in range(n - 1):
                assert (await peer.password_auth(USER, "wrong"))[0] == M.USERAUTH_FAILURE
            peer.userauth_request(USER, "password", boolean(False) + string("wrong"))
            code = await peer.expect_disconnect()
            await peer.aclose()
            await assert_serves(srv.port, test_registry)
            return code
    assert run(main()) == R.NO_MORE_AUTH_METHODS_AVAILABLE


# --------------------------------------------------------------------------- MaxStartups

def test_parse_max_startups():
    assert parse_max_startups("10:30:100") == (10, 30, 100)
    assert parse_max_startups((10, 30, 100)) == (10, 30, 100)
    assert parse_max_startups("5") == (5, 100, 5)
    assert parse_max_startups(None) is None
    for bad in ("10:30", "a:b:c", "10:130:100", "50:30:10", "0:30:100", (1, 2)):
        with pytest.raises(ConfigurationError):
            parse_max_startups(bad)


def test_startups_random_early_drop_follows_openssh():
    limits = (10, 30, 100)
    never = [startups_should_drop(n, limits, lambda _: 0) for n in range(10)]
    assert never == [False] * 10
    assert all(startups_should_drop(n, limits, lambda _: 99) for n in (100, 101, 500))
    # in between, p = 30 + 70 * (n - 10) / 90 percent, as sshd computes it
    for n, p in ((10, 30), (55, 65), (99, 99)):
        assert startups_should_drop(n, limits, lambda _: p - 1)
        assert not startups_should_drop(n, limits, lambda _: p)
    rng = random.Random(1)
    drops = sum(startups_should_drop(55, limits, rng.randrange) for _ in range(20000))
    assert 0.63 < drops / 20000 < 0.67


@pytest.mark.parametrize("spec", ["2", (2, 100, 2)])
def test_max_startups_drops_unauthenticated_connections(test_registry, spec):
    async def main():
        async with await serve(test_registry, TestKey(), max_startups=spec) as srv:
            waiting = [await RawPeer.connect(srv.port, test_registry) for _ in range(2)]
            for peer in waiting:
                await peer.hello()
            dropped = await RawPeer.connect(srv.port, test_registry)
            line = await asyncio.wait_for(dropped.reader.readline(), 5)
            assert line == b"Exceeded MaxStartups\r\n"
            assert await asyncio.wait_for(dropped.reader.read(), 5) == b""
            with pytest.raises(ClosedBeforeBannerError):
                await client(srv.port, test_registry)
            # one of the two logs in: it no longer counts, so a newcomer gets in
            await waiting[0].key_exchange()
            await waiting[0].service_request()
            assert (await waiting[0].password_auth(USER, PASSWORD))[0] == M.USERAUTH_SUCCESS
            await assert_serves(srv.port, test_registry)
            for peer in waiting:
                await peer.aclose()
    run(main())


def test_max_startups_none_is_no_cap(test_registry):
    async def main():
        async with await serve(test_registry, TestKey(), max_startups=None) as srv:
            peers = [await RawPeer.connect(srv.port, test_registry) for _ in range(30)]
            for peer in peers:
                await peer.hello()
            await assert_serves(srv.port, test_registry)
            for peer in peers:
                await peer.aclose()
    run(main())


def test_sshcore_serve_max_startups(tmp_path, test_registry):
    """``sshcore serve --max-startups 1``: the second unauthenticated connection is
    told "Exceeded MaxStartups" and closed."""
    from sshcore.keys import export_private_key, generate_private_key

    key_file = tmp_path / "host_key"
    key_file.write_bytes(export_private_key(generate_private_key("ssh-ed25519")))
    os.chmod(key_file, 0o600)
    (tmp_path / "authorized_keys").write_text("")
    proc = subprocess.Popen([sys.executable, "-m", "sshcore", "serve", "--listen", "127.0.0.1:0",
                             "--host-key", str(key_file), "--authorized-keys",
                             str(tmp_path / "authorized_keys"), "--max-startups", "1"],
                            stderr=subprocess.PIPE, text=True)
    try:
        port = None
        deadline = time.monotonic() + 30
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if "listening on" in line:
                port = int(line.split("listening on ")[1].split()[0].rsplit(":", 1)[1])
        assert port, "sshcore serve did not start"

        async def main():
            first = await RawPeer.connect(port, test_registry)
            assert (await first.read_version()).startswith("SSH-2.0-")
            second = await RawPeer.connect(port, test_registry)
            assert await asyncio.wait_for(second.reader.readline(), 5) == b"Exceeded MaxStartups\r\n"
            await first.aclose()
            await second.aclose()
        run(main())
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stderr.close()


# --------------------------------------------------------------------------- channels

async def _open(peer, local_id):
    peer.channel_open(local_id)
    reply = await peer.recv_type(M.CHANNEL_OPEN_CONFIRMATION, M.CHANNEL_OPEN_FAILURE,
                                 skip=(M.IGNORE, M.GLOBAL_REQUEST))
    r = SSHReader(reply, 1)
    assert r.uint32() == local_id
    if reply[0] == M.CHANNEL_OPEN_FAILURE:
        return None, r.uint32()
    return r.uint32(), None


@pytest.mark.parametrize("limit", [None, 2])
def test_max_sessions(test_registry, limit):
    n = limit or 10

    async def main():
        options = {} if limit is None else {"max_sessions": limit}  # None: listen()'s default
        async with await serve(test_registry, TestKey(), **options) as srv:
            peer = await RawPeer.connect(srv.port, test_registry)
            await peer.login(USER, PASSWORD)
            ids = [(await _open(peer, i))[0] for i in range(n)]
            assert None not in ids
            assert await _open(peer, n) == (None, 1)  # ADMINISTRATIVELY_PROHIBITED
            # closing one makes room again
            peer.send(byte(M.CHANNEL_CLOSE) + uint32(ids[0]))
            await peer.recv_type(M.CHANNEL_CLOSE, skip=(M.IGNORE, M.GLOBAL_REQUEST))
            assert (await _open(peer, n + 1))[0] is not None
            await peer.aclose()
            await assert_serves(srv.port, test_registry)
    run(main())


def test_max_sessions_none_is_no_cap(test_registry):
    async def main():
        async with await serve(test_registry, TestKey(), max_sessions=None) as srv:
            peer = await RawPeer.connect(srv.port, test_registry)
            await peer.login(USER, PASSWORD)
            for i in range(15):
                assert (await _open(peer, i))[0] is not None
            await peer.aclose()
    run(main())


def test_max_channels(test_registry):
    """Past ``max_channels`` an open is refused with RESOURCE_SHORTAGE (the connection
    goes on)."""
    async def main():
        async with await serve(test_registry, TestKey(), max_channels=3, max_sessions=None) as srv:
            peer = await RawPeer.connect(srv.port, test_registry)
            await peer.login(USER, PASSWORD)
            for i in range(3):
                assert (await _open(peer, i))[0] is not None
            assert await _open(peer, 3) == (None, 4)
            await peer.aclose()
            await assert_serves(srv.port, test_registry)
    run(main())


def _forward_request(port=0):
    return (byte(M.GLOBAL_REQUEST) + string("tcpip-forward") + boolean(True)
            + string("127.0.0.1") + uint32(port))


def test_max_forward_listeners(test_registry):
    async def main():
        async with await serve(test_registry, TestKey(), allow_forwarding=True,
                               max_forward_listeners=2) as srv:
            peer = await RawPeer.connect(srv.port, test_registry)
            await peer.login(USER, PASSWORD)
            replies = []
            for _ in range(3):
                peer.send(_forward_request())
                reply = await peer.recv_type(M.REQUEST_SUCCESS, M.REQUEST_FAILURE,
                                             skip=(M.IGNORE, M.GLOBAL_REQUEST))
                replies.append(reply[0])
            (conn,) = srv._connections
            assert len(conn._forwards) == 2
            await peer.aclose()
            return replies
    assert run(main()) == [M.REQUEST_SUCCESS, M.REQUEST_SUCCESS, M.REQUEST_FAILURE]


class _SlowToDecide(SSHServer):
    def server_requested(self, listen_host, listen_port):
        return asyncio.sleep(60, result=False)


def test_pending_global_requests_are_bounded(test_registry):
    """Global requests that wait for an (async) decision pile up only to the limit."""
    async def main():
        async with await serve(test_registry, TestKey(), server_factory=_SlowToDecide,
                               max_pending_global_requests=4) as srv:
            peer = await RawPeer.connect(srv.port, test_registry)
            await peer.login(USER, PASSWORD)
            for _ in range(4):
                peer.send(_forward_request())
            await peer.expect_silence(0.3)  # four pending: fine
            peer.send(_forward_request())
            code = await peer.expect_disconnect()
            await peer.aclose()
            await assert_serves(srv.port, test_registry)
            return code
    assert run(main()) == R.PROTOCOL_ERROR


def test_answered_global_requests_do_not_count(test_registry):
    async def main():
        async with await serve(test_registry, TestKey()) as srv:
            peer = await RawPeer.connect(srv.port, test_registry)
            await peer.login(USER, PASSWORD)
            for _ in range(200):
                peer.send(byte(M.GLOBAL_REQUEST) + string("keepalive@openssh.com") + boolean(True))
            for _ in range(200):
                await peer.recv_type(M.REQUEST_FAILURE, skip=(M.IGNORE, M.GLOBAL_REQUEST))
            await peer.aclose()
    run(main())


# --------------------------------------------------------------------------- decompression

@pytest.mark.parametrize("size, limit, ok", [(300 * 1024, None, False), (200 * 1024, None, True),
                                             (100 * 1024, 64 * 1024, False),
                                             (60 * 1024, 64 * 1024, True)])
def test_decompression_bomb_is_compression_error(real_registry, ed25519_key, size, limit, ok):
    """A packet that inflates past 256 KiB (or the configured limit) is a
    COMPRESSION_ERROR, found without inflating more than the limit."""
    async def main():
        async with await serve(real_registry, ed25519_key, compression_algs="zlib,none",
                               max_decompressed_size=limit) as srv:
            peer = await RawPeer.connect(srv.port, real_registry, compression=["zlib"])
            await peer.handshake()
            assert peer.negotiated.comp_cs == "zlib"
            ignore = byte(M.IGNORE) + string(bytes(size))
            wire = peer.w.pack(ignore)
            assert len(wire) < 2048 and len(zlib.compress(ignore)) < 2048  # a bomb indeed
            peer.send_bytes(wire)
            if ok:
                await peer.service_request()
                code = None
            else:
                code = await peer.expect_disconnect()
            await peer.aclose()
            await assert_serves(srv.port, real_registry)
            return code
    assert run(main()) == (None if ok else R.COMPRESSION_ERROR)


# --------------------------------------------------------------------------- channel window

def test_peer_sending_past_the_window_is_disconnected(test_registry):
    async def hold(proc):
        if proc.command != "hold":
            return await echo_command(proc)
        await asyncio.sleep(30)  # never reads its stdin
        return 0

    async def main():
        async with await serve(test_registry, TestKey(), process_factory=hold) as srv:
            peer = await RawPeer.connect(srv.port, test_registry)
            await peer.login(USER, PASSWORD)
            rid, window, max_packet = await peer.open_session()
            peer.channel_request(rid, "exec", True, string("hold"))
            await peer.recv_type(M.CHANNEL_SUCCESS, skip=(M.IGNORE, M.GLOBAL_REQUEST,
                                                          M.CHANNEL_WINDOW_ADJUST))
            sent = 0
            while sent < window:
                n = min(max_packet, window - sent)
                peer.channel_data(rid, bytes(n))
                sent += n
            await peer.expect_silence(0.5)  # exactly the window: accepted
            peer.channel_data(rid, b"!")
            code = await peer.expect_disconnect()
            await peer.aclose()
            await assert_serves(srv.port, test_registry)
            return code, window
    code, window = run(main())
    assert code == R.PROTOCOL_ERROR and window == ConnectionConfig("server").window_size


def test_packet_over_the_channel_max_packet_is_disconnected(test_registry):
    async def main():
        async with await serve(test_registry, TestKey()) as srv:
            peer = await RawPeer.connect(srv.port, test_registry)
            await peer.login(USER, PASSWORD)
            rid, window, max_packet = await peer.open_session()
            peer.channel_data(rid, bytes(max_packet + 1))
            code = await peer.expect_disconnect()
            await peer.aclose()
            return code
    assert run(main()) == R.PROTOCOL_ERROR


def test_peer_that_never_reads_cannot_make_us_buffer_more_than_the_window(test_registry):
    """The server's process floods a channel whose client never adjusts the window:
    exactly the window travels, and the writer is held in drain() with at most
    HIGH_WATER (plus one write) queued, until the window opens again."""
    written = []

    async def flood(proc):
        for _ in range(400):  # 400 x 64 KiB = 25 MiB, far more than any buffer
            proc.stdout.write(b"z" * 65536)
            written.append(65536)
            await proc.stdout.drain()
        return 0

    async def main():
        async with await serve(test_registry, TestKey(), process_factory=flood) as srv:
            peer = await RawPeer.connect(srv.port, test_registry)
            await peer.login(USER, PASSWORD)
            window = 65536
            rid, _, _ = await peer.open_session(window=window)
            peer.channel_request(rid, "exec", False, string("flood"))
            got = 0
            with pytest.raises(TimeoutError):
                while True:
                    payload = await peer.recv(timeout=0.5)
                    if payload[0] == M.CHANNEL_DATA:
                        got += len(payload) - 9
            assert got == window
            (conn,) = srv._connections
            (chan_id,) = conn._conn.channels.channels
            assert conn._conn.pending(chan_id) <= HIGH_WATER + 65536
            assert sum(written) <= window + HIGH_WATER + 2 * 65536
            # open the window again: more data comes
            peer.send(byte(M.CHANNEL_WINDOW_ADJUST) + uint32(rid) + uint32(window))
            more = 0
            while more < window:
                payload = await peer.recv_type(M.CHANNEL_DATA, skip=(M.IGNORE, M.GLOBAL_REQUEST))
                more += len(payload) - 9
            assert more == window
            await peer.aclose()
    run(main())


def test_client_does_not_hoard_data_while_checking_the_host_key(test_registry):
    """While an (async) known_hosts decision is pending, packets wait unread; a server
    that floods meanwhile is disconnected instead of filling our memory."""
    codes = []

    async def slow_known_hosts(host, port, key):
        await asyncio.sleep(2)
        return True

    async def handler(peer):
        await peer.key_exchange(newkeys=False)
        peer.send(byte(M.NEWKEYS))
        peer.install_keys(outgoing=True)
        for _ in range(20):  # 20 x 64 KiB, past 2 x max_packet_length
            peer.send(byte(M.IGNORE) + string(bytes(65536)))
        try:
            codes.append(await peer.expect_disconnect())
        except ConnectionResetError:  # closed with our flood unread: the DISCONNECT is lost
            codes.append(R.PROTOCOL_ERROR)

    async def main():
        async with hostile_server(handler, test_registry, TestKey()) as hs:
            with pytest.raises(ProtocolError, match="key exchange waited for the application"):
                await sshcore.connect("127.0.0.1", hs.port, username=USER, password=PASSWORD,
                                      known_hosts=slow_known_hosts, registry=test_registry,
                                      config=None, agent_path=None, client_keys=[])
    run(main())
    assert codes == [R.PROTOCOL_ERROR]
