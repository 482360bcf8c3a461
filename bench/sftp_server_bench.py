"""SFTP server throughput: our SFTP server against OpenSSH's sftp-server, same SSH stack.

    python -m bench.sftp_server_bench [--size MiB] [--runs N] [--cipher NAME]

Starts two ``sshcore serve`` on 127.0.0.1: one offering the sshcore-sftp plugin's
server (rooted at a scratch directory), one running OpenSSH's ``sftp-server`` as its
sftp subsystem (``--subsystem sftp=...``), and, for reference, ``sshd`` with
``internal-sftp``.  OpenSSH's ``sftp`` client then gets and puts one SIZE MiB file of
random bytes through each, checking every copy by SHA-256.  It prints MB/s (the median
of N runs; the median time of an empty batch, i.e. connection set-up, is subtracted),
the CPU seconds the server process tree used per GiB, and the ratios of our server to
sftp-server behind the same transport.  Every figure is measured in this run.
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

SFTP_SERVER = "/usr/lib/openssh/sftp-server"


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process and its reaped children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(f) for f in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


class Bench:
    def __init__(self, size_mib: int, cipher: str | None) -> None:
        self.dir = d = Path(tempfile.mkdtemp(prefix="sshcore-sftp-bench-"))
        for name in ("host", "user"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True)
        (d / "authorized_keys").write_text((d / "user.pub").read_text())
        self.root = d / "root"
        self.root.mkdir()
        self.local = d / "local"
        self.local.mkdir()
        self.src = self.local / "src.bin"
        with open(self.src, "wb") as f:
            for _ in range(size_mib):
                f.write(os.urandom(1 << 20))
        shutil.copy(self.src, self.root / "src.bin")
        self.digest = sha256(self.src)
        self.size = size_mib << 20
        self.cipher = cipher
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}
        self.prefix: dict[str, str] = {}
        self._serve("sshcore-sftp", "--sftp-root", str(self.root))
        self.prefix["sshcore-sftp"] = ""
        self._serve("sftp-server", "--subsystem", f"sftp={SFTP_SERVER}")
        self.prefix["sftp-server"] = f"{self.root}/"
        port = free_port()
        cfg = d / "sshd_config"
        cfg.write_text(f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {d / 'host'}\nPidFile none\n"
                       f"AuthorizedKeysFile {d / 'authorized_keys'}\nStrictModes no\nUsePAM no\n"
                       "PermitRootLogin yes\nPasswordAuthentication no\nSubsystem sftp internal-sftp\n")
        os.makedirs("/run/sshd", exist_ok=True)
        self.procs["sshd internal-sftp"] = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(cfg)],
                                                            stderr=subprocess.DEVNULL)
        self.ports["sshd internal-sftp"] = port
        self.prefix["sshd internal-sftp"] = f"{self.root}/"
        for name, p in self.ports.items():
            wait_port(p, self.procs[name])
        self._setup: dict[str, float] = {}

    def _serve(self, name: str, *extra: str) -> None:
        port = free_port()
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "sshcore", "serve", "--listen", f"127.0.0.1:{port}",
             "--host-key", str(self.dir / "host"), "--authorized-keys",
             str(self.dir / "authorized_keys"), *extra], stderr=subprocess.DEVNULL)
        self.ports[name] = port

    def close(self) -> None:
        for p in self.procs.values():
            p.terminate()
            p.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def sftp(self, name: str, *lines: str) -> float:
        batch = self.dir / "batch"
        batch.write_text("".join(line + "\n" for line in lines))
        args = ["sftp", "-F", "/dev/null", "-P", str(self.ports[name]), "-i", str(self.dir / "user"),
                "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
                "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-q"]
        if self.cipher:
            args += ["-o", f"Ciphers={self.cipher}"]
        t0 = time.perf_counter()
        subprocess.run(args + ["-b", str(batch), f"{getpass.getuser()}@127.0.0.1"], check=True,
                       stdout=subprocess.DEVNULL, timeout=1800, cwd=self.local)
        return time.perf_counter() - t0

    def setup_time(self, name: str) -> float:
        if name not in self._setup:
            self._setup[name] = statistics.median(self.sftp(name, "pwd") for _ in range(3))
        return self._setup[name]

    def run(self, name: str, mode: str) -> tuple[float, float]:
        """One transfer: (seconds, server CPU seconds)."""
        setup = self.setup_time(name)
        pid = self.procs[name].pid
        remote = self.prefix[name]
        cpu0 = cpu_seconds(pid)
        if mode == "get":
            dt = self.sftp(name, f"get {remote}src.bin got.bin")
            copy = self.local / "got.bin"
        else:
            dt = self.sftp(name, f"put src.bin {remote}put.bin")
            copy = self.root / "put.bin"
        cpu = cpu_seconds(pid) - cpu0
        if sha256(copy) != self.digest:
            raise SystemExit(f"{name} {mode}: the copy differs from the original")
        copy.unlink()
        return max(dt - setup, 1e-6), cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256, help="MiB per transfer (default 256)")
    ap.add_argument("--runs", type=int, default=3, help="runs per figure; the median is printed")
    ap.add_argument("--cipher", help="the ssh client's Ciphers= (default: OpenSSH's choice)")
    args = ap.parse_args()
    b = Bench(args.size, args.cipher)
    try:
        rates: dict[tuple[str, str], float] = {}
        print(f"OpenSSH sftp client, {args.size} MiB, median of {args.runs}"
              f"{', cipher ' + args.cipher if args.cipher else ''}")
        print(f"{'server':<22}{'mode':<6}{'MB/s':>9}{'CPU s/GiB':>11}")
        for name in b.ports:
            for mode in ("get", "put"):
                runs = [b.run(name, mode) for _ in range(args.runs)]
                dt = statistics.median(r[0] for r in runs)
                cpu = statistics.median(r[1] for r in runs)
                rates[name, mode] = b.size / dt / 1e6
                print(f"{name:<22}{mode:<6}{rates[name, mode]:>9.1f}{cpu / (b.size / 2**30):>11.2f}",
                      flush=True)
        for mode in ("get", "put"):
            ratio = rates["sshcore-sftp", mode] / rates["sftp-server", mode]
            print(f"{mode}: sshcore-sftp / sftp-server behind sshcore serve = {ratio:.2f}x")
    finally:
        b.close()


if __name__ == "__main__":
    main()
