"""``sshcore scp`` and ``sshcore sftp -b`` against OpenSSH's sshd."""

from __future__ import annotations

import filecmp
import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop


@pytest.fixture
def sshd(start_sshd):
    return start_sshd(Subsystem="sftp internal-sftp")


def sshcore(*args, timeout=120, input=b""):
    return subprocess.run([sys.executable, "-m", "sshcore", *args], capture_output=True,
                          timeout=timeout, input=input)


def conn_args(sshd, keys):
    return ["-P", str(sshd.port), "-i", str(keys.user["ed25519"]), "-F", "none",
            "--known-hosts", str(sshd.known_hosts), "-o", "BatchMode=yes",
            "-o", "KexAlgorithms=curve25519-sha256"]


def scp(sshd, keys, *args):
    return sshcore("scp", *conn_args(sshd, keys), *args)


def tree(root: Path) -> None:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "f1").write_bytes(os.urandom(100_000))
    (root / "sub" / "f2").write_text("two\n")
    (root / "sub" / "deeper" / "f3").write_bytes(os.urandom(700_001))
    os.chmod(root / "sub" / "f2", 0o604)
    os.utime(root / "f1", (1_400_000_000, 1_400_000_001))


def same_tree(a: Path, b: Path, preserved: bool = False) -> None:
    names = sorted(p.relative_to(a) for p in a.rglob("*"))
    assert names == sorted(p.relative_to(b) for p in b.rglob("*"))
    for rel in names:
        if (a / rel).is_file():
            assert filecmp.cmp(a / rel, b / rel, shallow=False), rel
            if preserved:
                sa, sb = (a / rel).stat(), (b / rel).stat()
                assert stat.S_IMODE(sa.st_mode) == stat.S_IMODE(sb.st_mode), rel
                assert int(sa.st_mtime) == int(sb.st_mtime), rel


def test_scp_file_both_ways_sha256(sshd, keys, tmp_path):
    src = tmp_path / "big"
    src.write_bytes(os.urandom(21 * 1024 * 1024 + 3))
    r = scp(sshd, keys, str(src), f"127.0.0.1:{tmp_path}/up")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b""  # not a terminal: no progress meter
    r = scp(sshd, keys, f"127.0.0.1:{tmp_path}/up", str(tmp_path / "down"))
    assert r.returncode == 0, r.stderr
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    for name in ("up", "down"):
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == digest


def test_scp_recursive_preserve_and_remote_to_remote(sshd, keys, tmp_path):
    tree(tmp_path / "t")
    r = scp(sshd, keys, "-rp", str(tmp_path / "t"), f"127.0.0.1:{tmp_path}/r")
    assert r.returncode == 0, r.stderr
    same_tree(tmp_path / "t", tmp_path / "r", preserved=True)
    (tmp_path / "l").mkdir()
    r = scp(sshd, keys, "-r", "-p", f"127.0.0.1:{tmp_path}/r", str(tmp_path / "l"))
    assert r.returncode == 0, r.stderr
    same_tree(tmp_path / "t", tmp_path / "l" / "r", preserved=True)
    # remote to remote through this client (two connections, one per operand spelling)
    r = scp(sshd, keys, "-r", f"127.0.0.1:{tmp_path}/r", f"scp://127.0.0.1:{sshd.port}/{tmp_path}/rr")
    assert r.returncode == 0, r.stderr
    same_tree(tmp_path / "t", tmp_path / "rr")


def test_scp_globs_and_several_sources(sshd, keys, tmp_path):
    for n in ("a.txt", "b.txt", "c.bin"):
        (tmp_path / n).write_text(n)
    (tmp_path / "out").mkdir()
    (tmp_path / "out2").mkdir()
    r = scp(sshd, keys, f"127.0.0.1:{tmp_path}/*.txt", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path / "out")) == ["a.txt", "b.txt"]
    r = scp(sshd, keys, str(tmp_path / "a.txt"), str(tmp_path / "c.bin"), f"127.0.0.1:{tmp_path}/out2")
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path / "out2")) == ["a.txt", "c.bin"]
    r = scp(sshd, keys, str(tmp_path / "a.txt"), str(tmp_path / "c.bin"), f"127.0.0.1:{tmp_path}/a.txt")
    assert r.returncode == 1
    assert b"Not a directory" in r.stderr and len(r.stderr.splitlines()) == 1


def test_scp_failures_are_one_line(sshd, keys, tmp_path):
    r = scp(sshd, keys, f"127.0.0.1:{tmp_path}/missing", str(tmp_path / "x"))
    assert r.returncode == 1
    assert r.stderr.decode().count("\n") == 1 and "No such file" in r.stderr.decode()
    (tmp_path / "d").mkdir()
    r = scp(sshd, keys, str(tmp_path / "d"), f"127.0.0.1:{tmp_path}/e")  # no -r
    assert r.returncode == 1 and b"Is a directory" in r.stderr
    # one missing source does not stop the others
    (tmp_path / "ok").write_text("ok")
    (tmp_path / "dst").mkdir()
    r = scp(sshd, keys, f"127.0.0.1:{tmp_path}/nope", f"127.0.0.1:{tmp_path}/ok", str(tmp_path / "dst"))
    assert r.returncode == 1 and (tmp_path / "dst" / "ok").read_text() == "ok"
    # a connection failure: 255, one line
    r = sshcore("scp", "-P", "1", "-F", "none", "-o", "BatchMode=yes", str(tmp_path / "ok"),
                "127.0.0.1:x")
    assert r.returncode == 255
    assert len(r.stderr.splitlines()) == 1, r.stderr


