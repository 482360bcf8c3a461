"""OpenSSH's connection-protocol extensions with the real ssh and sshd: no-more-sessions
(PROTOCOL 2.2) and eow, "end of write" (PROTOCOL 2.1).

OpenSSH sends both only to a peer whose version string it takes for OpenSSH (compat.c:
"OpenSSH*" gives SSH_NEW_OPENSSH; ssh.c ssh_session2 and nchan.c chan_send_eow2 check
it), never to one calling itself "sshcore_0.1".  So these tests give our side such a
version string: that is what makes ssh and sshd send what we want to see understood.
"""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess

import pytest

import sshcore
import sshcore.options
from sshcore.config import ConnectionConfig

pytestmark = pytest.mark.interop

OPENSSH_LIKE = "SSH-2.0-OpenSSH_9.9 sshcore-test"


@dataclasses.dataclass
class _OpenSSHNamed(ConnectionConfig):
    version: str = OPENSSH_LIKE


@pytest.fixture
def openssh_named(monkeypatch):
    """connect() and listen() build their configs with our version string set so."""
    monkeypatch.setattr(sshcore.options, "ConnectionConfig", _OpenSSHNamed)  # both build there


def serve(keys, helpers, **kwargs):
    return helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                                authorized_client_keys=str(keys.authorized_keys), **kwargs)


def test_ssh_sends_no_more_sessions_and_our_server_records_it(keys, helpers, openssh_named):
    """ssh (ControlMaster no, the default) sends no-more-sessions@openssh.com right after
    its session open; our server records it (a further session open would then be a
    disconnect, as in sshd: see tests/hardening/test_rfc4254_strictness.py), and the
    session ssh opened goes on."""
    async def report(proc):
        proc.stdout.write(f"no_more_sessions={proc.channel._conn.no_more_sessions}\n")
        return 0

    with serve(keys, helpers, process_factory=report) as srv:
        r = helpers.run_ssh(srv.port, "x", identity=keys.user["ed25519"],
                            options={"LogLevel": "DEBUG1"})
    err = r.stderr.decode(errors="replace")
    assert "Requesting no-more-sessions@openssh.com" in err, err[-3000:]
    assert r.returncode == 0, err[-3000:]
    assert r.stdout == b"no_more_sessions=True\n"


def test_ssh_eow_stops_our_server_command(keys, helpers, openssh_named, tmp_path):
    """``ssh host yes | head -c 6``: head exits, ssh's writes to its stdout fail and it
    sends eow@openssh.com (nchan.c chan_write_failed -> chan_send_eow2).  Our server
    then closes the pipe from the command's stdout, as sshd does (chan_rcvd_eow ->
    chan_shutdown_read), so ``yes`` dies of SIGPIPE and ssh returns.  Without it, ``yes``
    would run until the connection ends: the pipeline would never finish."""
    with serve(keys, helpers) as srv:  # real subprocesses, as sshcore serve runs them
        ssh = (f"ssh -F /dev/null -p {srv.port} -o UserKnownHostsFile=/dev/null"
               f" -o StrictHostKeyChecking=no -o BatchMode=yes -o IdentitiesOnly=yes"
               f" -i {keys.user['ed25519']} -o LogLevel=DEBUG2 -E {tmp_path / 'ssh.log'}"
               f" {helpers.USER}@127.0.0.1 yes")
        r = subprocess.run(["sh", "-c", f"{ssh} | head -c 6; echo; echo ssh=$?"],
                           capture_output=True, timeout=30)
    log = (tmp_path / "ssh.log").read_text(errors="replace")
    assert "send eow" in log, log[-3000:]
    assert r.stdout.startswith(b"y\ny\ny\n"), r
    # ssh ends when the command does: killed by SIGPIPE, reported as exit-signal PIPE when
    # the shell execs it (bash), or as the shell's exit-status 141 when it forks it (dash:
    # CI runs without SHELL, so /bin/sh serves)
    assert "rtype exit-signal" in log or "rtype exit-status" in log, log[-3000:]


def test_sshd_eow_fails_our_stdin_writes(start_sshd, keys, openssh_named):
    """The remote command closes its stdin: sshd's next write to it fails and it sends
    eow@openssh.com (nchan.c chan_write_failed).  Our client's writes to the process's
    stdin then raise BrokenPipeError, like a write to a pipe nobody reads; the command's
    output and exit status still arrive."""
    sshd = start_sshd(LogLevel="DEBUG2")

    async def main():
        async with sshcore.connect("127.0.0.1", sshd.port, username=None,
                                   client_keys=[keys.user["ed25519"]],
                                   known_hosts=str(sshd.known_hosts)) as conn:
            proc = await conn.create_process("exec 0<&-; sleep 2; echo done")
            error = None
            for _ in range(100):
                try:
                    proc.stdin.write("data\n")
                except BrokenPipeError as exc:
                    error = exc
                    break
                await asyncio.sleep(0.05)
            result = await proc.wait()
            return error, result
    error, result = asyncio.run(asyncio.wait_for(main(), 60))
    assert error is not None and "eow@openssh.com" in str(error)
    assert result.stdout == "done\n" and result.exit_status == 0
    assert "send eow" in sshd.log.read_text()


def test_our_server_sends_eow_to_ssh_when_the_command_closes_stdin(keys, helpers, tmp_path):
    """The command closes its stdin while ``yes`` still feeds ssh: our server's next
    write to it fails, and it sends eow@openssh.com, as sshd does (nchan.c
    chan_write_failed); ssh logs "rcvd eow" and stops reading its stdin.  (No version
    trick needed: ssh acts on eow from any server, and we send it to OpenSSH peers.)"""
    with serve(keys, helpers) as srv:  # real subprocesses
        ssh = (f"ssh -F /dev/null -p {srv.port} -o UserKnownHostsFile=/dev/null"
               f" -o StrictHostKeyChecking=no -o BatchMode=yes -o IdentitiesOnly=yes"
               f" -i {keys.user['ed25519']} -o LogLevel=DEBUG2 -E {tmp_path / 'ssh.log'}"
               f" {helpers.USER}@127.0.0.1 'exec 0<&-; sleep 1; echo done'")
        r = subprocess.run(["sh", "-c", f"yes | {ssh}"], capture_output=True, timeout=30)
    log = (tmp_path / "ssh.log").read_text(errors="replace")
    assert r.returncode == 0 and r.stdout == b"done\n", (r, log[-3000:])
    assert "rcvd eow" in log, log[-3000:]
