"""``sshcore scp -O`` (the legacy SCP protocol: remote ``scp -t``/``scp -f``) against the
real sshd, with and without its SFTP subsystem, and against a hostile fake ``scp`` (an
sshd whose ForceCommand sends what a malicious server would: CVE-2018-20685 and
CVE-2019-6111)."""

from __future__ import annotations

import filecmp
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop


def sshcore(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "sshcore", *args], capture_output=True,
                          timeout=timeout, input=b"")


def conn_args(sshd, keys):
    return ["-P", str(sshd.port), "-i", str(keys.user["ed25519"]), "-F", "none",
            "--known-hosts", str(sshd.known_hosts), "-o", "BatchMode=yes"]


def scp(sshd, keys, *args):
    return sshcore("scp", *conn_args(sshd, keys), *args)


@pytest.fixture(params=["no-sftp", "sftp"])
def sshd(request, start_sshd):
    if request.param == "sftp":
        return start_sshd(Subsystem="sftp internal-sftp")
    # The fixture's sshd_config has no Subsystem line: sshd offers no SFTP at all.
    return start_sshd()


def tree(root: Path) -> None:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "f1").write_bytes(os.urandom(300_000))
    (root / "sub" / "f2").write_text("two\n")
    (root / "sub" / "empty").write_bytes(b"")
    (root / "sub" / "deeper" / "f3").write_bytes(os.urandom(2 * 1024 * 1024 + 17))
    (root / "name with spaces").write_bytes(b"spaces\n")
    os.chmod(root / "sub" / "f2", 0o604)
    os.chmod(root / "f1", 0o751)
    os.chmod(root / "sub", 0o750)
    os.utime(root / "f1", (1_400_000_000, 1_400_000_001))
    os.utime(root / "sub" / "deeper" / "f3", (1_300_000_000, 1_300_000_500))
    os.utime(root / "sub", (1_200_000_000, 1_200_000_100))


def same_tree(a: Path, b: Path, preserved: bool = False) -> None:
    names = sorted(p.relative_to(a) for p in a.rglob("*"))
    assert names == sorted(p.relative_to(b) for p in b.rglob("*"))
    for rel in [Path(".")] + names:
        if (a / rel).is_file():
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
        if preserved:
            sa, sb = (a / rel).stat(), (b / rel).stat()
            assert stat.S_IMODE(sa.st_mode) == stat.S_IMODE(sb.st_mode), rel
            assert int(sa.st_mtime) == int(sb.st_mtime), rel


def test_sftp_is_really_absent_without_subsystem(start_sshd, keys, tmp_path):
    """The "no-sftp" server: plain sshcore scp (SFTP) fails, scp -O works."""
    sshd = start_sshd()
    (tmp_path / "f").write_bytes(b"data\n")
    r = scp(sshd, keys, str(tmp_path / "f"), f"127.0.0.1:{tmp_path}/g")
    assert r.returncode != 0 and not (tmp_path / "g").exists()
    r = scp(sshd, keys, "-O", str(tmp_path / "f"), f"127.0.0.1:{tmp_path}/g")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "g").read_bytes() == b"data\n"


def test_file_both_ways(sshd, keys, tmp_path):
    src = tmp_path / "big"
    src.write_bytes(os.urandom(5 * 1024 * 1024 + 3))
    r = scp(sshd, keys, "-O", str(src), f"127.0.0.1:{tmp_path}/up")
    assert r.returncode == 0, r.stderr
    assert filecmp.cmp(src, tmp_path / "up", shallow=False)
    r = scp(sshd, keys, "-O", f"127.0.0.1:{tmp_path}/up", str(tmp_path / "down"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "down").read_bytes() == src.read_bytes()
    # Into an existing directory, keeping the name; an empty file too.
    (tmp_path / "into").mkdir()
    (tmp_path / "zero").write_bytes(b"")
    r = scp(sshd, keys, "-O", f"127.0.0.1:{tmp_path}/up", f"127.0.0.1:{tmp_path}/zero",
            str(tmp_path / "into"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "into" / "up").read_bytes() == src.read_bytes()
    assert (tmp_path / "into" / "zero").read_bytes() == b""


def test_recursive_with_modes_and_times(sshd, keys, tmp_path):
    tree(tmp_path / "t")
    r = scp(sshd, keys, "-O", "-rp", str(tmp_path / "t"), f"127.0.0.1:{tmp_path}/r")
    assert r.returncode == 0, r.stderr
    same_tree(tmp_path / "t", tmp_path / "r", preserved=True)
    (tmp_path / "l").mkdir()
    r = scp(sshd, keys, "-O", "-r", "-p", f"127.0.0.1:{tmp_path}/r", str(tmp_path / "l"))
    assert r.returncode == 0, r.stderr
    same_tree(tmp_path / "t", tmp_path / "l" / "r", preserved=True)
    # A glob on the remote side, expanded by its shell; names are checked against it.
    (tmp_path / "g").mkdir()
    r = scp(sshd, keys, "-O", "-p", f"127.0.0.1:{tmp_path}/t/sub/f*", str(tmp_path / "g"))
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path / "g")) == ["f2"]
    assert stat.S_IMODE((tmp_path / "g" / "f2").stat().st_mode) == 0o604


