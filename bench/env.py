"""The bench's own servers on 127.0.0.1, its keys and temp dir, and the workers it runs.

Every peer is a separate process: ``sshd`` (with MaxSessions/MaxStartups raised for the
session and handshake scenarios), ``sshcore serve`` (commands as subprocesses) and the
in-process sshcore and AsyncSSH servers of :mod:`bench.servers`.  :meth:`Env.close` ends
each of them and removes the temp dir; nothing outlives a run.
"""

from __future__ import annotations

import getpass
import hashlib
import itertools
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: (cipher, MAC or None for the AEAD ciphers); the bulk scenario runs each.
CIPHERS = {
    "aes128-ctr": ("aes128-ctr", "hmac-sha2-256-etm@openssh.com"),
    "aes256-gcm": ("aes256-gcm@openssh.com", None),
    "chacha20": ("chacha20-poly1305@openssh.com", None),
}
#: The cipher of the scenarios that are not about ciphers (small messages, handshakes,
#: scale, sessions): GCM, whose per-packet cost the issue singles out.
DEFAULT_CIPHER = "aes256-gcm"
#: One key exchange for every client and server, so handshakes compare like with like.
KEX = "curve25519-sha256"
USER = getpass.getuser()


def raise_fd_limit(want: int = 8192) -> None:
    """Lift the soft open-file limit towards ``want`` (the hard limit caps it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _die_with_parent() -> None:
    """preexec_fn of every process the bench starts: SIGTERM it when the bench process
    dies, however it dies (prctl PR_SET_PDEATHSIG), so that none is ever left behind."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1


def popen(args: list[str], **kw: Any) -> subprocess.Popen[Any]:
    """Popen in a session of its own (so stop() can end its whole group), tied to us."""
    return subprocess.Popen(args, start_new_session=True, preexec_fn=_die_with_parent, **kw)


def run(args: list[str], **kw: Any) -> subprocess.CompletedProcess[Any]:
    return subprocess.run(args, start_new_session=True, preexec_fn=_die_with_parent, **kw)


def write_random_file(path: Path, size: int) -> str:
    """Write ``size`` random bytes to ``path``; their sha256 (hex)."""
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            block = os.urandom(min(left, 1 << 20))
            digest.update(block)
            f.write(block)
            left -= len(block)
    return digest.hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[Any], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited ({proc.returncode}) before listening on {port}")
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:g} s")


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """End ``proc`` (and its process group, when it leads one): TERM, then KILL."""
    if proc.poll() is not None:
        return
    try:
        if os.getpgid(proc.pid) == proc.pid:
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            proc.terminate()
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL) if os.getpgid(proc.pid) == proc.pid else proc.kill()
        except ProcessLookupError:
            pass
        proc.wait(timeout)


