"""Password, keyboard-interactive and partial success against real OpenSSH, both ways.

sshd's password and keyboard-interactive checks need a real local account with a
password: the fixture creates one (we run as root in CI) and fails, not skips, if it
cannot.
"""

from __future__ import annotations

import asyncio
import os
import subprocess

import pytest

import sshcore

pytestmark = pytest.mark.interop

USER = "sshcoretest"  # the local_user fixture's account


def go(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_password_against_sshd(start_sshd, local_user):
    sshd = start_sshd(PasswordAuthentication="yes")

    async def main():
        async with sshcore.connect("127.0.0.1", sshd.port, username=USER, password=local_user,
                                   client_keys=[], known_hosts=str(sshd.known_hosts)) as conn:
            return (await conn.run("whoami")).stdout
    assert go(main()) == f"{USER}\n"

    async def wrong():
        await sshcore.connect("127.0.0.1", sshd.port, username=USER, password="wrong",
                              client_keys=[], known_hosts=str(sshd.known_hosts))
    with pytest.raises(sshcore.PermissionDeniedError):
        go(wrong())


def test_keyboard_interactive_against_sshd(start_sshd, local_user):
    sshd = start_sshd(KbdInteractiveAuthentication="yes", UsePAM="yes",
                      AuthenticationMethods="keyboard-interactive")
    prompts_seen = []

    def answer(name, instruction, prompts):
        prompts_seen.append(prompts)
        return [local_user for _ in prompts]

    async def main():
        async with sshcore.connect("127.0.0.1", sshd.port, username=USER, client_keys=[],
                                   known_hosts=str(sshd.known_hosts), kbdint_handler=answer,
                                   preferred_auth=["keyboard-interactive"]) as conn:
            return (await conn.run("whoami")).stdout
    assert go(main()) == f"{USER}\n"
    assert prompts_seen and "assword" in prompts_seen[0][0][0] and prompts_seen[0][0][1] is False


def test_partial_success_publickey_then_password_against_sshd(start_sshd, local_user, keys):
    import tempfile

    # sshd reads authorized_keys as the target user: put a copy where that user can read it
    public = tempfile.mkdtemp(prefix="sshcore-ak-")
    os.chmod(public, 0o755)
    ak = os.path.join(public, "authorized_keys")
    with open(ak, "w") as f:
        f.write(keys.authorized_keys.read_text())
    os.chmod(ak, 0o644)
    sshd = start_sshd(PasswordAuthentication="yes", AuthenticationMethods="publickey,password",
                      AuthorizedKeysFile=ak)

    async def main(password):
        async with sshcore.connect("127.0.0.1", sshd.port, username=USER, password=password,
                                   client_keys=[keys.user["ed25519"]],
                                   known_hosts=str(sshd.known_hosts)) as conn:
            return (await conn.run("whoami")).stdout
    assert go(main(local_user)) == f"{USER}\n"
    log = sshd.log.read_text()
    assert "Partial publickey for" in log
    with pytest.raises(sshcore.PermissionDeniedError):
        go(main(None))


def test_ssh_keyboard_interactive_to_our_server(keys, helpers, tmp_path):
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              passwords={helpers.USER: "kbd secret"},
                              auth_methods=["keyboard-interactive"]) as srv:
        ok = helpers.run_ssh(srv.port, "echo kbd-ok", password="kbd secret", tmp=tmp_path,
                             options={"PreferredAuthentications": "keyboard-interactive",
                                      "KbdInteractiveAuthentication": "yes"})
        bad = helpers.run_ssh(srv.port, "echo kbd-ok", password="nope", tmp=tmp_path,
                              options={"PreferredAuthentications": "keyboard-interactive"})
    assert ok.returncode == 0 and ok.stdout == b"kbd-ok\n", ok.stderr
    assert bad.returncode == 255 and b"Permission denied" in bad.stderr


