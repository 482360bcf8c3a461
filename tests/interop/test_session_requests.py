"""Session requests against real OpenSSH: terminal modes (RFC 4254 section 8) both ways,
break (RFC 4335) both ways, xon-xoff, exit-signal to ssh."""

from __future__ import annotations

import asyncio
import os
import subprocess

import pytest

import sshcore
from sshcore.aio.ttymodes import OPCODES

pytestmark = pytest.mark.interop


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def connect(sshd, keys):
    return sshcore.connect("127.0.0.1", sshd.port, client_keys=[str(keys.user["ed25519"])],
                           known_hosts=str(sshd.known_hosts))


def ssh_argv(port, keys, helpers, *extra):
    # ssh takes an option's first value: the test's extras go first
    return ["/usr/bin/ssh", "-F", "/dev/null", *extra, "-p", str(port),
            "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
            "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-i", str(keys.user["ed25519"]),
            f"{helpers.USER}@127.0.0.1"]


def test_our_terminal_modes_reach_sshd_pty(start_sshd, keys):
    modes = {OPCODES["VINTR"]: 0x18, OPCODES["VEOF"]: 255, OPCODES["ECHO"]: 0,
             OPCODES["ICRNL"]: 0, OPCODES["IUTF8"]: 1}

    async def main():
        async with connect(start_sshd(), keys) as conn:
            r = await conn.run("stty -a", term_type="xterm", term_modes=modes)
            return r.stdout

    out = run(main())
    assert "intr = ^X;" in out and "eof = <undef>;" in out, out
    words = out.split()
    assert "-echo" in words and "-icrnl" in words and "iutf8" in words, out


def test_ssh_terminal_modes_reach_our_pty(keys, helpers):
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              authorized_client_keys=str(keys.authorized_keys)) as srv:
        ssh = " ".join(ssh_argv(srv.port, keys, helpers, "-tt")) + " 'stty -a; echo END'"
        code, out = helpers.run_in_pty(["/bin/sh", "-c", f"stty intr ^X -echoe; exec {ssh}"],
                                       [], timeout=30)
    text = out.decode(errors="replace")
    assert code == 0 and "END" in text, text
    assert "intr = ^X;" in text, text
    assert "-echoe" in text.split(), text


def test_break_to_sshd_needs_a_pty(start_sshd, keys):
    async def main():
        async with connect(start_sshd(), keys) as conn:
            with_pty = await conn.create_process("sleep 1", term_type="xterm")
            without = await conn.create_process("sleep 1")
            return (await with_pty.send_break(250), await without.send_break(250),
                    (await with_pty.wait()).exit_status, (await without.wait()).exit_status)

    assert run(main()) == (True, False, 0, 0)


class BreakSession(sshcore.SSHServerSession):
    """Reports a BREAK (and tells the client it may do XON/XOFF itself)."""

    def connection_made(self, chan):
        self.chan = chan

    def pty_requested(self, term_type, term_size, term_modes):
        return True

    def shell_requested(self):
        return True

    def session_started(self):
        self.chan.set_xon_xoff(True)
        self.chan.write("ready\r\n")

    def break_received(self, msec):
        self.chan.write(f"break of {msec} ms\r\n")
        self.chan.exit(0)
        return True


class BreakServer(sshcore.SSHServer):
    def session_requested(self):
        return BreakSession()


def test_ssh_escape_break_reaches_our_session(keys, helpers):
    """ssh's ~B escape sends "break" (1000 ms); the xon-xoff request does not upset ssh."""
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]], server_factory=BreakServer,
                              authorized_client_keys=str(keys.authorized_keys)) as srv:
        code, out = helpers.run_in_pty(ssh_argv(srv.port, keys, helpers, "-tt"),
                                       [(b"ready", b"~B")], timeout=30)
    assert code == 0 and b"break of 1000 ms" in out, out


def test_our_break_and_xon_xoff(keys, tmp_path):
    class Client(sshcore.SSHClientSession):
        def __init__(self):
            self.xon_xoff, self.out = None, ""

        def xon_xoff_requested(self, client_can_do):
            self.xon_xoff = client_can_do

        def data_received(self, data, datatype):
            self.out += data

    async def main():
        srv = await sshcore.listen("127.0.0.1", 0, server_host_keys=[keys.host["ed25519"]],
                                   server_factory=BreakServer,
                                   authorized_client_keys=str(keys.authorized_keys))
        async with srv, sshcore.connect("127.0.0.1", srv.port, known_hosts=None,
                                        client_keys=[str(keys.user["ed25519"])]) as conn:
            chan, session = await conn.create_session(Client, term_type="vt100")
            while "ready" not in session.out:
                await asyncio.sleep(0.01)
            ok = await chan.send_break(42)
            await chan.wait_closed()
            return ok, session.xon_xoff, chan.xon_xoff, session.out, chan.get_exit_status()

    ok, session_flag, chan_flag, out, status = run(main())
    assert (ok, session_flag, chan_flag, status) == (True, True, True, 0)
    assert out == "ready\r\nbreak of 42 ms\r\n"