class LibServer:
    """One :mod:`bench.servers` process (``lib`` is sshcore or asyncssh)."""

    def __init__(self, env: Env, lib: str) -> None:
        self.lib = lib
        self.proc = popen(
            [sys.executable, "-m", "bench.servers", lib, "--host-key", str(env.dir / "host"),
             "--authorized-keys", str(env.dir / "authorized_keys")],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The port, once the server says it listens (the first use waits for it)."""
        if self._port is None:
            assert self.proc.stdout is not None
            line = self.proc.stdout.readline()
            if not line.startswith("PORT "):
                stop(self.proc)
                raise RuntimeError(f"bench.servers {self.lib} did not start: {line!r}")
            self._port = int(line.split()[1])
        return self._port

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stats(self) -> dict[str, int]:
        """The server's own count of asyncio tasks and pending (uncancelled) timers."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()  # EOF: the server closes its listener and exits
            except OSError:
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        stop(self.proc)


class Env:
    """Keys, known_hosts, sshd and our servers, all under one temp dir."""

    def __init__(self) -> None:
        raise_fd_limit()
        self.dir = Path(tempfile.mkdtemp(prefix="sshcore-bench-"))
        self.procs: list[subprocess.Popen[Any]] = []
        self.servers: dict[str, LibServer] = {}
        self._master_ids = itertools.count()
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        d = self.dir
        for name in ("host", "user"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)],
                           check=True, timeout=60)
        (d / "authorized_keys").write_text((d / "user.pub").read_text())
        os.makedirs("/run/sshd", exist_ok=True)
        self.sshd_port = free_port()
        cfg = d / "sshd_config"
        cfg.write_text(
            f"ListenAddress 127.0.0.1\nPort {self.sshd_port}\nHostKey {d / 'host'}\n"
            f"PidFile none\nAuthorizedKeysFile {d / 'authorized_keys'}\nStrictModes no\n"
            "UsePAM no\nPermitRootLogin yes\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nSetEnv SHLVL=1\nSubsystem sftp internal-sftp\n"
            # 100 sessions on one connection, 100 handshakes at once
            "MaxSessions 200\nMaxStartups 300:30:400\n"
            f"Ciphers {','.join(c for c, _ in CIPHERS.values())}\n")
        sshd = popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(cfg)],
                                stderr=subprocess.DEVNULL)
        self.procs.append(sshd)
        self.our_port = free_port()
        ours = popen([sys.executable, "-m", "sshcore", "serve", "--listen",
                                 f"127.0.0.1:{self.our_port}", "--host-key", str(d / "host"),
                                 "--authorized-keys", str(d / "authorized_keys"),
                                 "--max-startups", "none"],  # as the bench's sshd: no cap
                                cwd=ROOT, stderr=subprocess.DEVNULL)
        self.procs.append(ours)
        for lib in ("sshcore", "asyncssh"):  # all four start at once
            self.servers[lib] = LibServer(self, lib)
        wait_port(self.sshd_port, sshd)
        wait_port(self.our_port, ours)
        self.kh = d / "known_hosts"
        pub = (d / "host.pub").read_text().strip()
        ports = [self.sshd_port, self.our_port] + [s.port for s in self.servers.values()]
        self.kh.write_text("".join(f"[127.0.0.1]:{p} {pub}\n" for p in ports))

    def extra_server(self, lib: str) -> LibServer:
        """A fresh in-process server of ``lib`` (the caller closes it), trusted in known_hosts."""
        server = LibServer(self, lib)
        self.procs.append(server.proc)  # ended by close() whatever happens
        pub = (self.dir / "host.pub").read_text().strip()
        with open(self.kh, "a") as f:
            f.write(f"[127.0.0.1]:{server.port} {pub}\n")
        return server

    def sftp_source(self, size: int) -> tuple[str, str]:
        """A file of ``size`` random bytes for the SFTP transfers (made once per size):
        its path and sha256."""
        path = self.dir / f"sftp-source-{size}.bin"
        if not path.exists():
            (self.dir / f"{path.name}.sha256").write_text(write_random_file(path, size))
        return str(path), (self.dir / f"{path.name}.sha256").read_text()

    def port(self, server: str) -> int:
        """``sshd``, ``serve`` (sshcore serve) or a library's in-process server."""
        if server == "sshd":
            return self.sshd_port
        if server == "serve":
            return self.our_port
        return self.servers[server].port

    def close(self) -> None:
        for p in reversed(self.procs):  # the ssh masters and drivers before their servers
            stop(p)
        for s in self.servers.values():
            s.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Env:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- workers -------------------------------------------------------------------
    def _common(self) -> dict[str, str]:
        return {"key": str(self.dir / "user"), "known_hosts": str(self.kh),
                "host_key": str(self.dir / "host"),
                "authorized_keys": str(self.dir / "authorized_keys")}

    def worker_batch(self, jobs: list[dict[str, Any]], timeout: float = 3600) -> list[Any]:
        """Run :mod:`bench.workers` jobs one after another in a fresh interpreter; the
        list of their results (each a list of measured values)."""
        specs = [{**self._common(), **job} for job in jobs]
        out = run([sys.executable, "-m", "bench.workers", json.dumps(specs)], cwd=ROOT,
                  capture_output=True, text=True, timeout=timeout)
        if out.returncode:
            what = ", ".join(f"{j['op']} {j.get('lib')}" for j in jobs)
            raise RuntimeError(f"worker ({what}) failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    def spawn_worker(self, op: str, **spec: Any) -> subprocess.Popen[str]:
        """A long-lived worker (the scale driver) talking over stdin/stdout lines."""
        spec = {**self._common(), "op": op, **spec}
        proc = popen([sys.executable, "-m", "bench.workers", json.dumps([spec])],
                                cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True)
        self.procs.append(proc)
        return proc

    # ---- OpenSSH's client ------------------------------------------------------------
    def ssh_args(self, port: int, cipher: str, mac: str | None) -> list[str]:
        args = ["ssh", "-F", "/dev/null", "-p", str(port), "-i", str(self.dir / "user"),
                "-o", f"UserKnownHostsFile={self.kh}", "-o", "BatchMode=yes",
                "-o", f"Ciphers={cipher}", "-o", f"KexAlgorithms={KEX}", "-o", "Compression=no",
                "-o", "IdentityAgent=none"]
        if mac:
            args += ["-o", f"MACs={mac}"]
        args.append(f"{USER}@127.0.0.1")
        return args

    def _start_master(self, port: int, cipher: str, mac: str | None) -> tuple[list[str], Any]:
        """A new ControlMaster `ssh` connection to ``port``: the arguments that run a
        command as a new session on it, and the master's process."""
        path = self.dir / f"cm{next(self._master_ids)}"
        args = self.ssh_args(port, cipher, mac)
        proc = popen(args[:1] + ["-M", "-S", str(path), "-N"] + args[1:], stdin=subprocess.DEVNULL)
        self.procs.append(proc)
        deadline = time.monotonic() + 30
        while not path.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ssh ControlMaster to port {port} did not start")
            time.sleep(0.02)
        return args[:1] + ["-S", str(path), "-o", "ControlMaster=no"] + args[1:], proc

    def ssh_bulk(self, port: int, mode: str, cipher: str, mac: str | None, size: int,
                 warmup: int = 0) -> float:
        """Seconds for `ssh` to move ``size`` bytes up or down in one new session, timed
        as the library clients are: on its connection's first transfer, set-up excluded.

        A connection's first 64 MiB run at about half the speed of the next on loopback,
        for ssh as for the library clients, so ssh gets a connection of its own for each
        transfer, and what its connection set-up and exit cost (the same command moving
        one byte: the median of three, timed just before) is subtracted.  (A ControlMaster
        connection reused across runs, as before, timed ssh on warm connections and its
        downloads through the multiplexing client, at half their direct speed.)  With ``warmup``, as the library
        clients then are, it is timed on a ControlMaster connection after an untimed
        transfer of ``warmup`` bytes on it."""
        if warmup:
            args, master = self._start_master(port, cipher, mac)
            try:
                self._ssh_transfer(args, mode, warmup)
                return self._ssh_transfer(args, mode, size)
            finally:
                stop(master)
        args = self.ssh_args(port, cipher, mac)
        fixed = sorted(self._ssh_transfer(args, mode, 1) for _ in range(3))[1]  # the median
        return max(self._ssh_transfer(args, mode, size) - fixed, 1e-3)

    @staticmethod
    def _ssh_transfer(args: list[str], mode: str, size: int) -> float:
        if mode == "up":
            src = popen(["head", "-c", str(size), "/dev/zero"], stdout=subprocess.PIPE)
            try:
                t0 = time.perf_counter()
                run(args + ["cat > /dev/null"], stdin=src.stdout, check=True, timeout=1800)
                dt = time.perf_counter() - t0
            finally:
                assert src.stdout is not None
                src.stdout.close()
                src.wait()
        else:
            t0 = time.perf_counter()
            run(args + [f"head -c {size} /dev/zero"], stdout=subprocess.DEVNULL, check=True,
                timeout=1800)
            dt = time.perf_counter() - t0
        return dt
