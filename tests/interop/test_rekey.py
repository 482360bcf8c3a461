"""Rekeying under load, by bytes and by time, initiated by either side, data checked."""

from __future__ import annotations

import asyncio
import hashlib
import os

import pytest

import sshcore

pytestmark = pytest.mark.interop

SIZE = 8 * 1024 * 1024


def go(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


async def echo_through(conn, size=SIZE):
    """Push random data through `cat` while reading it back: both directions under load."""
    data = os.urandom(size)
    proc = await conn.create_process("cat", encoding=None)

    async def writer():
        for i in range(0, len(data), 65536):
            proc.stdin.write(data[i:i + 65536])
            await proc.stdin.drain()
        proc.stdin.write_eof()

    wtask = asyncio.ensure_future(writer())
    back = await proc.stdout.read()
    await wtask
    await proc.wait_closed()
    assert len(back) == len(data)
    assert hashlib.sha256(back).digest() == hashlib.sha256(data).digest()


def test_peer_initiated_rekey_by_sshd(start_sshd, keys):
    sshd = start_sshd(RekeyLimit="1M")

    async def main():
        async with sshcore.connect("127.0.0.1", sshd.port, client_keys=[keys.user["ed25519"]],
                                   known_hosts=str(sshd.known_hosts)) as conn:
            await echo_through(conn)
            return conn.statistics()["key_exchanges"]
    kex_count = go(main())
    assert kex_count >= 5, kex_count


@pytest.mark.parametrize("cipher", ["aes128-ctr", "aes256-gcm@openssh.com",
                                    "chacha20-poly1305@openssh.com"])
def test_client_initiated_rekey_by_bytes(start_sshd, keys, cipher):
    sshd = start_sshd()

    async def main():
        async with sshcore.connect("127.0.0.1", sshd.port, client_keys=[keys.user["ed25519"]],
                                   known_hosts=str(sshd.known_hosts), rekey_bytes=1 << 20,
                                   encryption_algs=[cipher]) as conn:
            await echo_through(conn)
            return conn.statistics()["key_exchanges"]
    assert go(main()) >= 5


def test_client_initiated_rekey_by_time(start_sshd, keys):
    sshd = start_sshd()

    async def main():
        async with sshcore.connect("127.0.0.1", sshd.port, client_keys=[keys.user["ed25519"]],
                                   known_hosts=str(sshd.known_hosts), rekey_seconds=0.3) as conn:
            proc = await conn.create_process("cat", encoding=None)
            sent = b""
            for i in range(12):
                chunk = os.urandom(1000)
                sent += chunk
                proc.stdin.write(chunk)
                await asyncio.sleep(0.1)
            proc.stdin.write_eof()
            assert await proc.stdout.read() == sent
            return conn.statistics()["key_exchanges"]
    assert go(main()) >= 3


def test_ssh_client_rekeys_with_our_server(keys, helpers):
    data = os.urandom(SIZE)
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              authorized_client_keys=str(keys.authorized_keys)) as srv:
        r = helpers.run_ssh(srv.port, "cat", identity=keys.user["ed25519"], input=data,
                            options={"RekeyLimit": "1M", "LogLevel": "DEBUG1"}, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout == data
    assert r.stderr.count(b"SSH2_MSG_KEXINIT sent") >= 5


def test_our_server_initiates_rekey_with_ssh(keys, helpers):
    """Our server rekeys every MiB while real ssh streams through cat both ways."""
    data = os.urandom(SIZE)
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              authorized_client_keys=str(keys.authorized_keys),
                              rekey_bytes=1 << 20) as srv:
        r = helpers.run_ssh(srv.port, "cat", identity=keys.user["ed25519"], input=data,
                            options={"LogLevel": "DEBUG1"}, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout == data
    assert r.stderr.count(b"SSH2_MSG_KEXINIT received") >= 5


def test_download_only_rekeys_on_received_bytes(start_sshd, keys):
    """Rekey limits count received bytes too: a pure download still rekeys.

    Up to a channel window (2 MiB) of data is already in flight under the old keys when
    our KEXINIT goes out, so each cycle spans between 1 and about 3.2 MiB: 24 MB gives well over
    three rekeys on top of the initial exchange (the assertion asks for three).
    """
    sshd = start_sshd()

    async def main():
        async with sshcore.connect("127.0.0.1", sshd.port, client_keys=[keys.user["ed25519"]],
                                   known_hosts=str(sshd.known_hosts), rekey_bytes=1 << 20) as conn:
            r = await conn.run("head -c 24000000 /dev/zero", encoding=None)
            assert r.stdout == bytes(24000000)
            return conn.statistics()["key_exchanges"]
    count = go(main())
    assert count >= 4, count
