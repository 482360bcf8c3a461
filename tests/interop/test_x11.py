"""X11 forwarding both ways, with real tools: ``sshcore run -X``/``-Y`` and
``connect(x11_forwarding=True)`` through a real sshd, and the real ``ssh -X``/``-Y`` into
``sshcore serve`` and a ``listen()`` server.  Each time a remote command is an X client
(``x11_standin.py client``: the cookie ``xauth`` has for ``$DISPLAY``, the set-up packet,
an echo request) and the X server is the stand-in on the client's side, which tells
which cookie reached it: the real one (trusted, ``-Y``), one its SECURITY extension
generated for ``xauth generate ... untrusted`` (``-X``), or a wrong one (refused)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sshcore

pytestmark = pytest.mark.interop

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("x11_standin", HERE / "x11_standin.py")
assert _spec is not None and _spec.loader is not None
standin = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(standin)

CLIENT = f"{sys.executable} {HERE / 'x11_standin.py'} client"


@pytest.fixture
def xserver(tmp_path):
    """The stand-in X server with its real cookie in a private XAUTHORITY."""
    cookie = os.urandom(16)
    with standin.StandInX(cookie) as x:
        x.xauthority = str(tmp_path / "client.xauth")
        standin.add_cookie(x.xauthority, x.display, cookie)
        yield x


@pytest.fixture
def x11_sshd(start_sshd, tmp_path_factory):
    """A real sshd forwarding X11, its xauth writing to a file of the test's."""
    remote = tmp_path_factory.mktemp("x11sshd") / "remote.xauth"
    sshd = start_sshd(X11Forwarding="yes", XAuthLocation="/usr/bin/xauth",
                      SetEnv=f"SHLVL=1 XAUTHORITY={remote}")
    sshd.xauthority = remote
    return sshd


def result_of(stdout: bytes | str) -> dict:
    text = stdout.decode() if isinstance(stdout, bytes) else stdout
    lines = [line for line in text.splitlines() if line.startswith("{")]
    assert lines, f"the X client printed nothing: {text!r}"
    return json.loads(lines[-1])


def sshcore_cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sshcore", *args], capture_output=True,
                          timeout=timeout, env=env, stdin=subprocess.DEVNULL)


# ----------------------------------------------------------------- our client, real sshd

@pytest.mark.parametrize("flags,verdict", [
    (["-X"], "untrusted"), (["-Y"], "trusted"), (["-o", "ForwardX11=yes"], "untrusted"),
    (["-o", "ForwardX11=yes", "-o", "ForwardX11Trusted=yes"], "trusted")])
def test_sshcore_run_X_and_Y_through_sshd(flags, verdict, xserver, x11_sshd, keys):
    env = dict(os.environ, DISPLAY=xserver.display, XAUTHORITY=xserver.xauthority)
    r = sshcore_cli("run", *flags, "-p", str(x11_sshd.port), "-i", str(keys.user["ed25519"]),
                    "--known-hosts", str(x11_sshd.known_hosts), "127.0.0.1",
                    f'echo "DISPLAY=$DISPLAY" >&2; {CLIENT} 65536', env=env)
    assert r.returncode == 0, (r.stderr.decode(), x11_sshd.log_tail())
    out = result_of(r.stdout)
    assert out["status"] == "accepted" and out["echo_ok"] is True, out
    assert out["display"].startswith("localhost:"), out  # sshd's display, X11UseLocalhost
    assert out["vendor"] == "sshcore stand-in"
    # What reached the X server: the real cookie (-Y) or an untrusted one xauth generated
    # (-X); never the fake cookie the server was given.
    expected = ["trusted"] if verdict == "trusted" else ["trusted", "untrusted"]
    assert [c[0] for c in xserver.connections] == expected, xserver.connections
    assert xserver.connections[-1][2] != out["cookie"]
    if verdict == "trusted":
        assert xserver.connections[-1][2] == xserver.real_cookie.hex()
    else:
        assert bytes.fromhex(xserver.connections[-1][2]) in xserver.untrusted


