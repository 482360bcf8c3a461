"""A security key used through the real ssh-agent: the agent signs, sshd accepts.

No token is plugged in: the key is enrolled and signed for by OpenSSH's own software
security-key provider, ``sk-dummy.so`` from Debian's ``openssh-tests`` package (OpenSSH's
regression-test provider; ``scripts/setup.sh`` installs it).  ``ssh-keygen -w`` enrolls
with it, ``ssh-add -S`` loads the key into a real ``ssh-agent -P`` allowed to use it,
and the agent signs through ``ssh-sk-helper`` and the provider, exactly as it would
with a hardware token (PROTOCOL.u2f's signature layout, flags and counter made by the
provider).  Our client only ever sees the public key and the agent's signatures.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

import sshcore

pytestmark = pytest.mark.interop

#: OpenSSH's software FIDO provider (Debian package openssh-tests)
SK_PROVIDER = "/usr/lib/openssh/regress/misc/sk-dummy/sk-dummy.so"


def provider() -> str:
    if not os.path.exists(SK_PROVIDER):  # a failure, never a skip
        pytest.fail(f"{SK_PROVIDER} is missing: install Debian's openssh-tests "
                    f"(scripts/setup.sh does)")
    return SK_PROVIDER


@pytest.fixture
def sk_agent(tmp_path):
    """A real ssh-agent allowed to use the software provider: its socket."""
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock), "-P", provider()],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:  # ready when it accepts (the file exists from bind(), before listen())
        try:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.connect(str(sock))
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError("ssh-agent did not start") from None
            time.sleep(0.05)
    yield sock
    proc.terminate()
    proc.wait(timeout=10)


def enroll_and_add(tmp_path: Path, sock: Path, kind: str) -> tuple[Path, str]:
    """Enroll a ``kind`` (ed25519-sk, ecdsa-sk) key with the provider, load it into the
    agent: (its public key file, its fingerprint)."""
    key = tmp_path / f"id_{kind.replace('-', '_')}"
    env = dict(os.environ, SSH_SK_PROVIDER=provider(), SSH_AUTH_SOCK=str(sock))
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", f"soft {kind}", "-f",
                    str(key)], check=True, timeout=60, env=env, capture_output=True)
    added = subprocess.run(["ssh-add", "-S", provider(), str(key)], timeout=60, env=env,
                           capture_output=True, text=True)
    assert added.returncode == 0, added.stderr
    listed = subprocess.run(["ssh-add", "-l"], timeout=30, env=env, capture_output=True,
                            text=True).stdout
    label = "ED25519-SK" if kind == "ed25519-sk" else "ECDSA-SK"
    m = re.search(rf"(SHA256:\S+) soft {kind} \({label}\)", listed)
    assert m, listed
    return Path(f"{key}.pub"), m.group(1)


@pytest.mark.parametrize("kind", ["ed25519-sk", "ecdsa-sk"])
def test_security_key_in_ssh_agent_logs_in_to_sshd(start_sshd, helpers, tmp_path, sk_agent,
                                                    kind):
    pub, fp = enroll_and_add(tmp_path, sk_agent, kind)
    sshd = start_sshd(AuthorizedKeysFile=str(pub))
    label = "ED25519-SK" if kind == "ed25519-sk" else "ECDSA-SK"

    async def main():
        # Only the agent's keys: no key files at all.
        async with sshcore.connect("127.0.0.1", sshd.port, agent_path=str(sk_agent),
                                   client_keys=[], known_hosts=str(sshd.known_hosts),
                                   config=None) as conn:
            return (await conn.run("echo signed-by-the-agent")).stdout

    out = asyncio.run(asyncio.wait_for(main(), 60))
    assert out == "signed-by-the-agent\n", sshd.log_tail()
    log = sshd.log.read_text()
    assert f"Accepted publickey for {helpers.USER} from 127.0.0.1" in log
    assert f"ssh2: {label} {fp}" in log  # the security key, checked by sshd's sk rules
    assert re.search(r"sk_flags = 0x0?1\b", log), log  # user presence, set by the provider

    # The blocking front-end goes through the same agent.
    with sshcore.blocking.connect("127.0.0.1", sshd.port, agent_path=str(sk_agent),
                                  client_keys=[], known_hosts=str(sshd.known_hosts),
                                  config=None) as conn:
        assert conn.run("echo blocking").stdout == "blocking\n"


def test_security_key_certificate_in_ssh_agent(start_sshd, helpers, tmp_path, sk_agent):
    """The sk key's OpenSSH certificate, loaded into the agent beside the key (as
    ``ssh-add`` does with ``-cert.pub``), logs in through TrustedUserCAKeys: the agent
    signs for the certificate's algorithm."""
    ca = helpers.keygen(tmp_path / "ca", "ed25519")
    key = tmp_path / "id_ed25519_sk"
    env = dict(os.environ, SSH_SK_PROVIDER=provider(), SSH_AUTH_SOCK=str(sk_agent))
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519-sk", "-N", "", "-f", str(key)],
                   check=True, timeout=60, env=env, capture_output=True)
    subprocess.run(["ssh-keygen", "-q", "-s", str(ca), "-I", "soft-sk-cert", "-n", helpers.USER,
                    "-V", "-5m:+1h", f"{key}.pub"], check=True, timeout=60, capture_output=True)
    added = subprocess.run(["ssh-add", "-S", provider(), str(key)], timeout=60, env=env,
                           capture_output=True, text=True)
    assert "Certificate added" in added.stderr, added.stderr
    empty = tmp_path / "no_authorized_keys"
    empty.write_text("")
    sshd = start_sshd(AuthorizedKeysFile=str(empty), TrustedUserCAKeys=f"{ca}.pub")

    async def main():
        async with sshcore.connect("127.0.0.1", sshd.port, agent_path=str(sk_agent),
                                   client_keys=[], known_hosts=str(sshd.known_hosts),
                                   config=None) as conn:
            return (await conn.run("echo cert-ok")).stdout

    assert asyncio.run(asyncio.wait_for(main(), 60)) == "cert-ok\n", sshd.log_tail()
    log = sshd.log.read_text()
    assert re.search(r"Accepted publickey for \S+ from 127\.0\.0\.1 port \d+ ssh2: "
                     r"ED25519-SK-CERT SHA256:\S+ ID soft-sk-cert", log), sshd.log_tail()


@pytest.mark.parametrize("kind", ["ed25519-sk", "ecdsa-sk"])
def test_our_server_verifies_the_providers_signatures(keys, helpers, tmp_path, sk_agent, kind):
    """Signatures made by OpenSSH's provider (not by test code), through the real agent,
    for our client and for the real ssh client, verified by our server."""
    pub, _ = enroll_and_add(tmp_path, sk_agent, kind)
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              authorized_client_keys=str(pub)) as srv:
        async def main():
            async with sshcore.connect("127.0.0.1", srv.port, agent_path=str(sk_agent),
                                       client_keys=[], known_hosts=None, config=None) as conn:
                return (await conn.run("echo ours")).stdout

        assert asyncio.run(asyncio.wait_for(main(), 60)) == "ours\n"
        r = helpers.run_ssh(srv.port, "echo theirs",
                            options={"IdentityAgent": str(sk_agent), "IdentitiesOnly": "no"},
                            env_overrides={"SSH_AUTH_SOCK": str(sk_agent)})
        assert r.returncode == 0 and r.stdout == b"theirs\n", r.stderr
