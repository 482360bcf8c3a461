"""The first channel after authentication opens without waiting for a delayed ACK.

sshd leaves Nagle on for non-interactive sessions and, right after authentication,
sends hostkeys-00@openssh.com, which needs no answer: until the client's kernel
acknowledges it (by default after its ~40 ms delayed-ACK timer), sshd holds its next
small packet, the confirmation of the client's first channel.  sshcore acknowledges
what it reads at once (TCP_QUICKACK on Linux), so opening an SFTP session takes a few
milliseconds rather than 40 ms more, on every connection.  A read answered at once needs
no such call: the answer carries the ACK.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

import sshcore

pytestmark = pytest.mark.interop



class _RecordingSocket:
    """The connection's real socket, noting each setsockopt on the way through."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: list[tuple[int, int, int]] = []

    def setsockopt(self, level: int, option: int, value: int) -> None:
        self.calls.append((level, option, value))
        self.real.setsockopt(level, option, value)


@pytest.mark.timeout(120)
def test_small_reads_are_acknowledged_at_once(start_sshd, keys):
    """The mechanism, checked without a clock (speed belongs to the bench): after the
    login, each small read asks the kernel for an immediate ACK on the real TCP socket,
    so sshd's Nagle never waits for our delayed ACK before confirming the first channel
    (without it, opening an SFTP session took 45-60 ms instead of a few: see
    ``python -m bench.sftp_bench``)."""
    sshd = start_sshd(Subsystem="sftp internal-sftp")

    async def main() -> list[tuple[int, int, int]]:
        async with asyncio.timeout(90):
            async with sshcore.connect("127.0.0.1", sshd.port, client_keys=[keys.user["ed25519"]],
                                       known_hosts=str(sshd.known_hosts), config=None,
                                       kex_algs=["curve25519-sha256"]) as conn:
                real = conn._quickack
                assert real is not None and real.type == socket.SOCK_STREAM, \
                    "TCP_QUICKACK is not in use"
                spy = conn._quickack = _RecordingSocket(real)
                async with conn.start_sftp_client() as sftp:
                    assert sftp.version == 3
                return spy.calls

    calls = asyncio.run(main())
    quick = (socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    # hostkeys-00 and the replies nothing was sent after: each one acknowledged at once
    assert calls.count(quick) >= 2, calls


@pytest.mark.timeout(120)
def test_answered_reads_need_no_quick_ack(start_sshd, keys):
    """An echo answered as soon as it arrives: the next write carries the ACK, so no
    round trip pays the extra system call and segment (it was ~7 µs of the client's
    ~90 µs per 1-byte round trip to sshd)."""
    sshd = start_sshd()
    rounds = 50

    async def main() -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        async with asyncio.timeout(90):
            async with sshcore.connect("127.0.0.1", sshd.port, client_keys=[keys.user["ed25519"]],
                                       known_hosts=str(sshd.known_hosts), config=None,
                                       kex_algs=["curve25519-sha256"]) as conn:
                proc = await conn.create_process("cat", encoding=None)
                proc.stdin.write(b"x")
                assert await proc.stdout.readexactly(1) == b"x"
                await asyncio.sleep(0.05)  # whatever was owed has gone
                spy = conn._quickack = _RecordingSocket(conn._quickack)
                for _ in range(rounds):
                    proc.stdin.write(b"y")
                    assert await proc.stdout.readexactly(1) == b"y"
                echoes = list(spy.calls)
                await asyncio.sleep(0.05)  # the last echo, which nothing answered
                after = spy.calls[len(echoes):]
                proc.stdin.write_eof()
                await proc.wait()
                return echoes, after

    echoes, after = asyncio.run(main())
    quick = (socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    assert echoes.count(quick) <= 2, f"{echoes.count(quick)} quick ACKs in {rounds} round trips"
    assert after == [quick], after


@pytest.mark.timeout(120)
def test_blocking_small_reads_are_acknowledged_at_once(start_sshd, keys):
    """The same for the blocking front-end (its I/O thread reads the socket): without
    it, every first channel of a connection waited ~44 ms for the delayed ACK, and the
    bench's blocking handshakes and short transfers ran at paramiko's pace."""
    from sshcore import blocking

    sshd = start_sshd(Subsystem="sftp internal-sftp")
    with blocking.connect("127.0.0.1", sshd.port, client_keys=[keys.user["ed25519"]],
                          known_hosts=str(sshd.known_hosts), config=None,
                          kex_algs=["curve25519-sha256"], connect_timeout=60) as conn:
        conn.timeout = 60
        drv = conn._drv
        with drv.lock:
            real = drv._quickack
            assert real is not None and real.type == socket.SOCK_STREAM, \
                "TCP_QUICKACK is not in use"
            spy = drv._quickack = _RecordingSocket(real)
        with conn.start_sftp_client() as sftp:
            assert sftp.normalize(".")
        with drv.lock:
            calls = list(spy.calls)
    quick = (socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    # the channel confirmation and the subsystem's replies: each one acknowledged at once
    assert calls.count(quick) >= 2, calls
