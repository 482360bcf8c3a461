"""``sshcore run``'s ssh flags against real sshd and ssh: -s (subsystem), -C, -c, -m, -q,
-v, -4/-6, -b, -E and -G (compared with OpenSSH's own ``ssh -G``), their ``-o`` forms,
and connect()'s ``family=``/``local_addr=`` underneath."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import threading
import time

import pytest

import sshcore

pytestmark = pytest.mark.interop


def sshcore_run(sshd, keys, *args, input=b"", known_hosts=None, timeout=60):
    argv = [sys.executable, "-m", "sshcore", "run", "-F", "none", "-p", str(sshd.port),
            "-i", str(keys.user["ed25519"]),
            "--known-hosts", str(known_hosts or sshd.known_hosts), *args]
    return subprocess.run(argv, input=input, capture_output=True, timeout=timeout)


class LogMark:
    """The part of sshd's log written after this point."""

    def __init__(self, sshd) -> None:
        self.log = sshd.log
        self.start = len(sshd.log.read_bytes())

    def new(self) -> str:
        return self.log.read_bytes()[self.start:].decode(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 10.0) -> str:
        """The new part once ``pattern`` (a regex) is in it: sshd's children write their
        lines on their own schedule."""
        deadline = time.monotonic() + timeout
        while not re.search(pattern, text := self.new()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return text


def kex_line(text: str, way: str = "client->server") -> str:
    m = re.search(rf"kex: {way} cipher: (\S+) MAC: (\S+) compression: (\S+)", text)
    assert m, text
    return " ".join(m.groups())


# ---------------------------------------------------------------------------- -s

def test_s_requests_a_subsystem_from_sshd(start_sshd, keys):
    sshd = start_sshd(Subsystem="sshcore-upper tr a-z A-Z")
    mark = LogMark(sshd)
    r = sshcore_run(sshd, keys, "-s", "127.0.0.1", "sshcore-upper", input=b"through a subsystem\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"THROUGH A SUBSYSTEM\n"
    assert "Starting session: subsystem 'sshcore-upper'" in mark.wait_for("Starting session")


def test_s_speaks_sftp_to_sshds_sftp_server(start_sshd, keys):
    sshd = start_sshd(Subsystem="sftp /usr/lib/openssh/sftp-server")
    argv = [sys.executable, "-m", "sshcore", "run", "-F", "none", "-p", str(sshd.port),
            "-i", str(keys.user["ed25519"]), "--known-hosts", str(sshd.known_hosts),
            "-s", "127.0.0.1", "sftp"]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    watchdog = threading.Timer(60, proc.kill)  # the blocking reads below end by then
    watchdog.start()
    try:
        proc.stdin.write(b"\x00\x00\x00\x05\x01\x00\x00\x00\x03")  # SSH_FXP_INIT, version 3
        proc.stdin.flush()
        # sftp-server leaves at stdin's EOF without flushing: keep it open for the reply
        head = proc.stdout.read(4)
        reply = proc.stdout.read(int.from_bytes(head, "big"))
        out, err = proc.communicate(timeout=30)  # closes stdin: the server leaves
    finally:
        watchdog.cancel()
        proc.kill()
    assert proc.returncode == 0, err
    assert reply[:5] == b"\x02\x00\x00\x00\x03"  # SSH_FXP_VERSION 3, then its extensions
    assert b"posix-rename@openssh.com" in reply and out == b""


def test_s_unknown_subsystem_and_missing_name_are_clear_errors(start_sshd, keys):
    sshd = start_sshd()
    r = sshcore_run(sshd, keys, "-s", "127.0.0.1", "no-such-subsystem")
    assert r.returncode == 255 and b"refused" in r.stderr, r.stderr
    r = sshcore_run(sshd, keys, "-s", "127.0.0.1")
    assert r.returncode == 255 and b"-s needs the subsystem's name" in r.stderr, r.stderr


# ---------------------------------------------------------------------------- -C -c -m -v

@pytest.mark.parametrize("flags", [["-C"], ["-o", "Compression=yes"]])
def test_C_negotiates_zlib(start_sshd, keys, flags):
    sshd = start_sshd()
    mark = LogMark(sshd)
    r = sshcore_run(sshd, keys, "-v", *flags, "127.0.0.1", "echo compressed")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"compressed\n"
    assert kex_line(mark.wait_for("kex: client->server")).endswith(" zlib@openssh.com")  # what sshd saw
    ours = r.stderr.decode()
    assert kex_line(ours).endswith(" zlib@openssh.com")
    assert kex_line(ours, "server->client").endswith(" zlib@openssh.com")


@pytest.mark.parametrize("flags, expected", [
    (["-c", "aes256-ctr", "-m", "hmac-sha2-512"], "aes256-ctr hmac-sha2-512 none"),
    (["-c", "^aes192-ctr", "-m", "^hmac-sha2-256"], "aes192-ctr hmac-sha2-256 none"),
    (["-c", "-chacha20-poly1305@openssh.com,aes*-gcm@openssh.com,aes128-ctr,aes192-ctr",
      "-m", "-*-etm@openssh.com,hmac-sha2-256"], "aes256-ctr hmac-sha2-512 none"),
    # a flag wins over -o, whichever comes first (as in ssh)
    (["-o", "Ciphers=aes128-ctr", "-c", "aes192-ctr", "-m", "hmac-sha2-256-etm@openssh.com",
      "-o", "MACs=hmac-sha2-512"], "aes192-ctr hmac-sha2-256-etm@openssh.com none"),
])
def test_c_and_m_choose_cipher_and_mac(start_sshd, keys, flags, expected):
    sshd = start_sshd()
    mark = LogMark(sshd)
    r = sshcore_run(sshd, keys, "-v", *flags, "127.0.0.1", "echo ok")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"ok\n"
    assert kex_line(mark.wait_for("kex: client->server")) == expected
    assert kex_line(r.stderr.decode()) == expected


@pytest.mark.parametrize("flags, message", [
    (["-c", "nosuch-cipher"], "unknown cipher algorithm 'nosuch-cipher'"),
    (["-m", "hmac-sha2-256,nosuch-mac"], "unknown mac algorithm 'nosuch-mac'"),
    (["-o", "MACs=+nosuch-mac"], "unknown mac algorithm 'nosuch-mac'"),
    (["-o", "Ciphers=^nosuch-cipher"], "unknown cipher algorithm 'nosuch-cipher'"),
])
def test_unknown_cipher_or_mac_fails_before_connecting(start_sshd, keys, flags, message):
    sshd = start_sshd()
    mark = LogMark(sshd)
    r = sshcore_run(sshd, keys, *flags, "127.0.0.1", "true")
    assert r.returncode == 255
    assert message in r.stderr.decode(), r.stderr
    assert "Connection from" not in mark.new()  # refused before any connection was made


# ---------------------------------------------------------------------------- -q

@pytest.mark.parametrize("quiet", [["-q"], ["-o", "LogLevel=QUIET"]])
def test_q_silences_warnings_and_errors(start_sshd, keys, tmp_path, quiet):
    sshd = start_sshd()
    loud, hushed = tmp_path / "loud_known_hosts", tmp_path / "quiet_known_hosts"
    loud.write_text("")
    hushed.write_text("")
    accept = ["-o", "StrictHostKeyChecking=accept-new"]
    r = sshcore_run(sshd, keys, *accept, "127.0.0.1", "echo hi", known_hosts=loud)
    assert r.returncode == 0 and r.stdout == b"hi\n", r.stderr
    assert b"added ssh-" in r.stderr  # the warning, as ssh's "Permanently added ..."
    r = sshcore_run(sshd, keys, *quiet, *accept, "127.0.0.1", "echo hi", known_hosts=hushed)
    assert r.returncode == 0 and r.stdout == b"hi\n", r.stderr
    assert r.stderr == b""
    assert hushed.read_text() == loud.read_text() != ""
    # as ssh -q: a failure is only the exit status
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    r = subprocess.run([sys.executable, "-m", "sshcore", "run", "-F", "none", *quiet, "-p",
                        str(port), "127.0.0.1", "true"], capture_output=True, timeout=60)
    assert (r.returncode, r.stderr) == (255, b"")


# ---------------------------------------------------------------------------- -4 -6

def test_4_and_6_pick_the_address_family(start_sshd, keys, tmp_path):
    sshd = start_sshd()  # listens on 127.0.0.1 only
    kh = tmp_path / "known_hosts"
    kh.write_text(sshd.known_hosts.read_text().replace("[127.0.0.1]", "[localhost]"))
    r = sshcore_run(sshd, keys, "-4", "localhost", "echo $SSH_CONNECTION", known_hosts=kh)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == b"127.0.0.1"
    for flags in (["-6"], ["-o", "AddressFamily=inet6"]):
        r = sshcore_run(sshd, keys, *flags, "127.0.0.1", "true")
        assert r.returncode == 255
        assert b"Address family for hostname not supported (AddressFamily inet6)" in r.stderr, r.stderr
    r = sshcore_run(sshd, keys, "-o", "AddressFamily=inet", "127.0.0.1", "echo v4")
    assert r.returncode == 0 and r.stdout == b"v4\n", r.stderr
    r = sshcore_run(sshd, keys, "-o", "AddressFamily=ipx", "127.0.0.1", "true")
    assert r.returncode == 255 and b"expected any, inet or inet6" in r.stderr, r.stderr


# ---------------------------------------------------------------------------- -b

def test_b_binds_the_source_address(start_sshd, keys):
    sshd = start_sshd()
    r = sshcore_run(sshd, keys, "-b", "127.0.0.2", "127.0.0.1", "echo $SSH_CONNECTION")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == b"127.0.0.2"
    r = sshcore_run(sshd, keys, "-o", "BindAddress=127.0.0.3", "127.0.0.1", "echo $SSH_CONNECTION")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == b"127.0.0.3"
    r = sshcore_run(sshd, keys, "-b", "192.0.2.1", "127.0.0.1", "true")  # not ours
    assert r.returncode == 255
    assert b"cannot bind to 192.0.2.1 (BindAddress)" in r.stderr, r.stderr


def test_b_and_4_apply_to_the_first_jump_host(start_sshd, keys, tmp_path):
    jump, target = start_sshd(), start_sshd(MaxAuthTries="5")  # two sshds
    kh = tmp_path / "known_hosts"
    kh.write_text(jump.known_hosts.read_text() + target.known_hosts.read_text())
    mark = LogMark(jump)
    r = sshcore_run(target, keys, "-4", "-b", "127.0.0.6", "-J", f"127.0.0.1:{jump.port}",
                    "127.0.0.1", "echo $SSH_CONNECTION", known_hosts=kh)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == b"127.0.0.1"  # the target hears from the jump host
    assert re.search(r"Connection from 127\.0\.0\.6 port \d+ on 127\.0\.0\.1 port %d"
                     % jump.port, mark.wait_for("Connection from 127.0.0.6"))


# ---------------------------------------------------------------------------- -E

def test_E_appends_logs_and_errors_to_a_file(start_sshd, keys, tmp_path):
    sshd = start_sshd()
    log = tmp_path / "client.log"
    log.write_text("earlier line\n")
    r = sshcore_run(sshd, keys, "-v", "-E", str(log), "127.0.0.1", "echo logged")
    assert r.returncode == 0 and r.stdout == b"logged\n"
    assert r.stderr == b""  # everything went to the file
    text = log.read_text()
    assert text.startswith("earlier line\n")
    assert "kex: client->server cipher:" in text
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    r = subprocess.run([sys.executable, "-m", "sshcore", "run", "-F", "none", "-E", str(log),
                        "-p", str(port), "127.0.0.1", "true"], capture_output=True, timeout=60)
    assert (r.returncode, r.stderr) == (255, b"")
    assert log.read_text().startswith(text)
    assert log.read_text()[len(text):].strip().endswith("connection refused")


# ---------------------------------------------------------------------------- -G

COMPARED = ("host", "user", "hostname", "port", "identityfile", "compression", "addressfamily",
            "bindaddress", "ciphers", "macs", "kexalgorithms", "batchmode",
            "stricthostkeychecking", "requesttty", "sessiontype", "stdinnull", "loglevel",
            "identitiesonly", "passwordauthentication", "pubkeyauthentication")


def dump(argv: list[str]) -> dict[str, list[str]]:
    r = subprocess.run(argv, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, (argv, r.stderr)
    table: dict[str, list[str]] = {}
    for line in r.stdout.decode().splitlines():
        key, _, value = line.partition(" ")
        table.setdefault(key, []).append(value)
    return table


@pytest.mark.parametrize("flags", [
    ["web"],
    ["-C", "-4", "-b", "127.0.0.9", "-c", "aes256-ctr,aes128-ctr", "-m", "hmac-sha2-512",
     "-l", "carol", "-p", "2201", "-s", "-n", "-v", "web", "sftp"],
    ["-o", "Compression=no", "-o", "AddressFamily=inet6", "-o", "User=dave", "-N",
     "-o", "Ciphers=aes192-ctr", "-o", "BatchMode=yes", "-q", "dave@web"],
    ["-6", "-o", "Compression=yes", "-c", "^aes256-ctr", "-m", "hmac-sha2-512",
     "-o", "AddressFamily=inet", "other"],
])
def test_G_prints_what_openssh_prints(tmp_path, flags):
    cfg = tmp_path / "config"
    cfg.write_text(
        "Host web\n  HostName 127.0.0.7\n  Port 2222\n  User bob\n"
        "  IdentityFile ~/.ssh/id_web\n  IdentityFile /tmp/web-key\n  Compression yes\n"
        "  AddressFamily inet\n  BindAddress 127.0.0.2\n  Ciphers aes128-ctr\n"
        "  MACs hmac-sha2-256,hmac-sha2-512\n  KexAlgorithms curve25519-sha256\n"
        "Host *\n  User nobody-else\n  StrictHostKeyChecking accept-new\n  RequestTTY no\n"
        "  IdentitiesOnly yes\n  PasswordAuthentication no\n  Ciphers aes192-ctr,aes256-ctr\n"
        "  MACs hmac-sha2-256\n  IdentityFile /tmp/other-key\n"
        "  KexAlgorithms curve25519-sha256,diffie-hellman-group14-sha256\n")
    ours = dump([sys.executable, "-m", "sshcore", "run", "-G", "-F", str(cfg), *flags])
    theirs = dump(["ssh", "-G", "-F", str(cfg), *flags])
    assert ours["hostname"] and ours["ciphers"]
    if "-q" in flags:  # OpenSSH 9.2 shows QUIET (its man page's name) as SILENT
        assert ours.pop("loglevel") == ["QUIET"] and theirs.pop("loglevel") == ["SILENT"]
    for key in COMPARED:
        if key in theirs or key in ours:
            assert ours.get(key) == theirs.get(key), key


def test_G_does_not_connect_and_reports_bad_names(tmp_path):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    r = subprocess.run([sys.executable, "-m", "sshcore", "run", "-G", "-F", "none", "-p",
                        str(port), "127.0.0.1", "true"], capture_output=True, timeout=60)
    assert r.returncode == 0 and b"\nport %d\n" % port in r.stdout, r.stderr
    with pytest.raises(TimeoutError):
        listener.accept()
    listener.close()
    r = subprocess.run([sys.executable, "-m", "sshcore", "run", "-G", "-F", "none",
                        "-c", "nosuch", "127.0.0.1"], capture_output=True, timeout=60)
    assert r.returncode == 255 and b"unknown cipher algorithm 'nosuch'" in r.stderr


# ---------------------------------------------------------------------------- connect()

def test_connect_family_and_local_addr(start_sshd, keys, tmp_path):
    sshd = start_sshd()
    common = dict(client_keys=[str(keys.user["ed25519"])], known_hosts=str(sshd.known_hosts),
                  agent_path=None, config=None)

    async def main():
        async with sshcore.connect("127.0.0.1", sshd.port, family=socket.AF_INET,
                                   local_addr=("127.0.0.4", 0), **common) as conn:
            first = (await conn.run("echo $SSH_CONNECTION")).stdout
        cfg = tmp_path / "config"
        cfg.write_text(f"Host bound\n  HostName 127.0.0.1\n  BindAddress 127.0.0.5\n")
        async with sshcore.connect("bound", sshd.port, **{**common, "config": str(cfg)}) as conn:
            second = (await conn.run("echo $SSH_CONNECTION")).stdout
        with pytest.raises(sshcore.errors.HostUnreachableError, match="AddressFamily inet6"):
            await sshcore.connect("127.0.0.1", sshd.port, family=socket.AF_INET6, **common)
        return first, second

    first, second = asyncio.run(asyncio.wait_for(main(), 60))
    assert first.split()[0] == "127.0.0.4"
    assert second.split()[0] == "127.0.0.5"
