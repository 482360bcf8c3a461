"""The sshcore command line: algorithms, run (against real sshd) and serve (for real ssh)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop


def sshcore(*args, input=b"", timeout=60, env=None):
    return subprocess.run([sys.executable, "-m", "sshcore", *args], input=input,
                          capture_output=True, timeout=timeout, env=env)


def test_algorithms_lists_every_family_with_provider():
    r = sshcore("algorithms")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    for name, dist in [("curve25519-sha256", "sshcore-kex-ecdh"), ("aes256-gcm@openssh.com", "sshcore-ciphers"),
                       ("hmac-sha2-256-etm@openssh.com", "sshcore-macs"), ("ssh-ed25519", "sshcore-keys"),
                       ("publickey", "sshcore-auth"), ("zlib@openssh.com", "sshcore-compression"),
                       ("diffie-hellman-group14-sha256", "sshcore-kex-dh")]:
        lines = out.splitlines()
        i = next(i for i, line in enumerate(lines) if line.split()[:1] == [name])
        # the serving provider, or one of the alternatives listed under it (with
        # sshcore-openssl installed, it serves curve25519, aes-gcm and ssh-ed25519)
        block = [lines[i], *itertools.takewhile(lambda line: "(alternative)" in line,
                                                 lines[i + 1:])]
        assert any(dist in line for line in block), block
    # preference order: chacha20 before aes128-ctr, as in OpenSSH
    assert out.index("chacha20-poly1305@openssh.com") < out.index("aes128-ctr")


def test_run_streams_output_stdin_and_exit_status(start_sshd, keys):
    sshd = start_sshd()
    r = sshcore("run", "-p", str(sshd.port), "-i", str(keys.user["ed25519"]),
                "--known-hosts", str(sshd.known_hosts), "127.0.0.1",
                "echo out; echo err >&2; wc -c; exit 7", input=b"z" * 5000)
    assert r.returncode == 7, r.stderr
    assert r.stdout == b"out\n5000\n"
    assert r.stderr == b"err\n"


def test_run_with_o_options(start_sshd, keys):
    sshd = start_sshd(Ciphers="aes256-ctr")
    r = sshcore("run", "-p", str(sshd.port), "-i", str(keys.user["rsa"]), "-o", "Ciphers=aes256-ctr",
                "-o", f"UserKnownHostsFile={sshd.known_hosts}", "127.0.0.1", "echo", "ok")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"ok\n"


@pytest.mark.parametrize("case", ["refused", "bad_key_file", "auth_failure", "host_key_mismatch",
                                  "unknown_host"])
def test_run_errors_are_one_line(start_sshd, keys, tmp_path, helpers, case):
    sshd = start_sshd()
    port, key, kh = str(sshd.port), str(keys.user["ed25519"]), str(sshd.known_hosts)
    host = "127.0.0.1"
    if case == "refused":
        port = str(helpers.free_port())
    elif case == "bad_key_file":
        bad = tmp_path / "bad_key"
        bad.write_text("this is not a key\n")
        key = str(bad)
    elif case == "auth_failure":
        key = str(helpers.keygen(tmp_path / "stranger", "ed25519"))
    elif case == "host_key_mismatch":
        wrong = tmp_path / "kh"
        wrong.write_text(f"[127.0.0.1]:{sshd.port} {(keys.dir / 'user_ed25519.pub').read_text()}")
        kh = str(wrong)
    elif case == "unknown_host":
        kh = str(tmp_path / "nothing")
    r = sshcore("run", "-p", port, "-i", key, "--known-hosts", kh, host, "true")
    err = r.stderr.decode()
    assert r.returncode == 255
    assert err.startswith("sshcore: error:") and err.count("\n") == 1, err
    assert "Traceback" not in err


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(entry))
    return out


# --kex-workers: sntrup761's work runs in worker processes (a forkserver child of serve
# appears with the first handshake); without it, serve has no child once the command ends.
@pytest.mark.parametrize("workers", [0, 2], ids=["inline", "kex-workers"])
def test_serve_accepts_real_ssh(keys, helpers, tmp_path, workers):
    port = helpers.free_port()
    env = dict(os.environ, HOME=str(tmp_path))  # the default host key goes under this HOME
    extra = ["--kex-workers", str(workers)] if workers else []
    proc = subprocess.Popen([sys.executable, "-m", "sshcore", "serve", "--listen", f"127.0.0.1:{port}",
                             "--authorized-keys", str(keys.authorized_keys), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 30
        host_pub = tmp_path / ".local/share/sshcore/ssh_host_ed25519_key.pub"
        while not host_pub.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        import socket

        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        kh = tmp_path / "known_hosts"
        kh.write_text(f"[127.0.0.1]:{port} {host_pub.read_text()}")
        kex = "sntrup761x25519-sha512@openssh.com"
        r = helpers.run_ssh(port, "echo served; exit 2", identity=keys.user["ed25519"], known_hosts=kh,
                            options={"KexAlgorithms": kex, "LogLevel": "DEBUG1"})
        assert r.returncode == 2, r.stderr
        assert r.stdout == b"served\n"
        assert f"kex: algorithm: {kex}".encode() in r.stderr
        assert bool(_children(proc.pid)) == bool(workers)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert b"generated host key" in err


# --------------------------------------------------------------------------- passwords

def _serve_with_passwords(tmp_path, helpers, keys):
    """``sshcore passwd`` writes a hash file; ``sshcore serve --password-file`` uses it."""
    pwfile = tmp_path / "passwords"
    r = sshcore("passwd", "--file", str(pwfile), "--stdin", helpers.USER, input=b"open sesame\n")
    assert r.returncode == 0, r.stderr
    text = pwfile.read_text()
    assert text.startswith(f"{helpers.USER}:$scrypt$") and "open sesame" not in text
    port = helpers.free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sshcore", "serve", "--listen", f"127.0.0.1:{port}",
                             "--host-key", str(keys.host["ed25519"]), "--password-file", str(pwfile),
                             "--authorized-keys", str(tmp_path / "none")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    import socket

    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise AssertionError(proc.communicate()[1].decode(errors="replace"))
            time.sleep(0.05)
    kh = tmp_path / "known_hosts"
    kh.write_text(f"[127.0.0.1]:{port} {Path(str(keys.host['ed25519']) + '.pub').read_text()}")
    return proc, port, kh


def _askpass(tmp_path, answer):
    """An SSH_ASKPASS program answering ``answer`` and logging each prompt it was shown."""
    log = tmp_path / "askpass.log"
    script = tmp_path / "askpass.sh"
    script.write_text(f"#!/bin/sh\necho \"$1\" >> {log}\necho '{answer}'\n")
    script.chmod(0o700)
    env = dict(os.environ, SSH_ASKPASS=str(script), SSH_ASKPASS_REQUIRE="force")
    return env, log


def test_serve_password_file_with_ssh_and_sshcore_run(keys, helpers, tmp_path):
    proc, port, kh = _serve_with_passwords(tmp_path, helpers, keys)
    try:
        ok = helpers.run_ssh(port, "echo pw-ok", password="open sesame", tmp=tmp_path, known_hosts=kh)
        bad = helpers.run_ssh(port, "echo pw-ok", password="wrong", tmp=tmp_path, known_hosts=kh)
        assert ok.returncode == 0 and ok.stdout == b"pw-ok\n", ok.stderr
        assert bad.returncode == 255 and b"Permission denied" in bad.stderr

        env, log = _askpass(tmp_path, "open sesame")
        base = ["run", "-p", str(port), "--known-hosts", str(kh), "-n", f"{helpers.USER}@127.0.0.1"]
        for method in ("password", "keyboard-interactive"):
            r = sshcore(*base[:-1], "-o", f"PreferredAuthentications={method}", base[-1],
                        "echo via", method, env=env)
            assert r.returncode == 0, r.stderr
            assert r.stdout == f"via {method}\n".encode()
        prompts = log.read_text().splitlines()
        assert prompts == [f"{helpers.USER}@127.0.0.1's password: ", "Password: "]

        # A wrong password is asked NumberOfPasswordPrompts times, then ssh's exit code.
        env, log = _askpass(tmp_path, "wrong")
        log.unlink()
        r = sshcore(*base[:-1], "-o", "NumberOfPasswordPrompts=2", "-o", "PreferredAuthentications=password",
                    base[-1], "true", env=env)
        assert r.returncode == 255 and b"permission denied" in r.stderr.lower()
        assert len(log.read_text().splitlines()) == 2

        # PasswordAuthentication=no: never asked
        log.unlink()
        r = sshcore(*base[:-1], "-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no",
                    base[-1], "true", env=env)
        assert r.returncode == 255 and not log.exists()

        # BatchMode=yes: never asked either, even with askpass forced
        r = sshcore(*base[:-1], "-o", "BatchMode=yes", base[-1], "true", env=env)
        assert r.returncode == 255 and not log.exists()

        # A user added while the server runs can log in without a restart.
        r = sshcore("passwd", "--file", str(tmp_path / "passwords"), "--stdin", "late", input=b"late pw\n")
        assert r.returncode == 0, r.stderr
        env, _ = _askpass(tmp_path, "late pw")
        r = sshcore(*base[:-1], f"late@127.0.0.1", "echo late", env=env)
        assert r.returncode == 0 and r.stdout == b"late\n", r.stderr
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def test_run_prompts_on_the_terminal(keys, helpers, tmp_path):
    """Without askpass, ``sshcore run`` asks on its controlling terminal, echo off."""
    import pty
    import select

    proc, port, kh = _serve_with_passwords(tmp_path, helpers, keys)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SSH_ASKPASS")}
        pid, fd = pty.fork()
        if pid == 0:  # child: the pty is its controlling terminal
            os.execve(sys.executable, [sys.executable, "-m", "sshcore", "run", "-p", str(port),
                                       "--known-hosts", str(kh), "-n",
                                       "-o", "PreferredAuthentications=password",
                                       f"{helpers.USER}@127.0.0.1", "echo tty-ok"], env)
        out = b""
        sent = False
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
            if not sent and out.endswith(b"password: "):
                os.write(fd, b"open sesame\n")
                sent = True
        _, status = os.waitpid(pid, 0)
        assert sent, out
        assert os.waitstatus_to_exitcode(status) == 0, out
        assert b"tty-ok" in out and b"open sesame" not in out  # no echo of the password
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