def test_without_p_modes_follow_umask_and_times_are_new(sshd, keys, tmp_path):
    tree(tmp_path / "t")
    r = scp(sshd, keys, "-O", "-r", f"127.0.0.1:{tmp_path}/t", str(tmp_path / "n"))
    assert r.returncode == 0, r.stderr
    umask = os.umask(0)
    os.umask(umask)
    same_tree(tmp_path / "t", tmp_path / "n")
    assert int((tmp_path / "n" / "f1").stat().st_mtime) != 1_400_000_001
    # A new directory gets the mode sent less umask, once filled (as OpenSSH's scp).
    (tmp_path / "t" / "ro-dir").mkdir()
    (tmp_path / "t" / "ro-dir" / "inside").write_bytes(b"in\n")
    os.chmod(tmp_path / "t" / "ro-dir", 0o555)
    r = scp(sshd, keys, "-O", "-r", f"127.0.0.1:{tmp_path}/t/ro-dir", str(tmp_path / "rd"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "rd" / "inside").read_bytes() == b"in\n"
    assert stat.S_IMODE((tmp_path / "rd").stat().st_mode) == 0o555 & ~umask
    # A read-only file arrives read-only (written first, then given its mode less umask).
    (tmp_path / "ro").write_bytes(b"read only\n")
    os.chmod(tmp_path / "ro", 0o444)
    r = scp(sshd, keys, "-O", f"127.0.0.1:{tmp_path}/ro", str(tmp_path / "ro2"))
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE((tmp_path / "ro2").stat().st_mode) == 0o444 & ~umask
    assert (tmp_path / "ro2").read_bytes() == b"read only\n"


def test_errors_are_reported_per_file(sshd, keys, tmp_path):
    (tmp_path / "ok").write_bytes(b"fine\n")
    r = scp(sshd, keys, "-O", f"127.0.0.1:{tmp_path}/missing", str(tmp_path / "x"))
    assert r.returncode == 1
    assert b"No such file or directory" in r.stderr
    (tmp_path / "d").mkdir()
    r = scp(sshd, keys, "-O", f"127.0.0.1:{tmp_path}/d", str(tmp_path / "x"))
    assert r.returncode == 1 and b"not a regular file" in r.stderr
    r = scp(sshd, keys, "-O", str(tmp_path / "ok"), f"127.0.0.1:{tmp_path}/nodir/ok")
    assert r.returncode == 1 and b"nodir" in r.stderr
    r = scp(sshd, keys, "-O", str(tmp_path / "d"), f"127.0.0.1:{tmp_path}/y")
    assert r.returncode == 1 and b"not a regular file" in r.stderr
    # A name the protocol cannot carry (a newline) fails alone; the other file goes.
    (tmp_path / "new\nline").write_bytes(b"x")
    r = scp(sshd, keys, "-O", str(tmp_path / "new\nline"), str(tmp_path / "ok"),
            f"127.0.0.1:{tmp_path}/d")
    assert r.returncode == 1 and b"name not allowed" in r.stderr
    assert os.listdir(tmp_path / "d") == ["ok"]


# --------------------------------------------------------------------------- hostile server

EVIL = r'''#!{python}
import os, sys
cmd = os.environ.get("SSH_ORIGINAL_COMMAND", "")
case = cmd.split()[-1].rsplit("/", 1)[-1]
out, inp = sys.stdout.buffer, sys.stdin.buffer
# What a malicious "scp -f" sends; None: read the client's answer, stop unless it is "\0".
A = None
steps = {{
    "dotdot": [b"C0644 5 ../evil\n", A, b"evil\n\0", A],
    "slash": [b"C0644 5 sub/evil\n", A, b"evil\n\0", A],
    "abs": [b"C0644 5 /tmp/sshcore-scp-legacy-evil\n", A, b"evil\n\0", A],
    "unrequested": [b"C0644 5 other\n", A, b"evil\n\0", A],
    "twice": [b"C0644 5 twice\n", A, b"good\n\0", A, b"C0644 5 twice\n", A, b"evil\n\0", A],
    "dirnotfile": [b"D0755 0 dirnotfile\n", A, b"C0644 5 inner\n", A, b"evil\n\0", A, b"E\n", A],
    "dot": [b"D0777 0 .\n", A, b"E\n", A],
    "empty": [b"C0777 0 \n", A, b"\0", A],
    "nested": [b"D0755 0 nested\n", A, b"C0644 5 ../evil\n", A, b"evil\n\0", A, b"E\n", A],
    "shell": [b"No match.\n"],
    "longline": [b"C0644 5 " + b"x" * 5000 + b"\n", A, b"evil\n\0", A],
    "stray_e": [b"E\n", A],
    "fatal": [b"\x02scp: something \x1b[31mred\x1b[0m broke\n"],
}}.get(case, [])
if inp.read(1) != b"\0":  # the client's go-ahead
    sys.exit(1)
if case == "stderrtrick":  # CVE-2019-6110: hide what happens behind terminal escapes
    sys.stderr.buffer.write(b"\x1b[1A\x1b[2Kfake progress\n")
    sys.exit(1)
for step in steps:
    if step is None:
        if inp.read(1) != b"\0":
            sys.exit(0)
    else:
        out.write(step)
        out.flush()
'''


@pytest.fixture
def evil_sshd(start_sshd, tmp_path_factory):
    script = tmp_path_factory.mktemp("evil") / "fake-scp"
    script.write_text(EVIL.format(python=sys.executable))
    script.chmod(0o755)
    return start_sshd(ForceCommand=str(script))


@pytest.mark.parametrize("case, recursive, message", [
    ("dotdot", False, "unexpected filename: '../evil'"),
    ("slash", False, "unexpected filename: 'sub/evil'"),
    ("abs", False, "unexpected filename: '/tmp/sshcore-scp-legacy-evil'"),
    ("unrequested", False, "filename 'other' does not match request"),
    ("twice", False, "'twice' sent twice"),
    ("dirnotfile", False, "received directory 'dirnotfile' without -r"),
    ("dot", True, "unexpected filename: '.'"),
    ("empty", False, "unexpected filename: ''"),
    ("nested", True, "unexpected filename: '../evil'"),
    ("shell", False, "No match."),
    ("longline", False, "line too long"),
    ("stray_e", False, "end of a directory not entered"),
    ("fatal", False, "scp: something \\x1b[31mred\\x1b[0m broke"),
    ("stderrtrick", False, "\\x1b[1A\\x1b[2Kfake progress"),
])
def test_hostile_server_is_refused(evil_sshd, keys, tmp_path, case, recursive, message):
    outside = Path("/tmp/sshcore-scp-legacy-evil")
    outside.unlink(missing_ok=True)
    work = tmp_path / "work"
    target = work / "target"
    target.mkdir(parents=True)
    before = set(tmp_path.rglob("*"))
    flags = ["-O"] + (["-r"] if recursive else [])
    r = scp(evil_sshd, keys, *flags, f"127.0.0.1:somewhere/{case}", str(target))
    assert r.returncode == 1, (r.stdout, r.stderr)
    err = r.stderr.decode()
    assert message in err, err
    assert "\x1b" not in err  # the peer's text is shown sanitized
    created = set(tmp_path.rglob("*")) - before
    if case == "twice":  # the one requested file came, the second copy was refused
        assert created == {target / "twice"} and (target / "twice").read_bytes() == b"good\n"
    elif case == "nested":  # the requested directory was made, nothing else
        assert created == {target / "nested"}
    else:
        assert created == set(), created
    assert not outside.exists()
    assert not (work / "evil").exists()
    assert stat.S_IMODE(target.stat().st_mode) != 0o777
