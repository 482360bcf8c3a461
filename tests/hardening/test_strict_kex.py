"""Strict key exchange (kex-strict-*-v00@openssh.com, the Terrapin countermeasure) and
EXT_INFO placement (RFC 8308; AsyncSSH CVE-2023-46445/46446), both directions."""

from __future__ import annotations

import pytest
from conftest import PASSWORD, USER, assert_serves, client, run, serve
from rawpeer import RawPeer, ext_info, hostile_server

from sshcore.kernel._framing import PacketWriter
from sshcore._wire import byte, string, uint32
from sshcore.connection import Connection
from sshcore.errors import DisconnectReason as R
from sshcore.errors import KeyExchangeError, ProtocolError, RemoteProtocolError
from sshcore.messages import MessageType as M
from sshcore.testing import TestKey, pair_configs

IGNORE = byte(M.IGNORE) + string(b"x")
DEBUG = byte(M.DEBUG) + b"\x00" + string("hi") + string("")
UNIMPL = byte(M.UNIMPLEMENTED) + uint32(0)
INJECTED = {"ignore": IGNORE, "debug": DEBUG, "unimplemented": UNIMPL,
            "service-request": byte(M.SERVICE_REQUEST) + string("ssh-userauth"),
            "unknown-200": byte(200)}


# --------------------------------------------------------------------------- our server

@pytest.mark.parametrize("when", ["before-kexinit", "after-kexinit", "before-newkeys"])
@pytest.mark.parametrize("what", list(INJECTED))
def test_unexpected_message_during_strict_initial_kex_is_fatal(test_registry, what, when):
    """Under strict kex, anything but KEXINIT, the method's messages and NEWKEYS during
    the initial kex ends the connection: IGNORE, DEBUG and UNIMPLEMENTED included."""
    async def main():
        async with await serve(test_registry, TestKey()) as srv:
            peer = await RawPeer.connect(srv.port, test_registry)
            await peer.hello()
            if when == "before-kexinit":
                peer.send(INJECTED[what])
                peer.send_kexinit()
            elif when == "after-kexinit":
                peer.send_kexinit()
                peer.send(INJECTED[what])
            else:
                await peer.key_exchange(before_newkeys=lambda: peer.send(INJECTED[what]),
                                        newkeys=False)
            code = await peer.expect_disconnect()
            await peer.aclose()
            await assert_serves(srv.port, test_registry)
            return code
    assert run(main()) == R.PROTOCOL_ERROR


@pytest.mark.parametrize("what", ["ignore", "debug"])
def test_ignore_and_debug_during_kex_are_tolerated_without_strict_kex(test_registry, what):
    """The contrast: a peer that does not offer strict kex may send them (RFC 4253)."""
    async def main():
        async with await serve(test_registry, TestKey()) as srv:
            peer = await RawPeer.connect(srv.port, test_registry, strict=False)
            await peer.hello()
            await peer.key_exchange(before_newkeys=lambda: peer.send(INJECTED[what]))
            await peer.service_request()
            assert (await peer.password_auth(USER, PASSWORD))[0] == M.USERAUTH_SUCCESS
            await peer.aclose()
    run(main())


@pytest.mark.parametrize("strict", [True, False])
def test_sequence_numbers_reset_on_newkeys_only_under_strict_kex(test_registry, strict):
    """The server's UNIMPLEMENTED reply names the sequence number it counted for our
    packet: under strict kex it restarted at 0 with NEWKEYS, otherwise it goes on."""
    async def main():
        async with await serve(test_registry, TestKey()) as srv:
            peer = await RawPeer.connect(srv.port, test_registry, strict=strict)
            await peer.handshake()
            peer.send(byte(200))
            reply = await peer.recv_type(M.UNIMPLEMENTED)
            await peer.aclose()
            return reply
    reply = run(main())
    # we sent KEXINIT, the kex init message and NEWKEYS (seq 0, 1, 2) before it
    assert reply == byte(M.UNIMPLEMENTED) + uint32(0 if strict else 3)


def test_peer_that_does_not_reset_sequence_numbers_fails_the_mac(test_registry):
    """And the server's reader really restarted: a strict peer that keeps counting
    gets a MAC error on its first encrypted packet."""
    async def main():
        async with await serve(test_registry, TestKey()) as srv:
            peer = await RawPeer.connect(srv.port, test_registry)
            await peer.hello()
            await peer.key_exchange()
            peer.w.seq = 3  # what a non-resetting peer would use
            peer.send(byte(M.SERVICE_REQUEST) + string("ssh-userauth"))
            code = await peer.expect_disconnect()
            await peer.aclose()
            return code
    assert run(main()) == R.MAC_ERROR