def test_exit_signal_reaches_ssh(keys, helpers):
    """Our server reports a command killed by a signal as exit-signal, as sshd does."""
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              authorized_client_keys=str(keys.authorized_keys)) as srv:
        r = subprocess.run(ssh_argv(srv.port, keys, helpers, "-o", "LogLevel=DEBUG1")
                           + ["echo before; kill -USR1 $$"],
                           capture_output=True, timeout=30, stdin=subprocess.DEVNULL,
                           env=dict(os.environ))
    assert r.stdout == b"before\n"
    assert r.returncode == 255, r.stderr
    assert b"rtype exit-signal" in r.stderr, r.stderr[-2000:]  # ssh logs it, and exits 255


def test_stderr_apart_or_merged_from_sshd(start_sshd, keys):
    script = "echo out1; sleep 0.2; echo err1 >&2; sleep 0.2; echo out2; echo err2 >&2; exit 4"

    async def main():
        async with connect(start_sshd(), keys) as conn:
            return await conn.run(script), await conn.run(script, stderr=sshcore.STDOUT)

    apart, merged = run(main())
    assert (apart.stdout, apart.stderr, apart.exit_status) == ("out1\nout2\n", "err1\nerr2\n", 4)
    assert merged.stdout.startswith("out1\nerr1\n") and merged.stderr == ""
    assert sorted(merged.stdout.splitlines()) == ["err1", "err2", "out1", "out2"]
    assert merged.exit_status == 4


@pytest.mark.parametrize("peer", ["sshd", "sshcore"])
def test_200_concurrent_sessions_over_20_connections(start_sshd, keys, peer):
    """20 connections x 10 simultaneous `cat` sessions, each with its own payload, every
    byte checked; against sshd, and against our server running real subprocesses."""
    payloads = [[os.urandom(24_000 + 97 * (10 * c + s)) for s in range(10)] for c in range(20)]

    async def one_connection(port, known_hosts, c):
        async with sshcore.connect("127.0.0.1", port, client_keys=[str(keys.user["ed25519"])],
                                   known_hosts=known_hosts) as conn:
            results = await asyncio.gather(*(conn.run("cat", input=p, encoding=None)
                                             for p in payloads[c]))
            return [(r.stdout, r.exit_status) for r in results]

    async def main():
        if peer == "sshd":
            sshd = start_sshd()
            port, known_hosts, srv = sshd.port, str(sshd.known_hosts), None
        else:
            # 20 connections at once are unauthenticated together: raise MaxStartups as
            # the sshd of these tests does (conftest: MaxStartups 100:30:200)
            srv = await sshcore.listen("127.0.0.1", 0, server_host_keys=[keys.host["ed25519"]],
                                       authorized_client_keys=str(keys.authorized_keys),
                                       max_startups="100:30:200")
            port, known_hosts = srv.port, None
        try:
            return await asyncio.gather(*(one_connection(port, known_hosts, c) for c in range(20)))
        finally:
            if srv is not None:
                srv.close()
                await srv.wait_closed()

    results = run(main(), timeout=110)
    assert [[out for out, _ in conn] for conn in results] == payloads
    assert {status for conn in results for _, status in conn} == {0}


def test_subsystem_request_to_sshd(start_sshd, keys):
    sshd = start_sshd(Subsystem="sshcore-echo /bin/cat")

    async def main():
        async with connect(sshd, keys) as conn:
            r = await conn.run(subsystem="sshcore-echo", input="through a subsystem")
            with pytest.raises(sshcore.ChannelOpenError):
                await conn.run(subsystem="not-configured")
            return r

    r = run(main())
    assert (r.stdout, r.exit_status) == ("through a subsystem", 0)


