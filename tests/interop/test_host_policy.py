"""Host key policy beyond known_hosts files: a pinned fingerprint, StrictHostKeyChecking=ask
in `sshcore run` (answered through SSH_ASKPASS), and ProxyCommand through OpenSSH's ssh -W."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

import sshcore

pytestmark = pytest.mark.interop


def go(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def host_fp(keys, kind="ed25519"):
    out = subprocess.run(["ssh-keygen", "-l", "-f", f"{keys.host[kind]}.pub"], capture_output=True,
                         text=True, check=True).stdout
    return out.split()[1]


def test_pinned_fingerprint(start_sshd, keys):
    sshd = start_sshd()

    async def main(fp):
        async with sshcore.connect("127.0.0.1", sshd.port, config=None,
                                   client_keys=[str(keys.user["ed25519"])],
                                   server_host_key_algs=["ssh-ed25519"],
                                   host_key_fingerprint=fp) as conn:
            return (await conn.run("echo pinned")).stdout

    assert go(main(host_fp(keys))) == "pinned\n"
    with pytest.raises(sshcore.HostKeyNotVerifiableError):
        go(main(host_fp(keys, "rsa")))


@pytest.mark.parametrize("answer", ["yes", "fingerprint", "no"])
def test_cli_asks_about_an_unknown_host(start_sshd, keys, tmp_path, answer):
    sshd = start_sshd()
    kh = tmp_path / "known_hosts"
    log = tmp_path / "asked"
    reply = host_fp(keys) if answer == "fingerprint" else answer
    askpass = tmp_path / "askpass.sh"
    askpass.write_text(f"#!/bin/sh\nprintf '%s\\n---\\n' \"$1\" >> {log}\necho '{reply}'\n")
    askpass.chmod(0o700)
    env = dict(os.environ, SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force")
    r = subprocess.run([sys.executable, "-m", "sshcore", "run", "-F", "none", "-p", str(sshd.port),
                        "-i", str(keys.user["ed25519"]), "-o", f"UserKnownHostsFile={kh}",
                        "-o", "HostKeyAlgorithms=ssh-ed25519", "127.0.0.1", "echo asked"],
                       capture_output=True, text=True, timeout=60, env=env)
    question = log.read_text()
    assert f"The authenticity of host '[127.0.0.1]:{sshd.port}' can't be established." in question
    assert f"ED25519 key fingerprint is {host_fp(keys)}." in question
    if answer == "no":
        assert r.returncode == 255 and not kh.exists()
    else:
        assert (r.returncode, r.stdout) == (0, "asked\n"), r.stderr
        assert kh.read_text().startswith(f"[127.0.0.1]:{sshd.port} ssh-ed25519 ")


def test_proxy_command_through_ssh_W(start_sshd, keys):
    jump, target = start_sshd(), start_sshd(MaxAuthTries="5")
    command = (f"ssh -F /dev/null -p {jump.port} -i {keys.user['ed25519']} -o BatchMode=yes "
               f"-o UserKnownHostsFile={jump.known_hosts} -W %h:%p 127.0.0.1")

    async def main():
        async with sshcore.connect("127.0.0.1", target.port, config=None, proxy_command=command,
                                   client_keys=[str(keys.user["ed25519"])],
                                   known_hosts=str(target.known_hosts)) as conn:
            out = (await conn.run("echo proxied")).stdout
            proxy = conn._proxy
        for _ in range(50):
            if proxy.poll() is not None:
                break
            await asyncio.sleep(0.1)
        return out, proxy.poll()

    out, code = go(main())
    assert out == "proxied\n" and code is not None  # the ProxyCommand ended with the connection
    assert f"target 127.0.0.1 port {target.port}" in jump.log.read_text()