def test_library_connect_x11_forwarding_through_sshd(xserver, x11_sshd, keys, monkeypatch):
    monkeypatch.setenv("XAUTHORITY", xserver.xauthority)

    async def go() -> tuple[sshcore.SSHCompletedProcess, sshcore.SSHCompletedProcess]:
        async with sshcore.connect("127.0.0.1", x11_sshd.port, known_hosts=str(x11_sshd.known_hosts),
                                   client_keys=[str(keys.user["ed25519"])], agent_path=None,
                                   x11_forwarding=True, x11_trusted=True,
                                   x11_display=xserver.display) as conn:
            first = await asyncio.wait_for(conn.run(CLIENT), 60)
            # The same connection's next session forwards too (its own display).
            second = await asyncio.wait_for(conn.run(CLIENT + " 100"), 60)
            return first, second

    first, second = asyncio.run(go())
    for res in (first, second):
        out = result_of(res.stdout)
        assert out["status"] == "accepted" and out["echo_ok"] is True, (out, res.stderr)
    assert [c[0] for c in xserver.connections] == ["trusted", "trusted"], xserver.connections


def test_client_refuses_an_x_connection_without_the_fake_cookie(xserver, x11_sshd, keys, tmp_path):
    """An X client on the server presenting another cookie never reaches the display."""
    env = dict(os.environ, DISPLAY=xserver.display, XAUTHORITY=xserver.xauthority)
    wrong = os.urandom(16).hex()
    # The remote command replaces the cookie sshd stored for its display with a wrong one.
    cmd = (f'xauth add "${{DISPLAY#localhost}}" MIT-MAGIC-COOKIE-1 {wrong} 2>/dev/null; '
           f'xauth add "unix${{DISPLAY#localhost}}" MIT-MAGIC-COOKIE-1 {wrong}; {CLIENT}')
    r = sshcore_cli("run", "-Y", "-p", str(x11_sshd.port), "-i", str(keys.user["ed25519"]),
                    "--known-hosts", str(x11_sshd.known_hosts), "127.0.0.1", cmd, env=env)
    out = result_of(r.stdout)
    assert out["cookie"] == wrong, out
    assert out["status"] == "error" and "EOF" in out["error"], out  # the channel was closed
    assert xserver.connections == [], xserver.connections  # nothing reached the X server
    assert b"X11 connection refused" in r.stderr and b"fake data" in r.stderr, r.stderr


def test_run_X_without_xauth_is_a_clear_error(xserver, x11_sshd, keys, tmp_path):
    env = dict(os.environ, DISPLAY=xserver.display, XAUTHORITY=xserver.xauthority)
    r = sshcore_cli("run", "-X", "-o", f"XAuthLocation={tmp_path}/no-xauth", "-p",
                    str(x11_sshd.port), "-i", str(keys.user["ed25519"]), "--known-hosts",
                    str(x11_sshd.known_hosts), "127.0.0.1", "true", env=env)
    assert r.returncode == 255, r
    assert b"needs xauth" in r.stderr and b"no-xauth" in r.stderr, r.stderr
    env.pop("DISPLAY")
    r = sshcore_cli("run", "-X", "-p", str(x11_sshd.port), "-i", str(keys.user["ed25519"]),
                    "--known-hosts", str(x11_sshd.known_hosts), "127.0.0.1", "true", env=env)
    assert r.returncode == 255 and b"DISPLAY" in r.stderr, r.stderr
    env["DISPLAY"] = ":0;touch /tmp/x"
    r = sshcore_cli("run", "-X", "-p", str(x11_sshd.port), "-i", str(keys.user["ed25519"]),
                    "--known-hosts", str(x11_sshd.known_hosts), "127.0.0.1", "true", env=env)
    assert r.returncode == 255 and b"invalid" in r.stderr, r.stderr


