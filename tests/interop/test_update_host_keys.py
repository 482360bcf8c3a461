"""UpdateHostKeys (hostkeys-00/hostkeys-prove-00@openssh.com) both ways with OpenSSH: our
client learns sshd's other host keys; ssh learns our server's."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

import sshcore

pytestmark = pytest.mark.interop


def line(keys, kind):
    return " ".join(Path(f"{keys.host[kind]}.pub").read_text().split()[:2])


def test_our_client_learns_sshds_other_keys(start_sshd, keys, tmp_path):
    sshd = start_sshd()
    kh = tmp_path / "known_hosts"
    kh.write_text(f"[127.0.0.1]:{sshd.port} {line(keys, 'ed25519')}\n")

    async def main():
        async with sshcore.connect("127.0.0.1", sshd.port, config=None, known_hosts=str(kh),
                                   client_keys=[str(keys.user["ed25519"])],
                                   update_host_keys=True) as conn:
            await conn.run("true")
            for _ in range(50):
                if len(kh.read_text().splitlines()) >= 3:
                    break
                await asyncio.sleep(0.1)

    asyncio.run(asyncio.wait_for(main(), 30))
    text = kh.read_text()
    for kind in ("rsa", "ecdsa"):
        assert f"[127.0.0.1]:{sshd.port} {line(keys, kind)}" in text, text
    assert "hostkeys-prove-00@openssh.com" in sshd.log.read_text()
    # and ssh accepts the RSA key we recorded
    r = subprocess.run(["ssh", "-F", "/dev/null", "-p", str(sshd.port), "-o", f"UserKnownHostsFile={kh}",
                        "-o", "StrictHostKeyChecking=yes", "-o", "HostKeyAlgorithms=rsa-sha2-512",
                        "-o", "BatchMode=yes", "-i", str(keys.user["ed25519"]), "127.0.0.1", "true"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_ssh_learns_our_servers_other_keys(keys, helpers, tmp_path):
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"], keys.host["rsa"],
                                                keys.host["ecdsa"]],
                              authorized_client_keys=str(keys.authorized_keys)) as srv:
        kh = tmp_path / "known_hosts"
        kh.write_text(f"[127.0.0.1]:{srv.port} {line(keys, 'ed25519')}\n")
        r = subprocess.run(["ssh", "-F", "/dev/null", "-p", str(srv.port), "-o", f"UserKnownHostsFile={kh}",
                            "-o", "StrictHostKeyChecking=yes", "-o", "UpdateHostKeys=yes",
                            "-o", "BatchMode=yes",
                            "-o", "LogLevel=DEBUG1", "-i", str(keys.user["ed25519"]),
                            "127.0.0.1", "sleep 1"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr[-2000:]
    text = kh.read_text()
    for kind in ("rsa", "ecdsa"):
        assert line(keys, kind) in text, (text, r.stderr[-3000:])
