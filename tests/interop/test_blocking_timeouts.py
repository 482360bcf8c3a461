"""Every blocking call returns within its timeout when the peer stops answering.

Two silent peers: a TCP server that accepts and never speaks (connecting times out),
and a relay to a real sshd that freezes after the session is set up (every later call
raises sshcore.blocking.SSHTimeoutError, a TimeoutError and an SSHError)."""

from __future__ import annotations

import select
import socket
import threading
import time

import pytest

import sshcore
from sshcore import blocking

LIMIT = 1.0
SLACK = 2.0  # scheduling on a loaded 2-core machine


class FreezingRelay:
    """127.0.0.1:port -> sshd, until ``freeze()``: then nothing passes either way."""

    def __init__(self, target_port: int) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.target = target_port
        self.frozen = threading.Event()
        self.stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            a, _ = self.listener.accept()
        except OSError:
            return
        try:
            b = socket.create_connection(("127.0.0.1", self.target), timeout=10)
        except OSError:
            a.close()
            return
        with a, b:
            try:
                while not self.stop.is_set():
                    if self.frozen.is_set():
                        time.sleep(0.05)
                        continue
                    ready, _, _ = select.select([a, b], [], [], 0.05)
                    for s in ready:
                        data = s.recv(65536)
                        if not data:
                            return
                        (b if s is a else a).sendall(data)
            except OSError:
                return  # one side reset: the relay ends

    def freeze(self) -> None:
        time.sleep(0.2)  # let what is in flight arrive
        self.frozen.set()

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


def within(fn, *args, **kw):
    start = time.monotonic()
    with pytest.raises(blocking.SSHTimeoutError) as info:
        fn(*args, **kw)
    took = time.monotonic() - start
    assert took < LIMIT + SLACK, f"{fn.__name__} took {took:.1f} s"
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, sshcore.SSHError)
    return took


def test_connect_to_a_silent_server_times_out():
    silent = socket.create_server(("127.0.0.1", 0))
    try:
        start = time.monotonic()
        with pytest.raises(sshcore.ConnectTimeoutError):
            blocking.connect("127.0.0.1", silent.getsockname()[1], config=None, agent_path=None,
                             client_keys=[], known_hosts=None, connect_timeout=LIMIT)
        assert time.monotonic() - start < LIMIT + SLACK
    finally:
        silent.close()


def test_every_call_times_out_when_the_server_stalls(start_sshd, keys):
    sshd = start_sshd(Subsystem="sftp internal-sftp")
    relay = FreezingRelay(sshd.port)
    try:
        conn = blocking.connect("127.0.0.1", relay.port, config=None, agent_path=None,
                                client_keys=[keys.user["ed25519"]], known_hosts=None,
                                connect_timeout=30, keepalive_interval=None)
        proc = conn.exec("cat")
        sftp = conn.start_sftp_client(timeout=30)
        chan_ok = conn.run("echo ok", timeout=30)
        assert chan_ok.stdout == "ok\n"
        relay.freeze()
        within(conn.run, "echo hi", timeout=LIMIT)
        within(conn.exec, "true", timeout=LIMIT)
        within(conn.shell, timeout=LIMIT)
        within(conn.open_direct_tcpip, "127.0.0.1", 22, timeout=LIMIT)
        within(conn.start_sftp_client, timeout=LIMIT)
        within(proc.stdout.read, 10, timeout=LIMIT)
        within(proc.stdout.readline, timeout=LIMIT)
        within(proc.stderr.read, timeout=LIMIT)
        within(proc.wait, timeout=LIMIT)
        within(proc.stdin.write, b"x" * (4 << 20), timeout=LIMIT)  # past the window
        within(sftp.stat, "/", timeout=LIMIT)
        within(sftp.listdir, "/", timeout=LIMIT)
        conn.timeout = LIMIT  # the default of calls made without timeout=
        within(conn.run, "echo hi")
        within(sftp.open, "/etc/hostname")
        start = time.monotonic()
        conn.close()  # never hangs either: its DISCONNECT cannot be delivered
        assert time.monotonic() - start < 15
        assert conn.is_closed
    finally:
        relay.close()