# ----------------------------------------------------------------- real ssh, our server

def ssh_x(port: int, flag: str, xserver, identity: Path, command: str,
          *extra: str) -> subprocess.CompletedProcess:
    """The real ssh with -X (ForwardX11Trusted=no: Debian's ssh_config says yes) or -Y."""
    args = ["ssh", "-F", "/dev/null", "-p", str(port), flag, *extra, "-o", "ForwardX11Trusted="
            + ("yes" if flag == "-Y" else "no"), "-o", "XAuthLocation=/usr/bin/xauth",
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-i", str(identity),
            "127.0.0.1", command]
    env = dict(os.environ, DISPLAY=xserver.display, XAUTHORITY=xserver.xauthority)
    return subprocess.run(args, capture_output=True, timeout=60, env=env, stdin=subprocess.DEVNULL)


@pytest.fixture
def serve(keys, tmp_path, helpers):
    """``sshcore serve --x11-forwarding`` with its own XAUTHORITY for the sessions."""
    port = helpers.free_port()
    server_xauth = tmp_path / "server.xauth"
    env = dict(os.environ, XAUTHORITY=str(server_xauth))
    proc = subprocess.Popen([sys.executable, "-m", "sshcore", "serve", "--listen",
                             f"127.0.0.1:{port}", "--host-key", str(keys.host["ed25519"]),
                             "--authorized-keys", str(keys.authorized_keys),
                             "--per-source-penalties", "no", "--x11-forwarding"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        helpers.wait_port(port)
        proc.port = port
        proc.xauthority = server_xauth
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def xauth_entries(path: Path) -> str:
    if not path.exists():
        return ""
    return subprocess.run(["xauth", "-f", str(path), "list"], capture_output=True, text=True,
                          timeout=30).stdout


@pytest.mark.parametrize("flag,verdict", [("-X", "untrusted"), ("-Y", "trusted")])
def test_ssh_X_and_Y_into_sshcore_serve(flag, verdict, serve, xserver, keys):
    r = ssh_x(serve.port, flag, xserver, keys.user["ed25519"],
              f'echo "XA=$XAUTHORITY" >&2; {CLIENT} 65536')
    assert r.returncode == 0, r.stderr.decode()
    out = result_of(r.stdout)
    assert out["status"] == "accepted" and out["echo_ok"] is True, (out, r.stderr)
    display = out["display"]
    assert display.startswith("localhost:") and int(display.split(":")[1].split(".")[0]) >= 10
    # -X: xauth generate's own connection (the real cookie), then the forwarded one
    expected = ["trusted"] if verdict == "trusted" else ["trusted", "untrusted"]
    assert [c[0] for c in xserver.connections] == expected, xserver.connections
    assert xserver.connections[-1][2] != out["cookie"]  # the server only had the fake one
    # The session is over: its display is closed and its cookie removed.
    number = int(display.split(":")[1].split(".")[0])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and f"unix:{number}" in xauth_entries(serve.xauthority):
        time.sleep(0.1)
    assert f"unix:{number} " not in xauth_entries(serve.xauthority)
    with pytest.raises(OSError):
        import socket
        socket.create_connection(("127.0.0.1", 6000 + number), timeout=5).close()


def test_ssh_X_into_listen_refused_unless_enabled_and_by_key_options(xserver, keys, helpers,
                                                                      tmp_path, monkeypatch):
    monkeypatch.setenv("XAUTHORITY", str(tmp_path / "server.xauth"))
    pub = Path(f"{keys.user['ed25519']}.pub").read_text()
    plain = tmp_path / "plain_keys"
    plain.write_text(pub)
    limited = tmp_path / "limited_keys"
    limited.write_text("no-x11-forwarding " + pub)
    show = 'echo "DISPLAY=${DISPLAY-unset}"'
    # X11 forwarding is off by default, as in sshd
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              authorized_client_keys=str(plain)) as srv:
        r = ssh_x(srv.port, "-Y", xserver, keys.user["ed25519"], show)
        assert r.returncode == 0 and b"DISPLAY=unset" in r.stdout, r
        assert b"X11 forwarding request failed" in r.stderr, r.stderr
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              authorized_client_keys=str(limited), x11_forwarding=True) as srv:
        r = ssh_x(srv.port, "-Y", xserver, keys.user["ed25519"], show)
        assert r.returncode == 0 and b"DISPLAY=unset" in r.stdout, r
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              authorized_client_keys=str(plain), x11_forwarding=True) as srv:
        r = ssh_x(srv.port, "-Y", xserver, keys.user["ed25519"], f"{show}; {CLIENT}")
        assert r.returncode == 0 and b"DISPLAY=localhost:" in r.stdout, r
        assert result_of(r.stdout)["echo_ok"] is True
        # The client's environment (ssh sends it after x11-req) does not move DISPLAY,
        # and xauth never writes where it says.
        evil = tmp_path / "evil.xauth"
        r = ssh_x(srv.port, "-Y", xserver, keys.user["ed25519"], show, "-o",
                  f"SetEnv=XAUTHORITY={evil} DISPLAY=elsewhere:0")
        assert r.returncode == 0 and b"DISPLAY=localhost:" in r.stdout, r
        assert not evil.exists()
    assert [c[0] for c in xserver.connections] == ["trusted"]