@pytest.mark.parametrize("role", ["server", "client"])
def test_sequence_number_wrap_during_initial_kex_is_fatal(test_registry, role):
    """OpenSSH's rule: the incoming sequence number may not wrap before the first
    NEWKEYS (2**32 packets of IGNORE would otherwise let an attacker shift it)."""
    cfgs = pair_configs(test_registry)
    conn = Connection(cfgs.server if role == "server" else cfgs.client)
    other = Connection(cfgs.client if role == "server" else cfgs.server)
    conn.receive_data(other.data_to_send())  # version + KEXINIT: the initial kex runs
    conn.data_to_send()
    conn._reader.packets_received = 0xFFFFFFFF  # as if 2**32 - 1 packets had come
    conn._reader.seq = 0xFFFFFFFF
    w = PacketWriter()
    w.seq = 0xFFFFFFFF
    with pytest.raises(RemoteProtocolError, match="wrapped"):
        conn.receive_data(w.pack(byte(30) + string(b"c" * 32)))
    assert conn.closed
    sent = conn.data_to_send()
    assert sent[5] == M.DISCONNECT and int.from_bytes(sent[6:10], "big") == R.PROTOCOL_ERROR


def test_sequence_number_wrap_after_initial_kex_is_not_fatal(test_registry):
    async def main():
        async with await serve(test_registry, TestKey()) as srv:
            peer = await RawPeer.connect(srv.port, test_registry)
            await peer.handshake()
            await peer.service_request()  # a round trip: the server's kex is over too
            (conn,) = srv._connections
            reader = conn._conn._reader
            reader.seq = peer.w.seq = 0xFFFFFFFF
            reader.packets_received = 0xFFFFFFFF
            peer.send(IGNORE)  # seq 0xFFFFFFFF, then both wrap to 0
            assert (await peer.password_auth(USER, PASSWORD))[0] == M.USERAUTH_SUCCESS
            assert reader.seq == 1 and peer.w.seq == 1
            await peer.aclose()
    run(main())


# --------------------------------------------------------------------------- require_strict_kex

def test_listen_require_strict_kex_refuses_non_strict_client(test_registry):
    async def main():
        async with await serve(test_registry, TestKey(), require_strict_kex=True) as srv:
            codes = []
            for strict in (False, True):
                peer = await RawPeer.connect(srv.port, test_registry, strict=strict)
                await peer.hello()
                if strict:
                    await peer.key_exchange()
                    await peer.service_request()
                    codes.append("ok")
                else:
                    peer.send_kexinit()
                    await peer.recv_type(M.KEXINIT, skip=())
                    codes.append(await peer.expect_disconnect())
                await peer.aclose()
            await assert_serves(srv.port, test_registry)
            return codes
    assert run(main()) == [R.KEY_EXCHANGE_FAILED, "ok"]


@pytest.mark.parametrize("require", [True, False])
def test_connect_require_strict_kex_refuses_non_strict_server(test_registry, require):
    codes = []

    async def handler(peer):
        if require:
            peer.send_kexinit()
            codes.append(await peer.expect_disconnect())
        else:
            await peer.key_exchange()
            await peer.accept_login()
            codes.append("logged in")
            await peer.recv_type(M.DISCONNECT, skip=(M.IGNORE, M.GLOBAL_REQUEST))

    async def main():
        async with hostile_server(handler, test_registry, TestKey(), strict=False) as hs:
            if require:
                with pytest.raises(KeyExchangeError, match="strict"):
                    await client(hs.port, test_registry, require_strict_kex=True)
            else:
                conn = await client(hs.port, test_registry)
                await conn.aclose()
    run(main())
    assert codes == ([R.KEY_EXCHANGE_FAILED] if require else ["logged in"])


# --------------------------------------------------------------------------- EXT_INFO

SIG_ALGS = ext_info(server_sig_algs=b"test-key@sshcore.test")


def _codes_handler(codes, script):
    async def handler(peer):
        await script(peer)
        codes.append(await peer.expect_disconnect())
    return handler


@pytest.mark.parametrize("when", ["after-kexinit", "before-newkeys", "after-service-accept",
                                  "twice-after-newkeys", "before-userauth-failure",
                                  "twice-before-userauth-success",
                                  "second-after-userauth-success"])
