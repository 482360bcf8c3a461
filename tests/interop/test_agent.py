"""Publickey auth through a real ssh-agent (keys added by the real ssh-add) against sshd,
from the API and from ``sshcore run``."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sshcore
from sshcore.agent import AgentError, SSHAgentClient

pytestmark = pytest.mark.interop


@pytest.fixture
def agent(tmp_path, helpers):
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sock.exists(), "ssh-agent did not start"
    keys = {}
    for kind in ("ed25519", "rsa", "ecdsa"):
        keys[kind] = helpers.keygen(tmp_path / f"agent_{kind}", kind)
    env = dict(os.environ, SSH_AUTH_SOCK=str(sock))
    yield sock, keys, env
    proc.terminate()
    proc.wait(timeout=10)


def ssh_add(env, *paths):
    subprocess.run(["ssh-add", "-q", *map(str, paths)], env=env, check=True, timeout=30,
                   capture_output=True)


def test_agent_lists_and_signs_for_sshd(start_sshd, agent, tmp_path):
    sock, keys, env = agent
    ssh_add(env, keys["rsa"], keys["ecdsa"])
    auth = tmp_path / "authorized_keys"
    auth.write_text(Path(f"{keys['rsa']}.pub").read_text())
    sshd = start_sshd(AuthorizedKeysFile=str(auth), PubkeyAcceptedAlgorithms="rsa-sha2-512")

    async def main():
        listed = await SSHAgentClient(sock).get_keys()
        async with sshcore.connect("127.0.0.1", sshd.port, client_keys=[], agent_path=str(sock),
                                   known_hosts=str(sshd.known_hosts)) as conn:
            out = (await conn.run("echo via agent")).stdout
        return listed, out

    listed, out = asyncio.run(asyncio.wait_for(main(), 60))
    assert sorted(k.key_type for k in listed) == ["ecdsa-sha2-nistp256", "ssh-rsa"]
    assert {k.comment for k in listed} == {"test-rsa", "test-ecdsa"}
    assert out == "via agent\n"
    log = sshd.log.read_text(errors="replace")
    assert "Accepted publickey for" in log and "RSA SHA256:" in log  # signed as rsa-sha2-512


def test_sshcore_run_uses_the_agent_and_errors_are_clear(start_sshd, agent, tmp_path):
    sock, keys, env = agent
    ssh_add(env, keys["ed25519"])
    auth = tmp_path / "authorized_keys"
    auth.write_text(Path(f"{keys['ed25519']}.pub").read_text())
    sshd = start_sshd(AuthorizedKeysFile=str(auth))
    home = tmp_path / "home"   # no ~/.ssh keys: only the agent can get us in
    home.mkdir()
    base = [sys.executable, "-m", "sshcore", "run", "-p", str(sshd.port),
            "--known-hosts", str(sshd.known_hosts), "127.0.0.1"]
    r = subprocess.run(base + ["echo agent-ok"], env=dict(env, HOME=str(home)), capture_output=True,
                       text=True, timeout=60)
    assert (r.returncode, r.stdout) == (0, "agent-ok\n"), r.stderr
    r = subprocess.run(base[:-1] + ["-o", "IdentityAgent=none", "127.0.0.1", "echo no"],
                       env=dict(env, HOME=str(home)), capture_output=True, text=True, timeout=60)
    assert r.returncode == 255 and "permission denied" in r.stderr.lower()

    async def unreachable():
        await SSHAgentClient(tmp_path / "nowhere.sock").get_keys()
    with pytest.raises(AgentError, match="cannot reach the SSH agent"):
        asyncio.run(unreachable())


def test_agent_forwarding_to_sshd(start_sshd, agent, tmp_path):
    """ssh -A: the remote `ssh-add -l` lists our agent's key through the forwarded channel."""
    sock, keys, env = agent
    ssh_add(env, keys["ed25519"])
    auth = tmp_path / "authorized_keys"
    auth.write_text(Path(f"{keys['ed25519']}.pub").read_text())
    sshd = start_sshd(AuthorizedKeysFile=str(auth))
    fp = subprocess.run(["ssh-keygen", "-l", "-f", f"{keys['ed25519']}.pub"], capture_output=True,
                        text=True, check=True).stdout.split()[1]

    async def main(forward):
        async with sshcore.connect("127.0.0.1", sshd.port, config=None, agent_path=str(sock),
                                   client_keys=[], known_hosts=str(sshd.known_hosts),
                                   forward_agent=str(sock) if forward else False) as conn:
            return await conn.run("ssh-add -l")

    forwarded = asyncio.run(asyncio.wait_for(main(True), 60))
    assert forwarded.exit_status == 0 and fp in forwarded.stdout, forwarded.stderr
    plain = asyncio.run(asyncio.wait_for(main(False), 60))
    assert plain.exit_status == 2 and "Could not open a connection" in plain.stderr


def test_forward_agent_from_ssh_config(start_sshd, agent, tmp_path):
    sock, keys, env = agent
    ssh_add(env, keys["rsa"])
    auth = tmp_path / "authorized_keys"
    auth.write_text(Path(f"{keys['rsa']}.pub").read_text())
    sshd = start_sshd(AuthorizedKeysFile=str(auth))
    cfg = tmp_path / "config"
    cfg.write_text(f"Host a\n  HostName 127.0.0.1\n  Port {sshd.port}\n  ForwardAgent {sock}\n"
                   f"  IdentityAgent {sock}\n  UserKnownHostsFile {sshd.known_hosts}\n")

    async def main():
        async with sshcore.connect("a", config=str(cfg), agent_path=str(sock)) as conn:
            return await conn.run("ssh-add -l")

    r = asyncio.run(asyncio.wait_for(main(), 60))
    assert r.exit_status == 0 and "(RSA)" in r.stdout, r.stderr
