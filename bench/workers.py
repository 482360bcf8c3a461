"""Client-side work of every scenario, run in its own interpreter by :class:`bench.env.Env`.

    python -m bench.workers '[{"op": "bulk", "lib": "sshcore", ...}, ...]'

runs the jobs in turn and prints one JSON line: for each job, its list of measured
values (one per run).  The clients are used
as an application would use them: keys and known_hosts loaded once, one key exchange
(curve25519-sha256) for all, keepalives off.  The blocking clients' jobs
(sshcore.blocking's and paramiko's) and the SFTP transfers are in :mod:`bench.sync_workers`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from .env import KEX, USER, raise_fd_limit

CHUNK = 256 * 1024
TIMEOUT = 1800.0
#: set by run_job for a profiled job: on only while the clock runs
_profiler: Any = None
#: profilers of a profiled job's other threads (sshcore.blocking's I/O threads: cProfile
#: sees only the thread that enables it); on for the thread's whole life
thread_profilers: list[Any] = []


def clock_start() -> float:
    if _profiler is not None:
        _profiler.enable()
    return time.perf_counter()


def clock_stop(t0: float) -> float:
    dt = time.perf_counter() - t0
    if _profiler is not None:
        _profiler.disable()
    return dt


class Client:
    """sshcore's or AsyncSSH's client behind the one API they share."""

    def __init__(self, lib: str, spec: dict[str, Any]) -> None:
        self.lib = lib
        self.cipher = spec.get("cipher")
        self.mac = spec.get("mac")
        self.kex = spec.get("kex") or KEX
        self.pool: Any = None
        if spec.get("pool"):  # sshcore: key exchange work in a process pool of this size
            import concurrent.futures

            self.pool = concurrent.futures.ProcessPoolExecutor(int(spec["pool"]))
        if lib == "sshcore":
            import sshcore
            from sshcore.keys import KnownHosts

            self.mod = sshcore
            self.key = sshcore.read_private_key(spec["key"])
            self.kh: Any = KnownHosts.read(spec["known_hosts"])
        elif lib == "asyncssh":
            import asyncssh

            self.mod = asyncssh
            self.key = asyncssh.read_private_key(spec["key"])
            self.kh = asyncssh.read_known_hosts(spec["known_hosts"])
        else:
            raise ValueError(f"unknown library {lib!r}")

    def connect(self, port: int) -> Any:
        kw: dict[str, Any] = dict(username=USER, client_keys=[self.key], known_hosts=self.kh,
                                  config=None, agent_path=None)
        if self.kex != "default":  # "default": each library's own default key exchange
            kw["kex_algs"] = [self.kex]
        if self.pool is not None:
            kw["kex_executor"] = self.pool
        if self.cipher:
            kw["encryption_algs"] = [self.cipher]
        if self.mac:
            kw["mac_algs"] = [self.mac]
        kw["keepalive_interval"] = None if self.lib == "sshcore" else 0
        return self.mod.connect("127.0.0.1", port, **kw)

    async def process(self, conn: Any, command: str) -> Any:
        return await conn.create_process(command, encoding=None)


async def _close(conn: Any) -> None:
    conn.close()
    await conn.wait_closed()


# ---- bulk ------------------------------------------------------------------------------
async def bulk_up(proc: Any, size: int) -> None:
    block = bytes(CHUNK)
    left = size
    while left:
        n = min(left, CHUNK)
        proc.stdin.write(block if n == CHUNK else block[:n])
        await proc.stdin.drain()
        left -= n
    proc.stdin.write_eof()
    await proc.wait()


async def bulk_down(proc: Any, size: int) -> None:
    got = 0
    while True:
        data = await proc.stdout.read(1 << 20)
        if not data:
            break
        got += len(data)
    await proc.wait()
    if got != size:
        raise RuntimeError(f"downloaded {got} bytes, expected {size}")


async def op_bulk(spec: dict[str, Any]) -> list[float]:
    """Seconds per transfer of ``size`` bytes, one connection, ``runs`` transfers (after
    an untimed one of ``warmup`` bytes, if given)."""
    client = Client(spec["lib"], spec)
    size = spec["size"]
    times = []

    async def transfer(n: int) -> None:
        if spec["direction"] == "up":
            proc = await client.process(conn, "cat > /dev/null")
            await bulk_up(proc, n)
        else:
            proc = await client.process(conn, f"head -c {n} /dev/zero")
            await bulk_down(proc, n)

    async with asyncio.timeout(TIMEOUT):
        conn = await client.connect(spec["port"])
        try:
            if spec.get("warmup"):
                await transfer(spec["warmup"])
            for _ in range(spec["runs"]):
                t0 = clock_start()  # the session's opening counts, as with ssh
                await transfer(size)
                times.append(clock_stop(t0))
        finally:
            await _close(conn)
    return times


# ---- small messages -------------------------------------------------------------------
async def op_small(spec: dict[str, Any]) -> list[float]:
    """Operations per second: 1-byte echo round trips (``rtt``) or 1 KiB messages one way
    (``oneway``, counted until the server's exit status proves it read them all)."""
    client = Client(spec["lib"], spec)
    count = spec["count"]
    rates = []
    async with asyncio.timeout(TIMEOUT):
        conn = await client.connect(spec["port"])
        try:
            for _ in range(spec["runs"]):
                if spec["kind"] == "rtt":
                    proc = await client.process(conn, "cat")
                    byte = b"x"
                    proc.stdin.write(byte)  # warm: the echo is running before the clock
                    await proc.stdout.readexactly(1)
                    t0 = clock_start()
                    for _ in range(count):
                        proc.stdin.write(byte)
                        await proc.stdin.drain()
                        if await proc.stdout.readexactly(1) != byte:
                            raise RuntimeError("echo returned another byte")
                    dt = clock_stop(t0)
                    proc.stdin.write_eof()
                    await proc.wait()
                else:
                    proc = await client.process(conn, "cat > /dev/null")
                    msg = bytes(1024)
                    t0 = clock_start()
                    for _ in range(count):
                        proc.stdin.write(msg)
                        await proc.stdin.drain()
                    proc.stdin.write_eof()
                    await proc.wait()
                    dt = clock_stop(t0)
                if proc.returncode:
                    raise RuntimeError(f"remote command exited {proc.returncode}")
                rates.append(count / dt)
        finally:
            await _close(conn)
    return rates


# ---- handshakes -----------------------------------------------------------------------
async def op_handshake(spec: dict[str, Any]) -> list[float]:
    """Handshakes per second: connect, key exchange, ed25519 auth, exec ``true``, close;
    ``count`` of them one after another (``seq``) or all at once (``conc``).  With no
    port, the library's own server runs in this event loop."""
    from .servers import start

    client = Client(spec["lib"], spec)
    server = None
    port = spec.get("port")
    if port is None:
        server, port = await start(spec["lib"], spec["host_key"], spec["authorized_keys"])
        # the in-loop server's port is new: trust the bench host key on it
        line = f"[127.0.0.1]:{port} {open(spec['host_key'] + '.pub').read().strip()}\n"
        if spec["lib"] == "sshcore":
            from sshcore.keys import KnownHosts

            client.kh = KnownHosts.parse(line)
        else:
            client.kh = client.mod.import_known_hosts(line)

    async def once() -> None:
        conn = await client.connect(port)
        try:
            proc = await client.process(conn, "true")
            await proc.wait()
            if proc.returncode:
                raise RuntimeError(f"true exited {proc.returncode}")
        finally:
            await _close(conn)

    rates = []
    try:
        async with asyncio.timeout(TIMEOUT):
            await once()  # warm: imports and first-use set-up outside the clock
            for _ in range(spec["runs"]):
                t0 = clock_start()
                if spec["mode"] == "seq":
                    for _ in range(spec["count"]):
                        await once()
                else:
                    await asyncio.gather(*(once() for _ in range(spec["count"])))
                rates.append(spec["count"] / clock_stop(t0))
    finally:
        if server is not None:
            server.close()
    return rates


# ---- many sessions --------------------------------------------------------------------
async def op_sessions(spec: dict[str, Any]) -> list[float]:
    """Seconds for ``sessions`` sessions on one connection, at once, each downloading
    ``size`` bytes."""
    client = Client(spec["lib"], spec)
    n, size = spec["sessions"], spec["size"]
    times = []

    async def one(conn: Any) -> None:
        proc = await client.process(conn, f"head -c {size} /dev/zero")
        await bulk_down(proc, size)

    async with asyncio.timeout(TIMEOUT):
        conn = await client.connect(spec["port"])
        try:
            for _ in range(spec["runs"]):
                t0 = clock_start()
                await asyncio.gather(*(one(conn) for _ in range(n)))
                times.append(clock_stop(t0))
        finally:
            await _close(conn)
    return times


# ---- scale ----------------------------------------------------------------------------
async def op_scale(spec: dict[str, Any]) -> None:
    """Driver of the scale scenario, talking to the bench over stdin/stdout lines:
    ``open N`` opens N more idle authenticated connections (in batches) and answers
    ``opened SECONDS``; ``close`` (or EOF) closes them all and exits."""
    raise_fd_limit(spec["count"] * 2 + 256)
    client = Client(spec["lib"], spec)
    conns: list[Any] = []
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while True:
            line = (await reader.readline()).decode().split()
            if not line or line[0] == "close":
                break
            want = int(line[1])
            t0 = time.perf_counter()
            async with asyncio.timeout(TIMEOUT):
                while want:
                    batch = min(want, spec["batch"])
                    conns += await asyncio.gather(*(client.connect(spec["port"])
                                                    for _ in range(batch)))
                    want -= batch
            print(f"opened {time.perf_counter() - t0:.6f}", flush=True)
    finally:
        for conn in conns:
            conn.close()
        await asyncio.gather(*(c.wait_closed() for c in conns), return_exceptions=True)


OPS = {"bulk": op_bulk, "small": op_small, "handshake": op_handshake, "sessions": op_sessions}


def run_job(spec: dict[str, Any]) -> Any:
    """One job; with ``profile`` (a path), its timed parts run under cProfile and the
    stats are dumped there."""
    global _profiler
    if spec.get("profile"):
        import cProfile

        _profiler = cProfile.Profile()
    try:
        from .sync_workers import JOBS

        job = JOBS.get((spec["op"], spec["lib"]))
        if job is not None:  # the blocking clients, and the SFTP transfers
            return job(spec)
        return asyncio.run(OPS[spec["op"]](spec))
    finally:
        if _profiler is not None:
            import pstats

            _profiler.disable()
            stats = pstats.Stats(_profiler)
            for p in thread_profilers:
                stats.add(p)
            stats.dump_stats(spec["profile"])
            _profiler = None
            thread_profilers.clear()


def main() -> None:
    specs = json.loads(sys.argv[1])
    raise_fd_limit()
    if len(specs) == 1 and specs[0]["op"] == "scale":
        asyncio.run(op_scale(specs[0]))
        return
    print(json.dumps([run_job(spec) for spec in specs]))


if __name__ == "__main__":
    # run as bench.workers, not __main__: bench.sync_workers imports this module, and the
    # profiler its clock switches on must be the one run_job sets
    from bench import workers

    workers.main()
