"""The README's set-up on a stock system interpreter (Debian's externally managed python3).

`scripts/setup.sh` runs here exactly as a new user runs it, on a copy of the checkout,
with ``PYTHON=/usr/bin/python3``: the interpreter that refuses ``pip install`` outside a
virtual environment (PEP 668). The venv it makes must then hold a working sshcore: the
command line lists the algorithms and connects to real sshd.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


pytestmark = [pytest.mark.interop, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
STOCK = "/usr/bin/python3"


def _copy_checkout(dest: Path) -> None:
    """The files a clone would have (tracked, plus new files not ignored), nothing built."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True, timeout=60).stdout
    for name in filter(None, listed.decode().split("\0")):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def test_setup_with_the_externally_managed_system_python(tmp_path, keys, start_sshd, helpers):
    assert Path(STOCK).exists(), "the stock Debian interpreter /usr/bin/python3 is missing"
    # The premise: this interpreter is externally managed, so a bare pip install fails.
    marker = subprocess.run([STOCK, "-c", "import sysconfig, os; print(os.path.exists(os.path.join("
                             "sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED')))"],
                            capture_output=True, text=True, timeout=30)
    assert marker.stdout.strip() == "True", "expected Debian's externally managed python3"

    checkout = tmp_path / "checkout"
    _copy_checkout(checkout)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    # Nothing of the test run's venv leaks in: its bin directory leaves PATH.
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep)
                                  if p != os.path.dirname(sys.executable))
    env["PYTHON"] = STOCK
    r = subprocess.run(["bash", "scripts/setup.sh"], cwd=checkout, env=env, capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    venv = checkout / ".venv"
    base = subprocess.run([str(venv / "bin" / "python"), "-c", "import sys, sshcore; "
                           "print(sys.base_prefix); print(sshcore.__file__)"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert base.returncode == 0, base.stderr
    base_prefix, module = base.stdout.split()
    assert base_prefix == "/usr"
    assert module.startswith(str(checkout))

    algs = subprocess.run([str(venv / "bin" / "sshcore"), "algorithms"], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert algs.returncode == 0, algs.stderr
    for name in ("curve25519-sha256", "aes128-ctr", "hmac-sha2-256", "ssh-ed25519"):
        assert name in algs.stdout

    sshd = start_sshd()
    run = subprocess.run([str(venv / "bin" / "sshcore"), "run", "-F", "none", "-p", str(sshd.port),
                          "-i", str(keys.user["ed25519"]), "--known-hosts", str(sshd.known_hosts),
                          f"{helpers.USER}@127.0.0.1", "echo", "from-stock-python"],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert run.returncode == 0, run.stderr + sshd.log_tail()
    assert run.stdout == "from-stock-python\n"

    # The stock interpreter's asyncio is older than the development one's: Python 3.11.2
    # ignores a pause_reading() made in connection_made, which once made local forwards
    # lose their first bytes there and only there.  Its forwarding tests run here too.
    fwd = subprocess.run([str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:xdist",
                          "-p", "no:cacheprovider", "tests/test_forwarding.py"],
                         cwd=checkout, env=env, capture_output=True, text=True, timeout=600)
    assert fwd.returncode == 0, fwd.stdout[-4000:] + fwd.stderr[-2000:]

    # Running set-up again is safe and keeps the same venv.
    r = subprocess.run(["bash", "scripts/setup.sh"], cwd=checkout, env=env, capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
