"""Slow password checks under a guessing flood (sshcore.aio.pwcheck): a PasswordFile's
scrypt checks run few at a time, at low CPU priority, and round-robin between sources
with recently failed sources last."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import pytest

import sshcore
from sshcore.errors import SSHError
from sshcore.passwords import PasswordFile
from sshcore.testing import TestKey


def _thread_nice() -> int:
    """The calling thread's nice value (field 19 of /proc/thread-self/stat)."""
    stat = Path(f"/proc/self/task/{threading.get_native_id()}/stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[16])


class CountingPasswordFile(PasswordFile):
    """A real PasswordFile that records how many checks run at once, and at what nice."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._lock = threading.Lock()
        self.now = 0
        self.peak = 0
        self.nices: set[int] = set()

    def verify(self, user: str, password: str) -> bool:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.nices.add(_thread_nice())
        try:
            return super().verify(user, password)
        finally:
            with self._lock:
                self.now -= 1


def test_a_guessing_flood_hashes_few_at_a_time_at_low_priority(tmp_path, test_registry):
    """Eight sources guess at once: before, the default executor ran up to cpu+4 scrypt
    checks together (32 MiB each) at the event loop's priority."""
    pw = CountingPasswordFile(tmp_path / "pw")
    pw.set("alice", "right")
    pw.write()

    async def guess(port: int, source: str) -> None:
        with pytest.raises(SSHError):
            async with sshcore.connect("127.0.0.1", port, username="alice", password="wrong",
                                       known_hosts=None, registry=test_registry, config=None,
                                       agent_path=None, client_keys=[], local_addr=(source, 0),
                                       connect_timeout=30):
                pass

    async def main() -> None:
        async with await sshcore.listen("127.0.0.1", 0, server_host_keys=[TestKey()],
                                        registry=test_registry, passwords=pw,
                                        per_source_penalties=False, max_startups=None,
                                        max_auth_tries=2) as srv:
            await asyncio.gather(*(guess(srv.port, f"127.4.0.{i + 1}") for i in range(8)))
            async with sshcore.connect("127.0.0.1", srv.port, username="alice", password="right",
                                       known_hosts=None, registry=test_registry, config=None,
                                       agent_path=None, client_keys=[], connect_timeout=30):
                pass
    asyncio.run(asyncio.wait_for(main(), 120))
    assert pw.peak <= max(1, (os.cpu_count() or 2) // 2), pw.peak  # the default workers
    assert pw.nices and min(pw.nices) >= 10, pw.nices


def test_round_robin_between_sources_recently_failed_last():
    from sshcore.aio.pwcheck import PasswordChecks

    checks = PasswordChecks(workers=1, nice=0)
    order: list[str] = []
    gate = threading.Event()

    def job(name: str, ok: bool) -> bool:
        if name == "block":
            gate.wait(10)
        order.append(name)
        return ok

    async def main() -> None:
        # "bad" fails once: it is then a recently failed source.
        assert await checks.submit("bad", job, "bad0", False) is False
        order.clear()
        first = checks.submit("x", job, "block", True)  # holds the one worker
        while checks.running == 0:
            await asyncio.sleep(0.01)
        futs = [checks.submit("bad", job, "bad1", True)]
        futs += [checks.submit("a", job, f"a{i}", False) for i in range(3)]
        futs += [checks.submit("b", job, "b0", True), checks.submit("c", job, "c0", True)]
        gate.set()
        await asyncio.gather(first, *futs)
    asyncio.run(asyncio.wait_for(main(), 30))
    assert order == ["block", "a0", "b0", "c0", "a1", "a2", "bad1"], order
    assert checks.max_running == 1


def test_a_cancelled_check_is_skipped_and_errors_reach_the_caller():
    from sshcore.aio.pwcheck import PasswordChecks

    checks = PasswordChecks(workers=1, nice=0)
    ran: list[str] = []
    gate = threading.Event()

    def job(name: str) -> bool:
        if name == "block":
            gate.wait(10)
        if name == "boom":
            raise ValueError("bad hash")
        ran.append(name)
        return True

    async def main() -> None:
        first = checks.submit("x", job, "block")
        while checks.running == 0:
            await asyncio.sleep(0.01)
        dropped = checks.submit("y", job, "dropped")
        dropped.cancel()
        boom = checks.submit("z", job, "boom")
        gate.set()
        await first
        with pytest.raises(ValueError, match="bad hash"):
            await boom
    asyncio.run(asyncio.wait_for(main(), 30))
    deadline = time.monotonic() + 5
    while checks.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ran == ["block"]
