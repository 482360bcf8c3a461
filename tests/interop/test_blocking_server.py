"""sshcore.blocking.serve against OpenSSH's ssh client, and against our blocking client."""

from __future__ import annotations

import pytest

import sshcore
from sshcore import blocking

T = 30


def handler(session):
    if session.command is None:  # a shell: echo lines until "exit"
        for line in session.stdin:
            if line.strip() == b"exit":
                return 9
            session.stdout.write(b"> " + line)
        return 0
    if session.command == "env":
        session.stdout.write(repr(sorted(session.env.items())).encode() + b"\n")
        session.stdout.write(f"{session.term_type} {session.username}\n".encode())
        return 0
    data = session.stdin.read()
    session.stdout.write(session.command.encode() + b":" + data.upper())
    session.stderr.write(b"on stderr\n")
    return len(data)


@pytest.fixture(scope="module")
def server(keys):
    with blocking.serve(server_host_keys=[keys.host["ed25519"]],
                        authorized_client_keys=str(keys.authorized_keys),
                        passwords={"alice": "s3cret"}, handler=handler) as srv:
        yield srv


def test_openssh_client_against_serve(server, keys, helpers):
    r = helpers.run_ssh(server.port, "shout", identity=keys.user["ed25519"], input=b"hello")
    assert (r.stdout, r.returncode) == (b"shout:HELLO", 5)
    assert r.stderr.endswith(b"on stderr\n")
    r = helpers.run_ssh(server.port, "anything", identity=keys.user["rsa"], input=b"")
    assert (r.stdout, r.returncode) == (b"anything:", 0)


def test_blocking_client_against_serve(server, keys):
    kw = dict(config=None, agent_path=None, known_hosts=None, connect_timeout=T)
    with blocking.connect("127.0.0.1", server.port, client_keys=[keys.user["ecdsa"]], **kw) as conn:
        r = conn.run("up", input="abc", timeout=T)
        assert (r.stdout, r.stderr, r.exit_status) == ("up:ABC", "on stderr\n", 3)
        r = conn.run("env", env={"LANG": "C"}, term_type="vt220", timeout=T)
        assert r.stdout.splitlines()[0] == "[('LANG', 'C')]"
        sh = conn.shell(term_type=None, timeout=T)
        sh.stdin.write(b"one\ntwo\nexit\n", timeout=T)
        assert sh.stdout.read(timeout=T) == b"> one\n> two\n"
        assert sh.wait(timeout=T) == 9
    with blocking.connect("127.0.0.1", server.port, username="alice", password="s3cret",
                          client_keys=[], **kw) as conn:
        assert conn.run("x", timeout=T).stdout == "x:"
    with pytest.raises(sshcore.PermissionDeniedError):
        blocking.connect("127.0.0.1", server.port, username="alice", password="nope",
                         client_keys=[], **kw)
