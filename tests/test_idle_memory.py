"""Memory an idle authenticated connection costs the server (issue: at most 16 KiB each).

The server runs in this process under tracemalloc; the clients run in a child process,
so that only the server's allocations are counted.  After two warm-up connections
(imports, caches and first-use allocations are not the connections' cost), tracing
starts, 200 more connections log in and sit idle, and what is still allocated since
tracing started, divided by 200, is the cost of one.  The bench's scale scenario
measures the same thing as RSS growth over 1,000 connections (``python -m bench --only
scale``).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import tracemalloc

import sshcore

CONNECTIONS = 200
WARM = 2
#: The issue's bound for 1,000 idle connections, per connection.
MAX_KIB_PER_CONNECTION = 16
TIMEOUT = 240

CLIENT = textwrap.dedent("""
    import asyncio, sys
    import sshcore

    async def main(port, key_path):
        key = sshcore.read_private_key(key_path)
        conns = []
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line.strip():
                break
            want = int(line)
            while want:
                batch = min(want, 25)
                conns += await asyncio.gather(*(
                    sshcore.connect("127.0.0.1", port, username="user", client_keys=[key],
                                    known_hosts=None, config=None, agent_path=None,
                                    kex_algs=["curve25519-sha256"])
                    for _ in range(batch)))
                want -= batch
            print("opened", len(conns), flush=True)
        for conn in conns:
            conn.close()

    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
""")


def _keygen(path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True, timeout=60)


async def _measure(tmp_path) -> tuple[float, str]:
    _keygen(tmp_path / "host")
    _keygen(tmp_path / "user")
    (tmp_path / "client.py").write_text(CLIENT)
    server = await sshcore.listen("127.0.0.1", 0, server_host_keys=[str(tmp_path / "host")],
                                  authorized_client_keys=str(tmp_path / "user.pub"),
                                  max_startups=None, max_sessions=None)
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(tmp_path / "client.py"), str(server.port), str(tmp_path / "user"),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdin is not None and child.stdout is not None

    async def open_more(n: int, total: int) -> None:
        child.stdin.write(f"{n}\n".encode())
        await child.stdin.drain()
        line = await asyncio.wait_for(child.stdout.readline(), TIMEOUT)
        assert line.split() == [b"opened", str(total).encode()], line

    try:
        await open_more(WARM, WARM)
        await asyncio.sleep(0.3)
        tracemalloc.start()
        try:
            await open_more(CONNECTIONS, WARM + CONNECTIONS)
            await asyncio.sleep(0.5)  # the last replies and frees settle
            assert len(server._connections) == WARM + CONNECTIONS
            assert all(c.username == "user" for c in server._connections)
            grown = tracemalloc.get_traced_memory()[0]
            top = tracemalloc.take_snapshot().statistics("lineno")[:15]
        finally:
            tracemalloc.stop()
        detail = "\n".join(f"{s.size / CONNECTIONS:8.0f} B/conn  {s.traceback}" for s in top)
        return grown / CONNECTIONS / 1024, detail
    finally:
        child.stdin.close()
        try:
            await asyncio.wait_for(child.wait(), 60)
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
            server.close()
            await asyncio.wait_for(server.wait_closed(), 60)


def test_idle_authenticated_connection_memory(tmp_path):
    kib, detail = asyncio.run(asyncio.wait_for(_measure(tmp_path), 2 * TIMEOUT))
    assert kib <= MAX_KIB_PER_CONNECTION, (
        f"{kib:.1f} KiB per idle connection (bound {MAX_KIB_PER_CONNECTION} KiB); "
        f"largest allocations:\n{detail}")
