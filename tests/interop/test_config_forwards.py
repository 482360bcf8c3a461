"""ssh_config's forwards and session options honoured by the library's connect(), against
a real sshd: LocalForward/RemoteForward/DynamicForward moving data end to end,
SendEnv/SetEnv/RequestTTY/RemoteCommand in the sessions, ExitOnForwardFailure,
``Match exec``, and the ConfigWarning for a keyword sshcore does not apply."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
import threading
import warnings

import pytest

import sshcore
from sshcore.ssh_config import SSHConfig

pytestmark = pytest.mark.interop


def go(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture
def echo_port():
    """An upper-casing echo server on 127.0.0.1 (one thread per connection)."""
    srv = socket.create_server(("127.0.0.1", 0))

    def serve(c: socket.socket) -> None:
        with c:
            while data := c.recv(65536):
                c.sendall(data.upper())

    def run() -> None:
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(c,), daemon=True).start()
    threading.Thread(target=run, daemon=True).start()
    yield srv.getsockname()[1]
    srv.close()


def base_config(sshd, keys, alias: str) -> str:
    return (f"Host {alias}\n  HostName 127.0.0.1\n  Port {sshd.port}\n"
            f"  IdentityFile {keys.user['ed25519']}\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {sshd.known_hosts}\n")


async def roundtrip(port: int, payload: bytes, socks_to: tuple[str, int] | None = None) -> bytes:
    """Connect to 127.0.0.1:port (through SOCKS5 first when ``socks_to`` is given, with
    the client written out here), send ``payload``, read as many bytes back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        if socks_to is not None:
            host, dport = socks_to
            writer.write(b"\x05\x01\x00")                       # version 5, one method: none
            assert await reader.readexactly(2) == b"\x05\x00"
            writer.write(b"\x05\x01\x00\x03" + bytes([len(host)]) + host.encode()
                         + struct.pack(">H", dport))          # CONNECT to a domain name
            head = await reader.readexactly(4)
            assert head[:2] == b"\x05\x00", head               # succeeded
            skip = {1: 4, 4: 16}.get(head[3])
            if skip is None:
                skip = (await reader.readexactly(1))[0]
            await reader.readexactly(skip + 2)                  # bound address and port
        writer.write(payload)
        await writer.drain()
        return await reader.readexactly(len(payload))
    finally:
        writer.close()


def test_local_remote_and_dynamic_forwards_from_the_config(start_sshd, keys, helpers, tmp_path,
                                                           echo_port):
    sshd = start_sshd()
    lport, rport, dport = helpers.free_port(), helpers.free_port(), helpers.free_port()
    cfg = tmp_path / "config"
    cfg.write_text(base_config(sshd, keys, "fw")
                   + f"  LocalForward 127.0.0.1:{lport} 127.0.0.1:{echo_port}\n"
                   + f"  RemoteForward 127.0.0.1:{rport} 127.0.0.1:{echo_port}\n"
                   + f"  DynamicForward 127.0.0.1:{dport}\n")
    big = os.urandom(256 * 1024)

    async def main():
        async with sshcore.connect("fw", config=str(cfg)) as conn:
            local = await roundtrip(lport, big)
            remote = await roundtrip(rport, b"through sshd's listener")
            dynamic = await roundtrip(dport, b"through socks", ("127.0.0.1", echo_port))
            kinds = [spec.kind for spec, _ in conn.config_forwards]
        try:  # closed with the connection
            await roundtrip(lport, b"x")
            still_open = True
        except OSError:
            still_open = False
        return kinds, local, remote, dynamic, still_open

    kinds, local, remote, dynamic, still_open = go(main())
    assert kinds == ["L", "R", "D"]
    assert local == big.upper()
    assert remote == b"THROUGH SSHD'S LISTENER"
    assert dynamic == b"THROUGH SOCKS"
    assert not still_open

    # The blocking front-end, same options: its TCP LocalForward (the others: warnings).
    with sshcore.blocking.connect("fw", config=str(cfg)) as conn:
        assert [spec.kind for spec, _ in conn.config_forwards] == ["L"]
        with socket.create_connection(("127.0.0.1", lport), timeout=10) as s:
            s.sendall(b"blocking")
            got = b""
            while len(got) < 8 and (chunk := s.recv(100)):
                got += chunk
            assert got == b"BLOCKING"


