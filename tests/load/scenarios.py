"""Load and fault scenarios against a real ``sshcore serve`` process (see :mod:`.serve`).

Each scenario is an async function that returns its figures as a dict; the CI tests
(``test_load.py``) run them small and assert on the figures, ``python -m tests.load.run
--full`` runs them at the issue's sizes and prints them.

- :func:`concurrent_exec`: N clients at once, each doing kex + publickey auth + exec.
- :func:`slow_peers`: N peers held open (half silent, half trickling their version line a
  byte a second) while well-behaved clients are timed against a baseline.
- :func:`churn`: N connections dropped at random points (after the banner, mid-kex,
  after kex, mid-auth, after auth, mid-exec), with the server's RSS, open descriptors and
  child processes measured before and after.
"""

from __future__ import annotations

import asyncio
import getpass
import random
import statistics
import time
from pathlib import Path
from typing import Any

import sshcore
from sshcore import events as ev
from sshcore._wire import string
from sshcore.config import ConnectionConfig
from sshcore.connection import Connection
from sshcore.keys import (export_private_key, generate_private_key, public_key_line,
                          read_private_key)

from .serve import ServeProcess

USER = getpass.getuser()
#: The load runs use one fast key exchange; the algorithm matrix is tested elsewhere.
KEX = "curve25519-sha256"
PHASES = ("banner", "mid_kex", "after_kex", "mid_auth", "after_auth", "mid_exec")


class Identity:
    """A user key the server authorizes, and the files that go with it."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        key = generate_private_key("ssh-ed25519")
        self.key_path = directory / "id_ed25519"
        self.key_path.write_bytes(export_private_key(key, "openssh"))
        self.key_path.chmod(0o600)
        self.authorized_keys = directory / "authorized_keys"
        self.authorized_keys.write_text(public_key_line(key) + "\n")
        self.key = read_private_key(self.key_path)
        self.known_hosts = directory / "known_hosts"

    def trust(self, srv: ServeProcess) -> None:
        self.known_hosts.write_text(srv.known_hosts_line())


def start_server(home: Path, ident: Identity, env: dict[str, str] | None = None) -> ServeProcess:
    # SHELL=/bin/sh: commands run through dash, which forks for them where bash would exec,
    # as they do wherever SHELL is unset (CI): the harder case for cleaning up after a drop.
    env = {"SHELL": "/bin/sh", **(env or {})}
    srv = ServeProcess(home, "--authorized-keys", str(ident.authorized_keys), unlimited=True, env=env)
    srv.__enter__()
    ident.trust(srv)
    return srv


async def exec_once(port: int, ident: Identity, command: str = "echo ok") -> float:
    """One well-behaved client: connect, authenticate, run ``command``; its latency."""
    start = time.monotonic()
    async with sshcore.connect("127.0.0.1", port, username=USER, client_keys=[ident.key],
                               known_hosts=str(ident.known_hosts), agent_path=None, config=None,
                               kex_algs=[KEX], keepalive_interval=None,
                               # under load the handshake queues behind hundreds of others:
                               # the callers' asyncio.timeout bounds the whole run instead
                               connect_timeout=None) as conn:
        result = await conn.run(command)
    if result.exit_status != 0 or result.stdout.strip() != "ok":
        raise AssertionError(f"bad result: {result.exit_status} {result.stdout!r} {result.stderr!r}")
    return time.monotonic() - start


def _summary(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {}
    ordered = sorted(latencies)
    return {"median_s": round(statistics.median(ordered), 3),
            "p95_s": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
            "max_s": round(ordered[-1], 3)}


# --------------------------------------------------------------------------- concurrency


async def concurrent_exec(srv: ServeProcess, ident: Identity, n: int, timeout: float) -> dict[str, Any]:
    """``n`` clients started at once, each kex + auth + exec."""
    start = time.monotonic()
    async with asyncio.timeout(timeout):
        results = await asyncio.gather(*(exec_once(srv.port, ident) for _ in range(n)),
                                       return_exceptions=True)
    wall = time.monotonic() - start
    ok = [r for r in results if isinstance(r, float)]
    errors = [repr(r) for r in results if not isinstance(r, float)]
    return {"connections": n, "succeeded": len(ok), "failed": len(errors),
            "errors": sorted(set(errors))[:5], "wall_s": round(wall, 2),
            "rate_per_s": round(len(ok) / wall, 1), **_summary(ok),
            "server_alive": srv.alive()}


# --------------------------------------------------------------------------- slow peers


async def _silent(port: int, hold: asyncio.Event, opened: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    opened.append(1)
    try:
        await hold.wait()
    finally:
        writer.transport.abort()


async def _trickle(port: int, hold: asyncio.Event, opened: list[int], interval: float) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    opened.append(1)
    banner = b"SSH-2.0-slowpoke_" + b"x" * 200
    try:
        for i in range(len(banner)):
            if hold.is_set():
                break
            writer.write(banner[i:i + 1])
            try:
                await asyncio.wait_for(hold.wait(), interval)
            except TimeoutError:
                pass
    except (ConnectionError, OSError):
        pass  # the server may drop a peer this slow; that is its right
    finally:
        writer.transport.abort()


async def slow_peers(srv: ServeProcess, ident: Identity, n: int, clients: int,
                     interval: float = 1.0) -> dict[str, Any]:
    """``n`` slow peers held at once (half silent, half a byte per ``interval``) while
    ``clients`` well-behaved clients, in batches of 5, are timed against a baseline."""
    baseline = [await exec_once(srv.port, ident) for _ in range(5)]
    hold = asyncio.Event()
    opened: list[int] = []
    peers = [asyncio.create_task((_silent(srv.port, hold, opened) if i % 2 else
                                  _trickle(srv.port, hold, opened, interval)))
             for i in range(n)]
    try:
        async with asyncio.timeout(30):
            while len(opened) < n:
                await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # let the server take them all on
        fds_held = srv.open_fds()
        loaded: list[float] = []
        for _ in range(0, clients, 5):
            loaded += await asyncio.gather(*(exec_once(srv.port, ident) for _ in range(5)))
            await asyncio.sleep(0.2)
    finally:
        hold.set()
        await asyncio.gather(*peers, return_exceptions=True)
    return {"slow_peers": n, "peers_connected": len(opened), "server_fds_with_peers": fds_held,
            "clients": len(loaded), "baseline": _summary(baseline), "under_load": _summary(loaded),
            "server_alive": srv.alive()}


# --------------------------------------------------------------------------- churn


class _Dropped(Exception):
    pass


async def drop_at(port: int, ident: Identity, phase: str, abort: bool) -> str:
    """One client (the sans-I/O kernel over a socket) that vanishes at ``phase``: closes
    (FIN) or aborts (RST) the socket there, without a DISCONNECT."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    conn = Connection(ConnectionConfig("client", username=USER, kex_algs=[KEX],
                                       credentials={"client_keys": [ident.key]},
                                       auth_methods=["publickey"]))
    channel = -1
    try:
        writer.write(conn.data_to_send())
        while True:
            data = await reader.read(65536)
            if not data:
                return "closed by server"
            conn.receive_data(data)
            while (e := conn.next_event()) is not None:
                if isinstance(e, ev.VersionReceived) and phase == "banner":
                    raise _Dropped
                if isinstance(e, ev.HostKeyReceived):
                    if phase == "mid_kex":
                        raise _Dropped
                    conn.accept_host_key()
                elif isinstance(e, ev.KexCompleted) and phase == "after_kex":
                    raise _Dropped
                elif isinstance(e, ev.AuthCompleted):
                    if phase == "after_auth":
                        raise _Dropped
                    channel = conn.open_channel("session")
                elif isinstance(e, ev.ChannelOpened) and e.channel == channel:
                    conn.send_channel_request(channel, "exec", True, string("cat"))
                elif isinstance(e, ev.ChannelRequestReplied) and e.channel == channel:
                    conn.send_data(channel, b"some input for cat\n")
                    writer.write(conn.data_to_send())
                    await writer.drain()
                    raise _Dropped
                elif isinstance(e, ev.ConnectionTerminated):
                    return f"terminated: {e.error!r}"
            if phase == "mid_auth" and getattr(conn.userauth, "current", None) == "publickey":
                writer.write(conn.data_to_send())  # the publickey query goes out; no more
                raise _Dropped
            writer.write(conn.data_to_send())
    except _Dropped:
        return phase
    finally:
        if abort:
            writer.transport.abort()
        else:
            writer.close()


