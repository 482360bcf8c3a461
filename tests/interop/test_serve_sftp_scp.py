"""``sshcore serve`` as sshd for file transfer: OpenSSH's ``sftp -b`` and ``scp`` (SFTP
mode, OpenSSH 9's default, and the legacy protocol, ``scp -O``) see the file system as
the user does, absolute paths being real ones, starting in the home directory; with
``--sftp-root DIR`` they see DIR as ``/`` and nothing outside it."""

from __future__ import annotations

import contextlib
import filecmp
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop

SSH_OPTS = ["-F", "/dev/null", "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR",
            "-o", "ConnectTimeout=10"]


@dataclass
class Serve:
    """A running ``sshcore serve`` (HOME set to ``home``) and the client side's paths."""

    port: int
    home: Path       # the server user's home directory
    elsewhere: Path  # a directory outside the home, reached by absolute paths
    local: Path      # the clients' working directory
    identity: Path
    user: str

    def remote(self, path: str | Path) -> str:
        return f"{self.user}@127.0.0.1:{path}"

    def sftp(self, *lines: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        batch = self.local.parent / "batch"
        batch.write_text("\n".join(lines) + "\n")
        r = subprocess.run(["sftp", *SSH_OPTS, "-i", str(self.identity), "-P", str(self.port),
                            "-b", str(batch), f"{self.user}@127.0.0.1"],
                           capture_output=True, text=True, timeout=120, cwd=self.local)
        if check:
            assert r.returncode == 0, r.stderr
        return r

    def scp(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(["scp", *SSH_OPTS, "-i", str(self.identity), "-P", str(self.port), *args],
                           capture_output=True, text=True, timeout=120, cwd=self.local)
        if check:
            assert r.returncode == 0, r.stderr
        return r


@contextlib.contextmanager
def _start(keys, helpers, tmp: Path, *extra: str) -> Iterator[tuple[Serve, subprocess.Popen[bytes]]]:
    home, elsewhere, local = tmp / "home", tmp / "elsewhere", tmp / "local"
    for d in (home, elsewhere, local):
        d.mkdir()
    port = helpers.free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sshcore", "serve", "--listen", f"127.0.0.1:{port}",
                             "--host-key", str(keys.host["ed25519"]), "--authorized-keys",
                             str(keys.authorized_keys), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, HOME=str(home)))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                helpers.wait_port(port, timeout=0.5)
                break
            except TimeoutError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    proc.wait(timeout=20)
                    raise AssertionError(f"sshcore serve did not start: {proc.stderr.read()!r}") from None
        yield Serve(port, home, elsewhere, local, keys.user["ed25519"], helpers.USER), proc
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


@pytest.fixture
def serve(keys, helpers, tmp_path) -> Iterator[Serve]:
    """``sshcore serve`` with its defaults: no SFTP root."""
    with _start(keys, helpers, tmp_path.resolve()) as (s, _):
        yield s


def make_tree(base: Path) -> None:
    (base / "sub" / "deeper").mkdir(parents=True)
    (base / "empty").mkdir()
    (base / "top.txt").write_text("top\n")
    (base / "sub" / "blob.bin").write_bytes(os.urandom(300_000))
    (base / "sub" / "deeper" / "zero").write_bytes(b"")
    for i in range(12):
        (base / "sub" / "deeper" / f"n{i}").write_bytes(os.urandom(i * 331))


def assert_same_tree(a: Path, b: Path) -> None:
    stack = [filecmp.dircmp(a, b)]
    while stack:
        c = stack.pop()
        assert not c.left_only and not c.right_only, (c.left, c.left_only, c.right_only)
        _, mismatch, errors = filecmp.cmpfiles(c.left, c.right, c.common_files, shallow=False)
        assert not mismatch and not errors, (c.left, mismatch, errors)
        stack.extend(c.subdirs.values())


# --------------------------------------------------------------------------- the default


