"""Destination-constrained agent keys (OpenSSH 8.9): keys the real ``ssh-add -h`` loaded
sign only after our client binds the agent connection to the session
(``session-bind@openssh.com``) and authenticates with
``publickey-hostbound-v00@openssh.com``; sshd checks the result."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

import pytest

import sshcore
from sshcore.agent import SSHAgentClient
from sshcore.errors import PermissionDeniedError

pytestmark = pytest.mark.interop


@pytest.fixture
def agent(tmp_path):
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sock.exists(), "ssh-agent did not start"
    yield sock
    proc.terminate()
    proc.wait(timeout=10)


def add_constrained(sock: Path, key: Path, hosts: str, known_hosts: Path) -> None:
    """``ssh-add -h`` for each of the space-separated ``hosts`` (one call: adding the key
    again would replace its constraints)."""
    spec = [arg for host in hosts.split() for arg in ("-h", host)]
    r = subprocess.run(["ssh-add", "-H", str(known_hosts), *spec, str(key)],
                       env=dict(os.environ, SSH_AUTH_SOCK=str(sock)), capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "restricted to" in r.stderr or "Identity added" in r.stderr, r.stderr


def login(sshd, sock: Path) -> str:
    async def main():
        async with sshcore.connect("127.0.0.1", sshd.port, config=None, client_keys=[],
                                   agent_path=str(sock), known_hosts=str(sshd.known_hosts)) as conn:
            return (await conn.run("echo bound-ok")).stdout
    return asyncio.run(asyncio.wait_for(main(), 60))


def test_destination_constrained_key_logs_in_to_its_host_only(agent, keys, start_sshd,
                                                              tmp_path, helpers):
    key = helpers.keygen(tmp_path / "dest", "ed25519")
    auth = tmp_path / "authorized_keys"
    auth.write_text(Path(f"{key}.pub").read_text())
    sshd = start_sshd(AuthorizedKeysFile=str(auth))
    kh = tmp_path / "host_keys"  # what ssh-add -h looks the destination's keys up in
    kh.write_text("".join(f"127.0.0.1 {Path(f'{p}.pub').read_text()}" for p in keys.host.values()))
    add_constrained(agent, key, "127.0.0.1", kh)
    assert login(sshd, agent) == "bound-ok\n"
    log = sshd.log.read_text(errors="replace")
    assert "method publickey-hostbound-v00@openssh.com" in log
    assert "Accepted publickey for root from 127.0.0.1" in log

    # The same key, allowed only to another host (another host key): the agent refuses.
    asyncio.run(asyncio.wait_for(SSHAgentClient(agent).remove_all(), 30))
    other = helpers.keygen(tmp_path / "other_host", "ed25519")
    kh_other = tmp_path / "other_host_keys"
    kh_other.write_text(f"otherhost {Path(f'{other}.pub').read_text()}")
    add_constrained(agent, key, "otherhost", kh_other)
    with pytest.raises(PermissionDeniedError):
        login(sshd, agent)


def test_forwarded_agent_is_bound_for_multi_hop_constraints(agent, keys, start_sshd, tmp_path,
                                                            helpers):
    """``ssh-add -h A -h 'A>B'``: through our client to sshd A, forwarding the agent, the
    real ``ssh`` on A reaches sshd B with the key only because our client bound the
    forwarded agent connection to the A session (session-bind, forwarding=true)."""
    key = helpers.keygen(tmp_path / "hops", "ed25519")
    auth = tmp_path / "authorized_keys"
    auth.write_text(Path(f"{key}.pub").read_text())
    host_a = start_sshd(AuthorizedKeysFile=str(auth))
    b_key = helpers.keygen(tmp_path / "host_b", "ed25519")
    host_b = start_sshd(AuthorizedKeysFile=str(auth), HostKey=str(b_key))
    b_known = tmp_path / "b_known_hosts"
    b_known.write_text(f"[127.0.0.1]:{host_b.port} {Path(f'{b_key}.pub').read_text()}")
    kh = tmp_path / "host_keys"
    kh.write_text("".join(f"hosta {Path(f'{p}.pub').read_text()}" for p in keys.host.values())
                  + f"hostb {Path(f'{b_key}.pub').read_text()}")
    add_constrained(agent, key, "hosta hosta>hostb", kh)
    hop = (f"ssh -F /dev/null -p {host_b.port} -o BatchMode=yes -o HostKeyAlgorithms=ssh-ed25519 "
           f"-o UserKnownHostsFile={b_known} 127.0.0.1 echo second-hop-ok")

    async def main():
        async with sshcore.connect("127.0.0.1", host_a.port, config=None, client_keys=[],
                                   agent_path=str(agent), forward_agent=str(agent),
                                   known_hosts=str(host_a.known_hosts)) as conn:
            return await conn.run(hop)

    r = asyncio.run(asyncio.wait_for(main(), 60))
    assert (r.exit_status, r.stdout) == (0, "second-hop-ok\n"), r.stderr
    assert "method publickey-hostbound-v00@openssh.com" in host_b.log.read_text(errors="replace")


def test_ssh_with_a_destination_constrained_key_logs_in_to_our_server(agent, keys, tmp_path,
                                                                      helpers):
    """Our server offers publickey-hostbound (EXT_INFO) and checks it: the real ssh, whose
    agent holds a key usable only for our server's host key, logs in; for another host key
    the agent refuses."""
    key = helpers.keygen(tmp_path / "ours", "ecdsa")
    pub = Path(f"{key}.pub")
    auth = tmp_path / "authorized_keys"
    auth.write_text(pub.read_text())
    kh = tmp_path / "host_keys"
    kh.write_text(f"ourserver {Path(str(keys.host['ed25519']) + '.pub').read_text()}")
    other = helpers.keygen(tmp_path / "other_host", "ed25519")
    kh.write_text(kh.read_text() + f"elsewhere {Path(f'{other}.pub').read_text()}")
    env = {"SSH_AUTH_SOCK": str(agent)}
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              authorized_client_keys=str(auth)) as srv:
        add_constrained(agent, key, "elsewhere", kh)
        refused = helpers.run_ssh(srv.port, "echo no", identity=pub, env_overrides=env)
        add_constrained(agent, key, "ourserver", kh)  # replaces the constraint
        r = helpers.run_ssh(srv.port, "echo hostbound-ok", identity=pub, env_overrides=env,
                            options={"LogLevel": "DEBUG1"})
        # our client, with the key from the same agent, also logs in host-bound
        async def ours():
            async with sshcore.connect("127.0.0.1", srv.port, config=None, client_keys=[],
                                       agent_path=str(agent), known_hosts=None) as conn:
                return (await conn.run("echo ours-ok")).stdout
        assert asyncio.run(asyncio.wait_for(ours(), 60)) == "ours-ok\n"
    assert refused.returncode == 255 and b"Permission denied" in refused.stderr
    assert (r.returncode, r.stdout) == (0, b"hostbound-ok\n"), r.stderr
    # ssh saw the offer, so it authenticated host-bound (and our server accepted that)
    assert b"publickey-hostbound@openssh.com=<0>" in r.stderr, r.stderr