def test_ssh_partial_success_to_our_server(keys, helpers, tmp_path):
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              authorized_client_keys=str(keys.authorized_keys),
                              passwords={helpers.USER: "second factor"},
                              auth_methods_required=[["publickey", "password"]]) as srv:
        askpass = tmp_path / "askpass.sh"
        askpass.write_text("#!/bin/sh\necho 'second factor'\n")
        askpass.chmod(0o700)
        env = dict(os.environ, SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
        r = subprocess.run(["ssh", "-F", "/dev/null", "-p", str(srv.port), "-i", str(keys.user["ed25519"]),
                            "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
                            "-o", "IdentitiesOnly=yes", "-o", "LogLevel=DEBUG1",
                            "-o", "PreferredAuthentications=publickey,password",
                            f"{helpers.USER}@127.0.0.1", "echo both"],
                           capture_output=True, timeout=30, env=env, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout == b"both\n"
    assert b"partial success" in r.stderr.lower()


# --------------------------------------------------------------------------- hostbased

HB_HOST = "hostbased-client.sshcore.test"


def test_hostbased_against_sshd(start_sshd, local_user, tmp_path):
    """Our client signs with a *host* key; sshd checks it in the target user's
    ~/.ssh/known_hosts and the (host, user) pair in ~/.shosts (RFC 4252 section 9)."""
    import pwd

    from sshcore.keys import generate_private_key, public_key_line

    host_key = generate_private_key("ssh-ed25519")
    pw = pwd.getpwnam(USER)
    ssh_dir = os.path.join(pw.pw_dir, ".ssh")
    os.makedirs(ssh_dir, exist_ok=True)
    files = {os.path.join(ssh_dir, "known_hosts"): f"{HB_HOST} {public_key_line(host_key)}\n",
             os.path.join(pw.pw_dir, ".shosts"): f"{HB_HOST} {USER}\n"}
    for path, text in files.items():
        with open(path, "w") as f:
            f.write(text)
        os.chown(path, pw.pw_uid, pw.pw_gid)
    os.chown(ssh_dir, pw.pw_uid, pw.pw_gid)
    sshd = start_sshd(HostbasedAuthentication="yes", HostbasedUsesNameFromPacketOnly="yes",
                      IgnoreRhosts="no", IgnoreUserKnownHosts="no",
                      AuthenticationMethods="hostbased")

    async def main(client_username, key):
        async with sshcore.connect("127.0.0.1", sshd.port, username=USER, client_keys=[],
                                   known_hosts=str(sshd.known_hosts), client_host_keys=[key],
                                   client_host=HB_HOST, client_username=client_username) as conn:
            return (await conn.run("whoami")).stdout
    try:
        assert go(main(USER, host_key)) == f"{USER}\n"
        assert "Accepted hostbased for" in sshd.log.read_text()
        with pytest.raises(sshcore.PermissionDeniedError):  # not in .shosts
            go(main("someone-else", host_key))
        with pytest.raises(sshcore.PermissionDeniedError):  # not this host's key
            go(main(USER, generate_private_key("ssh-ed25519")))
    finally:
        for path in files:
            os.unlink(path)


@pytest.fixture
def ssh_keysign():
    """ssh signs hostbased requests through the setuid ssh-keysign, which only works
    with ``EnableSSHKeysign yes`` in the *system* ssh_config: we add a drop-in file for
    the duration of the test (CI runs as root on a throwaway machine)."""
    if os.geteuid() != 0:
        pytest.fail("enabling ssh-keysign needs root (CI runs as root)")
    if not os.path.exists("/usr/lib/openssh/ssh-keysign"):
        pytest.fail("ssh-keysign is missing (Debian's openssh-client ships it)")
    if not os.path.exists("/etc/ssh/ssh_host_ed25519_key"):
        subprocess.run(["ssh-keygen", "-A"], check=True, capture_output=True)
    path = "/etc/ssh/ssh_config.d/00-sshcore-test-keysign.conf"
    with open(path, "w") as f:
        f.write("EnableSSHKeysign yes\n")
    try:
        with open("/etc/ssh/ssh_host_ed25519_key.pub") as f:
            yield f.read()
    finally:
        os.unlink(path)


def test_ssh_hostbased_to_our_server(ssh_keysign, keys, helpers, tmp_path):
    """Real ssh (through ssh-keysign and the machine's host key) logs in to our server by
    hostbased auth; ssh names the client host by the reverse lookup of 127.0.0.1."""
    import socket

    name = socket.gethostbyaddr("127.0.0.1")[0]
    kch = tmp_path / "known_client_hosts"
    kch.write_text(f"{name},127.0.0.1 {ssh_keysign}")
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              known_client_hosts=str(kch), auth_methods=["hostbased"]) as srv:
        ok = helpers.run_ssh(srv.port, "echo hostbased-ok",
                             options={"HostbasedAuthentication": "yes",
                                      "PreferredAuthentications": "hostbased",
                                      "EnableSSHKeysign": "yes"})
    kch.write_text(f"{name},127.0.0.1 {public_key_line_of(keys)}\n")
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              known_client_hosts=str(kch), auth_methods=["hostbased"]) as srv:
        bad = helpers.run_ssh(srv.port, "echo hostbased-ok",
                              options={"HostbasedAuthentication": "yes",
                                       "PreferredAuthentications": "hostbased",
                                       "EnableSSHKeysign": "yes"})
    assert ok.returncode == 0 and ok.stdout == b"hostbased-ok\n", ok.stderr[-2000:]
    assert bad.returncode == 255 and b"Permission denied" in bad.stderr


def public_key_line_of(keys):
    with open(f"{keys.user['ed25519']}.pub") as f:
        return f.read().strip()