def test_scp_progress_meter_on_a_terminal(sshd, keys, tmp_path, helpers):
    (tmp_path / "f").write_bytes(os.urandom(3 * 1024 * 1024))
    argv = [sys.executable, "-m", "sshcore", "scp", *conn_args(sshd, keys), str(tmp_path / "f"),
            f"127.0.0.1:{tmp_path}/g"]
    code, shown = helpers.run_in_pty(argv, [], timeout=60)
    assert code == 0, shown
    text = shown.decode(errors="replace")
    assert "f" in text and "100%" in text and "/s" in text and "3.0MB" in text
    assert (tmp_path / "g").read_bytes() == (tmp_path / "f").read_bytes()


def test_sftp_batch(sshd, keys, tmp_path):
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "up.txt").write_text("uploaded\n")
    (tmp_path / "local" / "m1.dat").write_text("m1")
    (tmp_path / "local" / "m2.dat").write_text("m2")
    tree(tmp_path / "local" / "t")
    (tmp_path / "remote").mkdir()
    batch = tmp_path / "batch"
    batch.write_text(f"""cd {tmp_path}/remote
pwd
lcd {tmp_path}/local
lpwd
put up.txt
mput *.dat
put -rp t
mkdir newdir
rename up.txt newdir/moved.txt
ln -s newdir/moved.txt link
chmod 600 newdir/moved.txt
ls -l
ls newdir
stat newdir/moved.txt
lcd {tmp_path}
lmkdir back
get -r t back/t
get newdir/moved.txt back/
mget *.dat back
rm m1.dat
-rm does-not-exist
rmdir newdir/../nonexistent-ok
df -h
bye
""")
    r = sshcore("sftp", *conn_args(sshd, keys), "-b", str(batch), "127.0.0.1")
    out = r.stdout.decode()
    # the failing rmdir (not prefixed with -) stopped the batch with status 1
    assert r.returncode == 1, r.stderr
    assert "sftp> rmdir newdir/../nonexistent-ok" in out and "sftp> df -h" not in out
    assert f"Remote working directory: {os.path.realpath(tmp_path / 'remote')}" in out
    assert f"Local working directory: {tmp_path / 'local'}" in out
    err = r.stderr.decode().splitlines()
    assert len(err) == 2 and "does-not-exist" in err[0] and "nonexistent-ok" in err[1]
    remote = tmp_path / "remote"
    assert sorted(os.listdir(remote)) == ["link", "m2.dat", "newdir", "t"]
    assert os.readlink(remote / "link") == "newdir/moved.txt"
    assert stat.S_IMODE((remote / "newdir" / "moved.txt").stat().st_mode) == 0o600
    assert "-rw-------" in out and "moved.txt" in out and "Size: 9" in out
    same_tree(tmp_path / "local" / "t", remote / "t", preserved=True)
    same_tree(tmp_path / "local" / "t", tmp_path / "back" / "t")
    assert sorted(os.listdir(tmp_path / "back")) == ["m1.dat", "m2.dat", "moved.txt", "t"]
    assert (tmp_path / "back" / "moved.txt").read_text() == "uploaded\n"


def test_sftp_batch_from_stdin_with_df_and_bad_command(sshd, keys, tmp_path):
    r = sshcore("sftp", *conn_args(sshd, keys), "-b", "-", f"127.0.0.1:{tmp_path}",
                input=b"pwd\ndf\n@version\nfrobnicate\npwd\n")
    out = r.stdout.decode()
    assert r.returncode == 1
    assert f"Remote working directory: {os.path.realpath(tmp_path)}" in out
    assert "%Capacity" in out and "SFTP protocol version 3" in out
    assert "sftp> version" not in out  # @ hides the echo
    assert out.count("Remote working directory") == 1  # stopped at the bad command
    assert "Invalid command: frobnicate" in r.stderr.decode()


def test_sftp_interactive_on_a_terminal(sshd, keys, tmp_path, helpers, monkeypatch):
    (tmp_path / "here.txt").write_text("hi")
    argv = [sys.executable, "-m", "sshcore", "sftp", *conn_args(sshd, keys), f"127.0.0.1:{tmp_path}"]
    steps = [(b"sftp> ", b"ls\n"), (b"here.txt", b"get here.txt copy.txt\n"),
             (b"Fetching", b"frobnicate\n"), (b"Invalid command", b"bye\n")]
    monkeypatch.chdir(tmp_path)  # the child's local directory: where get writes
    code, shown = helpers.run_in_pty(argv, steps, timeout=60)
    text = shown.decode(errors="replace")
    assert code == 0, text
    assert "here.txt" in text and "Invalid command: frobnicate" in text
    assert (tmp_path / "copy.txt").read_text() == "hi"