def test_sftp_sees_the_file_system_from_the_home_directory(serve):
    (serve.home / "in-home.txt").write_text("home\n")
    (serve.elsewhere / "far.txt").write_text("far away\n")
    (serve.local / "up.bin").write_bytes(up := os.urandom(200_000))
    r = serve.sftp("pwd", "ls -1",
                   f"get {serve.elsewhere}/far.txt got.txt",
                   f"put up.bin {serve.elsewhere}/up.bin",
                   "get in-home.txt", "put up.bin relative.bin")
    assert f"Remote working directory: {serve.home}\n" in r.stdout
    assert "in-home.txt" in r.stdout.split()
    assert (serve.local / "got.txt").read_text() == "far away\n"
    assert (serve.elsewhere / "up.bin").read_bytes() == up
    assert (serve.local / "in-home.txt").read_text() == "home\n"
    assert (serve.home / "relative.bin").read_bytes() == up


@pytest.mark.parametrize("mode", ["sftp", "legacy"])
def test_scp_recursive_both_ways_by_absolute_path(serve, mode):
    """scp -r to and from a directory outside the home, in SFTP mode (OpenSSH 9's default)
    and with -O (the server runs ``scp -t``/``-f`` through the shell)."""
    opts = ["-O"] if mode == "legacy" else []
    make_tree(serve.local / "tree")
    make_tree(serve.elsewhere / "there")
    serve.scp(*opts, "-r", "tree", serve.remote(serve.elsewhere / "uploaded"))
    serve.scp(*opts, "-r", serve.remote(serve.elsewhere / "there"), "fetched")
    serve.scp(*opts, "-r", "tree", serve.remote("relative"))  # relative: from the home
    assert_same_tree(serve.local / "tree", serve.elsewhere / "uploaded")
    assert_same_tree(serve.elsewhere / "there", serve.local / "fetched")
    assert_same_tree(serve.local / "tree", serve.home / "relative")


# --------------------------------------------------------------------------- --sftp-root


def test_sftp_root_still_confines(keys, helpers, tmp_path):
    tmp = tmp_path.resolve()
    jail = tmp / "jail"
    jail.mkdir()
    (jail / "inside.txt").write_text("inside\n")
    with _start(keys, helpers, tmp, "--sftp-root", str(jail)) as (s, _):
        (s.elsewhere / "far.txt").write_text("far away\n")
        (s.local / "x.txt").write_text("x\n")
        r = s.sftp("pwd", "get /inside.txt", "put x.txt /put.txt", "cd ../../..", "pwd")
        assert r.stdout.count("Remote working directory: /\n") == 2, r.stdout
        for line in (f"get {s.elsewhere}/far.txt", "get ../elsewhere/far.txt",
                     "get ../../../../../../etc/hostname"):
            r = s.sftp(line, check=False)
            assert r.returncode == 1, (line, r.stdout)
        s.scp("x.txt", s.remote("/scp-abs.txt"))
        s.scp("x.txt", s.remote("../../scp-dots.txt"))
        r = s.scp("x.txt", s.remote(f"{s.elsewhere}/x.txt"), check=False)  # no such dir in the jail
        assert r.returncode != 0
    assert (s.local / "inside.txt").read_text() == "inside\n"
    assert (jail / "put.txt").read_text() == "x\n"
    assert not (s.local / "far.txt").exists() and not (s.local / "hostname").exists()
    assert (jail / "scp-abs.txt").read_text() == (jail / "scp-dots.txt").read_text() == "x\n"
    assert not (s.elsewhere / "x.txt").exists() and not (tmp / "scp-dots.txt").exists()


def test_sftp_root_with_a_subsystem_command_is_refused(keys, helpers, tmp_path):
    """--sftp-root cannot confine a command's sftp: refused, not served unconfined."""
    r = subprocess.run([sys.executable, "-m", "sshcore", "serve", "--listen",
                        f"127.0.0.1:{helpers.free_port()}", "--host-key", str(keys.host["ed25519"]),
                        "--authorized-keys", str(keys.authorized_keys), "--sftp-root", str(tmp_path),
                        "--subsystem", "sftp=/usr/lib/openssh/sftp-server"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr == ("sshcore serve: --sftp-root confines the sshcore-sftp plugin's server, "
                        "but sftp is served by /usr/lib/openssh/sftp-server\n")
