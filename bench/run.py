"""sshcore against OpenSSH, AsyncSSH and paramiko, measured in one run.

    python -m bench [--only startup,bulk,small,handshake,scale,sessions,blocking,sftp,kex]
                    [--size MiB] [--runs N]
    python -m bench --smoke        # a few KiB per scenario, a handful of connections

Starts its own sshd, `sshcore serve` and in-process sshcore and AsyncSSH servers on
127.0.0.1, runs each scenario for sshcore and for the peers, and prints one table per
scenario (medians of N runs, interleaved) with the ratios sshcore/peer, then the
issue's targets with the measured ratio and PASS/FAIL.  Ratios read "how many times
better": sshcore/peer for rates, peer/sshcore for seconds and KiB.  Every figure is
measured in this run; nothing is hard-coded.

Scenarios: startup (whole-process ``sshcore algorithms`` and ``sshcore run HOST true``
against an AsyncSSH script and ``ssh``, in-process connects with default settings,
sntrup761's cost; see bench/startup.py), bulk (MB/s up and down per cipher), small (1-byte echo round trips/s and
1 KiB messages/s one way), handshake (connect + kex + ed25519 auth + exec + close per
second, sequential and concurrent), scale (idle connections to one server process: KiB
per connection, seconds to open, timers, idle CPU), sessions (many sessions on one
connection, each downloading 1 MiB: seconds), blocking (sshcore.blocking beside paramiko and
the asyncio client: handshakes/s with the default kex and curve25519, bulk MB/s for
aes128-ctr and aes256-gcm, SFTP get and put of --size MiB; see bench/blocking.py), kex
(key exchange computations/s).
All but bulk use aes256-gcm@openssh.com; every client uses curve25519-sha256.

Bulk moves 64 MiB per transfer by default, not the issue's 256 MiB: on the shared 2-core
bench machine the 256 MiB matrix alone (3 ciphers x 2 directions x 8 pairs x 3 runs)
took over 15 minutes (a full 256 MiB run of everything: 27 minutes).  `--size 256`
runs the issue's figure.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import time
from importlib import metadata

from . import blocking, bulk, handshake, scale, sessions, small, startup
from .env import CIPHERS, DEFAULT_CIPHER, KEX, Env
from .kex import kex_table
from .table import (Cell, Row, Target, measure, print_rows, print_spread, print_targets, profile,
                    rows_of)

SCENARIOS = ["startup", "bulk", "small", "handshake", "scale", "sessions", "blocking", "sftp",
             "kex"]
DEFAULT_SIZE_MIB = 64


def describe_machine() -> None:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor() or "?")
    ssh = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr.strip()
    versions = ", ".join(f"{name} {metadata.version(name)}"
                         for name in ("sshcore", "asyncssh", "paramiko", "pycryptodome",
                                      "cryptography"))
    print(f"Machine: {cpu}, {os.cpu_count()} cores, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; Python {platform.python_version()};"
          f" {ssh}; {versions}")
    # Which plugin serves the measured algorithms (SSHCORE_BLOCK_PLUGINS=openssl: the run
    # without sshcore-openssl, whose OpenSSL implementations otherwise serve them).
    from sshcore.registry import default_registry

    reg = default_registry()
    names = [("cipher", c) for c, _ in CIPHERS.values()] + [("kex", KEX)]
    print("Served by: " + ", ".join(f"{n} {reg.provider(f, n).split()[0]}" for f, n in names))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(SCENARIOS),
                    help=f"comma-separated scenarios (default: all of {','.join(SCENARIOS)})")
    ap.add_argument("--kex", action="store_true", help="only the key exchange table (--only kex)")
    ap.add_argument("--kex-seconds", type=float, default=1.0, help="time per key exchange row")
    ap.add_argument("--size", type=int, default=DEFAULT_SIZE_MIB,
                    help=f"bulk MiB per transfer, and the blocking scenario's SFTP file (default {DEFAULT_SIZE_MIB}; the issue's "
                         "256 takes over 15 minutes for the bulk matrix alone)")
    ap.add_argument("--runs", type=int, default=3, help="runs per figure; the median is printed")
    ap.add_argument("--warmup", type=float, default=0,
                    help="bulk and blocking scenarios: an untimed transfer of this many MiB on "
                         "each connection before the timed one (default 0: the first transfer "
                         "of a new connection is timed; it runs at about half the speed of the "
                         "next on loopback)")
    ap.add_argument("--ciphers", default=",".join(CIPHERS),
                    help=f"bulk ciphers, comma-separated (default {','.join(CIPHERS)})")
    ap.add_argument("--messages", type=int, default=5000, help="small-message count per run")
    ap.add_argument("--handshakes", type=int, default=100, help="sequential handshakes per run")
    ap.add_argument("--connects", type=int, default=20,
                    help="startup: in-process sequential connects per run (default settings)")
    ap.add_argument("--concurrent", type=int, default=100, help="concurrent handshakes per run")
    ap.add_argument("--connections", type=int, default=1000, help="scale: idle connections")
    ap.add_argument("--batch", type=int, default=50, help="scale: connections opened at once")
    ap.add_argument("--idle-seconds", type=float, default=5.0,
                    help="scale: idle window over which the server's CPU is measured")
    ap.add_argument("--sessions", type=int, default=100, help="sessions on one connection")
    ap.add_argument("--session-mib", type=float, default=1.0, help="MiB each session downloads")
    ap.add_argument("--profile", default="",
                    help="comma-separated scenarios (bulk, small, handshake, sessions, blocking) whose "
                         "sshcore client jobs run once more under cProfile, untimed; the merged "
                         "top entries are printed after their table")
    ap.add_argument("--smoke", action="store_true",
                    help="a few KiB per scenario, 5 connections, 3 concurrent, one run (the test "
                         "suite runs this; its figures mean nothing)")
    args = ap.parse_args(argv)
    args.only = ["kex"] if args.kex else [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - set(SCENARIOS)
    if unknown:
        ap.error(f"unknown scenario(s) {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}")
    args.profile = [p.strip() for p in args.profile.split(",") if p.strip()]
    if set(args.profile) - {"bulk", "small", "handshake", "sessions", "blocking"}:
        ap.error("--profile takes bulk, small, handshake, sessions and blocking")
    args.ciphers = [c.strip() for c in args.ciphers.split(",") if c.strip()]
    bad = set(args.ciphers) - set(CIPHERS)
    if bad:
        ap.error(f"unknown cipher(s) {', '.join(sorted(bad))}; choose from {', '.join(CIPHERS)}")
    args.size_bytes = args.size * 1024 * 1024
    args.warmup_bytes = int(args.warmup * 1024 * 1024)
    args.session_bytes = int(args.session_mib * 1024 * 1024)
    if args.smoke:
        args.size_bytes, args.runs, args.messages = 64 * 1024, 1, 20
        args.handshakes, args.concurrent, args.connects = 3, 3, 2
        args.connections, args.batch, args.idle_seconds = 5, 5, 0.2
        args.sessions, args.session_bytes = 5, 16 * 1024
        args.kex_seconds = min(args.kex_seconds, 0.05)
    return args


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through Env.close(): no server is left behind


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    started = time.perf_counter()
    if args.only == ["kex"]:
        kex_table(args.kex_seconds)
        return
    describe_machine()
    print(f"Scenarios: {', '.join(args.only)}; median of {args.runs} run(s); key exchange {KEX},"
          f" ed25519 host and user keys" + ("; SMOKE MODE: the figures mean nothing" if args.smoke else ""))
    batch = args.smoke
    targets: list[Target] = []

    def scenario(name: str, title: str, todo: list[Cell], comparisons: dict[str, list[str]]) -> list[Row]:
        measure(env, todo, args.runs, batch)
        rows = rows_of(name, todo)
        print_rows(title, rows, comparisons)
        if name == "blocking":  # issue 17 asks how far the runs spread
            print_spread(todo)
        if name in args.profile:  # the blocking scenario: the blocking client's jobs
            profile(env, title, todo, lib="sshcore-blocking" if name == "blocking" else "sshcore")
        return rows

    with Env() as env:
        if "startup" in args.only:
            rows = scenario("startup", "Start-up and connect, default settings (whole processes "
                            "unless in-process), seconds", startup.cells(env, args.connects),
                            startup.COMPARISONS)
            targets += startup.targets(rows)
        if "bulk" in args.only:
            size = args.size_bytes
            rows = scenario("bulk", f"Bulk: {size / 1048576:g} MiB per transfer, MB/s",
                            bulk.cells(env, size, args.ciphers, args.warmup_bytes), bulk.COMPARISONS)
            targets += bulk.targets(rows, args.ciphers)
        if "small" in args.only:
            rows = scenario("small", f"Small messages: {args.messages} per run, {DEFAULT_CIPHER}",
                            small.cells(env, args.messages), small.COMPARISONS)
            targets += small.targets(rows)
        if "handshake" in args.only:
            rows = scenario("handshake", f"Handshakes: {args.handshakes} sequential, "
                            f"{args.concurrent} concurrent, {DEFAULT_CIPHER}",
                            handshake.cells(env, args.handshakes, args.concurrent),
                            handshake.COMPARISONS)
            targets += handshake.targets(rows)
        if "scale" in args.only:
            rows = scale.run(env, args.connections, args.batch, args.idle_seconds, args.runs)
            print_rows(f"Scale: {args.connections} idle connections to one server process, "
                       f"opened {args.batch} at a time; idle CPU over {args.idle_seconds:g} s",
                       rows, scale.COMPARISONS)
            targets += scale.targets(rows)
        if "sessions" in args.only:
            scenario("sessions", f"Many sessions: {args.sessions} at once on one connection, "
                     f"each downloading {args.session_bytes / 1048576:g} MiB, seconds",
                     sessions.cells(env, args.sessions, args.session_bytes), sessions.COMPARISONS)
        if "blocking" in args.only:
            size = args.size_bytes
            rows = scenario("blocking", "The blocking front-end beside paramiko, all to sshd: "
                            f"{args.handshakes} sequential handshakes ({DEFAULT_CIPHER}), "
                            f"bulk {size / 1048576:g} MiB"
                            + (f" after {args.warmup:g} MiB untimed" if args.warmup_bytes else "")
                            + f", SFTP aes128-ctr ({blocking.negotiated(env)})",
                            blocking.cells(env, size, args.handshakes, args.warmup_bytes),
                            blocking.COMPARISONS)
            targets += blocking.targets(rows, size)
    if "sftp" in args.only:
        from . import sftp_bench

        size = args.size_bytes
        print(f"\n### SFTP and SCP, whole processes with default settings: "
              f"{size / 1048576:g} MiB through sshd's internal-sftp, median of {args.runs}\n")
        senv = sftp_bench.SftpEnv(size, "internal-sftp", "aes128-ctr",
                                  "hmac-sha2-256-etm@openssh.com")
        try:
            sftp_bench.run_processes(senv, args.runs, size)
        finally:
            senv.close()
        targets += sftp_bench.RESULTS
    if "kex" in args.only:
        print()
        kex_table(args.kex_seconds)
    if targets:
        print_targets(targets)
    print(f"\nTotal {time.perf_counter() - started:.0f} s; load average now "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}.")
    sys.stdout.flush()


__all__ = ["main"]
