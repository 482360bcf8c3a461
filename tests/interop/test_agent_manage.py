"""Managing a real ssh-agent through SSHAgentClient: add keys (with lifetime and confirm
constraints, and with a certificate), remove one or all, lock and unlock; checked with
the real ``ssh-add -l`` and by real ``ssh`` logging in to sshd with the added keys."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from sshcore.agent import AgentError, SSHAgentClient
from sshcore.errors import KeyImportError
from sshcore.keys import read_key_pair, read_private_key, read_public_key

pytestmark = pytest.mark.interop
TYPES = ("ed25519", "ecdsa", "rsa")


def start_agent(tmp_path: Path, extra_env: dict[str, str] | None = None):
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ, **(extra_env or {})))
    # Ready when it accepts: the socket file appears at bind(), before listen().
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.connect(str(sock))
            return sock, proc
        except OSError:
            time.sleep(0.05)
    raise AssertionError("ssh-agent did not start")


@pytest.fixture
def agent(tmp_path):
    sock, proc = start_agent(tmp_path)
    yield sock
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def user_keys(tmp_path, helpers):
    """Key objects read from ssh-keygen's files, whose private files are then deleted
    (only the .pub stays): whatever signs for them afterwards is the agent."""
    out = {}
    for kind in TYPES:
        path = helpers.keygen(tmp_path / f"id_{kind}", kind)
        out[kind] = read_private_key(path)
        path.unlink()
    return out


def ssh_add_list(sock: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ssh-add", "-l"], env=dict(os.environ, SSH_AUTH_SOCK=str(sock)),
                          capture_output=True, text=True, timeout=30)


def fp(tmp_path: Path, kind: str) -> str:
    return subprocess.run(["ssh-keygen", "-l", "-f", str(tmp_path / f"id_{kind}.pub")],
                          capture_output=True, text=True, check=True, timeout=30).stdout.split()[1]


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_added_keys_are_listed_and_sshd_accepts_them(agent, user_keys, tmp_path, start_sshd):
    client = SSHAgentClient(agent)

    async def add():
        for kind in TYPES:
            await client.add_key(user_keys[kind], f"added-{kind}")
        return await client.list_identities()

    idents = run(add())
    assert [i.comment for i in idents] == [f"added-{k}" for k in TYPES]
    assert [i.blob for i in idents] == [user_keys[k].public_blob for k in TYPES]
    listed = ssh_add_list(agent)
    assert listed.returncode == 0, listed.stderr
    for kind, label in zip(TYPES, ("(ED25519)", "(ECDSA)", "(RSA)")):
        line = next(li for li in listed.stdout.splitlines() if f"added-{kind}" in li)
        assert fp(tmp_path, kind) in line and line.endswith(label), listed.stdout

    auth = tmp_path / "authorized_keys"
    auth.write_text("".join((tmp_path / f"id_{k}.pub").read_text() for k in TYPES))
    sshd = start_sshd(AuthorizedKeysFile=str(auth))
    for kind in TYPES:  # real ssh, the private key files gone: only the agent can sign
        r = subprocess.run(
            ["ssh", "-F", "/dev/null", "-p", str(sshd.port), "-o", "BatchMode=yes",
             "-o", f"UserKnownHostsFile={sshd.known_hosts}", "-o", "IdentitiesOnly=yes",
             "-i", str(tmp_path / f"id_{kind}.pub"), "127.0.0.1", f"echo via-{kind}"],
            env=dict(os.environ, SSH_AUTH_SOCK=str(agent)), capture_output=True, text=True,
            timeout=60)
        assert (r.returncode, r.stdout) == (0, f"via-{kind}\n"), r.stderr
    log = sshd.log.read_text(errors="replace")
    for label in ("ED25519", "ECDSA", "RSA"):
        assert "Accepted publickey for root from 127.0.0.1" in log and f" {label} SHA256:" in log


def test_lifetime_constraint_expires(agent, user_keys, tmp_path):
    client = SSHAgentClient(agent)
    run(client.add_key(user_keys["ed25519"], lifetime=1))
    run(client.add_key(user_keys["rsa"]))
    assert fp(tmp_path, "ed25519") in ssh_add_list(agent).stdout
    deadline = time.monotonic() + 15
    while fp(tmp_path, "ed25519") in ssh_add_list(agent).stdout and time.monotonic() < deadline:
        time.sleep(0.2)
    listed = ssh_add_list(agent).stdout
    assert fp(tmp_path, "ed25519") not in listed and fp(tmp_path, "rsa") in listed
    assert [i.blob for i in run(client.list_identities())] == [user_keys["rsa"].public_blob]
    with pytest.raises(ValueError, match="lifetime"):
        run(client.add_key(user_keys["rsa"], lifetime=0))


@pytest.mark.parametrize("answer", ["yes", "no"])
def test_confirm_constraint_asks_before_signing(user_keys, tmp_path, answer):
    """ssh-agent runs SSH_ASKPASS for a confirm-constrained key at each signature."""
    asked = tmp_path / "asked"
    askpass = tmp_path / "askpass.sh"
    askpass.write_text(f"#!/bin/sh\necho \"$SSH_ASKPASS_PROMPT $1\" >> {asked}\n"
                       f"exit {0 if answer == 'yes' else 1}\n")
    askpass.chmod(0o755)
    sock, proc = start_agent(tmp_path, {"SSH_ASKPASS": str(askpass),
                                        "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"})
    try:
        key = user_keys["ecdsa"]
        client = SSHAgentClient(sock)
        run(client.add_key(key, "confirm-me", confirm=True))
        assert "confirm-me" in ssh_add_list(sock).stdout
        assert not asked.exists()  # listing needs no confirmation
        if answer == "yes":
            sig = run(client.sign(key.public_blob, b"data", "ecdsa-sha2-nistp256"))
            assert key.verify(b"data", sig)
        else:
            with pytest.raises(AgentError, match="refused to sign"):
                run(client.sign(key.public_blob, b"data", "ecdsa-sha2-nistp256"))
        text = asked.read_text()
        assert text.startswith("confirm ") and "confirm-me" in text
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_remove_one_and_all(agent, user_keys, tmp_path):
    client = SSHAgentClient(agent)

    async def main():
        for kind in TYPES:
            await client.add_key(user_keys[kind])
        await client.remove_key(user_keys["ecdsa"])
        after_one = ssh_add_list(agent).stdout
        with pytest.raises(AgentError, match="refused to remove the key"):
            await client.remove_key(user_keys["ecdsa"].public_blob)  # no longer there
        await client.remove_all()
        return after_one

    after_one = run(main())
    assert fp(tmp_path, "ecdsa") not in after_one
    assert fp(tmp_path, "ed25519") in after_one and fp(tmp_path, "rsa") in after_one
    empty = ssh_add_list(agent)
    assert empty.returncode == 1 and "no identities" in empty.stdout


def test_lock_and_unlock(agent, user_keys, tmp_path):
    client = SSHAgentClient(agent)
    key = user_keys["rsa"]
    run(client.add_key(key))
    run(client.lock("s3cret"))
    locked = ssh_add_list(agent)
    assert locked.returncode == 1 and "no identities" in locked.stdout
    assert run(client.list_identities()) == []
    with pytest.raises(AgentError, match="refused to sign"):
        run(client.sign(key.public_blob, b"data", "rsa-sha2-256"))
    with pytest.raises(AgentError, match="unlock"):
        run(client.unlock("wrong"))
    run(client.unlock("s3cret"))
    assert fp(tmp_path, "rsa") in ssh_add_list(agent).stdout
    sig = run(client.sign(key.public_blob, b"data", "rsa-sha2-256"))
    assert key.verify(b"data", sig, "rsa-sha2-256")


def test_add_certified_key_and_refuse_public_keys(agent, tmp_path, helpers):
    ca = helpers.keygen(tmp_path / "ca", "ed25519")
    for kind in ("ed25519", "ecdsa"):
        user = helpers.keygen(tmp_path / f"cert_{kind}", kind)
        subprocess.run(["ssh-keygen", "-q", "-s", str(ca), "-I", f"id-{kind}", "-n", "root",
                        f"{user}.pub"], check=True, timeout=30, capture_output=True)
        run(SSHAgentClient(agent).add_key(read_key_pair(user)))
    listed = ssh_add_list(agent).stdout
    assert "(ED25519-CERT)" in listed and "(ECDSA-CERT)" in listed, listed
    with pytest.raises(KeyImportError, match="public key"):
        run(SSHAgentClient(agent).add_key(read_public_key(f"{ca}.pub")))