# ----------------------------------------------------------------- more client cases

def test_run_Y_to_a_tcp_display_and_a_malformed_setup_packet(tmp_path, x11_sshd, keys):
    """DISPLAY=localhost:N: the cookie is xauth's unix:N entry and the display is TCP
    6000+N (as ssh reads it); a connection whose first packet is not an X set-up packet
    is closed before anything reaches the display."""
    cookie = os.urandom(16)
    with standin.StandInX(cookie, tcp=True) as x:
        xauthority = str(tmp_path / "client.xauth")
        standin.add_cookie(xauthority, f"unix:{x.number}", cookie)
        env = dict(os.environ, DISPLAY=f"localhost:{x.number}", XAUTHORITY=xauthority)
        base = ["run", "-Y", "-p", str(x11_sshd.port), "-i", str(keys.user["ed25519"]),
                "--known-hosts", str(x11_sshd.known_hosts), "127.0.0.1"]
        r = sshcore_cli(*base, CLIENT, env=env)
        assert r.returncode == 0, r.stderr.decode()
        assert result_of(r.stdout)["echo_ok"] is True
        assert [c[0] for c in x.connections] == ["trusted"]
        r = sshcore_cli(*base, f"X11_CLIENT_GARBAGE=1 {CLIENT}", env=env)
        out = result_of(r.stdout)
        assert out["status"] == "error" and "EOF" in out["error"], out
        assert b"byte-order" in r.stderr, r.stderr
        assert [c[0] for c in x.connections] == ["trusted"]  # nothing more arrived


def test_untrusted_forwarding_refuses_x_connections_after_its_timeout(xserver, x11_sshd, keys,
                                                                      monkeypatch):
    """-X's cookie expires (ForwardX11Timeout): later X11 channels are refused, as ssh does."""
    monkeypatch.setenv("XAUTHORITY", xserver.xauthority)

    async def go() -> tuple[dict, dict]:
        async with sshcore.connect("127.0.0.1", x11_sshd.port, known_hosts=str(x11_sshd.known_hosts),
                                   client_keys=[str(keys.user["ed25519"])], agent_path=None,
                                   x11_forwarding=True, x11_timeout=3,
                                   x11_display=xserver.display) as conn:
            before = result_of((await asyncio.wait_for(conn.run(CLIENT), 60)).stdout)
            await asyncio.sleep(3.5)
            after = result_of((await asyncio.wait_for(conn.run(CLIENT), 60)).stdout)
            return before, after

    before, after = asyncio.run(go())
    assert before["status"] == "accepted" and before["echo_ok"] is True, before
    assert after["status"] == "error", after
    assert [c[0] for c in xserver.connections] == ["trusted", "untrusted"], xserver.connections


