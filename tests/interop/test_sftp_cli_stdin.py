"""``sshcore sftp`` and ``sshcore scp`` against real sshd reading commands or data from
stdin of every kind: a regular file, a pipe, /dev/null, a closed descriptor."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop


@pytest.fixture
def sshd(start_sshd):
    return start_sshd(Subsystem="sftp internal-sftp")


def argv(sshd, keys, command, *args):
    return [sys.executable, "-m", "sshcore", command, "-P", str(sshd.port), "-i",
            str(keys.user["ed25519"]), "-F", "none", "--known-hosts", str(sshd.known_hosts),
            "-o", "BatchMode=yes", *args]


def closed_stdin(args, timeout=60):
    """Run with descriptor 0 closed, as the shell's ``0<&-``."""
    return subprocess.run(["/bin/sh", "-c", 'exec "$@" 0<&-', "sh", *args],
                          capture_output=True, timeout=timeout)


def test_sftp_batch_from_a_file_devnull_and_closed_stdin(sshd, keys, tmp_path):
    remote = tmp_path / "remote"
    remote.mkdir()
    batch = tmp_path / "batch"
    batch.write_text("mkdir made\n-frobnicate\n@pwd\n")
    dest = f"127.0.0.1:{remote}"
    with open(batch, "rb") as f:  # -b - with stdin a regular file (epoll refuses those)
        r = subprocess.run(argv(sshd, keys, "sftp", "-b", "-", dest), stdin=f,
                           capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines() == [
        "sftp> mkdir made", "sftp> frobnicate", f"Remote working directory: {os.path.realpath(remote)}"]
    assert (remote / "made").is_dir()
    for args in (["-b", "/dev/null", dest], ["-b", "-", dest], [dest]):
        r = closed_stdin(argv(sshd, keys, "sftp", *args))  # an empty batch: nothing to do
        assert (r.returncode, r.stdout) == (0, b""), (args, r.stderr)
        assert b"Traceback" not in r.stderr, r.stderr
    r = subprocess.run(argv(sshd, keys, "sftp", "-b", "/dev/null", dest), capture_output=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    assert (r.returncode, r.stdout) == (0, b""), r.stderr


def test_sftp_batch_from_a_pipe_runs_each_line_as_it_arrives(sshd, keys, tmp_path):
    """As OpenSSH's sftp: a command runs when its line is read, not at the end of input."""
    remote = tmp_path / "remote"
    remote.mkdir()
    proc = subprocess.Popen(argv(sshd, keys, "sftp", "-b", "-", f"127.0.0.1:{remote}"),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b"mkdir first\n")
        proc.stdin.flush()
        deadline = time.monotonic() + 30
        while not (remote / "first").is_dir() and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.1)
        assert (remote / "first").is_dir()  # while the batch is still open
        out, err = proc.communicate(b"mkdir second\nbye\n", timeout=60)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert proc.returncode == 0, err
    assert (remote / "second").is_dir()


def test_sftp_commands_from_a_file_without_b_are_echoed_and_go_on(sshd, keys, tmp_path):
    """stdin not a terminal and no -b: OpenSSH's sftp echoes each command and does not stop
    at a failure; the end of the input ends the session."""
    remote = tmp_path / "remote"
    remote.mkdir()
    cmds = tmp_path / "cmds"
    cmds.write_text("frobnicate\nmkdir after\npwd\n")
    with open(cmds, "rb") as f:
        r = subprocess.run(argv(sshd, keys, "sftp", f"127.0.0.1:{remote}"), stdin=f,
                           capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines() == [
        "sftp> frobnicate", "sftp> mkdir after", "sftp> pwd",
        f"Remote working directory: {os.path.realpath(remote)}"]
    assert b"Invalid command: frobnicate" in r.stderr
    assert (remote / "after").is_dir()


def test_scp_from_dev_stdin_of_every_kind(sshd, keys, tmp_path):
    remote = tmp_path / "remote"
    remote.mkdir()
    data = os.urandom(5 * 1024 * 1024 + 3)
    src = tmp_path / "src"
    src.write_bytes(data)
    # a pipe: read in order to its end (scp cannot seek in it)
    r = subprocess.run(argv(sshd, keys, "scp", "-q", "/dev/stdin", f"127.0.0.1:{remote}/piped"),
                       input=data, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256((remote / "piped").read_bytes()).digest() == hashlib.sha256(data).digest()
    # a regular file
    with open(src, "rb") as f:
        r = subprocess.run(argv(sshd, keys, "scp", "-q", "/dev/stdin", f"127.0.0.1:{remote}/file"),
                           stdin=f, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (remote / "file").read_bytes() == data
    # into a directory: named after the source, as for any file
    r = subprocess.run(argv(sshd, keys, "scp", "-q", "/dev/stdin", f"127.0.0.1:{remote}"),
                       input=b"into the directory\n", capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (remote / "stdin").read_bytes() == b"into the directory\n"
    # /dev/null: an empty file
    r = subprocess.run(argv(sshd, keys, "scp", "-q", "/dev/null", f"127.0.0.1:{remote}/empty"),
                       capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert (remote / "empty").read_bytes() == b""
    # closed stdin: a one-line failure
    r = closed_stdin(argv(sshd, keys, "scp", "-q", "/dev/stdin", f"127.0.0.1:{remote}/none"))
    assert r.returncode == 1
    assert r.stderr.count(b"\n") == 1 and b"/dev/stdin" in r.stderr, r.stderr
    assert not (remote / "none").exists()
    assert sorted(p.name for p in Path(remote).iterdir()) == ["empty", "file", "piped", "stdin"]
