"""`python -m bench --smoke` runs every scenario and prints every row with a figure.

This checks that the suite runs and prints, never a timing: the smoke figures come from
a few KiB and a handful of connections and mean nothing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import paramiko
import pytest

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"^-?\d+(\.\d+)?(e[+-]?\d+)?$")

BULK_PAIRS = ["sshcore -> sshd", "ssh -> sshcore serve", "sshcore -> sshcore serve",
              "sshcore -> sshcore in-process", "asyncssh -> sshd",
              "asyncssh -> asyncssh in-process", "paramiko -> sshd", "ssh -> sshd"]
BULK_CIPHERS = {"aes128-ctr": ("aes128-ctr", "hmac-sha2-256-etm@openssh.com"),
                "aes256-gcm": ("aes256-gcm@openssh.com", None),
                "chacha20": ("chacha20-poly1305@openssh.com", None)}
LIB_PAIRS = ["sshcore -> sshcore in-process", "asyncssh -> asyncssh in-process",
             "sshcore -> sshd", "asyncssh -> sshd"]
HANDSHAKE_PAIRS = ["sshcore <-> sshcore, one event loop", "asyncssh <-> asyncssh, one event loop",
                   "sshcore -> sshd", "asyncssh -> sshd"]
#: issue 17: the blocking front-end beside paramiko (and the asyncio client), all to sshd
BLOCKING, PARAMIKO, ASYNCIO = "sshcore.blocking -> sshd", "paramiko -> sshd", "sshcore -> sshd"
BLOCKING_CASES = {"handshakes, default kex": ("handshakes/s", (BLOCKING, PARAMIKO)),
                  "handshakes, curve25519-sha256": ("handshakes/s", (BLOCKING, PARAMIKO))}
BLOCKING_CASES.update({f"bulk {short} {d}": ("MB/s", (BLOCKING, PARAMIKO, ASYNCIO))
                       for short in ("aes128-ctr", "aes256-gcm") for d in ("up", "down")})
# smoke mode moves 64 KiB per transfer
BLOCKING_CASES.update({f"SFTP {d} 0.0625 MiB": ("MB/s", (BLOCKING, PARAMIKO, ASYNCIO))
                       for d in ("get", "put")})
SCALE_CASES = ["KiB per idle connection", "seconds to open them",
               "pending timers per idle connection", "asyncio tasks per idle connection",
               "CPU while idle"]


def expected_rows() -> dict[tuple[str, str], str]:
    """(case, pair) -> unit, for every row the issue's five scenarios call for."""
    rows = {}
    for short in BULK_CIPHERS:
        for direction in ("up", "down"):
            for pair in BULK_PAIRS:
                rows[(f"{short} {direction}", pair)] = "MB/s"
    for case, unit in (("1-byte echo round trips", "ops/s"), ("1 KiB messages one way", "msgs/s")):
        for pair in LIB_PAIRS:
            rows[(case, pair)] = unit
    for case in ("sequential", "concurrent"):
        for pair in HANDSHAKE_PAIRS:
            rows[(case, pair)] = "handshakes/s"
    # the kex process pool's speed-up: the same sntrup761 fan-out to sshd, inline and pooled
    for pair in ("sshcore -> sshd", "sshcore -> sshd, 2-process kex pool"):
        rows[("concurrent, sntrup761x25519", pair)] = "handshakes/s"
    units = ["KiB/conn", "s", "timers/conn", "tasks/conn", "%"]
    for case, unit in zip(SCALE_CASES, units):
        for pair in ("sshcore server", "asyncssh server"):
            rows[(case, pair)] = unit
    for pair in LIB_PAIRS:
        rows[("sessions on one connection", pair)] = "s"
    # start-up (issue 18): whole processes, in-process connects, sntrup761's cost
    rows[("sshcore algorithms", "sshcore")] = "s"
    for case in ("run HOST true, default settings", "run HOST true, curve25519-sha256"):
        for pair in ("sshcore", "asyncssh", "OpenSSH ssh"):
            rows[(case, pair)] = "s"
    for pair in ("sshcore", "asyncssh"):
        rows[("in-process connect + exec, default settings", pair)] = "s"
    rows[("sntrup761 key pair + decapsulation", "sshcore")] = "ms"
    for case, (unit, pairs) in BLOCKING_CASES.items():
        for pair in pairs:
            rows[(case, pair)] = unit
    rows[("first registry build in a process", "sshcore")] = "ms"
    return rows


def paramiko_lacks(short: str) -> bool:
    cipher, mac = BULK_CIPHERS[short]
    t = paramiko.Transport
    return cipher not in t._preferred_ciphers or (mac is not None and mac not in t._preferred_macs)


