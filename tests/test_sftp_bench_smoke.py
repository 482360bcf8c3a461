"""The SFTP benchmark runs end to end on a tiny file and prints every row (never a timing
check): each library client's in-process get and put with the summary and a ratio per
peer, then the whole-process section (sshcore scp and sftp -b, an AsyncSSH script,
OpenSSH's sftp -b and scp) with wall and CPU seconds, each tool's fixed cost (a 1-byte
get), its ratio table and a PASS or FAIL line for each target."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

CLIENTS = ("sshcore", "asyncssh", "paramiko", "openssh")
PROCESSES = ("sshcore-scp", "sshcore-sftp", "asyncssh", "openssh-sftp", "openssh-scp")
NUMBER = r"\d+(\.\d+)?"
ROOT = Path(__file__).resolve().parents[1]


def _bench(*args: str) -> list[str]:
    r = subprocess.run([sys.executable, "-m", "bench.sftp_bench", "--size", "0.5", "--runs", "1",
                        *args], cwd=ROOT, capture_output=True, text=True, timeout=580)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def _check_transfers(lines: list[str]) -> None:
    for mode in ("get", "put"):
        for client in CLIENTS:
            assert any(re.fullmatch(rf"{mode}\s+{client}\s+{NUMBER} MB/s", line.strip())
                       for line in lines), (mode, client, lines)
    header = next(i for i, line in enumerate(lines) if line.startswith("dir "))
    assert lines[header].split() == ["dir", *CLIENTS, "vs", "asyncssh", "vs", "paramiko",
                                     "vs", "openssh"]
    for mode, line in zip(("get", "put"), lines[header + 1:header + 3]):
        cells = line.split()
        assert cells[0] == mode and len(cells) == 1 + len(CLIENTS) + 3, line
        assert all(re.fullmatch(NUMBER, c) for c in cells[1:5])
        assert all(re.fullmatch(NUMBER + "x", c) for c in cells[5:])


def _check_processes(lines: list[str]) -> None:
    for mode in ("get", "put"):
        for client in PROCESSES:
            assert any(re.fullmatch(rf"{mode}\s+{client}\s+{NUMBER} s\s+{NUMBER} MB/s\s+"
                                    rf"cpu\s+{NUMBER} s", line.strip())
                       for line in lines), (mode, client, lines)
    for client in PROCESSES:  # the fixed cost of each tool: a whole-process 1-byte get
        assert any(re.fullmatch(rf"1B\s+{client}\s+{NUMBER} s\s+cpu\s+{NUMBER} s", line.strip())
                   for line in lines), (client, lines)
    header = next(i for i, line in enumerate(lines) if line.startswith("dir  tool"))
    assert lines[header].split() == ["dir", "tool", "vs", "asyncssh", "vs", "openssh-sftp",
                                     "vs", "openssh-scp"]
    rows = [line.split() for line in lines[header + 1:header + 5]]
    assert [r[:2] for r in rows] == [["get", "sshcore-scp"], ["get", "sshcore-sftp"],
                                     ["put", "sshcore-scp"], ["put", "sshcore-sftp"]]
    assert all(re.fullmatch(NUMBER + "x", c) for r in rows for c in r[2:]) and \
        all(len(r) == 5 for r in rows)
    verdicts = [line for line in lines if re.match(r"(PASS|FAIL) ", line)]
    want = [f"{mode} {tool} vs {peer}" for mode in ("get", "put")
            for tool in ("sshcore-scp", "sshcore-sftp")
            for peer, _ in (("asyncssh", 1.2), ("openssh-sftp", 1.0))]
    assert [re.sub(r"^(PASS|FAIL) (.*?): .*", r"\2", v) for v in verdicts] == want, verdicts
    for v in verdicts:
        m = re.fullmatch(rf"(PASS|FAIL) .*: ({NUMBER})x \(target >= ({NUMBER})x\)", v)
        assert m, v
        # the verdict follows from the printed figures
        assert (m[1] == "PASS") == (float(m[2]) >= float(m[4])), v


@pytest.mark.interop
@pytest.mark.timeout(600)
def test_sftp_bench_prints_every_row():
    lines = _bench()
    _check_transfers(lines)
    _check_processes(lines)


@pytest.mark.interop
@pytest.mark.timeout(600)
def test_sftp_bench_process_section_alone():
    lines = _bench("--only", "process")
    assert not any("paramiko" in line for line in lines), lines
    _check_processes(lines)
