"""An ssh_config file drives connect() and `sshcore run` against real sshd instances:
host aliases, HostName/Port/User, IdentityFile/IdentitiesOnly, UserKnownHostsFile,
Ciphers, ProxyJump through another alias, ServerAliveInterval."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

import sshcore

pytestmark = pytest.mark.interop


@pytest.fixture
def config(start_sshd, keys, helpers, tmp_path):
    jump, target = start_sshd(), start_sshd(MaxAuthTries="5")
    cfg = tmp_path / "config"
    cfg.write_text(f"""
Host target
    HostName 127.0.0.1
    Port {target.port}
    ProxyJump jump
    Ciphers aes256-ctr
    ServerAliveInterval 7

Host jump
    HostName 127.0.0.1
    Port {jump.port}

Host *
    User {helpers.USER}
    IdentityFile {keys.user['ecdsa']}
    IdentitiesOnly yes
    UserKnownHostsFile {target.known_hosts} {jump.known_hosts}
    ConnectTimeout 20
""")
    return cfg, jump, target


def test_connect_applies_the_config(config):
    cfg, jump, target = config

    async def main():
        async with sshcore.connect("target", config=str(cfg)) as conn:
            r = await conn.run("echo $USER")
            return (r.stdout, conn.get_extra_info("algorithms")["enc_cs"], conn.port,
                    conn._conn.config.keepalive_interval)

    user_out, cipher, port, keepalive = asyncio.run(asyncio.wait_for(main(), 60))
    assert cipher == "aes256-ctr" and port == target.port and keepalive == 7
    assert f"target 127.0.0.1 port {target.port}" in jump.log.read_text()  # via the jump alias
    assert "ECDSA" in target.log.read_text().split("Accepted publickey")[-1].splitlines()[0]


def test_explicit_arguments_override_the_config(config, keys):
    cfg, _, target = config

    async def main():
        async with sshcore.connect("127.0.0.1", target.port, config=str(cfg), tunnel=None,
                                   encryption_algs=["aes128-ctr"],
                                   client_keys=[str(keys.user["ed25519"])]) as conn:
            return conn.get_extra_info("algorithms")["enc_cs"]

    assert asyncio.run(asyncio.wait_for(main(), 60)) == "aes128-ctr"


def test_sshcore_run_reads_the_config(config):
    cfg, jump, target = config
    r = subprocess.run([sys.executable, "-m", "sshcore", "run", "-F", str(cfg), "target",
                        "echo from-config"], capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout) == (0, "from-config\n"), r.stderr
    r = subprocess.run([sys.executable, "-m", "sshcore", "run", "-F", str(cfg), "-o", "Port=1",
                        "-J", "none", "target", "true"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 255 and "127.0.0.1:1" in r.stderr  # -o wins over the file
