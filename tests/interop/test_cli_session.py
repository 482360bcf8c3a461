"""``sshcore run`` as a stand-in for ssh: -L/-R/-D/-N against sshd, -t/-T and interactive
shells on a real terminal, SendEnv/SetEnv; ``sshcore serve --allow-forwarding`` for ssh -W."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop


class _Upper(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data.upper())
        self.request.shutdown(socket.SHUT_WR)


class _TCP(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


@pytest.fixture
def echo_port():
    server = _TCP(("127.0.0.1", 0), _Upper)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def exchange(port, payload, preamble=b"", reply_len=0):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.settimeout(30)
        if preamble:
            sock.sendall(preamble)
            got = b""
            while len(got) < reply_len:
                got += sock.recv(reply_len - len(got))
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out


def wait_port(port, proc, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode(errors="replace"))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} never opened")


def base_args(sshd, keys):
    return [sys.executable, "-m", "sshcore", "run", "-p", str(sshd.port), "-i", str(keys.user["ed25519"]),
            "--known-hosts", str(sshd.known_hosts)]


def test_run_N_with_L_R_D_against_sshd(start_sshd, keys, helpers, echo_port):
    sshd = start_sshd()
    lport, dport = helpers.free_port(), helpers.free_port()
    proc = subprocess.Popen(base_args(sshd, keys) + [
        "-N", "-L", f"127.0.0.1:{lport}:127.0.0.1:{echo_port}", "-R", f"0:127.0.0.1:{echo_port}",
        "-D", f"127.0.0.1:{dport}", "127.0.0.1"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stderr.readline()
        m = re.search(rb"Allocated port (\d+) for remote forward", line)
        assert m, line
        rport = int(m.group(1))
        wait_port(lport, proc)
        wait_port(dport, proc)
        local = [exchange(lport, b"cli -L %d" % i) for i in range(5)]
        remote = [exchange(rport, b"cli -R %d" % i) for i in range(5)]
        socks = exchange(dport, b"cli -D", preamble=b"\x05\x01\x00\x05\x01\x00\x01"
                         + socket.inet_aton("127.0.0.1") + struct.pack(">H", echo_port), reply_len=12)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert local == [b"CLI -L %d" % i for i in range(5)]
    assert remote == [b"CLI -R %d" % i for i in range(5)]
    assert socks == b"CLI -D"
    assert proc.returncode == 0, err


def test_run_sends_environment(start_sshd, keys):
    sshd = start_sshd()  # AcceptEnv LANG LC_* SSHCORE_*
    env = dict(os.environ, SSHCORE_FROM_ENV="sent", SSHCORE_NOT_SENT="x")
    r = subprocess.run(base_args(sshd, keys) + ["-o", "SendEnv=SSHCORE_FROM_*", "-o", "SetEnv=SSHCORE_SET=set",
                                                "127.0.0.1", "echo $SSHCORE_FROM_ENV $SSHCORE_SET [$SSHCORE_NOT_SENT]"],
                       capture_output=True, env=env, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"sent set []\n"


def test_run_t_gives_remote_pty_with_local_type_and_size_and_resizes(start_sshd, keys, helpers):
    sshd = start_sshd()

    def resize(fd):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # SIGWINCH
        # SIGWINCH and the next keystrokes race inside the client; the point here is the
        # window-change, so give it time to reach the server before "go" is typed.
        time.sleep(0.5)

    env = dict(os.environ, TERM="vt220")
    code, out = helpers.run_in_pty(base_args(sshd, keys) + [
        "-t", "127.0.0.1",
        "tty; echo term=$TERM; stty size; echo READY; read x; stty size; echo done"],
        [(b"READY", resize), (b"READY\r\n", b"go\r")], env=env)
    text = out.decode(errors="replace")
    assert code == 0, text
    assert "/dev/pts/" in text
    assert "term=vt220" in text
    assert "30 100" in text          # the initial size from the local terminal
    assert "40 120" in text          # window-change after SIGWINCH


def test_run_without_command_is_an_interactive_shell(start_sshd, keys, helpers):
    sshd = start_sshd()
    code, out = helpers.run_in_pty(base_args(sshd, keys) + ["127.0.0.1"],
                           [(b"", b"echo answer=$((6*7))\r"), (b"answer=42", b"exit 3\r")])
    assert code == 3, out
    assert b"answer=42" in out


def test_run_T_disables_the_pty(start_sshd, keys, helpers):
    sshd = start_sshd()
    code, out = helpers.run_in_pty(base_args(sshd, keys) + ["-T", "127.0.0.1", "tty || true"], [])
    assert code == 0, out
    assert b"not a tty" in out


def test_serve_allow_forwarding_for_ssh_W(keys, helpers, echo_port, tmp_path):
    port = helpers.free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sshcore", "serve", "--listen", f"127.0.0.1:{port}",
                             "--host-key", str(keys.host["ed25519"]), "--authorized-keys",
                             str(keys.authorized_keys), "--allow-forwarding"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_port(port, proc)
        kh = tmp_path / "kh"
        kh.write_text(f"[127.0.0.1]:{port} {Path(str(keys.host['ed25519']) + '.pub').read_text()}")
        r = subprocess.run(["ssh", "-F", "/dev/null", "-p", str(port), "-i", str(keys.user["ed25519"]),
                            "-o", f"UserKnownHostsFile={kh}", "-o", "BatchMode=yes",
                            "-o", "IdentitiesOnly=yes", "-W", f"127.0.0.1:{echo_port}", "127.0.0.1"],
                           input=b"served -W", capture_output=True, timeout=30)
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"SERVED -W"


@pytest.mark.parametrize("accept", [None, ["SSHCORE_*"]])
def test_serve_passes_accepted_environment_to_commands(keys, helpers, tmp_path, accept):
    """ssh -o SetEnv to ``sshcore serve``: by default only LANG and LC_* reach the command,
    like Debian's sshd; --accept-env replaces that list."""
    port = helpers.free_port()
    argv = [sys.executable, "-m", "sshcore", "serve", "--listen", f"127.0.0.1:{port}",
            "--host-key", str(keys.host["ed25519"]), "--authorized-keys", str(keys.authorized_keys)]
    for pattern in accept or []:
        argv += ["--accept-env", pattern]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_port(port, proc)
        r = helpers.run_ssh(port, 'echo "[$LANG] [$LC_PAPER] [$SSHCORE_X] [$OTHER]"',
                            identity=keys.user["ed25519"],
                            options={"SetEnv": "LANG=sent_LANG LC_PAPER=a4 SSHCORE_X=x OTHER=o"})
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    assert r.returncode == 0, r.stderr
    if accept is None:
        assert r.stdout == b"[sent_LANG] [a4] [] []\n"
    else:  # LANG is the server's own, if it has one
        assert r.stdout.endswith(b"] [] [x] []\n") and b"sent_LANG" not in r.stdout


def test_serve_offers_sftp_by_default(keys, helpers, tmp_path):
    """Our sftp subsystem, starting in the home directory (here HOME=tmp_path) by default."""
    port = helpers.free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sshcore", "serve", "--listen", f"127.0.0.1:{port}",
                             "--host-key", str(keys.host["ed25519"]), "--authorized-keys",
                             str(keys.authorized_keys)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, HOME=str(tmp_path)))
    (tmp_path / "hello.txt").write_text("sftp via sshcore serve\n")
    try:
        wait_port(port, proc)
        r = subprocess.run(["sftp", "-F", "/dev/null", "-b", "-", "-P", str(port),
                            "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
                            "-o", "BatchMode=yes", "-i", str(keys.user["ed25519"]), "127.0.0.1"],
                           input=f"get hello.txt {tmp_path}/copy.txt\n".encode(),
                           capture_output=True, timeout=60)
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "copy.txt").read_text() == "sftp via sshcore serve\n"
