"""SFTP throughput: sshcore's client against AsyncSSH's, paramiko's and OpenSSH's ``sftp``.

    python -m bench.sftp_bench [--size MiB] [--runs N] [--server internal-sftp|sftp-server]

Starts its own sshd on 127.0.0.1, then times a get and a put of one SIZE MiB file of
random bytes through it with each client (same cipher and MAC for all), checks that
each copy arrived whole, and prints MB/s (the median of N runs) and the ratios of
sshcore to each peer.  Nothing is hard-coded: every figure is measured in this run.
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
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.env import free_port, wait_port

CLIENTS = ("sshcore", "asyncssh", "paramiko", "openssh")
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
        digest = hashlib.sha256()
        with open(self.source, "wb") as f:
            left = size
            while left:
                block = os.urandom(min(left, 1 << 20))
                digest.update(block)
                f.write(block)
                left -= len(block)
        self.size = size
        self.sha256 = digest.hexdigest()
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

    def verify(self, client: str) -> None:
        """One more get and put, checked by sha256 (outside the timed runs)."""
        for mode in ("get", "put"):
            self.run(client, mode)
            copy = self.dir / ("local.out" if mode == "get" else "remote.out")
            digest = hashlib.sha256(copy.read_bytes()).hexdigest()
            if digest != self.sha256:
                raise RuntimeError(f"{client} {mode}: the copy's sha256 differs")


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
    args = ap.parse_args(argv)
    size = max(1, int(args.size * 1024 * 1024))
    env = SftpEnv(size, args.server, args.cipher, args.mac)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
