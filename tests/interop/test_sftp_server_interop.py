"""OpenSSH's ``sftp -b`` and ``scp`` (SFTP mode, OpenSSH 9's default) against our SFTP
server, in a ServerThread and behind ``sshcore serve``: every operation, big files by
checksum, directory trees by comparison, times and modes, and the root's walls."""

from __future__ import annotations

import filecmp
import hashlib
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop

SSH_OPTS = ["-F", "/dev/null", "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR",
            "-o", "ConnectTimeout=10"]


class Served:
    def __init__(self, port: int, root: Path, keys, helpers, tmp: Path) -> None:
        self.port = port
        self.root = root
        self.keys = keys
        self.helpers = helpers
        self.tmp = tmp
        self.local = tmp / "local"
        self.local.mkdir(exist_ok=True)

    def sftp(self, *lines: str, check: bool = True, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        batch = self.tmp / "batch"
        batch.write_text("\n".join(lines) + "\n")
        r = subprocess.run(["sftp", *SSH_OPTS, "-i", str(self.keys.user["ed25519"]), "-P", str(self.port),
                            *extra, "-b", str(batch), f"{self.helpers.USER}@127.0.0.1"],
                           capture_output=True, text=True, timeout=120, cwd=self.local)
        if check:
            assert r.returncode == 0, r.stderr
        return r

    def remote(self, path: str) -> str:
        return f"{self.helpers.USER}@127.0.0.1:{path}"

    def scp(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(["scp", *SSH_OPTS, "-i", str(self.keys.user["ed25519"]), "-P", str(self.port),
                            *args], capture_output=True, text=True, timeout=120, cwd=self.local)
        if check:
            assert r.returncode == 0, r.stderr
        return r


@pytest.fixture
def served(keys, helpers, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside.txt").write_text("outside the root\n")
    ops: list[tuple[str, str]] = []

    def record(op, path, *, target=None, write=False):  # the authorize hook, allowing all
        ops.append((op, path))
        return True

    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              authorized_client_keys=str(keys.authorized_keys),
                              subsystem_options={"sftp": {"root": str(root),
                                                          "authorize": record}}) as srv:
        s = Served(srv.port, root, keys, helpers, tmp_path)
        s.ops = ops
        yield s


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def make_tree(base: Path) -> None:
    (base / "sub" / "deeper" / "deepest").mkdir(parents=True)
    (base / "empty").mkdir()
    (base / "top.txt").write_text("top\n")
    (base / "sub" / "blob.bin").write_bytes(os.urandom(700_000))
    (base / "sub" / "deeper" / "zero").write_bytes(b"")
    for i in range(30):
        (base / "sub" / "deeper" / "deepest" / f"n{i}").write_bytes(os.urandom(i * 97))


def assert_same_tree(a: Path, b: Path) -> None:
    cmp = filecmp.dircmp(a, b)
    stack = [cmp]
    while stack:
        c = stack.pop()
        assert not c.left_only and not c.right_only, (c.left, c.left_only, c.right_only)
        _, mismatch, errors = filecmp.cmpfiles(c.left, c.right, c.common_files, shallow=False)
        assert not mismatch and not errors, (c.left, mismatch, errors)
        stack.extend(c.subdirs.values())


# --------------------------------------------------------------------------- operations


def test_sftp_batch_every_operation(served):
    local = served.local
    (local / "a.txt").write_text("hello sftp\n")
    half = os.urandom(300_000)
    (local / "half.bin").write_bytes(half)
    (local / "again.bin").write_bytes(half[:50_000])          # for reget to resume
    (served.root / "part.bin").write_bytes(half[:120_000])  # for reput to resume
    r = served.sftp(
        "version", "pwd", "mkdir d", "cd d", "pwd",
        "put a.txt", "put -f a.txt synced.txt",             # -f: fsync@openssh.com
        "ls -l",
        "ln -s a.txt soft", "symlink a.txt soft2",           # SYMLINK
        "ln a.txt hard",                                      # hardlink@openssh.com
        "chmod 640 a.txt", "chown 0 a.txt", "chgrp 0 a.txt",  # SETSTAT
        "rename synced.txt renamed.txt",                      # posix-rename@openssh.com
        "cp a.txt copied.txt",                                # copy-data
        "df -h",                                              # statvfs@openssh.com
        "chmod -h 604 hard",                                  # lsetstat@openssh.com
        "put -p a.txt kept.txt",                              # FSETSTAT
        "ls -la", "get soft soft.copy", "get hard",
        "rm soft2", "mkdir gone", "rmdir gone",
        "put half.bin", "reget half.bin again.bin", "reput half.bin /part.bin",
        "cd ..", "ls -1",
    )
    out = r.stdout
    assert "SFTP protocol version 3" in out
    assert "Remote working directory: /\n" in out and "Remote working directory: /d\n" in out
    d = served.root / "d"
    assert (d / "a.txt").read_text() == "hello sftp\n"
    assert stat.S_IMODE(os.stat(d / "a.txt").st_mode) == 0o604  # chmod, then chmod -h on its link
    assert os.readlink(d / "soft") == "a.txt" and not (d / "soft2").exists()
    assert os.stat(d / "hard").st_ino == os.stat(d / "a.txt").st_ino
    assert (d / "renamed.txt").read_text() == "hello sftp\n" and not (d / "synced.txt").exists()
    assert (d / "copied.txt").read_text() == "hello sftp\n"
    assert not (d / "gone").exists()
    assert (local / "soft.copy").read_text() == "hello sftp\n"
    assert (local / "hard").read_text() == "hello sftp\n"
    assert (local / "again.bin").read_bytes() == (d / "half.bin").read_bytes() == half
    assert (served.root / "part.bin").read_bytes() == half
    assert "Size" in out and "Avail" in out  # df -h
    assert "-rw----r--" in out and "lrwxrwxrwx" in out  # ls -la: our longnames
    used = {op for op, _ in served.ops}
    assert {"posix-rename@openssh.com", "hardlink@openssh.com", "copy-data", "statvfs@openssh.com",
            "lsetstat@openssh.com", "symlink", "setstat", "fsetstat", "open", "opendir", "remove",
            "mkdir", "rmdir", "realpath", "stat", "lstat"} <= used, used


def test_scp_tilde_path_uses_expand_path(served):
    (served.root / "d").mkdir()
    (served.root / "d" / "f.txt").write_text("via ~\n")
    served.scp(served.remote(f"~{served.helpers.USER}/d/f.txt"), "f.txt")
    assert (served.local / "f.txt").read_text() == "via ~\n"
    assert ("expand-path@openssh.com", "/d/f.txt") in served.ops
    r = served.scp(served.remote("~nobody-here/d/f.txt"), "g.txt", check=False)
    assert r.returncode != 0 and "No home directory for nobody-here" in r.stderr


def test_sftp_errors_carry_the_right_status(served):
    (served.root / "f").write_text("x")
    (served.root / "full").mkdir()
    (served.root / "full" / "x").write_text("x")
    cases = {  # OpenSSH's client prints the status code's text
        "get nothing-here": 'File "/nothing-here" not found',
        "chmod 600 nothing-here": 'remote setstat "/nothing-here": No such file or directory',
        "rmdir full": 'remote rmdir "/full": Failure',
        "mkdir f": 'remote mkdir "/f": Failure',
        "cd f": '"/f" is not a directory',
        "rm full": "remote delete /full: Failure",
        "rename f full": 'remote rename "/f" to "/full": Failure',
    }
    for line, message in cases.items():
        r = served.sftp(line, check=False)
        assert r.returncode == 1, (line, r.stdout, r.stderr)
        assert message in r.stderr, (line, r.stderr)


def test_large_file_put_and_get_by_checksum(served):
    big = served.local / "big.bin"
    with open(big, "wb") as f:
        for _ in range(64):
            f.write(os.urandom(1 << 20))
    served.sftp("put big.bin", "get big.bin back.bin")
    want = sha256(big)
    assert sha256(served.root / "big.bin") == want
    assert sha256(served.local / "back.bin") == want


def test_recursive_put_and_get_trees_compared(served):
    make_tree(served.local / "tree")
    served.sftp("put -R tree", "get -R tree fetched")
    assert_same_tree(served.local / "tree", served.root / "tree")
    assert_same_tree(served.local / "tree", served.local / "fetched")


def test_put_and_get_preserve_times_and_modes(served):
    f = served.local / "old.sh"
    f.write_text("#!/bin/sh\n")
    os.chmod(f, 0o751)
    os.utime(f, (1_000_000_000, 1_100_000_000))
    (served.root / "remote.txt").write_text("remote\n")
    os.chmod(served.root / "remote.txt", 0o604)
    os.utime(served.root / "remote.txt", (1_200_000_000, 1_300_000_000))
    served.sftp("put -p old.sh", "get -p remote.txt")
    st = os.stat(served.root / "old.sh")
    assert stat.S_IMODE(st.st_mode) == 0o751 and int(st.st_mtime) == 1_100_000_000
    assert int(st.st_atime) == 1_000_000_000
    st = os.stat(served.local / "remote.txt")
    assert stat.S_IMODE(st.st_mode) == 0o604 and int(st.st_mtime) == 1_300_000_000


def test_scp_upload_download_recursive_preserving(served):
    make_tree(served.local / "tree")
    os.utime(served.local / "tree" / "top.txt", (1_000_000_000, 1_000_000_000))
    os.chmod(served.local / "tree" / "top.txt", 0o600)
    served.scp("-r", "-p", "tree", served.remote("uploaded"))
    assert_same_tree(served.local / "tree", served.root / "uploaded")
    st = os.stat(served.root / "uploaded" / "top.txt")
    assert int(st.st_mtime) == 1_000_000_000 and stat.S_IMODE(st.st_mode) == 0o600

    big = served.local / "big.bin"
    big.write_bytes(os.urandom(20 << 20))
    served.scp("big.bin", served.remote("big.bin"))
    served.scp(served.remote("big.bin"), "big.back")
    served.scp("-r", "-p", served.remote("uploaded"), "downloaded")
    assert sha256(served.local / "big.back") == sha256(big) == sha256(served.root / "big.bin")
    assert_same_tree(served.local / "tree", served.local / "downloaded")
    assert int(os.stat(served.local / "downloaded" / "top.txt").st_mtime) == 1_000_000_000


def test_read_only_policy_refuses_changes(keys, helpers, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "pub.txt").write_text("readable\n")
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              authorized_client_keys=str(keys.authorized_keys),
                              subsystem_options={"sftp": {"root": str(root), "read_only": True}}) as srv:
        served = Served(srv.port, root, keys, helpers, tmp_path)
        (served.local / "up.txt").write_text("x\n")
        served.sftp("get pub.txt")
        put = served.sftp("put up.txt", check=False)
        mkdir = served.sftp("mkdir d", check=False)
        rm = served.sftp("rm pub.txt", check=False)
        scp = served.scp("up.txt", served.remote("up.txt"), check=False)
    assert (served.local / "pub.txt").read_text() == "readable\n"
    assert put.returncode == 1 and "Permission denied" in put.stderr, put.stderr
    assert mkdir.returncode == 1 and 'remote mkdir "/d": Permission denied' in mkdir.stderr
    assert rm.returncode == 1 and "Permission denied" in rm.stderr
    assert scp.returncode != 0 and "Permission denied" in scp.stderr
    assert sorted(p.name for p in root.iterdir()) == ["pub.txt"]


# --------------------------------------------------------------------------- escapes


def test_escape_dotdot_refused(served):
    r = served.sftp("get ../outside.txt", check=False)
    assert r.returncode == 1 and "not found" in r.stderr, r.stderr
    r = served.sftp("get ../../../../../../etc/passwd", check=False)
    assert r.returncode == 1 and not (served.local / "passwd").exists()
    r = served.sftp("cd ../../..", "pwd")
    assert "Remote working directory: /\n" in r.stdout


def test_escape_absolute_path_refused(served):
    (served.root / "mine.txt").write_text("in the root\n")
    r = served.sftp("get /etc/passwd", check=False)
    assert r.returncode == 1 and not (served.local / "passwd").exists(), r.stderr
    r = served.sftp(f"get {served.tmp}/outside.txt", check=False)
    assert r.returncode == 1 and not (served.local / "outside.txt").exists()
    r = served.sftp("ls -1 /")
    assert "mine.txt" in r.stdout and "etc" not in r.stdout.split()


def test_escape_existing_symlink_to_slash(served):
    os.symlink("/", served.root / "slash")
    os.symlink("/etc/passwd", served.root / "passwd-link")
    (served.root / "mine.txt").write_text("in the root\n")
    r = served.sftp("ls -1 slash/.")
    assert "slash/./mine.txt" in r.stdout and "etc" not in r.stdout
    for line in ("get slash/etc/passwd", "get passwd-link", "get slash/../outside.txt"):
        r = served.sftp(line, check=False)
        assert r.returncode == 1, (line, r.stdout)
    assert not (served.local / "passwd").exists() and not (served.local / "passwd-link").exists()


def test_escape_symlink_made_through_sftp(served):
    served.sftp("ln -s / up", "ln -s ../../../.. dots", f"ln -s {served.tmp} parent")
    assert os.readlink(served.root / "up") == "/"  # stored as asked, resolved in the root
    for line in ("get up/etc/passwd", "get dots/outside.txt", "get parent/outside.txt",
                 "get up/../outside.txt"):
        r = served.sftp(line, check=False)
        assert r.returncode == 1, (line, r.stdout)
    assert not (served.local / "passwd").exists() and not (served.local / "outside.txt").exists()
    r = served.sftp("cd dots", "pwd")
    assert "Remote working directory: /\n" in r.stdout


def test_escape_rename_and_put_out_of_root(served):
    (served.root / "mine.txt").write_text("mine\n")
    (served.local / "up.txt").write_text("uploaded\n")
    served.sftp("rename mine.txt ../../../stolen.txt", "put up.txt ../../landed.txt")
    assert (served.root / "stolen.txt").read_text() == "mine\n"
    assert (served.root / "landed.txt").read_text() == "uploaded\n"
    assert not (served.tmp / "stolen.txt").exists() and not (served.tmp / "landed.txt").exists()
    r = served.sftp("ln ../outside.txt grabbed", check=False)  # hardlink to outside
    assert r.returncode == 1 and not (served.root / "grabbed").exists()


def test_escape_scp_paths(served):
    r = served.scp(served.remote("../outside.txt"), "got.txt", check=False)
    assert r.returncode != 0 and not (served.local / "got.txt").exists()
    r = served.scp(served.remote("/etc/passwd"), "passwd", check=False)
    assert r.returncode != 0 and not (served.local / "passwd").exists()
    (served.local / "x.txt").write_text("x\n")
    served.scp("x.txt", served.remote("../../../x.txt"))
    assert (served.root / "x.txt").read_text() == "x\n" and not (served.tmp / "x.txt").exists()


# --------------------------------------------------------------------------- sshcore serve


def _serve(keys, helpers, tmp: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    port = helpers.free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sshcore", "serve", "--listen", f"127.0.0.1:{port}",
                             "--host-key", str(keys.host["ed25519"]), "--authorized-keys",
                             str(keys.authorized_keys), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    import socket

    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"sshcore serve did not start: {proc.communicate()[1]!r}")
            time.sleep(0.1)


def test_sshcore_serve_offers_our_sftp_rooted(keys, helpers, tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    (root / "hello.txt").write_text("from sshcore serve\n")
    (tmp_path / "outside.txt").write_text("outside\n")
    proc, port = _serve(keys, helpers, tmp_path, "--sftp-root", str(root))
    try:
        served = Served(port, root, keys, helpers, tmp_path)
        (served.local / "up.bin").write_bytes(os.urandom(3_000_000))
        served.sftp("get hello.txt", "put up.bin", "mkdir m", "ls -1")
        served.scp("-p", "up.bin", served.remote("m/up2.bin"))
        r = served.sftp("get ../outside.txt", check=False)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert (served.local / "hello.txt").read_text() == "from sshcore serve\n"
    assert (root / "up.bin").read_bytes() == (served.local / "up.bin").read_bytes()
    assert (root / "m" / "up2.bin").read_bytes() == (served.local / "up.bin").read_bytes()
    assert r.returncode == 1
    assert f"sftp root: {root}".encode() in err


def test_sshcore_serve_subsystem_command_still_works(keys, helpers, tmp_path):
    """--subsystem sftp=CMD replaces the plugin (here OpenSSH's sftp-server, unrooted)."""
    (tmp_path / "anywhere.txt").write_text("reachable by absolute path\n")
    proc, port = _serve(keys, helpers, tmp_path, "--subsystem", "sftp=/usr/lib/openssh/sftp-server")
    try:
        served = Served(port, tmp_path, keys, helpers, tmp_path)
        served.sftp(f"get {tmp_path}/anywhere.txt got.txt")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert (served.local / "got.txt").read_text() == "reachable by absolute path\n"
    assert b"sftp root" not in err


def test_server_benchmark_prints_every_row():
    """bench.sftp_server_bench runs end to end (a smoke test of the script, not a timing)."""
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, "-m", "bench.sftp_server_bench", "--size", "2", "--runs", "1"],
                       cwd=root, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    for name in ("sshcore-sftp", "sftp-server", "sshd internal-sftp"):
        for mode in ("get", "put"):
            assert any(line.startswith(name) and f" {mode} " in line for line in r.stdout.splitlines()), r.stdout
    assert "get: sshcore-sftp / sftp-server behind sshcore serve = " in r.stdout
