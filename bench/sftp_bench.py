"""SFTP throughput: sshcore's client against AsyncSSH's, paramiko's and OpenSSH's ``sftp``.

    python -m bench.sftp_bench [--size MiB] [--runs N] [--server internal-sftp|sftp-server]
                               [--only transfer|process]

Starts its own sshd on 127.0.0.1, then times a get and a put of one SIZE MiB file of
random bytes through it, checks that each copy arrived whole, and prints two sections
(the median of N runs each; nothing is hard-coded, every figure is measured in this run):

*Transfers* (``--only transfer``): each library client with the same cipher and MAC,
timed inside its process; MB/s and the ratios of sshcore to each peer.

*Whole processes* (``--only process``): what a user runs, timed from start to exit with
each program's default settings (its own default key exchange and cipher; no agent, no
ssh_config, bytecode cached as after pip install): ``sshcore scp host:file local``
(and ``local host:file``), ``sshcore sftp -b`` with one get or put, an AsyncSSH script
doing the same connect + sftp get/put, OpenSSH's ``sftp -b`` and ``scp``.  It prints
seconds, MB/s and CPU seconds (user + system, children included: steadier than wall
time on a busy machine), each tool's fixed cost (a get of a 1-byte file), the speed
ratios of each sshcore tool to each peer and PASS/FAIL for the targets: at least 1.2x
AsyncSSH and 1.0x OpenSSH's ``sftp``, both directions.
The library clients are timed from the first request to the last reply (connection
set-up excluded); for ``sftp`` the median time of a batch doing nothing is subtracted.
Every client runs with its defaults, except paramiko's get, given 64 outstanding reads
(``max_concurrent_prefetch_requests``, OpenSSH's count) since its unbounded prefetch
collapses on large files.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.env import free_port, wait_port, write_random_file

CLIENTS = ("sshcore", "asyncssh", "paramiko", "openssh")
#: The whole-process rows: sshcore's two tools, then the peers they are compared with.
PROCESSES = ("sshcore-scp", "sshcore-sftp", "asyncssh", "openssh-sftp", "openssh-scp")
OURS = ("sshcore-scp", "sshcore-sftp")
#: (peer, the speed ratio sshcore's tools must reach against it)
PROCESS_TARGETS = (("asyncssh", 1.2), ("openssh-sftp", 1.0))
SERVERS = {"internal-sftp": "internal-sftp", "sftp-server": "/usr/lib/openssh/sftp-server"}

CLIENT_SCRIPT = r'''
import asyncio, sys, time
lib, mode, port, key, kh, cipher, mac, remote, local = sys.argv[1:10]
port = int(port)

async def aio_main():
    if lib == "sshcore":
        import sshcore
        conn = await sshcore.connect("127.0.0.1", port, client_keys=[key], known_hosts=kh,
                                     encryption_algs=[cipher], mac_algs=[mac], config=None)
    else:
        import asyncssh
        conn = await asyncssh.connect("127.0.0.1", port, client_keys=[key], known_hosts=kh,
                                      encryption_algs=[cipher], mac_algs=[mac], config=None)
    async with conn:
        async with conn.start_sftp_client() as sftp:
            t0 = time.perf_counter()
            if mode == "get":
                await sftp.get(remote, local)
            else:
                await sftp.put(local, remote)
            return time.perf_counter() - t0

def paramiko_main():
    import paramiko
    client = paramiko.SSHClient()
    client.load_host_keys(kh)
    t = paramiko.Transport
    client.connect("127.0.0.1", port, key_filename=key, look_for_keys=False, allow_agent=False,
                   disabled_algorithms={"ciphers": [c for c in t._preferred_ciphers if c != cipher],
                                        "macs": [m for m in t._preferred_macs if m != mac]})
    sftp = client.open_sftp()
    t0 = time.perf_counter()
    if mode == "get":
        sftp.get(remote, local, max_concurrent_prefetch_requests=64)
    else:
        sftp.put(local, remote)
    dt = time.perf_counter() - t0
    sftp.close()
    client.close()
    return dt

print(paramiko_main() if lib == "paramiko" else asyncio.run(aio_main()))
'''


ASYNCSSH_PROCESS = r'''
import asyncio, sys, asyncssh
async def main(mode, port, key, kh, user, remote, local):
    async with asyncssh.connect("127.0.0.1", int(port), username=user, client_keys=[key],
                                known_hosts=kh, agent_path=None, config=None) as conn:
        async with conn.start_sftp_client() as sftp:
            if mode == "get":
                await sftp.get(remote, local)
            else:
                await sftp.put(local, remote)
asyncio.run(main(*sys.argv[1:8]))
'''

#: Timed processes run as a user's would: no agent, and the installed modules' bytecode
#: cached (a development shell's PYTHONDONTWRITEBYTECODE would make every start compile).
_PROCESS_ENV = {k: v for k, v in os.environ.items()
                if k not in ("PYTHONDONTWRITEBYTECODE", "SSH_AUTH_SOCK")}


def _sshcore_cli() -> list[str]:
    script = Path(sys.executable).with_name("sshcore")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sshcore"]


class SftpEnv:
    """An sshd on 127.0.0.1 serving sftp, its keys and a SIZE-byte source file."""

    def __init__(self, size: int, server: str, cipher: str, mac: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sshcore-sftp-bench-"))
        self.cipher, self.mac = cipher, mac
        d = self.dir
        for name in ("host", "user"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)],
                           check=True)
        (d / "authorized_keys").write_text((d / "user.pub").read_text())
        os.makedirs("/run/sshd", exist_ok=True)
        self.port = free_port()
        cfg = d / "sshd_config"
        cfg.write_text(f"ListenAddress 127.0.0.1\nPort {self.port}\nHostKey {d / 'host'}\n"
                       f"PidFile none\nAuthorizedKeysFile {d / 'authorized_keys'}\nStrictModes no\n"
                       "UsePAM no\nPermitRootLogin yes\nPasswordAuthentication no\n"
                       f"Subsystem sftp {SERVERS[server]}\n")
        self.sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(cfg)],
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port, self.sshd)
        self.kh = d / "known_hosts"
        self.kh.write_text(f"[127.0.0.1]:{self.port} {(d / 'host.pub').read_text()}")
        (d / "client.py").write_text(CLIENT_SCRIPT)
        self.source = d / "source.bin"
        self.size = size
        self.sha256 = write_random_file(self.source, size)
        self._setup: float | None = None

    def close(self) -> None:
        self.sshd.terminate()
        self.sshd.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _sftp(self, batch: str) -> float:
        path = self.dir / "batch"
        path.write_text(batch)
        args = ["sftp", "-q", "-F", "/dev/null", "-P", str(self.port), "-i", str(self.dir / "user"),
                "-o", f"UserKnownHostsFile={self.kh}", "-o", "BatchMode=yes",
                "-o", f"Ciphers={self.cipher}", "-o", f"MACs={self.mac}", "-o", "Compression=no",
                "-b", str(path), f"{getpass.getuser()}@127.0.0.1"]
        t0 = time.perf_counter()
        subprocess.run(args, check=True, timeout=1800, stdout=subprocess.DEVNULL)
        return time.perf_counter() - t0

    def setup_time(self) -> float:
        if self._setup is None:
            self._setup = statistics.median(self._sftp("pwd\n") for _ in range(3))
        return self._setup

    def run(self, client: str, mode: str) -> float:
        remote_dst = self.dir / "remote.out"
        local_dst = self.dir / "local.out"
        for p in (remote_dst, local_dst):
            if p.exists():
                p.unlink()
        # get: the server's file -> a local one; put: the local file -> a server path
        remote, local = (self.source, local_dst) if mode == "get" else (remote_dst, self.source)
        if client == "openssh":
            verb = "get" if mode == "get" else "put"
            src, dst = (remote, local) if mode == "get" else (local, remote)
            dt = self._sftp(f"{verb} {src} {dst}\n") - self.setup_time()
        else:
            out = subprocess.run([sys.executable, str(self.dir / "client.py"), client, mode,
                                  str(self.port), str(self.dir / "user"), str(self.kh),
                                  self.cipher, self.mac, str(remote), str(local)],
                                 capture_output=True, text=True, timeout=1800)
            if out.returncode:
                raise RuntimeError(f"{client} {mode} failed:\n{out.stderr[-2000:]}")
            dt = float(out.stdout.split()[-1])
        copy = local_dst if mode == "get" else remote_dst
        if copy.stat().st_size != self.size:
            raise RuntimeError(f"{client} {mode}: {copy.stat().st_size} bytes, not {self.size}")
        return max(dt, 1e-6)

    def verify(self, client: str, run: Any = None) -> None:
        """One more get and put, checked by sha256 (outside the timed runs)."""
        for mode in ("get", "put"):
            (run or self.run)(client, mode)
            copy = self.dir / ("local.out" if mode == "get" else "remote.out")
            digest = hashlib.sha256(copy.read_bytes()).hexdigest()
            if digest != self.sha256:
                raise RuntimeError(f"{client} {mode}: the copy's sha256 differs")

    def process_args(self, client: str, mode: str, remote: Path, local: Path) -> list[str]:
        """The command line of one whole-process get or put, with default settings."""
        user, port, key = getpass.getuser(), str(self.port), str(self.dir / "user")
        batch = self.dir / "batch"
        batch.write_text(f"get {remote} {local}\n" if mode == "get" else f"put {local} {remote}\n")
        pair = ([f"{user}@127.0.0.1:{remote}", str(local)] if mode == "get"
                else [str(local), f"{user}@127.0.0.1:{remote}"])
        if client.startswith("sshcore-"):
            tool = client.split("-")[1]
            common = _sshcore_cli() + [tool, "-q", "-F", "none", "-P", port, "-i", key,
                                       "-o", f"UserKnownHostsFile={self.kh}", "-o", "BatchMode=yes"]
            return common + (pair if tool == "scp" else ["-b", str(batch), f"{user}@127.0.0.1"])
        if client == "asyncssh":
            return [sys.executable, str(self.dir / "asyncssh_process.py"), mode, port, key,
                    str(self.kh), user, str(remote), str(local)]
        tool = client.split("-")[1]
        common = [tool, "-q", "-F", "/dev/null", "-P", port, "-i", key,
                  "-o", f"UserKnownHostsFile={self.kh}", "-o", "BatchMode=yes"]
        return common + (pair if tool == "scp" else ["-b", str(batch), f"{user}@127.0.0.1"])

    def run_process(self, client: str, mode: str, source: Path | None = None
                    ) -> tuple[float, float]:
        """(wall, CPU) seconds of one whole-process get or put of ``source`` (default the
        SIZE file), from start to exit; CPU is user + system of the process and its
        children (OpenSSH's sftp and scp run ssh)."""
        source = source or self.source
        remote_dst = self.dir / "remote.out"
        local_dst = self.dir / "local.out"
        for p in (remote_dst, local_dst):
            if p.exists():
                p.unlink()
        remote, local = (source, local_dst) if mode == "get" else (remote_dst, source)
        args = self.process_args(client, mode, remote, local)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        r = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=1800,
                           env=_PROCESS_ENV)
        dt = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode:
            raise RuntimeError(f"{client} {mode} failed ({r.returncode}):\n"
                               f"{r.stderr[-2000:].decode(errors='replace')}")
        copy = local_dst if mode == "get" else remote_dst
        if copy.stat().st_size != source.stat().st_size:
            raise RuntimeError(f"{client} {mode}: {copy.stat().st_size} bytes, not "
                               f"{source.stat().st_size}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return dt, cpu


def _compile_installed() -> None:
    """Write the bytecode of sshcore, its plugins and AsyncSSH, as pip does at install."""
    code = ("import compileall, importlib, os\n"
            "for name in ('sshcore', 'sshcore_auth', 'sshcore_ciphers', 'sshcore_compression',"
            " 'sshcore_kex_dh', 'sshcore_kex_ecdh', 'sshcore_kex_pq', 'sshcore_keys',"
            " 'sshcore_macs', 'sshcore_sftp', 'sshcore_openssl', 'asyncssh'):\n"
            "    try:\n        m = importlib.import_module(name)\n"
            "    except ImportError:\n        continue\n"
            "    compileall.compile_dir(os.path.dirname(m.__file__), quiet=1)\n")
    subprocess.run([sys.executable, "-c", code], env=_PROCESS_ENV, capture_output=True,
                   timeout=600)


def run_processes(env: SftpEnv, runs: int, size: int) -> int:
    """The whole-process section: rows, ratios and the targets; returns how many failed."""
    _compile_installed()
    (env.dir / "asyncssh_process.py").write_text(ASYNCSSH_PROCESS)
    for client in PROCESSES:
        env.verify(client, env.run_process)
    secs: dict[tuple[str, str], float] = {}
    for mode in ("get", "put"):
        for client in PROCESSES:
            times = [env.run_process(client, mode) for _ in range(runs)]
            secs[client, mode] = statistics.median(t[0] for t in times)
            cpu = statistics.median(t[1] for t in times)
            print(f"{mode:<4} {client:<13} {secs[client, mode]:7.3f} s "
                  f"{size / secs[client, mode] / 1e6:8.1f} MB/s  cpu {cpu:6.3f} s", flush=True)
    # The fixed cost: start-up, key exchange, authentication, the SFTP session, exit.
    one = env.dir / "one-byte.bin"
    one.write_bytes(b"x")
    print(f"\nFixed cost: a whole-process get of a 1-byte file (median of {runs}):")
    for client in PROCESSES:
        times = [env.run_process(client, "get", one) for _ in range(runs)]
        print(f"1B   {client:<13} {statistics.median(t[0] for t in times):7.3f} s  "
              f"cpu {statistics.median(t[1] for t in times):6.3f} s", flush=True)
    peers = [c for c in PROCESSES if c not in OURS]
    print(f"\nWhole processes ({size / 1048576:g} MiB, default settings, median of {runs}; "
          "ratios are speed, sshcore tool/peer):")
    print(f"{'dir':<4} {'tool':<13}" + "".join(f" {'vs ' + c:>16}" for c in peers))
    for mode in ("get", "put"):
        for ours in OURS:
            print(f"{mode:<4} {ours:<13}" + "".join(
                f" {secs[c, mode] / secs[ours, mode]:15.2f}x" for c in peers))
    failed = 0
    print("\nTargets:")
    for target in process_targets(secs):
        ok = target.verdict == "PASS"
        failed += not ok
        label = target.name.removeprefix(SUMMARY_PREFIX)  # "get sshcore-scp vs asyncssh"
        print(f"{target.verdict} {label}: {target.measured:.2f}x (target >= {target.required:g}x)")
    RESULTS[:] = process_targets(secs)
    return failed


#: How the bench's summary names these targets (before "get sshcore-scp vs asyncssh").
SUMMARY_PREFIX = "sftp whole process "
#: The last run_processes' targets (python -m bench prints them with the others).
RESULTS: list[Any] = []


def process_targets(secs: dict[tuple[str, str], float]) -> list[Any]:
    """Issue #18's SFTP targets, as the bench's Target rows (speed ratios, as printed)."""
    from .table import Target

    return [Target(f"{SUMMARY_PREFIX}{mode} {ours} vs {peer}",
                   round(secs[peer, mode] / secs[ours, mode], 2), want)
            for mode in ("get", "put") for ours in OURS for peer, want in PROCESS_TARGETS]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=float, default=256, help="MiB per transfer (default 256)")
    ap.add_argument("--runs", type=int, default=3, help="runs per figure; the median is printed")
    ap.add_argument("--server", choices=list(SERVERS), default="internal-sftp",
                    help="sshd's sftp server (default internal-sftp)")
    ap.add_argument("--cipher", default="aes128-ctr", help="cipher for every client")
    ap.add_argument("--mac", default="hmac-sha2-256-etm@openssh.com", help="MAC for every client")
    ap.add_argument("--clients", nargs="*", default=list(CLIENTS), choices=CLIENTS)
    ap.add_argument("--only", choices=("transfer", "process"),
                    help="one section: in-process transfers or whole processes (default both)")
    args = ap.parse_args(argv)
    size = max(1, int(args.size * 1024 * 1024))
    env = SftpEnv(size, args.server, args.cipher, args.mac)
    if args.only == "process":
        try:
            run_processes(env, args.runs, size)
        finally:
            env.close()
        return 0
    figures: dict[tuple[str, str], float] = {}
    try:
        for client in args.clients:
            env.verify(client)
        for mode in ("get", "put"):
            for client in args.clients:
                times = [env.run(client, mode) for _ in range(args.runs)]
                figures[client, mode] = size / statistics.median(times) / 1e6
                print(f"{mode:<4} {client:<9} {figures[client, mode]:9.1f} MB/s", flush=True)
    finally:
        env.close()
    peers = [c for c in args.clients if c != "sshcore"]
    print(f"\nSummary ({args.size:g} MiB through sshd's {args.server}, {args.cipher} + {args.mac},"
          f" median of {args.runs}; MB/s; ratios are sshcore/peer):")
    print(f"{'dir':<4} " + " ".join(f"{c:>9}" for c in args.clients)
          + "".join(f" {'vs ' + c:>12}" for c in peers))
    for mode in ("get", "put"):
        row = f"{mode:<4} " + " ".join(f"{figures[c, mode]:9.1f}" for c in args.clients)
        if "sshcore" in args.clients:
            ours = figures["sshcore", mode]
            row += "".join(f" {ours / figures[c, mode]:11.2f}x" for c in peers)
        print(row)
    if args.only is None:
        print()
        env = SftpEnv(size, args.server, args.cipher, args.mac)
        try:
            run_processes(env, args.runs, size)
        finally:
            env.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
