"""The server's real subprocesses (``run_subprocess``): a session that ends while its
command is still starting leaves no process and no descriptor behind."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

import sshcore
from sshcore.aio import process as proc_mod
from sshcore.aio.server import SSHServer
from sshcore.testing import TestKey


def _orphans_here() -> list:
    """Reaping tasks of the running loop still pending (an earlier test's closed loop may
    have left its own behind in the module's set)."""
    loop = asyncio.get_running_loop()
    return [t for t in getattr(proc_mod, "_orphans", ()) if t.get_loop() is loop and not t.done()]


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _running(marker: str) -> list[int]:
    """Pids of live processes whose command line carries ``marker``."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != "Z":
            out.append(int(entry))
    return out


async def _settle(check, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check() and loop.time() < deadline:
        await asyncio.sleep(0.05)


class AnyKeyServer(SSHServer):
    allowed = b""

    def public_key_auth_supported(self):
        return True

    def validate_public_key(self, username, key):
        return key.public_blob == self.allowed


# ``cat; : marker`` makes every shell fork rather than exec, so ``cat`` is a grandchild
# holding the pipes and waiting on its stdin: asyncio, cancelled while it connects those
# pipes, kills only the shell and then waits for the pipes forever.  The client drops
# the connection as soon as the exec request is answered, while the server is starting
# the command (the window the load test's mid_exec drop hits).
@pytest.mark.timeout(60)
@pytest.mark.parametrize("term_type", [None, "xterm"], ids=["pipes", "pty"])
def test_dropping_the_connection_while_the_command_starts_leaves_nothing(test_registry, term_type):
    host_key, user_key = TestKey(), TestKey()
    AnyKeyServer.allowed = user_key.public_blob
    marker = uuid.uuid4().hex

    async def one(port: int, delay: float) -> None:
        conn = await sshcore.connect("127.0.0.1", port, username="u", client_keys=[user_key],
                                     known_hosts=None, registry=test_registry)
        await conn.create_process(f"cat; : {marker}", term_type=term_type)
        if delay:
            await asyncio.sleep(delay)
        conn.abort()
        await conn.wait_closed()

    async def main():
        srv = await sshcore.listen("127.0.0.1", 0, server_host_keys=[host_key], registry=test_registry,
                                   server_factory=AnyKeyServer, max_startups=None)
        async with srv:
            before = _fds()
            await asyncio.gather(*(one(srv.port, (i % 4) * 0.001) for i in range(24)))
            await _settle(lambda: not _running(marker) and _fds() <= before and not _orphans_here())
            assert _running(marker) == [], "commands outlived their connections"
            assert not _orphans_here(), "a cancelled start was never reaped"
            assert _fds() == before, "descriptors outlived their connections"
            # and the server still runs commands
            async with sshcore.connect("127.0.0.1", srv.port, username="u", client_keys=[user_key],
                                       known_hosts=None, registry=test_registry) as conn:
                r = await conn.run("echo ok", term_type=term_type)
                assert r.stdout.strip() == "ok" and r.exit_status == 0

    asyncio.run(asyncio.wait_for(main(), 50))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("term_type", [None, "xterm"], ids=["pipes", "pty"])
def test_a_session_cancelled_at_any_step_of_the_start_leaves_nothing(test_registry, term_type):
    """The same, made exact: the session is cancelled (what a lost connection does to it)
    after 0, 1, 2, ... event-loop steps of ``run_subprocess``, through the whole start."""
    host_key, user_key = TestKey(), TestKey()
    AnyKeyServer.allowed = user_key.public_blob
    marker = uuid.uuid4().hex
    landed = []

    async def cancelled_after_steps(process):
        steps = int(process.env["STEPS"])
        task = asyncio.ensure_future(proc_mod.run_subprocess(process))
        for _ in range(steps):
            await asyncio.sleep(0)
        if task.done():
            return 0
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            landed.append(steps)
        return 0

    async def main():
        srv = await sshcore.listen("127.0.0.1", 0, server_host_keys=[host_key], registry=test_registry,
                                   server_factory=AnyKeyServer, process_factory=cancelled_after_steps,
                                   accept_env=["STEPS"])
        async with srv, sshcore.connect("127.0.0.1", srv.port, username="u", client_keys=[user_key],
                                        known_hosts=None, registry=test_registry) as conn:
            before = _fds()
            for steps in range(40):
                r = await conn.run(f"cat; : {marker}", env={"STEPS": str(steps)}, term_type=term_type)
                assert r.exit_status == 0
            await _settle(lambda: not _running(marker) and _fds() <= before
                          and not _orphans_here())
            assert len(landed) > 10, "the cancellations missed the start"
            assert _running(marker) == [], "commands outlived their sessions"
            assert not _orphans_here(), "a cancelled start was never reaped"
            assert _fds() == before, "descriptors outlived their sessions"

    asyncio.run(asyncio.wait_for(main(), 50))


@pytest.mark.timeout(30)
def test_a_command_that_cannot_start_closes_both_pty_ends():
    async def main():
        import pty

        before = _fds()
        master, slave = pty.openpty()
        with pytest.raises(FileNotFoundError):
            await proc_mod._spawn(["/nonexistent/command"], dict(stdin=slave, stdout=slave, stderr=slave),
                                  parent_fds=(slave,), cancel_fds=(master,))
        os.close(master)  # the caller's, when the start failed rather than was cancelled
        assert _fds() == before

    asyncio.run(main())
