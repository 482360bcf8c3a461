"""The blocking client (sshcore.blocking) against real OpenSSH sshd: exec, streams, exit
status and signal, pty, environment, forwarding, auth, host key policy, threads."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time

import pytest

import sshcore
from sshcore import blocking

T = 30  # seconds: the limit of every blocking call in these tests


@pytest.fixture(scope="module")
def sshd(start_sshd):
    return start_sshd(Subsystem="sftp internal-sftp")


def connect(sshd, keys, **kw):
    kw.setdefault("client_keys", [keys.user["ed25519"]])
    kw.setdefault("known_hosts", str(sshd.known_hosts))
    return blocking.connect("127.0.0.1", sshd.port, config=None, agent_path=None,
                            connect_timeout=T, **kw)


def test_run_stdout_stderr_exit_status(sshd, keys):
    with connect(sshd, keys) as conn:
        r = conn.run("echo out; echo err >&2; exit 3", timeout=T)
        assert (r.stdout, r.stderr, r.exit_status, r.exit_signal) == ("out\n", "err\n", 3, None)
        r = conn.run("cat; echo done", input="abc\n", timeout=T)
        assert r.stdout == "abc\ndone\n" and r.exit_status == 0


def test_exec_file_objects(sshd, keys):
    with connect(sshd, keys) as conn:
        proc = conn.exec("sort; echo tail >&2")
        proc.stdin.write(b"b\nc\na\n", timeout=T)
        proc.stdin.close()
        lines = [line for line in proc.stdout]
        assert lines == [b"a\n", b"b\n", b"c\n"]
        assert proc.stderr.readline(timeout=T) == b"tail\n"
        assert proc.wait(timeout=T) == 0


def test_big_transfer_both_ways(sshd, keys):
    payload = os.urandom(8 << 20)
    with connect(sshd, keys) as conn:
        proc = conn.exec("cat")

        def feed():
            for i in range(0, len(payload), 100_000):
                proc.stdin.write(payload[i:i + 100_000], timeout=T)
            proc.stdin.close()
        t = threading.Thread(target=feed)
        t.start()
        got = proc.stdout.read(timeout=T)
        t.join(T)
        assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()
        assert proc.wait(timeout=T) == 0


def test_exit_signal(sshd, keys):
    with connect(sshd, keys) as conn:
        r = conn.run("kill -TERM $$", timeout=T)
        assert r.exit_status is None and r.exit_signal[0] == "TERM"
        proc = conn.exec("kill -USR1 $$")
        assert proc.wait(timeout=T) == -1 and proc.exit_signal[0] == "USR1"


def test_pty_and_env(sshd, keys):
    with connect(sshd, keys) as conn:
        r = conn.run("tty; echo $SSHCORE_X", env={"SSHCORE_X": "hello"}, term_type="xterm",
                     timeout=T)
        first, second = r.stdout.splitlines()[:2]
        assert first.startswith("/dev/pts/") and second == "hello"
        r = conn.run("tty", timeout=T)
        assert r.stdout.strip() == "not a tty"


def test_shell(sshd, keys):
    with connect(sshd, keys) as conn:
        sh = conn.shell(term_type=None)
        sh.stdin.write(b"echo in-shell-$((6*7))\nexit 5\n", timeout=T)
        assert b"in-shell-42" in sh.stdout.read(timeout=T)
        assert sh.wait(timeout=T) == 5


def test_password_and_kbdint_auth(start_sshd, local_user):
    user = "sshcoretest"  # the local_user fixture's account
    sshd = start_sshd(PasswordAuthentication="yes")
    with blocking.connect("127.0.0.1", sshd.port, config=None, username=user, password=local_user,
                          client_keys=[], agent_path=None, known_hosts=str(sshd.known_hosts),
                          connect_timeout=T) as conn:
        assert conn.run("whoami", timeout=T).stdout == f"{user}\n"
    with pytest.raises(sshcore.PermissionDeniedError):
        blocking.connect("127.0.0.1", sshd.port, config=None, username=user, password="wrong",
                         client_keys=[], agent_path=None, known_hosts=str(sshd.known_hosts),
                         connect_timeout=T)
    sshd = start_sshd(KbdInteractiveAuthentication="yes", UsePAM="yes",
                      AuthenticationMethods="keyboard-interactive")
    with blocking.connect("127.0.0.1", sshd.port, config=None, username=user, client_keys=[],
                          agent_path=None, known_hosts=str(sshd.known_hosts), connect_timeout=T,
                          kbdint_handler=lambda n, i, prompts: [local_user for _ in prompts],
                          preferred_auth=["keyboard-interactive"]) as conn:
        assert conn.run("whoami", timeout=T).stdout == f"{user}\n"


def test_host_key_policy(sshd, keys, tmp_path):
    empty = tmp_path / "kh"
    empty.write_text("")
    with pytest.raises(sshcore.HostKeyNotVerifiableError):
        connect(sshd, keys, known_hosts=str(empty))
    with connect(sshd, keys, known_hosts=str(empty), accept_new_host_keys=True) as conn:
        assert conn.run("true", timeout=T).exit_status == 0
    assert "127.0.0.1" in empty.read_text()
    with connect(sshd, keys, known_hosts=str(empty)) as conn:  # now it is known
        assert conn.server_host_key is not None
    asked = []
    with connect(sshd, keys, known_hosts=str(tmp_path / "none"),
                 unknown_host_handler=lambda h, p, k: asked.append((h, p)) or True):
        pass
    assert asked == [("127.0.0.1", sshd.port)]


def test_publickey_refused(sshd, keys, tmp_path, helpers):
    stranger = helpers.keygen(tmp_path / "stranger", "ed25519")
    with pytest.raises(sshcore.PermissionDeniedError):
        connect(sshd, keys, client_keys=[stranger])


def test_rsa_and_ecdsa_keys(sshd, keys):
    for kind in ("rsa", "ecdsa"):
        with connect(sshd, keys, client_keys=[keys.user[kind]]) as conn:
            assert conn.run("echo ok", timeout=T).stdout == "ok\n"


def test_direct_tcpip_and_local_forward(sshd, keys):
    echo = socket.create_server(("127.0.0.1", 0))
    port = echo.getsockname()[1]

    def serve():
        while True:
            try:
                s, _ = echo.accept()
            except OSError:
                return
            def one(s=s):
                with s:
                    try:
                        while data := s.recv(65536):
                            s.sendall(data.upper())
                    except OSError:
                        pass  # the far end reset: this echo ends
            threading.Thread(target=one, daemon=True).start()
    threading.Thread(target=serve, daemon=True).start()
    try:
        with connect(sshd, keys) as conn:
            chan = conn.open_direct_tcpip("127.0.0.1", port, timeout=T)
            chan.settimeout(T)
            chan.sendall(b"hello")
            got = b""
            while len(got) < 5:
                got += chan.recv(100)
            assert got == b"HELLO"
            chan.close()
            with conn.forward_local_port("127.0.0.1", 0, "127.0.0.1", port) as fwd:
                for _ in range(3):
                    with socket.create_connection(("127.0.0.1", fwd.port), timeout=T) as s:
                        s.sendall(b"abc" * 1000)
                        s.shutdown(socket.SHUT_WR)
                        got = b""
                        while data := s.recv(65536):
                            got += data
                        assert got == b"ABC" * 1000
    finally:
        echo.close()


def test_twenty_threads_share_one_connection(sshd, keys):
    errors = []
    with connect(sshd, keys) as conn:
        def worker(n):
            try:
                for i in range(5):
                    blob = os.urandom(20_000 + n * 1000 + i)
                    r = conn.run("cat", input=blob, encoding=None, timeout=T)
                    assert r.stdout == blob and r.exit_status == 0
                    r = conn.run(f"echo {n}-{i}; echo e{n} >&2", timeout=T)
                    assert (r.stdout, r.stderr) == (f"{n}-{i}\n", f"e{n}\n")
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads)
    assert errors == []


def test_no_event_loop_anywhere(sshd, keys):
    """A blocking session never runs an asyncio event loop (none hides in a thread): with
    every way of starting one made to fail, a session still works, on one I/O thread.
    (asyncio may be imported: plugins such as sshcore-sftp import it when registered.)"""
    import subprocess
    import sys

    code = (
        "import asyncio, threading\n"
        "def boom(*a, **k): raise AssertionError('an event loop was started')\n"
        "asyncio.new_event_loop = asyncio.run = asyncio.get_event_loop = boom\n"
        "asyncio.BaseEventLoop.run_forever = asyncio.BaseEventLoop.run_until_complete = boom\n"
        "from sshcore import blocking\n"
        f"with blocking.connect('127.0.0.1', {sshd.port}, config=None, agent_path=None,"
        f" client_keys=[{str(keys.user['ed25519'])!r}], known_hosts={str(sshd.known_hosts)!r},"
        " connect_timeout=30) as c:\n"
        "    p = c.exec('cat'); p.stdin.write(b'x'); p.stdin.close()\n"
        "    assert p.stdout.read(timeout=30) == b'x' and p.wait(timeout=30) == 0\n"
        "    assert c.run('echo y', timeout=30).stdout == 'y\\n'\n"
        "    with c.start_sftp_client(timeout=30) as s:\n"
        "        assert s.stat('/', timeout=30).is_dir()\n"
        "    print(sorted(t.name for t in threading.enumerate()))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(sorted(["MainThread", f"sshcore 127.0.0.1:{sshd.port}"]))


def test_kex_executor_runs_the_heavy_kex_work_in_the_pool(sshd, keys):
    """sntrup761's key generation goes to connect(kex_executor=...), as in asyncio."""
    from concurrent.futures import ThreadPoolExecutor

    class Counting(ThreadPoolExecutor):
        jobs = 0

        def submit(self, fn, *args, **kw):
            Counting.jobs += 1
            return super().submit(fn, *args, **kw)
    with Counting(2) as pool:
        with connect(sshd, keys, kex_algs="sntrup761x25519-sha512@openssh.com",
                     kex_executor=pool) as conn:
            assert conn.run("echo pq", timeout=T).stdout == "pq\n"
            assert conn.get_extra_info("algorithms")["kex"] == "sntrup761x25519-sha512@openssh.com"
    assert Counting.jobs >= 1