def run_smoke(timeout: float = 120) -> tuple[int, str, str]:
    """``python -m bench --smoke``; on timeout it gets SIGTERM, so that it stops its own
    servers, and the test fails."""
    proc = subprocess.Popen([sys.executable, "-m", "bench", "--smoke"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
        pytest.fail(f"python -m bench --smoke took over {timeout:g} s:\n{out}\n{err[-3000:]}")
    return proc.returncode, out, err


@pytest.mark.timeout(180)
def test_bench_smoke_prints_every_row():
    code, stdout, stderr = run_smoke()
    assert code == 0, stderr[-3000:]
    printed = {}
    spread = {}
    for line in stdout.splitlines():
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cols) == 5:
            printed[(cols[0], cols[1])] = (cols[2], cols[3])
        elif line.startswith("| ") and len(cols) == 7:
            spread[(cols[0], cols[1])] = cols[2:]
    for (case, pair), unit in expected_rows().items():
        assert (case, pair) in printed, f"row {case} / {pair} missing:\n{stdout}"
        figure, got_unit = printed[(case, pair)]
        assert got_unit == unit, (case, pair, got_unit)
        if pair == PARAMIKO and case.split()[0] in BULK_CIPHERS and paramiko_lacks(case.split()[0]):
            assert figure.startswith("unsupported (paramiko"), (case, figure)
        else:
            assert NUMBER.match(figure), f"{case} / {pair}: no figure ({figure!r})"
    # the targets summary: one verdict per target, computed
    verdicts = [line for line in stdout.splitlines() if line.rstrip().endswith(("| PASS |", "| FAIL |"))]
    # startup's 4; bulk: 3 comparisons per cipher and direction; small, handshake, scale;
    # blocking: each case vs paramiko (1.5x), the bulk ones vs the asyncio client (0.9x)
    # sftp: both sshcore tools, get and put, vs AsyncSSH (1.2x) and OpenSSH's sftp (1.0x)
    assert len(verdicts) == 4 + 3 * 2 * 3 + 4 + 4 + 3 + 8 + 4 + 8, stdout
    for mode in ("get", "put"):
        for tool in ("sshcore-scp", "sshcore-sftp"):
            for peer, want in (("asyncssh", "1.2"), ("openssh-sftp", "1")):
                assert re.search(rf"^\| sftp whole process {mode} {tool} vs {peer} \| [\d.]+x \| "
                                 rf">= {want}x \| (PASS|FAIL) \|$", stdout, re.M), (mode, tool, peer)
    for case in BLOCKING_CASES:
        assert re.search(rf"^\| {re.escape(case)}: {BLOCKING} vs {PARAMIKO} \| [\d.]+x \| "
                         r">= 1\.5x \| (PASS|FAIL) \|$", stdout, re.M), case
        if case.startswith("bulk "):
            assert re.search(rf"^\| {re.escape(case)}: {BLOCKING} vs {ASYNCIO} \| [\d.]+x \| "
                             r">= 0\.9x \| (PASS|FAIL) \|$", stdout, re.M), case
    # the blocking scenario's spread: runs, min, median, max, (max - min) / median
    for case, (_, pairs) in BLOCKING_CASES.items():
        for pair in pairs:
            runs, lo, mid, hi, pct = spread[(case, pair)]
            assert runs == "1" and all(NUMBER.match(v) for v in (lo, mid, hi)), (case, pair)
            assert lo == mid == hi == printed[(case, pair)][0] and pct == "0%", (case, pair)
    # which key exchange each client's defaults settled on with sshd
    assert re.search(r"\(sshcore\.blocking: kex \S+, host key ssh-ed25519; "
                     r"paramiko: kex \S+, host key ssh-ed25519\)", stdout), stdout
    # the key exchange table is part of the default run
    assert "curve25519-sha256" in stdout and "(1.00x curve25519)" in stdout
    # which plugin served the measured algorithms (sshcore-openssl, when installed)
    from sshcore.registry import default_registry

    served = default_registry().provider("cipher", "aes128-ctr").split()[0]
    assert f"Served by: aes128-ctr {served}, " in stdout


@pytest.mark.timeout(120)
def test_bench_blocking_scenario_with_warmup():
    """``--warmup``: an untimed transfer on each connection before the timed one (the
    first transfer of a new connection runs at about half the speed of the next); the
    title says so and every bulk row still has its figure."""
    out = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--only", "blocking",
                          "--warmup", "0.0625"], cwd=ROOT, capture_output=True, text=True,
                         timeout=100)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "bulk 0.0625 MiB after 0.0625 MiB untimed" in out.stdout, out.stdout
    for case, (unit, pairs) in BLOCKING_CASES.items():
        for pair in pairs:
            assert re.search(rf"^\| {re.escape(case)} \| {re.escape(pair)} \| [\d.e+-]+ \| "
                             rf"{re.escape(unit)} \|", out.stdout, re.M), (case, pair)
