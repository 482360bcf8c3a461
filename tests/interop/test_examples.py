"""Every example in examples/ run as a program against real OpenSSH: the client examples
against sshd, the server examples with ssh as their client.  The seed's www.google.com is a
local HTTP server started here."""

from __future__ import annotations

import fcntl
import http.server
import os
import re
import select
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PAGE = b"<html><body>sshcore examples test page</body></html>\n"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """A local web server standing in for www.google.com; its port."""
    root = tmp_path_factory.mktemp("www")
    (root / "index.html").write_bytes(PAGE)

    def handler(*args, **kwargs):
        return _Quiet(*args, directory=str(root), **kwargs)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def http_get(port, source=None, timeout=20):
    """GET / from 127.0.0.1:port (from the address ``source``); the raw reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                  source_address=(source, 0) if source else None) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    return out


def example(name, *args):
    return [sys.executable, str(EXAMPLES / f"{name}.py"), *map(str, args)]


def client_args(sshd, keys):
    return ["--host", "127.0.0.1", "--port", sshd.port, "--key", keys.user["ed25519"],
            "--known-hosts", sshd.known_hosts]


def run_client(name, sshd, keys, *args, timeout=60, **kw):
    r = subprocess.run(example(name, *client_args(sshd, keys), *args), capture_output=True,
                       timeout=timeout, stdin=subprocess.DEVNULL, **kw)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


class Running:
    """An example that keeps running; ``line`` is the first line it printed."""

    def __init__(self, argv, pattern, timeout=30):
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.output = ""
        self.match = self.wait_for(pattern, timeout)

    def wait_for(self, pattern, timeout=30):
        """Read stdout until ``pattern`` matches a line; the match."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if ready:
                line = self.proc.stdout.readline().decode()
                if not line:
                    break
                self.output += line
                m = re.search(pattern, line)
                if m:
                    return m
            elif self.proc.poll() is not None:
                break
        if self.proc.poll() is None:
            self.proc.terminate()
        err = self.proc.stderr.read().decode(errors="replace")
        self.stop()
        raise AssertionError(f"{pattern!r} never printed; stdout {self.output!r}, stderr {err!r}")

    @property
    def port(self):
        return int(self.match.group(1))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# --- client examples against sshd ---------------------------------------------------------

def test_simple_client_lists_a_directory(start_sshd, keys, tmp_path):
    d = tmp_path / "abc"
    d.mkdir()
    for name in ("one.txt", "two.txt"):
        (d / name).write_text(name)
    code, out, err = run_client("simple_client", start_sshd(), keys, d)
    assert (code, out) == (0, "one.txt\ntwo.txt\n"), err


def test_stderr_client_keeps_stderr_apart(start_sshd, keys, tmp_path):
    missing = tmp_path / "no-such-dir"
    code, out, err = run_client("stderr_client", start_sshd(), keys, missing)
    assert code == 0 and out == ""
    assert f"ls: cannot access '{missing}': No such file or directory" in err


def test_math_client_prints_bc_answers(start_sshd, keys):
    code, out, err = run_client("math_client", start_sshd(), keys)
    assert (code, out) == (0, "2+2 = 4\n1*2*3*4 = 24\n2^32 = 4294967296\n"), err


def test_check_exit_status(start_sshd, keys):
    code, out, err = run_client("check_exit_status", start_sshd(), keys, "echo hi; exit 3")
    assert (code, out) == (0, "hi\nRemote program exited with status 3\n"), err
    code, out, err = run_client("check_exit_status", start_sshd(), keys, "kill -TERM $$")
    assert (code, out) == (0, "Remote program was killed by signal TERM\n"), err


def test_set_environment(start_sshd, keys):
    code, out, err = run_client("set_environment", start_sshd(), keys)  # AcceptEnv LANG LC_*
    assert code == 0, err
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert env["LANG"] == "en_GB" and env["LC_COLLATE"] == "C"


def test_set_terminal(start_sshd, keys):
    code, out, err = run_client("set_terminal", start_sshd(), keys)
    assert (code, out) == (0, "Xterm\r\n24 80\r\n"), err


def test_local_forwarding_client(start_sshd, keys, helpers, web):
    port = helpers.free_port()
    with Running(example("local_forwarding_client", *client_args(start_sshd(), keys),
                         "--listen-port", port, "--dest-host", "127.0.0.1", "--dest-port", web),
                 r"Forwarding port (\d+) to 127\.0\.0\.1:") as ex:
        assert ex.port == port
        replies = [http_get(port) for _ in range(5)]
    assert all(r.startswith(b"HTTP/1.0 200") and r.endswith(PAGE) for r in replies), replies