def test_send_env_set_env_remote_command_and_request_tty(start_sshd, keys, tmp_path,
                                                         monkeypatch):
    sshd = start_sshd()  # AcceptEnv LANG LC_* SSHCORE_*
    monkeypatch.setenv("SSHCORE_FROM_LOCAL", "sent-by-sendenv")
    monkeypatch.setenv("SSHCORE_NOT_SENT", "no")
    cfg = tmp_path / "config"
    cfg.write_text(base_config(sshd, keys, "env")
                   + "  SendEnv SSHCORE_FROM_*\n  SetEnv SSHCORE_SET=\"set by setenv\"\n"
                   + "  RemoteCommand echo remote-command; tty\n  RequestTTY force\n")

    async def main():
        async with sshcore.connect("env", config=str(cfg)) as conn:
            env = (await conn.run("env")).stdout
            login = await conn.run()  # no command: RemoteCommand, on a pty (force)
            sub = await conn.run("tty", term_type=None)
            return env, login.stdout, sub.stdout

    env, login, sub = go(main())
    lines = env.splitlines()
    assert "SSHCORE_FROM_LOCAL=sent-by-sendenv" in lines
    assert "SSHCORE_SET=set by setenv" in lines
    assert not any(line.startswith("SSHCORE_NOT_SENT") for line in lines)
    assert login.splitlines()[0].strip() == "remote-command"
    assert login.splitlines()[1].strip().startswith("/dev/pts/")
    assert sub.strip().startswith("/dev/pts/")  # RequestTTY force: commands too

    # The blocking front-end takes the same options object.
    with sshcore.blocking.connect("env", config=str(cfg)) as conn:
        out = conn.run("env").stdout
    assert "SSHCORE_SET=set by setenv" in out.splitlines()


def test_exit_on_forward_failure(start_sshd, keys, tmp_path, echo_port, caplog):
    sshd = start_sshd()
    busy = socket.create_server(("127.0.0.1", 0))  # a port already in use, here and for sshd
    port = busy.getsockname()[1]
    try:
        for kind in ("Local", "Remote"):
            cfg = tmp_path / f"config-{kind}"
            cfg.write_text(base_config(sshd, keys, "x")
                           + f"  {kind}Forward 127.0.0.1:{port} 127.0.0.1:{echo_port}\n"
                           + "  ExitOnForwardFailure yes\n")

            async def strict(cfg=cfg):
                async with sshcore.connect("x", config=str(cfg)):
                    pass
            with pytest.raises(sshcore.ChannelListenError,
                               match=f"{kind}Forward 127.0.0.1:{port} .*ExitOnForwardFailure"):
                go(strict())

            # Default (no): a warning, and the connection works.
            cfg.write_text(cfg.read_text().replace("ExitOnForwardFailure yes",
                                                   "ExitOnForwardFailure no"))

            async def lenient(cfg=cfg):
                async with sshcore.connect("x", config=str(cfg)) as conn:
                    return (await conn.run("echo up")).stdout, list(conn.config_forwards)
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="sshcore"):
                out, forwards = go(lenient())
            assert out == "up\n" and forwards == []
            assert any(f"{kind}Forward 127.0.0.1:{port}" in r.getMessage()
                       for r in caplog.records if r.levelno == logging.WARNING)
    finally:
        busy.close()


def test_match_exec(start_sshd, keys, helpers, tmp_path):
    sshd = start_sshd()
    seen, pwned = tmp_path / "seen", tmp_path / "pwned"
    cfg = tmp_path / "config"
    cfg.write_text(f"Host m*\n  HostName 127.0.0.1\n  IdentityFile {keys.user['ed25519']}\n"
                   f"  IdentitiesOnly yes\n  UserKnownHostsFile {sshd.known_hosts}\n"
                   # tokens are expanded and quoted: the name below stays one word
                   f"Match exec \"printf %%s %n > {seen}\"\n"
                   f"Match exec \"test %h = 127.0.0.1 && test %r = {helpers.USER}\"\n"
                   f"  Port {sshd.port}\n"
                   f"Match exec false\n  User nobody-at-all\n")
    host = f"m;touch {pwned}"

    async def main(config):
        async with sshcore.connect(host, config=config, connect_timeout=10) as conn:
            return (await conn.run("echo matched")).stdout

    assert go(main(str(cfg))) == "matched\n"  # the true block gave the port, not the false one
    assert seen.read_text() == host and not pwned.exists()

    # Opted out: nothing runs, and the blocks do not match (port 22: nothing there).
    seen.unlink()
    table = SSHConfig.load([cfg], match_exec=False)
    assert "port" not in table.lookup(host) and not seen.exists()

    # A command that does not finish is a clear error, not a hang.
    slow = tmp_path / "slow"
    slow.write_text("Match exec \"sleep 30\"\n  Port 1\n")
    with pytest.raises(sshcore.ConfigurationError, match=r"slow line 1: Match exec .*0.5 s"):
        SSHConfig.load([slow], exec_timeout=0.5).lookup("anything")


