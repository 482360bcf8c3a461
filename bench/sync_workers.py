"""Worker jobs of the blocking clients (sshcore.blocking and paramiko), and the asyncio
sshcore SFTP transfer they are compared with; run by :mod:`bench.workers`.

Every job uses its client as a script would: the user key and known_hosts loaded once,
the server's host key checked against the bench's, keepalives off.  ``kex`` is a key
exchange name or ``"default"`` (each library's own preference list).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
from typing import Any

from .env import KEX, USER
from .workers import CHUNK, TIMEOUT, clock_start, clock_stop


# ---- connecting -------------------------------------------------------------------------
def blocking_options(spec: dict[str, Any], key: Any, kh: Any) -> dict[str, Any]:
    kw: dict[str, Any] = dict(username=USER, client_keys=[key], known_hosts=kh, config=None,
                              agent_path=None, keepalive_interval=None)
    kex = spec.get("kex") or KEX
    if kex != "default":
        kw["kex_algs"] = [kex]
    if spec.get("cipher"):
        kw["encryption_algs"] = [spec["cipher"]]
    if spec.get("mac"):
        kw["mac_algs"] = [spec["mac"]]
    return kw


def _profile_io_threads() -> None:
    """In a profiled job, each sshcore.blocking I/O thread runs under a profiler of its
    own (merged into the job's stats by :func:`bench.workers.run_job`)."""
    from . import workers

    if workers._profiler is None:
        return
    import cProfile

    from sshcore.blocking._driver import Driver

    run = Driver._run
    if getattr(run, "profiled", False):
        return

    def _run(self: Any) -> None:
        p = cProfile.Profile()
        workers.thread_profilers.append(p)
        p.enable()
        try:
            run(self)
        finally:
            p.disable()
    _run.profiled = True  # type: ignore[attr-defined]
    Driver._run = _run  # type: ignore[method-assign]


class Blocking:
    """sshcore.blocking connections with the spec's algorithms."""

    def __init__(self, spec: dict[str, Any]) -> None:
        import sshcore
        from sshcore import blocking
        from sshcore.keys import KnownHosts

        _profile_io_threads()

        self.mod = blocking
        self.kw = blocking_options(spec, sshcore.read_private_key(spec["key"]),
                                   KnownHosts.read(spec["known_hosts"]))
        self.port = spec["port"]

    def connect(self) -> Any:
        conn = self.mod.connect("127.0.0.1", self.port, **self.kw)
        conn.timeout = TIMEOUT
        return conn


class Paramiko:
    """paramiko transports with the spec's algorithms (its own defaults with ``kex``
    "default"), authenticated with the bench's ed25519 key."""

    def __init__(self, spec: dict[str, Any]) -> None:
        import paramiko

        self.mod = paramiko
        self.key = paramiko.Ed25519Key.from_private_key_file(spec["key"])
        self.trusted = set(open(spec["known_hosts"]).read().split())
        self.spec = spec

    def connect(self) -> Any:
        spec = self.spec
        sock = socket.create_connection(("127.0.0.1", spec["port"]), 30)
        t = self.mod.Transport(sock)
        try:
            opts = t.get_security_options()
            if spec.get("cipher"):
                opts.ciphers = (spec["cipher"],)
            if spec.get("mac"):
                opts.digests = (spec["mac"],)
            kex = spec.get("kex") or KEX
            if kex != "default":
                opts.kex = tuple(k for k in opts.kex if k.split("@")[0] == kex)
            t.start_client(timeout=30)
            if t.get_remote_server_key().get_base64() not in self.trusted:
                raise RuntimeError("paramiko: the server's host key is not the bench's")
            t.auth_publickey(USER, self.key)
        except BaseException:
            t.close()
            raise
        return t


def connector(spec: dict[str, Any]) -> Any:
    return Paramiko(spec) if spec["lib"] == "paramiko" else Blocking(spec)


def negotiated(spec: dict[str, Any]) -> list[str]:
    """The key exchange and host key type ``spec``'s client settles on (not timed)."""
    if spec["lib"] != "paramiko":
        with Blocking(spec).connect() as conn:
            algs = conn.get_extra_info("algorithms") or {}
            return [str(algs.get("kex", "?")), str(algs.get("host_key", "?"))]
    import logging

    seen: list[str] = []

    class Catch(logging.Handler):  # paramiko names its kex in a DEBUG line only
        def emit(self, record: logging.LogRecord) -> None:
            msg = record.getMessage()
            if msg.startswith("Kex: "):
                seen.append(msg[5:])

    log = logging.getLogger("paramiko.transport")
    log.setLevel(logging.DEBUG)
    log.addHandler(Catch())
    t = Paramiko(spec).connect()
    try:
        return [seen[0] if seen else "?", str(t.host_key_type)]
    finally:
        t.close()


# ---- handshakes -------------------------------------------------------------------------
def handshake(spec: dict[str, Any]) -> list[float]:
    """Handshakes per second, one after another: connect, key exchange, ed25519 auth,
    exec ``true``, wait for its exit status, close."""
    c = connector(spec)
    paramiko = spec["lib"] == "paramiko"

    def once() -> None:
        conn = c.connect()
        try:
            if paramiko:
                chan = conn.open_session(timeout=TIMEOUT)
                chan.exec_command("true")
                status = chan.recv_exit_status()
            else:
                proc = conn.exec("true")
                status = proc.wait()
            if status:
                raise RuntimeError(f"true exited {status}")
        finally:
            conn.close()

    once()  # warm: imports and first-use set-up outside the clock
    rates = []
    for _ in range(spec["runs"]):
        t0 = clock_start()
        for _ in range(spec["count"]):
            once()
        rates.append(spec["count"] / clock_stop(t0))
    return rates


# ---- bulk -------------------------------------------------------------------------------
def _timed(spec: dict[str, Any], transfer: Any) -> list[float]:
    """``runs`` timed calls of ``transfer(size)`` (each returns what to do once the clock
    has stopped), after an untimed one of ``warmup`` bytes if the spec has it."""
    if spec.get("warmup"):
        transfer(spec["warmup"])()
    times = []
    for _ in range(spec["runs"]):
        t0 = clock_start()
        after = transfer(spec["size"])
        times.append(clock_stop(t0))
        after()
    return times


def paramiko_bulk(spec: dict[str, Any]) -> list[float]:
    """Seconds per transfer through paramiko (blocking; its own threads)."""
    t = Paramiko(spec).connect()
    block = bytes(CHUNK)

    def transfer(size: int) -> Any:
        chan = t.open_session()
        chan.settimeout(TIMEOUT)
        if spec["direction"] == "up":
            chan.exec_command("cat > /dev/null")
            left = size
            while left:
                n = min(left, CHUNK)
                chan.sendall(block if n == CHUNK else block[:n])
                left -= n
            chan.shutdown_write()
            status = chan.recv_exit_status()
        else:
            chan.exec_command(f"head -c {size} /dev/zero")
            got = 0
            while True:
                data = chan.recv(1 << 20)
                if not data:
                    break
                got += len(data)
            status = chan.recv_exit_status()
            if got != size:
                raise RuntimeError(f"paramiko downloaded {got} bytes, expected {size}")

        def after() -> None:
            chan.close()
            if status:
                raise RuntimeError(f"paramiko: remote command exited {status}")
        return after

    try:
        return _timed(spec, transfer)
    finally:
        t.close()


def blocking_bulk(spec: dict[str, Any]) -> list[float]:
    """The same transfers through sshcore.blocking (sockets, selectors, one I/O thread)."""
    block = bytes(CHUNK)
    with Blocking(spec).connect() as conn:
        def transfer(size: int) -> Any:
            if spec["direction"] == "up":
                proc = conn.exec("cat > /dev/null")
                left = size
                while left:
                    n = min(left, CHUNK)
                    proc.stdin.write(block if n == CHUNK else block[:n])
                    left -= n
                proc.stdin.close()
            else:
                proc = conn.exec(f"head -c {size} /dev/zero")
                got = 0
                while data := proc.stdout.read(1 << 20):
                    got += len(data)
                if got != size:
                    raise RuntimeError(f"blocking downloaded {got} bytes, expected {size}")
            status = proc.wait()

            def after() -> None:
                proc.close()
                if status:
                    raise RuntimeError(f"blocking: remote command exited {status}")
            return after

        return _timed(spec, transfer)


# ---- SFTP -------------------------------------------------------------------------------
def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def sftp_paths(spec: dict[str, Any]) -> tuple[str, str, str]:
    """(source, destination, the source's sha256) of one SFTP job: a get copies the
    server's file to a local one, a put the local file to a server path (one machine:
    both are in the bench's temp dir)."""
    dst = os.path.join(os.path.dirname(spec["sftp_source"]),
                       f"sftp-{spec['direction']}-{spec['lib']}.out")
    return spec["sftp_source"], dst, spec["sftp_sha256"]


def _check_copy(spec: dict[str, Any], dst: str, sha: str) -> None:
    size = os.path.getsize(dst)
    if size != spec["size"]:
        raise RuntimeError(f"{spec['lib']} sftp {spec['direction']}: {size} bytes, not {spec['size']}")
    if _sha256(dst) != sha:
        raise RuntimeError(f"{spec['lib']} sftp {spec['direction']}: the copy's sha256 differs")
    os.unlink(dst)


def sftp_transfer(spec: dict[str, Any]) -> list[float]:
    """Seconds per SFTP get or put of the bench's source file (``direction``), timed
    from the first request (the open) to the last reply; each copy checked by size and
    sha256 outside the clock.  Every client with its defaults: paramiko's get with its
    unbounded prefetch (at 64 MiB 96 MB/s where ``max_concurrent_prefetch_requests=64``,
    which bench/sftp_bench.py gives it for 256 MiB, made 5 MB/s)."""
    src, dst, sha = sftp_paths(spec)
    get = spec["direction"] == "get"
    lib = spec["lib"]
    if lib == "sshcore":
        return asyncio.run(_aio_sftp(spec, src, dst, sha))
    conn = connector(spec).connect()
    times = []
    try:
        sftp: Any
        if lib == "paramiko":
            import paramiko

            sftp = paramiko.SFTPClient.from_transport(conn)
            assert sftp is not None
            sftp.get_channel().settimeout(TIMEOUT)
        else:
            sftp = conn.start_sftp_client()
        for _ in range(spec["runs"]):
            t0 = clock_start()
            if get:
                sftp.get(src, dst)
            else:
                sftp.put(src, dst)
            times.append(clock_stop(t0))
            _check_copy(spec, dst, sha)
        sftp.close()
    finally:
        conn.close()
    return times


async def _aio_sftp(spec: dict[str, Any], src: str, dst: str, sha: str) -> list[float]:
    from .workers import Client

    client = Client("sshcore", spec)
    times = []
    async with asyncio.timeout(TIMEOUT):
        conn = await client.connect(spec["port"])
        try:
            async with conn.start_sftp_client() as sftp:
                for _ in range(spec["runs"]):
                    t0 = clock_start()
                    if spec["direction"] == "get":
                        await sftp.get(src, dst)
                    else:
                        await sftp.put(src, dst)
                    times.append(clock_stop(t0))
                    _check_copy(spec, dst, sha)
        finally:
            conn.close()
            await conn.wait_closed()
    return times


#: (op, lib) -> job; the others run in :mod:`bench.workers`' event loop
JOBS = {("bulk", "paramiko"): paramiko_bulk, ("bulk", "sshcore-blocking"): blocking_bulk,
        ("handshake", "paramiko"): handshake, ("handshake", "sshcore-blocking"): handshake,
        ("negotiated", "paramiko"): negotiated, ("negotiated", "sshcore-blocking"): negotiated}
JOBS.update({("sftp", lib): sftp_transfer for lib in ("paramiko", "sshcore-blocking", "sshcore")})