def test_local_forwarding_client2_refuses_by_peer_address(start_sshd, keys, web):
    with Running(example("local_forwarding_client2", *client_args(start_sshd(), keys),
                         "--dest-host", "127.0.0.1", "--dest-port", web, "--reject", "127.0.0.1"),
                 r"Listening on port (\d+)\.\.\.") as ex:
        assert http_get(ex.port, source="127.0.0.2").endswith(PAGE)   # accepted
        try:  # refused: closed with nothing sent (a reset, as the request went unread)
            assert http_get(ex.port, source="127.0.0.1") == b""
        except ConnectionResetError:
            pass
        ex.wait_for(r"Rejected connection from 127\.0\.0\.1$")


def test_remote_forwarding_client(start_sshd, keys, web):
    with Running(example("remote_forwarding_client", *client_args(start_sshd(), keys),
                         "--listen-port", 0, "--dest-port", web),
                 r"Server listening on port (\d+), forwarding to localhost:") as ex:
        assert ex.port != 0
        replies = [http_get(ex.port) for _ in range(3)]
    assert all(r.endswith(PAGE) for r in replies), replies


def test_direct_client_sends_head_request(start_sshd, keys, web):
    code, out, err = run_client("direct_client", start_sshd(), keys, "--dest-host", "127.0.0.1",
                                "--dest-port", web)
    assert code == 0, err
    assert out.startswith("HTTP/1.0 200 OK\r\n") and f"Content-Length: {len(PAGE)}\r\n" in out
    assert "sshcore examples test page" not in out  # HEAD: headers only


def test_listening_client_greets_forwarded_connections(start_sshd, keys):
    with Running(example("listening_client", *client_args(start_sshd(), keys), "--listen-port", 0),
                 r"Server listening on port (\d+)") as ex:
        with socket.create_connection(("127.0.0.1", ex.port), timeout=20) as sock:
            local_port = sock.getsockname()[1]
            reply = b""
            while chunk := sock.recv(1024):
                reply += chunk
    assert reply == f"Connection received from 127.0.0.1, port {local_port}\r\n".encode()


# --- server examples with ssh as the client -------------------------------------------------

def server(name, keys, *args):
    return Running(example(name, "--port", 0, "--host-key", keys.host["ed25519"],
                           "--authorized-keys", keys.authorized_keys, *args),
                   r"Listening on port (\d+)")


