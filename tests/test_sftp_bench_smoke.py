"""The SFTP benchmark runs end to end on a tiny file and prints every row (never a timing
check): each client's get and put, and the summary with a ratio per peer."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

CLIENTS = ("sshcore", "asyncssh", "paramiko", "openssh")


@pytest.mark.interop
@pytest.mark.timeout(300)
def test_sftp_bench_prints_every_row():
    root = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, "-m", "bench.sftp_bench", "--size", "0.5", "--runs", "1"],
                       cwd=root, capture_output=True, text=True, timeout=280)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    number = r"\d+(\.\d+)?"
    for mode in ("get", "put"):
        for client in CLIENTS:
            assert any(re.fullmatch(rf"{mode}\s+{client}\s+{number} MB/s", line.strip())
                       for line in lines), (mode, client, r.stdout)
    header = next(i for i, line in enumerate(lines) if line.startswith("dir "))
    assert lines[header].split() == ["dir", *CLIENTS, "vs", "asyncssh", "vs", "paramiko",
                                     "vs", "openssh"]
    for mode, line in zip(("get", "put"), lines[header + 1:header + 3]):
        cells = line.split()
        assert cells[0] == mode and len(cells) == 1 + len(CLIENTS) + 3, line
        assert all(re.fullmatch(number, c) for c in cells[1:5])
        assert all(re.fullmatch(number + "x", c) for c in cells[5:])
