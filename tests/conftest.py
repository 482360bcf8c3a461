"""Shared fixtures for kernel tests."""

from __future__ import annotations

import os
import sys

import pytest

from sshcore.registry import build_registry
from sshcore.testing import plugin as testing_plugin

# The suite runs from the project venv without activating it (`.venv/bin/python -m
# pytest`): its console scripts (sshcore, ssh-audit, ...) go first on PATH for every
# program the tests start, as activation would put them.
_BIN = os.path.dirname(sys.executable)
if os.environ.get("PATH", "").split(os.pathsep)[0] != _BIN:
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")


@pytest.fixture(scope="session")
def test_registry():
    """Only the insecure stand-in algorithms plus the (crypto-free) auth plugin."""
    import sshcore_auth.hooks as auth

    return build_registry(plugins=[testing_plugin, auth])


def make_child_venv(path):
    """A new venv at ``path`` that also sees this interpreter's installed packages.

    ``venv --system-site-packages`` would show the *base* interpreter's packages, not
    those of the venv the tests run in, so the child instead gets a ``.pth`` file that
    adds each of our site directories (editable installs included) after its own.
    Returns the child's python.
    """
    import site
    import subprocess
    import sys
    from pathlib import Path

    r = subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    py = Path(path) / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    lines = [f"import site; site.addsitedir({d!r})" for d in site.getsitepackages()]
    Path(purelib, "_sshcore_parent_env.pth").write_text("\n".join(lines) + "\n")
    return str(py)


@pytest.fixture(scope="session")
def child_venv(tmp_path_factory):
    """Factory fixture: ``child_venv()`` makes a venv that sees this one's packages."""
    return lambda name="venv": make_child_venv(tmp_path_factory.mktemp(name))