def test_unapplied_keyword_warns_once_with_file_and_line(start_sshd, keys, tmp_path):
    sshd = start_sshd()
    cfg = tmp_path / "config"
    cfg.write_text(base_config(sshd, keys, "w")        # lines 1-6
                   + "  ControlMaster auto\n"          # line 7: not applied
                   + "  VisualHostKey yes\n"           # line 8: ignored below
                   + "Host *\n  ControlMaster no\n"
                   + "  IgnoreUnknown VisualHost*\n")

    async def main():
        async with sshcore.connect("w", config=str(cfg)) as conn:
            return (await conn.run("echo ok")).stdout

    with warnings.catch_warnings(record=True) as first:
        warnings.simplefilter("always")
        assert go(main()) == "ok\n"
    with warnings.catch_warnings(record=True) as second:
        warnings.simplefilter("always")
        assert go(main()) == "ok\n"
    mine = [w for w in first if issubclass(w.category, sshcore.ConfigWarning)]
    assert [str(w.message) for w in mine] == [
        f"{cfg} line 7: controlmaster is not supported by sshcore and has no effect"]
    assert not [w for w in second if issubclass(w.category, sshcore.ConfigWarning)]


def test_cli_logs_unapplied_keywords_with_v_only(start_sshd, keys, tmp_path):
    """``sshcore run`` turns the ConfigWarning into a log line shown with -v (ssh's
    VERBOSE); keywords the CLI itself honours (LogLevel, BatchMode...) get none."""
    import subprocess
    import sys

    sshd = start_sshd()
    cfg = tmp_path / "config"
    cfg.write_text(base_config(sshd, keys, "c") + "  ControlPersist 10m\n  BatchMode yes\n"
                   "  PasswordAuthentication no\n  EscapeChar none\n")

    def run(*flags):
        return subprocess.run([sys.executable, "-m", "sshcore", *flags, "run", "-F", str(cfg),
                               "c", "echo ok"], capture_output=True, text=True, timeout=60)
    quiet, verbose = run(), run("-v")
    assert quiet.returncode == verbose.returncode == 0, verbose.stderr
    assert quiet.stdout == verbose.stdout == "ok\n" and quiet.stderr == ""
    said = [line for line in verbose.stderr.splitlines() if "has no effect" in line]
    assert said == [f"sshcore: sshcore.config: {cfg} line 7: controlpersist is not supported "
                    f"by sshcore and has no effect"]


def test_a_jump_host_sets_up_none_of_its_forwards(start_sshd, keys, helpers, tmp_path,
                                                   echo_port):
    """ProxyJump opens the jump host as ssh -W does: its LocalForward is not set up."""
    sshd = start_sshd()
    jport = helpers.free_port()
    cfg = tmp_path / "config"
    cfg.write_text(base_config(sshd, keys, "jump")
                   + f"  LocalForward 127.0.0.1:{jport} 127.0.0.1:{echo_port}\n"
                   + base_config(sshd, keys, "behind") + "  ProxyJump jump\n")

    async def main(host):
        async with sshcore.connect(host, config=str(cfg)) as conn:
            await conn.run("true")
            try:
                return await roundtrip(jport, b"jump")
            except OSError:
                return None

    assert go(main("behind")) is None        # through the jump: no forward
    assert go(main("jump")) == b"JUMP"       # to it: its forward


