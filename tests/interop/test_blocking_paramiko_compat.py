"""One paramiko-style script body, run unchanged against paramiko and against
sshcore.blocking.paramiko_compat, both talking to the same real sshd."""

from __future__ import annotations

import os

import paramiko
import pytest

from sshcore.blocking import paramiko_compat

USER = __import__("getpass").getuser()
LIBS = pytest.mark.parametrize("lib", [paramiko, paramiko_compat], ids=["paramiko", "sshcore"])


@pytest.fixture(scope="module")
def sshd(start_sshd):
    return start_sshd(Subsystem="sftp internal-sftp")


def script(lib, port, key_file, known_hosts, workdir):
    """What a typical deploy script does with paramiko (written for paramiko)."""
    client = lib.SSHClient()
    client.load_host_keys(known_hosts)
    client.set_missing_host_key_policy(lib.RejectPolicy())
    client.connect("127.0.0.1", port=port, username=USER, key_filename=key_file,
                   look_for_keys=False, allow_agent=False, timeout=30)
    stdin, stdout, stderr = client.exec_command("tr a-z A-Z; echo oops >&2; exit 4", timeout=30)
    stdin.write(b"hello\nworld\n")
    stdin.close()
    lines = [line for line in stdout]
    err = stderr.read()
    status = stdout.channel.recv_exit_status()
    _, out2, _ = client.exec_command("echo $SHELL_TEST_VAR; test -t 1 && echo tty",
                                     get_pty=True, environment={"SSHCORE_T": "1"})
    pty_out = out2.read()

    local = os.path.join(workdir, "up.bin")
    blob = os.urandom(300_000)
    with open(local, "wb") as f:
        f.write(blob)
    remote_dir = os.path.join(workdir, "remote")
    sftp = client.open_sftp()
    sftp.mkdir(remote_dir)
    sftp.put(local, remote_dir + "/r.bin")
    names = sftp.listdir(remote_dir)
    size = sftp.stat(remote_dir + "/r.bin").st_size
    with sftp.open(remote_dir + "/r.bin") as f:
        head = f.read(10)
    sftp.rename(remote_dir + "/r.bin", remote_dir + "/s.bin")
    sftp.get(remote_dir + "/s.bin", local + ".back")
    with open(local + ".back", "rb") as f:
        back = f.read()
    sftp.remove(remote_dir + "/s.bin")
    sftp.rmdir(remote_dir)
    sftp.close()
    active = client.get_transport().is_active()
    client.close()
    return (lines, err, status, b"tty" in pty_out, names, size, head == blob[:10],
            back == blob, active)


@LIBS
def test_same_script_same_results(lib, sshd, keys, tmp_path):
    got = script(lib, sshd.port, str(keys.user["ed25519"]), str(sshd.known_hosts), str(tmp_path))
    assert got == (["HELLO\n", "WORLD\n"], b"oops\n", 4, True, ["r.bin"], 300_000, True, True,
                   True)


@LIBS
def test_host_key_policies(lib, sshd, keys, tmp_path):
    def attempt(policy):
        client = lib.SSHClient()
        client.load_host_keys(str(tmp_path / "empty_known_hosts"))
        client.set_missing_host_key_policy(policy)
        try:
            client.connect("127.0.0.1", port=sshd.port, username=USER,
                           key_filename=str(keys.user["ed25519"]), look_for_keys=False,
                           allow_agent=False, timeout=30)
            _, out, _ = client.exec_command("echo in")
            return out.read()
        finally:
            client.close()
    (tmp_path / "empty_known_hosts").write_text("")
    with pytest.raises(lib.SSHException):
        attempt(lib.RejectPolicy())
    assert attempt(lib.AutoAddPolicy()) == b"in\n"
    with pytest.raises(lib.AuthenticationException):
        client = lib.SSHClient()
        client.set_missing_host_key_policy(lib.AutoAddPolicy())
        client.connect("127.0.0.1", port=sshd.port, username=USER, password="wrong",
                       look_for_keys=False, allow_agent=False, timeout=30)


@LIBS
def test_direct_tcpip_channel(lib, sshd, keys):
    client = lib.SSHClient()
    client.load_host_keys(str(sshd.known_hosts))
    client.connect("127.0.0.1", port=sshd.port, username=USER, key_filename=str(keys.user["ed25519"]),
                   look_for_keys=False, allow_agent=False, timeout=30)
    try:
        chan = client.get_transport().open_channel("direct-tcpip", ("127.0.0.1", sshd.port),
                                                   ("127.0.0.1", 0))
        chan.settimeout(30)
        banner = b""
        while b"\n" not in banner:
            banner += chan.recv(100)
        assert banner.startswith(b"SSH-2.0-OpenSSH")
        chan.close()
    finally:
        client.close()