def test_misplaced_ext_info_from_server_is_refused(test_registry, when):
    """AsyncSSH CVE-2023-46445 (rogue extension negotiation): an EXT_INFO anywhere but
    directly after the first NEWKEYS, or directly before or after USERAUTH_SUCCESS, is
    fatal."""
    codes = []

    async def script(peer):
        if when == "after-kexinit":
            peer.send_kexinit()
            peer.send(SIG_ALGS)
            return
        await peer.key_exchange(
            before_newkeys=(lambda: peer.send(SIG_ALGS)) if when == "before-newkeys" else None)
        if when == "before-newkeys":
            return
        if when == "twice-after-newkeys":
            peer.send(SIG_ALGS)
            peer.send(SIG_ALGS)
            return
        await peer.recv_type(M.SERVICE_REQUEST)
        peer.send(byte(M.SERVICE_ACCEPT) + string("ssh-userauth"))
        if when == "after-service-accept":  # and then not USERAUTH_SUCCESS
            peer.send(SIG_ALGS)
            peer.send(byte(M.USERAUTH_BANNER) + string("welcome") + string(""))
            return
        await peer.recv_type(M.USERAUTH_REQUEST)
        if when == "before-userauth-failure":
            peer.send(SIG_ALGS)
            peer.send(byte(M.USERAUTH_FAILURE) + string("password") + b"\0")
            return
        if when == "twice-before-userauth-success":
            peer.send(SIG_ALGS)
            peer.send(SIG_ALGS)
            peer.send(byte(M.USERAUTH_SUCCESS))
            return
        peer.send(byte(M.USERAUTH_SUCCESS))
        peer.send(SIG_ALGS)
        peer.send(SIG_ALGS)

    async def main():
        async with hostile_server(_codes_handler(codes, script), test_registry, TestKey()) as hs:
            if when == "second-after-userauth-success":
                conn = await client(hs.port, test_registry)  # logged in before the second
                await conn.wait_closed()
                assert isinstance(conn._error, RemoteProtocolError)
                assert "EXT_INFO" in str(conn._error)
            else:
                with pytest.raises(ProtocolError, match="EXT_INFO|key exchange"):
                    await client(hs.port, test_registry)
    run(main())
    assert codes == [R.PROTOCOL_ERROR]


@pytest.mark.parametrize("when", ["after-newkeys", "before-userauth-success",
                                  "after-userauth-success"])
def test_well_placed_ext_info_from_server_is_accepted(test_registry, when):
    got = []

    async def handler(peer):
        await peer.key_exchange()
        if when == "after-newkeys":
            peer.send(SIG_ALGS)
        await peer.accept_service()
        await peer.recv_type(M.USERAUTH_REQUEST)
        if when == "before-userauth-success":
            peer.send(SIG_ALGS)
        peer.send(byte(M.USERAUTH_SUCCESS))
        if when == "after-userauth-success":
            peer.send(SIG_ALGS)
        await peer.recv_type(M.DISCONNECT, skip=(M.IGNORE, M.GLOBAL_REQUEST))
        got.append("closed cleanly")

    async def main():
        async with hostile_server(handler, test_registry, TestKey()) as hs:
            conn = await client(hs.port, test_registry)
            for _ in range(20):  # the post-auth EXT_INFO may still be in flight
                if conn._conn.server_sig_algs is not None:
                    break
                await __import__("asyncio").sleep(0.05)
            assert conn._conn.server_sig_algs == ["test-key@sshcore.test"]
            await conn.aclose()
    run(main())
    assert got == ["closed cleanly"]


@pytest.mark.parametrize("when", ["after-newkeys", "after-service-accept"])
def test_ext_info_from_client_is_refused(test_registry, when):
    """Our server never offers ext-info-s, so any EXT_INFO from a client is fatal."""
    async def main():
        async with await serve(test_registry, TestKey()) as srv:
            peer = await RawPeer.connect(srv.port, test_registry, ext_info=True)
            await peer.handshake()
            if when == "after-service-accept":
                await peer.service_request()
            peer.send(ext_info(server_sig_algs=b"x"))
            code = await peer.expect_disconnect()
            await peer.aclose()
            await assert_serves(srv.port, test_registry)
            return code
    assert run(main()) == R.PROTOCOL_ERROR


def test_our_server_sends_ext_info_right_after_newkeys(test_registry):
    async def main():
        async with await serve(test_registry, TestKey()) as srv:
            peer = await RawPeer.connect(srv.port, test_registry, ext_info=True)
            await peer.handshake()
            first = await peer.recv()
            await peer.aclose()
            return first
    first = run(main())
    assert first[0] == M.EXT_INFO and b"server-sig-algs" in first
