"""``sshcore plugin new``: the distribution it writes installs with pip into a fresh
virtual environment and passes its own conformance tests there, unchanged."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

SSHCORE = str(Path(sys.executable).parent / "sshcore")
CASES = {"cipher": "aes128-ctr@example.com", "mac": "hmac-sha256@example.com",
         "kex": "x25519-sha256@example.com", "compression": "zlib-demo@example.com",
         "key": "ed25519-demo@example.com", "auth": "token@example.com"}


def run(cmd, **kw):
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, **kw)


@pytest.fixture(scope="module")
def venv(child_venv):
    return child_venv("scaffold")


@pytest.mark.parametrize("family", list(CASES))
def test_generated_plugin_installs_and_passes_its_tests(tmp_path, venv, family):
    name, target = CASES[family], tmp_path / "dist"
    r = run([SSHCORE, "plugin", "new", "--family", family, name, str(target)])
    assert r.returncode == 0, r.stderr
    assert "wrote sshcore-" in r.stdout
    pyproject = (target / "pyproject.toml").read_text()
    assert '"sshcore>=0.1,<0.2"' in pyproject
    assert '[project.entry-points."sshcore.plugins"]' in pyproject
    hooks = next(target.glob("*/hooks.py"))
    imported = {n.module for n in ast.walk(ast.parse(hooks.read_text()))
                if isinstance(n, ast.ImportFrom)}
    assert imported <= {"__future__", "sshcore.plugin"}, imported
    r = run([venv, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
             str(target)])
    assert r.returncode == 0, r.stderr[-2000:]
    r = run([venv, "-c", "from sshcore.registry import default_registry as d; import sys;"
             f"fam = {{'key': 'signature'}}.get({family!r}, {family!r});"
             f"print(d().provider(fam, {name!r}))"])
    assert r.returncode == 0 and r.stdout.startswith("sshcore-"), r.stderr[-2000:]
    r = run([venv, "-m", "pytest", "-q", "-p", "no:xdist"], cwd=target)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert " passed" in r.stdout and "failed" not in r.stdout


def test_bad_names_and_non_empty_directories_are_refused(tmp_path):
    r = run([SSHCORE, "plugin", "new", "--family", "mac", "bad name", str(tmp_path / "a")])
    assert r.returncode == 2 and "not a valid SSH algorithm name" in r.stderr
    r = run([SSHCORE, "plugin", "new", "--family", "auth", "token", str(tmp_path / "b")])
    assert r.returncode == 2 and "NAME@DOMAIN" in r.stderr
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "keep.txt").write_text("mine")
    r = run([SSHCORE, "plugin", "new", "--family", "mac", "m@example.com", str(tmp_path / "c")])
    assert r.returncode == 2 and "is not empty" in r.stderr
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["keep.txt"]
