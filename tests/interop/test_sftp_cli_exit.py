"""``sshcore scp`` and ``sshcore sftp`` end their process without the interpreter's
teardown once the work is done (its output flushed, its exit status kept), but only when
they are the program: code calling ``sshcore.cli.main`` itself gets the status back.

Whether the teardown ran is seen from outside: a ``sitecustomize`` on PYTHONPATH
registers an atexit handler that writes a marker file, which only a full interpreter
shutdown runs.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop


@pytest.fixture
def sshd(start_sshd):
    return start_sshd(Subsystem="sftp internal-sftp")


def conn_args(sshd, keys):
    return ["-P", str(sshd.port), "-i", str(keys.user["ed25519"]), "-F", "none",
            "--known-hosts", str(sshd.known_hosts), "-o", "BatchMode=yes",
            "-o", "KexAlgorithms=curve25519-sha256"]


@pytest.fixture
def teardown_marker(tmp_path):
    """(environment, marker path): the marker appears if the interpreter tears down."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import atexit, os\n"
        "atexit.register(lambda: open(os.environ['TEARDOWN_MARKER'], 'w').close())\n")
    marker = tmp_path / "torn-down"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])]), TEARDOWN_MARKER=str(marker))
    return env, marker


def sshcore(env, *args):
    return subprocess.run([sys.executable, "-m", "sshcore", *args], capture_output=True,
                          timeout=120, env=env, stdin=subprocess.DEVNULL)


def test_the_sshcore_program_skips_teardown_and_keeps_output_and_status(
        sshd, keys, tmp_path, teardown_marker):
    env, marker = teardown_marker
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(300_000))
    user = getpass.getuser()

    r = sshcore(env, "scp", *conn_args(sshd, keys), f"{user}@127.0.0.1:{src}",
                str(tmp_path / "got.bin"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "got.bin").read_bytes() == src.read_bytes()
    assert not marker.exists()  # no interpreter teardown after the copy

    r = sshcore(env, "scp", *conn_args(sshd, keys), f"{user}@127.0.0.1:{tmp_path}/missing",
                str(tmp_path / "x"))
    assert r.returncode == 1
    assert r.stderr.decode().strip().endswith(f"{tmp_path}/missing")  # flushed, one line
    assert not marker.exists()

    batch = tmp_path / "batch"
    batch.write_text("pwd\nlpwd\n")
    r = sshcore(env, "sftp", *conn_args(sshd, keys), "-b", str(batch), f"{user}@127.0.0.1")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()  # a pipe: block-buffered, flushed before the end
    assert lines[0] == "sftp> pwd" and lines[1].startswith("Remote working directory: /")
    assert lines[2:] == ["sftp> lpwd", f"Local working directory: {os.getcwd()}"]
    assert not marker.exists()

    # Code that calls sshcore.cli.main itself gets the status back and goes on.
    code = ("import sys\nfrom sshcore.cli import main\n"
            f"status = main({['scp', *conn_args(sshd, keys), f'{user}@127.0.0.1:{src}', str(tmp_path / 'again.bin')]!r})\n"
            "print('returned', status)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120, env=env,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and r.stdout.decode().split() == ["returned", "0"], r.stderr
    assert (tmp_path / "again.bin").read_bytes() == src.read_bytes()
    assert marker.exists()  # an ordinary exit, teardown included
