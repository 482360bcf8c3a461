"""known_hosts against sshd: hashed names (ssh-keygen -H), patterns and negation,
@revoked, several keys per host, and accept-new recording lines that ssh and ssh-keygen
read back."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

import sshcore

pytestmark = pytest.mark.interop


def attempt(sshd, keys, known_hosts, **kwargs):
    async def main():
        kh = known_hosts if isinstance(known_hosts, list) else str(known_hosts)
        async with sshcore.connect("127.0.0.1", sshd.port, client_keys=[keys.user["ed25519"]],
                                   known_hosts=kh, **kwargs) as conn:
            return (await conn.run("echo trusted")).stdout

    return asyncio.run(asyncio.wait_for(main(), 30))


def host_key_line(keys, kind="ed25519"):
    return " ".join(Path(f"{keys.host[kind]}.pub").read_text().split()[:2])


def test_hashed_names_patterns_and_several_keys(start_sshd, keys, tmp_path):
    sshd = start_sshd()
    kh = tmp_path / "known_hosts"
    name = f"[127.0.0.1]:{sshd.port}"
    # hashed by the real ssh-keygen -H
    kh.write_text(f"{name} {host_key_line(keys)}\n")
    subprocess.run(["ssh-keygen", "-H", "-f", str(kh)], check=True, capture_output=True)
    assert kh.read_text().startswith("|1|")
    assert attempt(sshd, keys, kh) == "trusted\n"
    # wildcard patterns, and another key type for the same host listed first
    kh.write_text(f"[127.0.0.?]:{sshd.port},other.example {host_key_line(keys, 'rsa')}\n"
                  f"[127.0.0.*]:{sshd.port},other.example {host_key_line(keys)}\n")
    assert attempt(sshd, keys, kh) == "trusted\n"
    # a negated pattern excludes the host even though a wildcard matches it
    kh.write_text(f"!{name},[127.0.0.*]:{sshd.port} {host_key_line(keys)}\n")
    with pytest.raises(sshcore.HostKeyNotVerifiableError, match="host is not in"):
        attempt(sshd, keys, kh)


def test_revoked_key_is_refused_even_when_listed(start_sshd, keys, tmp_path):
    sshd = start_sshd()
    kh = tmp_path / "known_hosts"
    kh.write_text(f"# comment\n[127.0.0.1]:{sshd.port} {host_key_line(keys)}\n"
                  f"@revoked * {host_key_line(keys)}\n")
    with pytest.raises(sshcore.HostKeyNotVerifiableError,
                       match=rf"ssh-ed25519 SHA256:\S+ is marked @revoked in {kh} line 3"):
        attempt(sshd, keys, kh)


def test_several_files_other_types_and_the_mismatch_names_its_line(start_sshd, keys, tmp_path):
    sshd = start_sshd()
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_text("other.example " + host_key_line(keys) + "\n")
    second.write_text(f"\n\n[127.0.0.1]:{sshd.port} {host_key_line(keys, 'rsa')}\n")
    # Only an RSA key is recorded: we ask for RSA first (as ssh does), and it matches.
    assert attempt(sshd, keys, [str(first), str(second)]) == "trusted\n"
    # Forced to Ed25519, the host is unknown for that key (not "changed"), as in OpenSSH.
    with pytest.raises(sshcore.HostKeyNotVerifiableError,
                       match=rf"not recorded; keys of other types are \(e.g. ssh-rsa in {second} line 3\)"):
        attempt(sshd, keys, [str(first), str(second)], server_host_key_algs=["ssh-ed25519"])
    # Another Ed25519 key recorded for the host: that is a mismatch, with its line.
    second.write_text(f"\n\n[127.0.0.1]:{sshd.port} {host_key_line(keys, 'rsa')}\n"
                      f"[127.0.0.1]:{sshd.port} " + Path(f"{keys.user['ed25519']}.pub").read_text())
    with pytest.raises(sshcore.HostKeyNotVerifiableError,
                       match=rf"but {second} line 4 records a different ssh-ed25519 key \(SHA256:"):
        attempt(sshd, keys, [str(first), str(second)], server_host_key_algs=["ssh-ed25519"])


@pytest.mark.parametrize("hashed", [False, True], ids=["plain", "hashed"])
def test_accept_new_records_a_line_ssh_reads(start_sshd, keys, tmp_path, hashed):
    sshd = start_sshd()
    kh = tmp_path / "sub" / "known_hosts"
    with pytest.raises(sshcore.HostKeyNotVerifiableError, match="accept_new_host_keys"):
        attempt(sshd, keys, kh)
    assert attempt(sshd, keys, kh, accept_new_host_keys=True, hash_known_hosts=hashed) == "trusted\n"
    lines = kh.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("|1|" if hashed else f"[127.0.0.1]:{sshd.port} ")
    assert oct(kh.stat().st_mode & 0o777) == "0o600"
    assert attempt(sshd, keys, kh) == "trusted\n"   # now known, without accept-new
    assert len(kh.read_text().splitlines()) == 1
    found = subprocess.run(["ssh-keygen", "-F", f"[127.0.0.1]:{sshd.port}", "-f", str(kh)],
                           capture_output=True, text=True)
    assert found.returncode == 0 and "found: line 1" in found.stdout
    r = subprocess.run(["ssh", "-F", "/dev/null", "-p", str(sshd.port), "-i", str(keys.user["ed25519"]),
                        "-o", f"UserKnownHostsFile={kh}", "-o", "StrictHostKeyChecking=yes",
                        "-o", "BatchMode=yes", "127.0.0.1", "echo ssh-trusts-it"],
                       capture_output=True, text=True, timeout=30)
    assert r.stdout == "ssh-trusts-it\n", r.stderr


def test_cli_strict_host_key_checking_accept_new(start_sshd, keys, tmp_path):
    sshd = start_sshd()
    kh = tmp_path / "kh"
    base = [sys.executable, "-m", "sshcore", "run", "-F", "none", "-p", str(sshd.port), "-i",
            str(keys.user["ed25519"]), "-o", f"UserKnownHostsFile={kh}"]  # no HashKnownHosts
    refused = subprocess.run(base + ["127.0.0.1", "echo x"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 255 and "host is not in" in refused.stderr
    ok = subprocess.run(base + ["-o", "StrictHostKeyChecking=accept-new", "127.0.0.1", "echo x"],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and ok.stdout == "x\n", ok.stderr
    assert kh.read_text().startswith(f"[127.0.0.1]:{sshd.port} ssh-")
