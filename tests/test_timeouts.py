"""ChannelTimeout and UnusedConnectionTimeout: kernel parsing and the server over loopback."""

from __future__ import annotations

import asyncio
import time

import pytest

import sshcore
from sshcore.kernel._timeouts import parse_channel_timeout
from sshcore.errors import ConfigurationError
from sshcore.testing import TestKey

USER, PASSWORD = "alice", "secret"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def cat(proc):
    """Echo stdin until EOF: idle as long as the client sends nothing."""
    while True:
        data = await proc.stdin.read(1024)
        if not data:
            return 0
        proc.stdout.write(data)


async def serve(registry, **options):
    return await sshcore.listen("127.0.0.1", 0, server_host_keys=[TestKey()], registry=registry,
                                passwords={USER: PASSWORD}, process_factory=cat,
                                per_source_penalties=False, **options)


def connect(port, registry):
    return sshcore.connect("127.0.0.1", port, username=USER, password=PASSWORD, known_hosts=None,
                           registry=registry, config=None, agent_path=None, client_keys=[])


def test_parse_channel_timeout():
    assert parse_channel_timeout("session=30m direct-tcpip=1h *=10") == {
        "session": 1800, "direct-tcpip": 3600, "*": 10}
    assert parse_channel_timeout("none") == {} and parse_channel_timeout(None) == {}
    assert parse_channel_timeout({"session": 5}) == {"session": 5.0}
    for bad in ("session", "session=", "=5", "session=5x"):
        with pytest.raises(ConfigurationError):
            parse_channel_timeout(bad)


def test_idle_session_channel_is_closed(test_registry):
    async def main():
        async with await serve(test_registry, channel_timeout="session=0.6") as srv:
            async with connect(srv.port, test_registry) as conn:
                proc = await conn.create_process("cat")
                start = time.monotonic()
                # active: a line every 0.2 s keeps it open past the interval
                for i in range(6):
                    proc.stdin.write(f"{i}\n")
                    assert await asyncio.wait_for(proc.stdout.readline(), 5) == f"{i}\n"
                    await asyncio.sleep(0.2)
                assert time.monotonic() - start > 1.0
                idle_from = time.monotonic()
                await asyncio.wait_for(proc.wait_closed(), 5)
                assert 0.5 < time.monotonic() - idle_from < 2.5
                assert not conn.is_closed  # only the channel went
                assert (await conn.run("again", input="x")).stdout == "x"
    run(main())


def test_channel_timeout_applies_only_to_matching_types(test_registry):
    async def main():
        async with await serve(test_registry, channel_timeout="direct-*=0.3 sess?on=0") as srv:
            async with connect(srv.port, test_registry) as conn:
                proc = await conn.create_process("cat")
                await asyncio.sleep(1.0)
                proc.stdin.write("still here\n")
                assert await asyncio.wait_for(proc.stdout.readline(), 5) == "still here\n"
                proc.stdin.write_eof()
                await asyncio.wait_for(proc.wait_closed(), 5)
    run(main())


def test_unused_connection_timeout(test_registry):
    async def main():
        async with await serve(test_registry, unused_connection_timeout="1") as srv:
            async with connect(srv.port, test_registry) as conn:
                # an open channel keeps the connection
                proc = await conn.create_process("cat")
                await asyncio.sleep(1.5)
                assert not conn.is_closed
                proc.stdin.write_eof()
                await asyncio.wait_for(proc.wait_closed(), 5)
                closed_at = time.monotonic()
                await asyncio.wait_for(conn.wait_closed(), 5)
                assert 0.7 < time.monotonic() - closed_at < 3
            # never opening a channel: disconnected as well
            async with connect(srv.port, test_registry) as conn:
                start = time.monotonic()
                await asyncio.wait_for(conn.wait_closed(), 5)
                assert 0.7 < time.monotonic() - start < 3
    run(main())