def test_real_sftp_through_our_subsystem(keys, helpers, tmp_path):
    """OpenSSH's sftp client, through our server, to OpenSSH's sftp-server."""
    src = tmp_path / "upload.bin"
    src.write_bytes(os.urandom(300_000))
    batch = tmp_path / "batch"
    batch.write_text(f"put {src} {tmp_path}/remote.bin\nget {tmp_path}/remote.bin {tmp_path}/back.bin\n"
                     f"ls -l {tmp_path}/remote.bin\n")
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              authorized_client_keys=str(keys.authorized_keys),
                              subsystems={"sftp": "/usr/lib/openssh/sftp-server"}) as srv:
        r = subprocess.run(["sftp", "-F", "/dev/null", "-b", str(batch), "-P", str(srv.port),
                            "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
                            "-o", "BatchMode=yes", "-i", str(keys.user["ed25519"]),
                            f"{helpers.USER}@127.0.0.1"], capture_output=True, timeout=60)
        refused = subprocess.run(ssh_argv(srv.port, keys, helpers, "-s") + ["other"],
                                 capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()
    assert b"300000" in r.stdout
    assert refused.returncode == 255 and b"subsystem request failed" in refused.stderr


def test_ssh_subsystem_to_our_process_factory(keys, helpers):
    async def handler(process):
        data = await process.stdin.read()
        process.stdout.write(f"{process.subsystem}: {data}")
        return 0

    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              authorized_client_keys=str(keys.authorized_keys),
                              process_factory=handler, session_encoding="utf-8") as srv:
        r = subprocess.run(ssh_argv(srv.port, keys, helpers, "-s") + ["anything"], input=b"hello",
                           capture_output=True, timeout=30)
    assert (r.returncode, r.stdout) == (0, b"anything: hello"), r.stderr


def test_signal_to_sshd_process(start_sshd, local_user):
    """sshd delivers "signal" requests only with privilege separation, which it drops for
    root logins: log in as the unprivileged test account."""
    sshd = start_sshd(PasswordAuthentication="yes")

    async def main():
        async with sshcore.connect("127.0.0.1", sshd.port, username="sshcoretest",
                                   password=local_user, client_keys=[],
                                   known_hosts=str(sshd.known_hosts)) as conn:
            proc = await conn.create_process("echo started; exec sleep 30")
            assert await proc.stdout.readline() == "started\n"
            proc.send_signal("TERM")
            return await proc.wait()

    r = run(main())
    assert r.exit_signal is not None and r.exit_signal[0] == "TERM", r
    assert r.returncode == -15


def test_writer_waits_for_a_peer_that_does_not_read(start_sshd, keys):
    """sshd's command reads nothing for a while: our stdin writer blocks in drain() with
    at most about a window queued, then everything arrives once it reads."""
    total = 24 * 1024 * 1024

    async def main():
        async with connect(start_sshd(), keys) as conn:
            proc = await conn.create_process("sleep 2; wc -c", encoding=None)
            chunk = b"x" * 65536

            async def writer():
                for _ in range(total // len(chunk)):
                    proc.stdin.write(chunk)
                    await proc.stdin.drain()
                proc.stdin.write_eof()

            task = asyncio.ensure_future(writer())
            await asyncio.sleep(1.0)
            blocked = not task.done()
            queued = proc.channel.get_write_buffer_size()
            await task
            r = await proc.wait()
            return blocked, queued, r.stdout

    blocked, queued, out = run(main())
    assert blocked and queued <= 2 * 1024 * 1024, queued
    assert out.strip() == str(total).encode()


def test_interactive_shell_for_ssh_tt(keys, helpers):
    """ssh -t with no command gets a real interactive shell on a PTY from our server."""
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              authorized_client_keys=str(keys.authorized_keys)) as srv:
        code, out = helpers.run_in_pty(
            ssh_argv(srv.port, keys, helpers, "-tt"),
            [(b"", b"PS1='READY> '\r"), (b"READY> ", b"echo $((6*7)); tty\r"),
             (b"/dev/pts/", b"exit 3\r")], timeout=30)
    assert b"42\r\n" in out, out
    assert code == 3, out


def test_pixel_size_and_decoding_errors_with_sshd(start_sshd, keys):
    probe = ("python3 -c 'import fcntl, struct, termios; "
             "print(struct.unpack(\"HHHH\", fcntl.ioctl(0, termios.TIOCGWINSZ, bytes(8))))'")

    async def main():
        async with connect(start_sshd(), keys) as conn:
            size = await conn.run(probe, term_type="xterm", term_size=(100, 30, 800, 600))
            lenient = await conn.run("printf 'ok\\377\\n'", errors="replace")
            with pytest.raises(UnicodeDecodeError):
                await conn.run("printf 'bad\\377\\n'")  # strict is the default
            latin = await conn.run("printf 'caf\\351\\n'", encoding="latin-1")
            return size.stdout, lenient.stdout, latin.stdout

    size, lenient, latin = run(main())
    assert size.strip() == "(30, 100, 800, 600)"  # rows, cols, x pixels, y pixels
    assert lenient == "ok\ufffd\n" and latin == "caf\xe9\n"