def ssh(port, user, *args, input=b"", password=None, tmp=None, identity=None, timeout=30):
    argv = ["ssh", "-F", "/dev/null", "-p", str(port), "-o", "UserKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=no", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"]
    env = dict(os.environ)
    if password is not None:
        askpass = tmp / "askpass.sh"
        askpass.write_text(f"#!/bin/sh\necho '{password}'\n")
        askpass.chmod(0o700)
        env.update(SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
        argv += ["-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=1"]
    else:
        argv += ["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"]
    if identity is not None:
        argv += ["-i", str(identity)]
    r = subprocess.run(argv + [f"{user}@127.0.0.1", *args], input=input, capture_output=True,
                       timeout=timeout, env=env)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def test_simple_server_passwords(keys, tmp_path):
    with server("simple_server", keys) as srv:
        assert ssh(srv.port, "guest")[:2] == (0, "Welcome to my SSH server, guest!\r\n")
        code, out, err = ssh(srv.port, "user123", password="secretpw", tmp=tmp_path)
        assert (code, out) == (0, "Welcome to my SSH server, user123!\r\n"), err
        code, out, err = ssh(srv.port, "user123", password="wrong", tmp=tmp_path)
        assert code == 255 and "Permission denied" in err
        srv.proc.terminate()
        log = srv.proc.stdout.read().decode()
    assert log.count("SSH connection received from 127.0.0.1.") == 3
    assert log.count("SSH connection closed.") == 2   # and one auth failure


def test_simple_keyed_server(keys, tmp_path, helpers):
    key_dir = tmp_path / "authorized_keys"
    key_dir.mkdir()
    (key_dir / f"{helpers.USER}.pub").write_text(Path(f"{keys.user['ed25519']}.pub").read_text())
    with server("simple_keyed_server", keys, "--authorized-dir", key_dir) as srv:
        code, out, err = ssh(srv.port, helpers.USER, identity=keys.user["ed25519"])
        assert (code, out) == (0, f"Welcome to my SSH server, {helpers.USER}!\r\n"), err
        code, _, err = ssh(srv.port, helpers.USER, identity=keys.user["rsa"])
        assert code == 255 and "Permission denied (publickey)" in err
        code, _, err = ssh(srv.port, "nobody-here", identity=keys.user["ed25519"])
        assert code == 255 and "Permission denied" in err


def test_math_server_sums_its_input(keys, helpers):
    with server("math_server", keys) as srv:
        numbers = "".join(f"{i}\n" for i in range(1, 1001)).encode()
        code, out, err = ssh(srv.port, helpers.USER, "sum", input=numbers,
                             identity=keys.user["ed25519"])
        assert code == 0, err
        assert out.endswith("Total = 500500\r\n")
        code, out, err = ssh(srv.port, helpers.USER, input=b"1\n2\nthree\n",
                             identity=keys.user["ed25519"])
        assert code == 1 and "Invalid number: three" in err and "Total" not in out


def test_show_environment(keys, helpers):
    with server("show_environment", keys) as srv:
        code, out, err = ssh(srv.port, helpers.USER, "-o", "SetEnv=COLOR=blue SHAPE=round",
                             identity=keys.user["ed25519"])
        assert (code, out) == (0, "Environment:\r\n  COLOR=blue\r\n  SHAPE=round\r\n"), err
        code, out, err = ssh(srv.port, helpers.USER, identity=keys.user["ed25519"])
        assert (code, out, err) == (1, "", "No environment variables set\r\n")


def test_show_terminal_reports_type_size_and_resizes(keys, helpers):
    def resize(fd):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # SIGWINCH

    with server("show_terminal", keys) as srv:
        argv = ["/usr/bin/ssh", "-F", "/dev/null", "-tt", "-p", str(srv.port),
                "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
                "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-i", str(keys.user["ed25519"]),
                f"{helpers.USER}@127.0.0.1"]
        code, out = helpers.run_in_pty(argv, [(b"Try resizing", resize),
                                              (b"New window size", b"q")],
                                       rows=30, cols=100, env=dict(os.environ, TERM="vt220"))
        assert b"Terminal type: vt220, size: 100x30\r\n" in out, out
        assert b"New window size: 120x40\r\n" in out, out
        assert code == 0 and b"Goodbye!" in out, out
        code, out, err = ssh(srv.port, helpers.USER, "-T", identity=keys.user["ed25519"])
        assert code == 1 and "needs a terminal" in err


def test_local_forwarding_server_allows_one_port(keys, helpers, web):
    request = b"GET / HTTP/1.0\r\n\r\n"
    with server("local_forwarding_server", keys, "--allowed-port", web) as srv:
        code, out, err = ssh(srv.port, helpers.USER, "-W", f"127.0.0.1:{web}", input=request,
                             identity=keys.user["ed25519"])
        assert code == 0 and out.startswith("HTTP/1.0 200") and out.endswith(PAGE.decode()), err
        code, out, err = ssh(srv.port, helpers.USER, "-W", f"127.0.0.1:{helpers.free_port()}",
                             input=request, identity=keys.user["ed25519"])
        assert (code, out) == (255, "") and "stdio forwarding failed" in err


def test_remote_forwarding_server_allows_one_port(keys, helpers, web):
    allowed = helpers.free_port()
    with server("remote_forwarding_server", keys, "--listen-port", allowed) as srv:
        ssh_fwd = subprocess.Popen(
            ["ssh", "-F", "/dev/null", "-N", "-p", str(srv.port), "-o", "UserKnownHostsFile=/dev/null",
             "-o", "StrictHostKeyChecking=no", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
             "-o", "ExitOnForwardFailure=yes", "-i", str(keys.user["ed25519"]),
             "-R", f"{allowed}:127.0.0.1:{web}", f"{helpers.USER}@127.0.0.1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            helpers.wait_port(allowed, timeout=20)
            replies = [http_get(allowed) for _ in range(3)]
        finally:
            ssh_fwd.terminate()
            ssh_fwd.communicate(timeout=10)
        assert all(r.endswith(PAGE) for r in replies), replies
        other = helpers.free_port()
        code, _, err = ssh(srv.port, helpers.USER, "-N", "-o", "ExitOnForwardFailure=yes", "-R",
                           f"{other}:127.0.0.1:{web}", identity=keys.user["ed25519"])
        assert code == 255 and f"remote port forwarding failed for listen port {other}" in err


def test_direct_server_echoes_port_7(keys, helpers):
    with server("direct_server", keys) as srv:
        data = os.urandom(200_000)
        echo = subprocess.run(
            ["ssh", "-F", "/dev/null", "-p", str(srv.port), "-o", "UserKnownHostsFile=/dev/null",
             "-o", "StrictHostKeyChecking=no", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
             "-i", str(keys.user["ed25519"]), "-W", "anywhere.invalid:7", f"{helpers.USER}@127.0.0.1"],
            input=data, capture_output=True, timeout=30)
        assert echo.returncode == 0, echo.stderr
        assert echo.stdout == data
        code, _, err = ssh(srv.port, helpers.USER, "-W", "127.0.0.1:8", input=b"x",
                           identity=keys.user["ed25519"])
        assert code == 255 and "stdio forwarding failed" in err