def test_forward_agent_is_refused_clearly(sshd, keys, tmp_path):
    with pytest.raises(sshcore.ConfigurationError, match="forward_agent"):
        connect(sshd, keys, forward_agent=str(tmp_path / "agent.sock"))


def test_agent_keys(start_sshd, tmp_path, helpers):
    """Publickey auth through a real ssh-agent (the key is only in the agent)."""
    import subprocess

    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        key = helpers.keygen(tmp_path / "agent_ed25519", "ed25519")
        subprocess.run(["ssh-add", "-q", str(key)], env=dict(os.environ, SSH_AUTH_SOCK=str(sock)),
                       check=True, timeout=30, capture_output=True)
        auth = tmp_path / "authorized_keys"
        auth.write_text(open(f"{key}.pub").read())
        agent_sshd = start_sshd(AuthorizedKeysFile=str(auth))
        with blocking.connect("127.0.0.1", agent_sshd.port, config=None, client_keys=[],
                              agent_path=str(sock), known_hosts=str(agent_sshd.known_hosts),
                              connect_timeout=T) as conn:
            assert conn.run("echo via agent", timeout=T).stdout == "via agent\n"
    finally:
        agent.terminate()
        agent.wait(timeout=10)


def test_proxyjump_through_two_hops(start_sshd, keys):
    a, b, c = start_sshd(), start_sshd(MaxAuthTries="7"), start_sshd(MaxAuthTries="8")
    with blocking.connect("127.0.0.1", c.port, config=None, agent_path=None,
                          client_keys=[str(keys.user["ed25519"])],
                          known_hosts=[str(s.known_hosts) for s in (a, b, c)],
                          tunnel=f"127.0.0.1:{a.port},127.0.0.1:{b.port}",
                          connect_timeout=T) as conn:
        r = conn.run("echo through", timeout=T)
        hops = conn._hops
        assert len(hops) == 2 and not any(h.is_closed for h in hops)
    assert r.stdout == "through\n"
    deadline = time.monotonic() + 10
    while not all(h.is_closed for h in hops) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(h.is_closed for h in hops)
