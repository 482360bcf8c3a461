"""Keepalive (ServerAliveInterval/CountMax): sshd answers our probes so an idle connection
lives; a peer that goes silent (a relay that stops passing bytes) is detected."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

import sshcore

pytestmark = pytest.mark.interop


class FreezableRelay:
    """127.0.0.1 relay to ``port`` that can be frozen: bytes stop in both directions."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.frozen = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data:
                return
            while self.frozen.is_set():
                time.sleep(0.05)  # hold everything: the peer seems dead
            try:
                dst.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()


def test_idle_connection_lives_on_answered_keepalives(start_sshd, keys):
    sshd = start_sshd()

    async def main():
        async with sshcore.connect("127.0.0.1", sshd.port, client_keys=[str(keys.user["ed25519"])],
                                   known_hosts=str(sshd.known_hosts), keepalive_interval=0.2,
                                   keepalive_count_max=2) as conn:
            await asyncio.sleep(1.5)   # idle for several intervals
            return (await conn.run("echo alive")).stdout

    assert asyncio.run(asyncio.wait_for(main(), 30)) == "alive\n"
    assert "rtype keepalive@openssh.com want_reply 1" in sshd.log.read_text()


def test_silent_peer_is_detected(start_sshd, keys):
    sshd = start_sshd()
    relay = FreezableRelay(sshd.port)

    async def main():
        conn = await sshcore.connect("127.0.0.1", relay.port, client_keys=[str(keys.user["ed25519"])],
                                     known_hosts=None,  # the relay's port is not recorded
                                     keepalive_interval=0.3, keepalive_count_max=2)
        assert (await conn.run("echo before")).stdout == "before\n"
        relay.frozen.set()
        t0 = time.monotonic()
        await asyncio.wait_for(conn.wait_closed(), 10)
        with pytest.raises(sshcore.KeepaliveTimeoutError, match="no answer from the peer to 2 keepalives"):
            await conn.run("echo after")
        return time.monotonic() - t0

    try:
        elapsed = asyncio.run(asyncio.wait_for(main(), 30))
    finally:
        relay.frozen.clear()
        relay.close()
    assert elapsed < 5  # about three intervals, not the TCP timeout
