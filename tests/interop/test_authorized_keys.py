"""authorized_keys options enforced by our server, with the real ssh as the client:
command=, environment=, no-pty, from=, expiry-time=, restrict, permitopen=, permitlisten=."""

from __future__ import annotations

import socket
import subprocess
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop

OPTIONS = {
    "forced": 'command="echo forced:$SSH_ORIGINAL_COMMAND",environment="SSHCORE_K=from key"',
    "nopty": "no-pty",
    "fromok": 'from="10.1.2.3,127.0.0.0/8"',
    "fromno": 'from="10.0.0.0/8,!127.0.0.1,*.example"',
    "expired": 'expiry-time="20000101"',
    "future": 'expiry-time="20991231Z"',
    "restrict": "restrict",
    "permitopen": 'restrict,port-forwarding,permitopen="127.0.0.1:{port}"',
    "permitlisten": 'permitlisten="{listen}",no-pty',
    "bad": 'bogus-option,command="x"',
}


@pytest.fixture(scope="module")
def echo_port():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(65536):
                    conn.sendall(data.upper())
    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1]
    srv.close()


@pytest.fixture(scope="module")
def setup(keys, helpers, tmp_path_factory, echo_port):
    d = tmp_path_factory.mktemp("ak")
    listen = helpers.free_port()
    lines, idents = [], {}
    for name, opts in OPTIONS.items():
        helpers.keygen(d / name, "ed25519")
        idents[name] = d / name
        pub = Path(f"{d / name}.pub").read_text().strip()
        lines.append(f"{opts.format(port=echo_port, listen=listen)} {pub}")
    ak = d / "authorized_keys"
    ak.write_text("# options under test\n" + "\n".join(lines) + "\n")
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]], authorized_client_keys=str(ak),
                              allow_forwarding=True) as srv:
        yield srv, idents, listen


def ssh(helpers, srv, ident, *args, input=b"", timeout=30):
    argv = ["ssh", "-F", "/dev/null", "-p", str(srv.port), "-o", "UserKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=no", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
            "-i", str(ident), *args]
    if not any(a.endswith("@127.0.0.1") for a in args):
        argv.append(f"{helpers.USER}@127.0.0.1")
    r = subprocess.run(argv, input=input, capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def test_forced_command_and_environment(setup, helpers):
    srv, idents, _ = setup
    code, out, err = ssh(helpers, srv, idents["forced"], f"{helpers.USER}@127.0.0.1", "ls -l /")
    assert (code, out) == (0, "forced:ls -l /\n"), err
    code, out, err = ssh(helpers, srv, idents["forced"], f"{helpers.USER}@127.0.0.1",
                         "echo", "never")
    assert out == "forced:echo never\n"


def test_no_pty_refuses_the_terminal(setup, helpers):
    srv, idents, _ = setup
    # ssh -tt treats a refused PTY as fatal (as it does with sshd)
    code, out, err = ssh(helpers, srv, idents["nopty"], "-tt", f"{helpers.USER}@127.0.0.1",
                         "echo should-not-run")
    assert code == 255 and "PTY allocation request failed" in err and out == ""
    # an interactive login goes on without one
    argv = ["/usr/bin/ssh", "-F", "/dev/null", "-p", str(srv.port), "-o", "UserKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=no", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
            "-i", str(idents["nopty"]), f"{helpers.USER}@127.0.0.1"]
    code, out = helpers.run_in_pty(argv, [(b"", b"tty; exit 7\n")], timeout=30)
    assert b"PTY allocation request failed" in out and b"not a tty" in out, out
    assert code == 7


@pytest.mark.parametrize("name,allowed", [("fromok", True), ("fromno", False),
                                          ("expired", False), ("future", True), ("bad", False)])
def test_from_expiry_and_bad_lines(setup, helpers, name, allowed):
    srv, idents, _ = setup
    code, out, err = ssh(helpers, srv, idents[name], f"{helpers.USER}@127.0.0.1", "echo in")
    if allowed:
        assert (code, out) == (0, "in\n"), err
    else:
        assert code == 255 and "Permission denied" in err and out == ""


def test_restrict_permitopen_and_permitlisten(setup, helpers, echo_port):
    srv, idents, listen = setup
    # restrict: no forwarding at all, and no pty
    code, out, err = ssh(helpers, srv, idents["restrict"], "-W", f"127.0.0.1:{echo_port}", input=b"x")
    assert code == 255 and out == ""
    # restrict,port-forwarding,permitopen: only that destination
    code, out, err = ssh(helpers, srv, idents["permitopen"], "-W", f"127.0.0.1:{echo_port}",
                         input=b"permitted")
    assert (code, out) == (0, "PERMITTED"), err
    code, out, err = ssh(helpers, srv, idents["permitopen"], "-W", f"localhost:{echo_port}",
                         input=b"x")
    assert code == 255 and out == ""
    # permitlisten: -R only on that port
    code, out, err = ssh(helpers, srv, idents["permitlisten"], "-N", "-o", "ExitOnForwardFailure=yes",
                         "-R", f"{helpers.free_port()}:127.0.0.1:{echo_port}", timeout=30)
    assert code == 255 and "remote port forwarding failed" in err
    proc = subprocess.Popen(
        ["ssh", "-F", "/dev/null", "-p", str(srv.port), "-o", "UserKnownHostsFile=/dev/null",
         "-o", "StrictHostKeyChecking=no", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
         "-o", "ExitOnForwardFailure=yes", "-i", str(idents["permitlisten"]), "-N",
         "-R", f"{listen}:127.0.0.1:{echo_port}", f"{helpers.USER}@127.0.0.1"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        helpers.wait_port(listen, timeout=20)
        with socket.create_connection(("127.0.0.1", listen), timeout=20) as sock:
            sock.sendall(b"listen ok")
            sock.shutdown(socket.SHUT_WR)
            got = b""
            while chunk := sock.recv(100):
                got += chunk
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=10)
    assert got == b"LISTEN OK"