def test_identity_agent_from_the_config(start_sshd, keys, helpers, tmp_path):
    """IdentityAgent names the agent connect() asks for keys (no other key is given)."""
    import re
    import subprocess

    sock = tmp_path / "agent.sock"
    started = subprocess.run(["ssh-agent", "-s", "-a", str(sock)], capture_output=True,
                             text=True, timeout=30, check=True)  # listening when it returns
    pid = int(re.search(r"SSH_AGENT_PID=(\d+)", started.stdout).group(1))
    try:
        subprocess.run(["ssh-add", str(keys.user["ecdsa"])], env=dict(os.environ,
                       SSH_AUTH_SOCK=str(sock)), check=True, timeout=30, capture_output=True)
        sshd = start_sshd()
        cfg = tmp_path / "config"
        cfg.write_text(f"Host a\n  HostName 127.0.0.1\n  Port {sshd.port}\n"
                       f"  IdentityAgent {sock}\n  UserKnownHostsFile {sshd.known_hosts}\n")

        async def main():
            async with sshcore.connect("a", config=str(cfg), client_keys=[]) as conn:
                return (await conn.run("echo via-agent")).stdout

        assert go(main()) == "via-agent\n"
        assert "ECDSA SHA256:" in sshd.log.read_text().split("Accepted publickey")[-1]
    finally:
        os.kill(pid, 15)


def test_cli_forward_failure_is_a_warning_unless_exit_on_forward_failure(start_sshd, keys,
                                                                          tmp_path):
    """``sshcore run -L`` on a port in use: as ssh, a warning and the command runs;
    with ``-o ExitOnForwardFailure=yes``, exit 255 with the reason."""
    import subprocess
    import sys

    sshd = start_sshd()
    cfg = tmp_path / "config"
    cfg.write_text(base_config(sshd, keys, "c"))
    busy = socket.create_server(("127.0.0.1", 0))
    port = busy.getsockname()[1]

    def run(*flags):
        return subprocess.run([sys.executable, "-m", "sshcore", "run", "-F", str(cfg), *flags,
                               "-L", f"127.0.0.1:{port}:127.0.0.1:22", "c", "echo ran"],
                              capture_output=True, text=True, timeout=60)
    try:
        lenient, strict = run(), run("-o", "ExitOnForwardFailure=yes")
    finally:
        busy.close()
    assert lenient.returncode == 0 and lenient.stdout == "ran\n", lenient.stderr
    assert f"Warning: LocalForward 127.0.0.1:{port}:127.0.0.1:22: cannot listen" in lenient.stderr
    assert strict.returncode == 255 and strict.stdout == ""
    assert "(ExitOnForwardFailure=yes)" in strict.stderr


def test_system_wide_config_keywords_are_logged_not_warned(start_sshd, keys, tmp_path,
                                                          monkeypatch, caplog):
    """The system's ssh_config (Debian's has GSSAPIAuthentication yes) holds the
    administrator's OpenSSH defaults: an unapplied keyword there is an INFO log line,
    not a ConfigWarning in every program that connects."""
    from sshcore import ssh_config

    sshd = start_sshd()
    system = tmp_path / "etc-ssh"
    system.mkdir()
    cfg = system / "ssh_config"
    cfg.write_text(base_config(sshd, keys, "sys") + "  GSSAPIDelegateCredentials no\n")
    monkeypatch.setattr(ssh_config, "SYSTEM_CONFIG_DIR", str(system) + "/")

    async def main():
        async with sshcore.connect("sys", config=str(cfg)) as conn:
            return (await conn.run("echo ok")).stdout

    with warnings.catch_warnings(record=True) as seen, caplog.at_level("INFO", "sshcore.config"):
        warnings.simplefilter("always")
        assert go(main()) == "ok\n"
    assert not [w for w in seen if issubclass(w.category, sshcore.ConfigWarning)]
    assert any("gssapidelegatecredentials is not supported" in r.getMessage()
               for r in caplog.records)


def test_match_exec_runs_off_the_event_loop(start_sshd, keys, tmp_path):
    """A Match exec command runs in a thread: the event loop keeps serving other tasks
    while it runs (here for 0.6 s)."""
    sshd = start_sshd()
    cfg = tmp_path / "config"
    cfg.write_text(base_config(sshd, keys, "slowmatch") + "Match exec \"sleep 0.6\"\n  Compression no\n")

    async def main():
        ticks = 0

        async def tick():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1
        ticker = asyncio.ensure_future(tick())
        try:
            async with sshcore.connect("slowmatch", config=str(cfg)) as conn:
                out = (await conn.run("echo ok")).stdout
        finally:
            ticker.cancel()
        return out, ticks

    out, ticks = go(main())
    assert out == "ok\n" and ticks >= 8, ticks
