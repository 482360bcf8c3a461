"""``sshcore run -W host:port`` (as ``ssh -W``) through real sshd: stdin/stdout relayed to
a TCP server, from a file and from a pipe, and as real OpenSSH ssh's ProxyCommand."""

from __future__ import annotations

import os
import shlex
import socket
import socketserver
import subprocess
import sys
import threading

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


@pytest.fixture
def echo_port():
    server = _TCP(("127.0.0.1", 0), _Upper)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def run_args(sshd, keys, *extra):
    return [sys.executable, "-m", "sshcore", "run", "-p", str(sshd.port), "-i",
            str(keys.user["ed25519"]), "-F", "none", "--known-hosts", str(sshd.known_hosts),
            "-o", "BatchMode=yes", *extra]


def test_W_relays_a_file_to_a_tcp_server(start_sshd, keys, tmp_path, echo_port):
    sshd = start_sshd()  # AllowTcpForwarding is sshd's default (yes)
    data = os.urandom(1_500_000).hex().encode()  # 3 MB: more than a channel window
    path = tmp_path / "in"
    path.write_bytes(data)
    with open(path, "rb") as f:
        r = subprocess.run(run_args(sshd, keys, "-W", f"127.0.0.1:{echo_port}", "127.0.0.1"),
                           stdin=f, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == data.upper()


def test_W_relays_a_pipe_to_a_tcp_server(start_sshd, keys, echo_port):
    sshd = start_sshd()
    proc = subprocess.Popen(run_args(sshd, keys, "-W", f"[127.0.0.1]:{echo_port}", "127.0.0.1"),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b"first line\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == b"FIRST LINE\n"  # relayed before stdin ends
        out, err = proc.communicate(b"second\n", timeout=60)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert proc.returncode == 0, err
    assert out == b"SECOND\n"


def test_W_as_proxycommand_of_openssh(start_sshd, keys):
    sshd = start_sshd()
    proxy = " ".join(shlex.quote(a) for a in run_args(sshd, keys, "-W", "%h:%p", "127.0.0.1"))
    r = subprocess.run(["ssh", "-F", "/dev/null", "-p", str(sshd.port), "-i",
                        str(keys.user["ed25519"]), "-o", f"ProxyCommand={proxy}",
                        "-o", f"UserKnownHostsFile={sshd.known_hosts}", "-o", "BatchMode=yes",
                        "-o", "IdentitiesOnly=yes", "127.0.0.1", "echo through the proxy; exit 6"],
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 6, r.stderr
    assert r.stdout == b"through the proxy\n"


@pytest.mark.parametrize("extra, message", [
    (["-W", "127.0.0.1:1", "127.0.0.1"], b"Connection refused"),
    (["-W", "127.0.0.1:1", "127.0.0.1", "echo"], b"-W takes no command"),
    (["-W", "nocolon", "127.0.0.1"], b"bad -W"),
])
def test_W_errors_are_clear(start_sshd, keys, extra, message):
    sshd = start_sshd()
    r = subprocess.run(run_args(sshd, keys, *extra), capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 255
    assert message in r.stderr and b"Traceback" not in r.stderr, r.stderr