# ----------------------------------------------------------------- sshd_config

def test_sshcore_serve_f_with_X11Forwarding_and_X11DisplayOffset(xserver, keys, tmp_path, helpers):
    port = helpers.free_port()
    cfg = tmp_path / "sshd_config"
    cfg.write_text(f"ListenAddress 127.0.0.1:{port}\nHostKey {keys.host['ed25519']}\n"
                   f"AuthorizedKeysFile {keys.authorized_keys}\nPerSourcePenalties no\n"
                   "X11Forwarding yes\nX11DisplayOffset 57\nXAuthLocation /usr/bin/xauth\n")
    env = dict(os.environ, XAUTHORITY=str(tmp_path / "server.xauth"))
    proc = subprocess.Popen([sys.executable, "-m", "sshcore", "serve", "-f", str(cfg)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        helpers.wait_port(port)
        r = ssh_x(port, "-Y", xserver, keys.user["ed25519"], CLIENT)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    out = result_of(r.stdout)
    assert out["status"] == "accepted" and out["echo_ok"] is True, (out, r.stderr)
    assert int(out["display"].split(":")[1].split(".")[0]) >= 57, out


def test_run_X_needs_the_security_extension_and_Y_does_not(tmp_path, x11_sshd, keys):
    """An X server without SECURITY cannot make an untrusted cookie: -X is a clear error
    (ssh: "untrusted X11 forwarding setup failed"), -Y still forwards."""
    cookie = os.urandom(16)
    with standin.StandInX(cookie, security=False) as x:
        xauthority = str(tmp_path / "client.xauth")
        standin.add_cookie(xauthority, x.display, cookie)
        env = dict(os.environ, DISPLAY=x.display, XAUTHORITY=xauthority)
        base = ["-p", str(x11_sshd.port), "-i", str(keys.user["ed25519"]), "--known-hosts",
                str(x11_sshd.known_hosts), "127.0.0.1", CLIENT]
        r = sshcore_cli("run", "-X", *base, env=env)
        assert r.returncode == 255, r
        assert b"untrusted X11 forwarding setup failed" in r.stderr, r.stderr
        r = sshcore_cli("run", "-Y", *base, env=env)
        assert r.returncode == 0 and result_of(r.stdout)["echo_ok"] is True, r


def test_certificate_without_permit_X11_forwarding_is_refused(xserver, keys, helpers, tmp_path,
                                                              monkeypatch):
    """A user certificate made by ssh-keygen with -O no-x11-forwarding gets no display;
    one with the default extensions (permit-X11-forwarding among them) does."""
    monkeypatch.setenv("XAUTHORITY", str(tmp_path / "server.xauth"))
    ca = helpers.keygen(tmp_path / "ca", "ed25519")
    auth = tmp_path / "authorized_keys"
    auth.write_text("cert-authority " + Path(f"{ca}.pub").read_text())
    show = 'echo "DISPLAY=${DISPLAY-unset}"'
    results = {}
    for name, extra in (("no-x11", ["-O", "no-x11-forwarding"]), ("default", [])):
        user = helpers.keygen(tmp_path / f"user_{name}", "ed25519")
        subprocess.run(["ssh-keygen", "-q", "-s", str(ca), "-I", name, "-n", helpers.USER,
                        *extra, f"{user}.pub"], check=True, timeout=30, capture_output=True)
        with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                                  authorized_client_keys=str(auth), x11_forwarding=True) as srv:
            r = ssh_x(srv.port, "-Y", xserver, user, show)
        assert r.returncode == 0, r.stderr
        results[name] = r.stdout.decode().strip()
    assert results["no-x11"] == "DISPLAY=unset"
    assert results["default"].startswith("DISPLAY=localhost:"), results
