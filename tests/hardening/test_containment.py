"""Failure containment: a fault in one connection or channel (a handler exception, a
peer vanishing mid-kex, mid-auth or mid-transfer) closes that connection or channel
alone, releases its tasks, sockets and buffers, and the server keeps serving others.
Every test runs under :func:`conftest.run`, which fails if any exception reaches the
event loop's exception handler."""

from __future__ import annotations

import asyncio
import gc
import os
import random
import weakref

import pytest
from conftest import PASSWORD, USER, assert_serves, client, echo_command, run, serve
from rawpeer import RawPeer, hostile_server

import sshcore
from sshcore._wire import string
from sshcore.aio.server import SSHServer
from sshcore.errors import ChannelOpenError, SSHError
from sshcore.messages import MessageType as M
from sshcore.testing import TestKey


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _wait_for(predicate, timeout=5.0, what="condition"):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def _assert_released(srv, refs, fds_before):
    """Every connection the attack opened is gone: out of the server's set, its tasks
    done, its socket closed (the process holds no more descriptors than before), and
    the connection object itself (with its buffers) garbage-collected."""
    await _wait_for(lambda: not srv._connections, what="the server to drop the connections")
    for _ in range(3):
        await asyncio.sleep(0.02)
        gc.collect()
    alive = [r() for r in refs if r() is not None]
    assert not alive, f"connections still referenced: {alive} by {[gc.get_referrers(a) for a in alive]}"
    await _wait_for(lambda: _open_fds() <= fds_before, what="sockets to close")


class _Tracking(SSHServer):
    """Records the connections it serves (weakly) and can stall password checks."""

    refs: list = []
    stall = False
    cancelled: list = []

    def connection_made(self, conn):
        _Tracking.refs.append(weakref.ref(conn))

    def password_auth_supported(self):
        return True

    async def validate_password(self, username, password):
        if _Tracking.stall:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                _Tracking.cancelled.append(username)
                raise
        return username == USER and password == PASSWORD


@pytest.fixture(autouse=True)
def _reset_tracking():
    _Tracking.refs, _Tracking.stall, _Tracking.cancelled = [], False, []


async def _flood(proc):
    if proc.command != "flood":
        return await echo_command(proc)
    try:
        while True:
            proc.stdout.write(b"f" * 65536)
            await proc.stdout.drain()
    finally:
        _flood.ended.append(proc.command)


_flood.ended = []


STAGES = ["after-connect", "after-version", "mid-kex", "before-newkeys", "after-kex",
          "mid-auth", "after-auth", "session-open", "mid-transfer"]


async def _attack(peer, stage):
    """Bring a raw client to ``stage``; then the caller makes it vanish."""
    if stage == "after-connect":
        return
    await peer.hello()
    if stage == "after-version":
        return
    if stage == "mid-kex":
        peer.send_kexinit()
        await peer.recv_type(M.KEXINIT, skip=())
        return
    if stage == "before-newkeys":
        await peer.key_exchange(newkeys=False)
        return
    await peer.key_exchange()
    if stage == "after-kex":
        return
    await peer.service_request()
    if stage == "mid-auth":
        peer.userauth_request(USER, "password", b"\0" + string(PASSWORD))
        await asyncio.sleep(0.1)  # the server is now waiting for validate_password
        return
    assert (await peer.password_auth(USER, PASSWORD))[0] == M.USERAUTH_SUCCESS
    if stage == "after-auth":
        return
    rid, _, _ = await peer.open_session(window=1 << 16)
    if stage == "session-open":
        return
    peer.channel_request(rid, "exec", False, string("flood"))
    await peer.recv_type(M.CHANNEL_DATA, skip=(M.IGNORE, M.GLOBAL_REQUEST,
                                               M.CHANNEL_WINDOW_ADJUST))


@pytest.mark.parametrize("how", ["close", "reset"])
@pytest.mark.parametrize("stage", STAGES)
def test_peer_vanishing_releases_everything(test_registry, stage, how):
    _flood.ended = []
    _Tracking.stall = stage == "mid-auth"

    async def main():
        async with await serve(test_registry, TestKey(), server_factory=_Tracking,
                               process_factory=_flood) as srv:
            fds_before = _open_fds()
            peer = await RawPeer.connect(srv.port, test_registry)
            await _attack(peer, stage)
            if how == "reset":
                peer.writer.transport.abort()
            else:
                peer.close()
            refs = list(_Tracking.refs)
            assert refs
            await _assert_released(srv, refs, fds_before)
            if stage == "mid-auth":
                assert _Tracking.cancelled == [USER]  # the pending decision was cancelled
            if stage == "mid-transfer":
                await _wait_for(lambda: _flood.ended == ["flood"], what="the handler to end")
            await assert_serves(srv.port, test_registry)
    run(main())


