"""fail2ban's stock sshd filter against the log ``sshcore serve --log-file`` writes.

Failed password attempts (a known and an invalid user) must count as failures for the
client's address, exactly as for sshd's lines; a refused public key is what the stock
filter ignores in its default mode (as for sshd), and a login is no failure.
"""

from __future__ import annotations

import asyncio
import getpass
import re
import subprocess
import sys
from pathlib import Path

import pytest

import sshcore
from sshcore.keys import generate_private_key, public_key_line
from tests.load.serve import ServeProcess

pytestmark = pytest.mark.interop

FILTER = Path("/etc/fail2ban/filter.d/sshd.conf")


def fail2ban_regex(log: Path, *extra: str) -> str:
    if not FILTER.exists():
        pytest.fail("fail2ban is not installed (scripts/setup.sh installs it)")
    r = subprocess.run(["fail2ban-regex", *extra, str(log), str(FILTER)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


async def attempt(port: int, **kw) -> bool:
    try:
        async with sshcore.connect("127.0.0.1", port, known_hosts=None, config=None,
                                   agent_path=None, connect_timeout=20, **kw):
            return True
    except sshcore.SSHError:
        return False


def test_fail2ban_sshd_filter_counts_our_failures(tmp_path):
    passwords = tmp_path / "passwords"
    subprocess.run([sys.executable, "-m", "sshcore", "passwd", "--file", str(passwords), "--stdin",
                    "alice"], input=b"secret\n", check=True, capture_output=True, timeout=60)
    good, bad = generate_private_key("ssh-ed25519"), generate_private_key("ssh-ed25519")
    ak = tmp_path / "authorized_keys"
    ak.write_text(public_key_line(good) + "\n")
    log = tmp_path / "auth.log"
    me = getpass.getuser()

    async def clients(port: int) -> list[bool]:
        results = []
        for _ in range(3):
            results.append(await attempt(port, username="alice", password="wrong",
                                         client_keys=[], preferred_auth="password"))
        results.append(await attempt(port, username="mallory", password="x", client_keys=[],
                                     preferred_auth="password"))
        results.append(await attempt(port, username=me, client_keys=[bad]))
        results.append(await attempt(port, username=me, client_keys=[good]))
        results.append(await attempt(port, username="alice", password="secret", client_keys=[],
                                     preferred_auth="password"))
        return results

    with ServeProcess(tmp_path / "home", "--password-file", str(passwords), "--authorized-keys",
                      str(ak), "--log-file", str(log), "--per-source-penalties", "no") as srv:
        assert asyncio.run(asyncio.wait_for(clients(srv.port), 120)) == [False] * 5 + [True] * 2
    text = log.read_text()
    assert re.search(rf"^\w{{3}} [ \d]\d \d\d:\d\d:\d\d \S+ sshd\[\d+\]: Accepted publickey for {me} "
                     r"from 127\.0\.0\.1 port \d+ ssh2: ED25519 SHA256:", text, re.M), text
    assert text.count("Failed password for alice from 127.0.0.1 port ") == 3
    assert "Failed publickey for" in text and "Accepted password for alice" in text

    # 3 x "Failed password for alice", "Invalid user mallory", "Failed password for
    # invalid user mallory": five failures, all from the client's address
    assert fail2ban_regex(log, "-o", "ip").split() == ["127.0.0.1"] * 5
    out = fail2ban_regex(log)
    lines = re.search(r"^Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed", out, re.M)
    assert lines is not None, out
    assert int(lines.group(3)) == 5, out
    assert int(lines.group(1)) == len(text.splitlines())
    missed = out.split("Missed line(s):", 1)[-1] if "Missed line(s):" in out else ""
    assert "Failed password" not in missed and "Invalid user" not in missed
