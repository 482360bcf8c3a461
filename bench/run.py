"""Bulk throughput benchmark: sshcore against OpenSSH and AsyncSSH, measured in one run.

    python -m bench [--size MiB] [--runs N] [--ciphers ...]

Starts its own sshd and `sshcore serve` on 127.0.0.1, then moves SIZE MiB up and down
through each (client, server, cipher) pair and prints MB/s (median of N runs) and the
ratios of sshcore to the peers.  Nothing here is hard-coded: every figure is measured.
"""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CIPHERS = {
    "aes128-ctr": ("aes128-ctr", "hmac-sha2-256-etm@openssh.com"),
    "aes256-gcm": ("aes256-gcm@openssh.com", None),
    "chacha20": ("chacha20-poly1305@openssh.com", None),
}

CLIENT_SCRIPT = r'''
import asyncio, sys, time
mode, lib, port, key, kh, cipher, mac, size = sys.argv[1:9]
size = int(size)
CHUNK = 256 * 1024
async def main():
    if lib == "sshcore":
        import sshcore
        kw = dict(encryption_algs=[cipher])
        if mac != "-":
            kw["mac_algs"] = [mac]
        conn = await sshcore.connect("127.0.0.1", int(port), client_keys=[key], known_hosts=kh, **kw)
        create = lambda cmd: conn.create_process(cmd, encoding=None)
    else:
        import asyncssh
        kw = dict(encryption_algs=[cipher])
        if mac != "-":
            kw["mac_algs"] = [mac]
        conn = await asyncssh.connect("127.0.0.1", int(port), client_keys=[key], known_hosts=kh, **kw)
        create = lambda cmd: conn.create_process(cmd, encoding=None)
    t0 = time.perf_counter()
    if mode == "up":
        proc = await create("cat > /dev/null")
        block = bytes(CHUNK)
        for _ in range(size // CHUNK):
            proc.stdin.write(block)
            await proc.stdin.drain()
        proc.stdin.write_eof()
        await proc.wait()
    else:
        proc = await create(f"head -c {size} /dev/zero")
        got = 0
        while True:
            data = await proc.stdout.read(1 << 20)
            if not data:
                break
            got += len(data)
        assert got == size, got
        await proc.wait()
    dt = time.perf_counter() - t0
    conn.close()
    print(dt)
asyncio.run(main())
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


class Env:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sshcore-bench-"))
        d = self.dir
        for name in ("host", "user"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True)
        (d / "authorized_keys").write_text((d / "user.pub").read_text())
        os.makedirs("/run/sshd", exist_ok=True)
        self.sshd_port = free_port()
        cfg = d / "sshd_config"
        cfg.write_text(f"ListenAddress 127.0.0.1\nPort {self.sshd_port}\nHostKey {d / 'host'}\n"
                       f"PidFile none\nAuthorizedKeysFile {d / 'authorized_keys'}\nStrictModes no\n"
                       "UsePAM no\nPermitRootLogin yes\nPasswordAuthentication no\nSetEnv SHLVL=1\n"
                       f"Ciphers {','.join(c for c, _ in CIPHERS.values())}\n")
        self.sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(cfg)],
                                     stderr=subprocess.DEVNULL)
        self.our_port = free_port()
        self.ours = subprocess.Popen([sys.executable, "-m", "sshcore", "serve", "--listen",
                                      f"127.0.0.1:{self.our_port}", "--host-key", str(d / "host"),
                                      "--authorized-keys", str(d / "authorized_keys")],
                                     stderr=subprocess.DEVNULL)
        wait_port(self.sshd_port)
        wait_port(self.our_port)
        self.kh = d / "known_hosts"
        pub = (d / "host.pub").read_text()
        self.kh.write_text(f"[127.0.0.1]:{self.sshd_port} {pub}[127.0.0.1]:{self.our_port} {pub}")
        (d / "client.py").write_text(CLIENT_SCRIPT)
        self._setup: dict[tuple[int, str, str | None], float] = {}

    def close(self) -> None:
        for p in (self.sshd, self.ours):
            p.terminate()
            p.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def ssh_setup_time(self, port: int, cipher: str, mac: str | None) -> float:
        """Median time of `ssh ... true`: connection set-up, subtracted from ssh's transfers
        so that every figure counts the transfer only, as the library clients do."""
        key = (port, cipher, mac)
        if key not in self._setup:
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                subprocess.run(self._ssh_args(port, cipher, mac) + ["true"], check=True, timeout=60)
                times.append(time.perf_counter() - t0)
            self._setup[key] = statistics.median(times)
        return self._setup[key]

    def _ssh_args(self, port: int, cipher: str, mac: str | None) -> list[str]:
        args = ["ssh", "-F", "/dev/null", "-p", str(port), "-i", str(self.dir / "user"),
                "-o", f"UserKnownHostsFile={self.kh}", "-o", "BatchMode=yes", "-o", f"Ciphers={cipher}",
                "-o", "Compression=no"]
        if mac:
            args += ["-o", f"MACs={mac}"]
        args.append(f"{getpass.getuser()}@127.0.0.1")
        return args

    def ssh(self, port: int, mode: str, cipher: str, mac: str | None, size: int) -> float:
        setup = self.ssh_setup_time(port, cipher, mac)
        args = self._ssh_args(port, cipher, mac)
        t0 = time.perf_counter()
        if mode == "up":
            src = subprocess.Popen(["head", "-c", str(size), "/dev/zero"], stdout=subprocess.PIPE)
            subprocess.run(args + ["cat > /dev/null"], stdin=src.stdout, check=True, timeout=1800)
            src.wait()
        else:
            subprocess.run(args + [f"head -c {size} /dev/zero"], stdout=subprocess.DEVNULL,
                           check=True, timeout=1800)
        return time.perf_counter() - t0 - setup

    def lib(self, lib: str, port: int, mode: str, cipher: str, mac: str | None, size: int) -> float:
        out = subprocess.run([sys.executable, str(self.dir / "client.py"), mode, lib, str(port),
                              str(self.dir / "user"), str(self.kh), cipher, mac or "-", str(size)],
                             capture_output=True, text=True, timeout=1800)
        if out.returncode:
            raise RuntimeError(out.stderr[-2000:])
        return float(out.stdout.split()[-1])


KEX_METHODS = ["curve25519-sha256", "mlkem768x25519-sha256", "sntrup761x25519-sha512",
               "ecdh-sha2-nistp256", "diffie-hellman-group14-sha256"]


def kex_table(seconds: float = 1.0) -> None:
    """Key exchanges per second (the kex computation only, client and server side together,
    host key signature excluded), through the registered plugins."""
    from sshcore.interfaces import KexContext
    from sshcore.registry import default_registry

    reg = default_registry()

    def once(name: str) -> None:
        factory = reg.get("kex", name).factory
        base = dict(client_version=b"SSH-2.0-a", server_version=b"SSH-2.0-b",
                    client_kexinit=b"ci", server_kexinit=b"si")
        client = factory(KexContext(role="client", **base))
        server = factory(KexContext(role="server", host_key_blob=b"k", sign=lambda h: b"s", **base))
        msgs = client.start().send
        if not msgs:  # server speaks first (none here) or group exchange: skip
            return
        reply = None
        for m in msgs:
            step = server.receive(m)
            reply = step.send
        for m in reply or []:
            client.receive(m)

    print("Key exchange computations per second (client + server, one core):")
    base_rate = None
    for name in KEX_METHODS:
        count, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            once(name)
            count += 1
        rate = count / (time.perf_counter() - t0)
        base_rate = base_rate or rate
        print(f"  {name:<32} {rate:8.1f}/s  {1000 / rate:7.2f} ms  ({rate / base_rate:.2f}x curve25519)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kex", action="store_true", help="only the key exchange table")
    ap.add_argument("--kex-seconds", type=float, default=1.0, help="time per key exchange row")
    ap.add_argument("--size", type=int, default=256, help="MiB per transfer (default 256)")
    ap.add_argument("--runs", type=int, default=3, help="runs per figure; the median is printed")
    ap.add_argument("--ciphers", nargs="*", default=list(CIPHERS), choices=list(CIPHERS))
    args = ap.parse_args()
    kex_table(args.kex_seconds)
    if args.kex:
        return
    size = args.size * 1024 * 1024
    env = Env()
    rows = []
    try:
        for short in args.ciphers:
            cipher, mac = CIPHERS[short]
            pairs = {
                "ssh -> sshd": lambda m: env.ssh(env.sshd_port, m, cipher, mac, size),
                "sshcore -> sshd": lambda m: env.lib("sshcore", env.sshd_port, m, cipher, mac, size),
                "asyncssh -> sshd": lambda m: env.lib("asyncssh", env.sshd_port, m, cipher, mac, size),
                "ssh -> sshcore": lambda m: env.ssh(env.our_port, m, cipher, mac, size),
                "sshcore -> sshcore": lambda m: env.lib("sshcore", env.our_port, m, cipher, mac, size),
            }
            for mode in ("up", "down"):
                figures = {}
                for name, fn in pairs.items():
                    times = [fn(mode) for _ in range(args.runs)]
                    figures[name] = size / statistics.median(times) / 1e6
                    print(f"{short:<11} {mode:<5} {name:<20} {figures[name]:8.1f} MB/s", flush=True)
                rows.append((short, mode, figures))
    finally:
        env.close()
    print(f"\nSummary ({args.size} MiB, median of {args.runs}; MB/s; ratios are sshcore/peer):")
    print(f"{'cipher':<11} {'dir':<5} {'ssh->sshd':>10} {'sshcore->sshd':>14} {'asyncssh->sshd':>15}"
          f" {'ssh->sshcore':>13} {'vs ssh':>7} {'vs asyncssh':>12}")
    for short, mode, f in rows:
        ours = f["sshcore -> sshd"]
        print(f"{short:<11} {mode:<5} {f['ssh -> sshd']:10.1f} {ours:14.1f} {f['asyncssh -> sshd']:15.1f}"
              f" {f['ssh -> sshcore']:13.1f} {ours / f['ssh -> sshd']:7.2f} {ours / f['asyncssh -> sshd']:12.2f}")


if __name__ == "__main__":
    main()