def test_many_peers_vanishing_at_random_points_while_others_are_served(test_registry):
    rng = random.Random(10)
    _flood.ended = []

    async def one(port, stage):
        peer = await RawPeer.connect(port, test_registry)
        try:
            await _attack(peer, stage)
            await asyncio.sleep(rng.random() * 0.05)
        finally:
            if rng.random() < 0.5:
                peer.writer.transport.abort()
            else:
                peer.close()

    async def main():
        async with await serve(test_registry, TestKey(), server_factory=_Tracking,
                               process_factory=_flood, max_startups=None) as srv:
            fds_before = _open_fds()
            stages = [rng.choice([s for s in STAGES if s != "mid-auth"]) for _ in range(40)]
            attackers = asyncio.gather(*(one(srv.port, s) for s in stages))
            await assert_serves(srv.port, test_registry)  # served during the attack
            await attackers
            await assert_serves(srv.port, test_registry)
            refs = list(_Tracking.refs)
            await _assert_released(srv, refs, fds_before)
            await _wait_for(lambda: len(_flood.ended) == stages.count("mid-transfer"),
                            what="every flood handler to end")
    run(main(), timeout=90)


# --------------------------------------------------------------------------- handler faults

async def _faulty(proc):
    if proc.command == "boom":
        raise RuntimeError("handler bug")
    return await echo_command(proc)


def test_process_handler_exception_closes_only_its_channel(test_registry):
    async def main():
        async with await serve(test_registry, TestKey(), process_factory=_faulty) as srv:
            async with await client(srv.port, test_registry) as conn:
                bad = await conn.run("boom")
                assert bad.exit_status == 1
                good = await conn.run("fine")  # same connection, next channel
                assert good.stdout == "ran fine"
            await assert_serves(srv.port, test_registry)
    run(main())


class _BrokenSession(sshcore.SSHServerSession):
    def session_started(self):
        raise RuntimeError("session callback bug")


class _SessionServer(SSHServer):
    def password_auth_supported(self):
        return True

    def validate_password(self, username, password):
        return True

    def session_requested(self):
        return _BrokenSession() if not _SessionServer.served else True

    served = False


def test_session_callback_exception_closes_only_its_channel(test_registry):
    async def main():
        async with await serve(test_registry, TestKey(), server_factory=_SessionServer) as srv:
            async with await client(srv.port, test_registry) as conn:
                with pytest.raises(ChannelOpenError):  # the server closed this channel
                    await conn.create_process("x")
                _SessionServer.served = True
                assert (await conn.run("fine")).stdout == "ran fine"  # connection intact
    run(main())


class _RaisingAuth(SSHServer):
    def password_auth_supported(self):
        return True

    def validate_password(self, username, password):
        if username == "crash":
            raise RuntimeError("auth backend bug")
        return username == USER and password == PASSWORD


@pytest.mark.parametrize("async_", [False, True])
def test_auth_callback_exception_closes_only_that_connection(test_registry, async_):
    class Server(_RaisingAuth):
        if async_:
            async def validate_password(self, username, password):
                await asyncio.sleep(0)
                return _RaisingAuth.validate_password(self, username, password)

    async def main():
        async with await serve(test_registry, TestKey(), server_factory=Server) as srv:
            other = await client(srv.port, test_registry)  # logged in before the fault
            with pytest.raises(SSHError):
                await sshcore.connect("127.0.0.1", srv.port, username="crash", password="x",
                                      known_hosts=None, registry=test_registry, config=None,
                                      agent_path=None, client_keys=[])
            assert (await other.run("after")).stdout == "ran after"
            await other.aclose()
            await assert_serves(srv.port, test_registry)
    run(main())


# --------------------------------------------------------------------------- our client

@pytest.mark.parametrize("stage", ["after-version", "mid-kex", "after-kex", "mid-auth"])
def test_server_vanishing_fails_connect_cleanly(test_registry, stage):
    async def handler(peer):
        if stage == "mid-kex":
            peer.send_kexinit()
            await peer.recv_type(M.KEXINIT, skip=())
        elif stage in ("after-kex", "mid-auth"):
            await peer.key_exchange()
            if stage == "mid-auth":
                await peer.accept_service()
                await peer.recv_type(M.USERAUTH_REQUEST)
        peer.writer.transport.abort()

    async def main():
        async with hostile_server(handler, test_registry, TestKey()) as hs:
            fds_before = _open_fds()
            with pytest.raises(SSHError):
                await client(hs.port, test_registry)
            await _wait_for(lambda: _open_fds() <= fds_before, what="the client socket to close")
    run(main())


def test_server_vanishing_mid_transfer_ends_the_client_process(test_registry):
    async def main():
        async with await serve(test_registry, TestKey(), process_factory=_flood) as srv:
            conn = await client(srv.port, test_registry)
            proc = await conn.create_process("flood", encoding=None)
            await proc.stdout.read(1000)
            srv.close()  # the server side goes away mid-transfer
            (server_conn,) = list(srv._connections) or [None]
            if server_conn is not None:
                server_conn.abort()
            await asyncio.wait_for(conn.wait_closed(), 5)
            with pytest.raises((SSHError, OSError, EOFError)):
                while True:
                    if not await proc.stdout.read(65536):
                        raise EOFError
            await srv.wait_closed()
    run(main())