async def churn(srv: ServeProcess, ident: Identity, n: int, concurrency: int = 40,
                seed: int = 0, timeout: float = 600) -> dict[str, Any]:
    """``n`` connections, each dropped at a random phase."""
    rng = random.Random(seed)
    plan = [(rng.choice(PHASES), rng.random() < 0.5) for _ in range(n)]
    outcomes: dict[str, int] = {}
    sem = asyncio.Semaphore(concurrency)

    async def one(phase: str, abort: bool) -> None:
        async with sem:
            try:
                async with asyncio.timeout(30):
                    got = await drop_at(srv.port, ident, phase, abort)
            except Exception as exc:  # noqa: BLE001 - counted and reported, not hidden
                got = f"error: {type(exc).__name__}: {exc}"
            outcomes[got] = outcomes.get(got, 0) + 1

    start = time.monotonic()
    async with asyncio.timeout(timeout):
        await asyncio.gather(*(one(p, a) for p, a in plan))
    return {"connections": n, "outcomes": outcomes, "wall_s": round(time.monotonic() - start, 1)}


async def settle(srv: ServeProcess, fds: int, timeout: float = 30) -> dict[str, int]:
    """Wait until the server is back to ``fds`` open descriptors (every dropped connection
    and its subprocess released) or ``timeout``; its state then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (srv.open_fds() > fds or srv.children()):
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)
    return {"rss_kib": srv.rss_kib(), "fds": srv.open_fds(), "fd_kinds": srv.fd_kinds(),
            "children": len(srv.children())}


async def memory_churn(srv: ServeProcess, ident: Identity, n: int, warmup: int,
                       rounds: int = 1) -> dict[str, Any]:
    """RSS, descriptors and children of the server before and after ``n`` dropped
    connections, in ``rounds`` equal parts with a measurement after each, once ``warmup``
    connections have primed the allocator's pools and caches (RSS climbs for the first
    thousand or two connections, then stays flat: that climb is not a leak)."""
    idle_fds = srv.open_fds()
    await churn(srv, ident, warmup, seed=1)
    before = await settle(srv, idle_fds)
    outcomes: dict[str, int] = {}
    checkpoints = []
    wall = 0.0
    for r in range(rounds):
        run = await churn(srv, ident, n // rounds, seed=2 + r)
        wall += run["wall_s"]
        for k, v in run["outcomes"].items():
            outcomes[k] = outcomes.get(k, 0) + v
        after = await settle(srv, idle_fds)
        checkpoints.append(after["rss_kib"])
    # a last well-behaved client: the server still serves
    await exec_once(srv.port, ident)
    return {"warmup": warmup, "connections": n, "outcomes": outcomes, "wall_s": round(wall, 1),
            "idle_fds": idle_fds, "before": before, "after": after, "rss_checkpoints_kib": checkpoints,
            "rss_growth_kib": after["rss_kib"] - before["rss_kib"], "server_alive": srv.alive()}
