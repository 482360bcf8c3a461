"""Installing as a user would: wheels of the kernel and of every plugin, built from a copy
of the checkout (with build isolation, as pip builds them), installed NOT editable into
plain ``python -m venv`` environments that see nothing of the test venv, and run from a
folder outside the checkout.

* ``pip install --find-links WHEELS 'sshcore[standard]'``, one command, gives a client
  that runs a command on real sshd and a ``sshcore serve`` that real ``ssh`` runs a
  command on, and ``sshcore algorithms`` lists exactly what the development install lists.
* ``pip install --find-links WHEELS sshcore`` alone is the bare kernel: ``sshcore
  algorithms`` works and lists no plugin's algorithm.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Building ten wheels and two venvs takes a minute, more on a busy machine.
pytestmark = [pytest.mark.interop, pytest.mark.timeout(600)]

PROBE = """
import json, importlib, importlib.metadata as md, sys
mods = {}
for name in sys.argv[1:]:
    try:
        mods[name] = importlib.import_module(name).__file__
    except ImportError:
        mods[name] = None
from sshcore_ciphers import _primitives as c
from sshcore_kex_pq import _primitives as pq
print(json.dumps({"modules": mods, "prefix": sys.prefix, "dists": sorted(
    d.metadata["Name"] for d in md.distributions() if d.metadata["Name"].startswith("sshcore")),
    "fast": [c.RAW, c.POLY_KEY_HOOK, c._GHASH is not None, pq.FAST_MLKEM]}))
"""


@pytest.fixture(scope="module")
def wheels(pk, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pk.build_wheels(tmp_path_factory.mktemp("wheels"), isolation=True)


def _install(pk, venv: Path, wheels: Path, requirement: str, cwd: Path) -> Path:
    """A plain venv with one ``pip install --find-links WHEELS REQUIREMENT``; its bin/."""
    py = pk.make_venv(venv)
    r = pk.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                "--find-links", str(wheels), requirement], timeout=600, cwd=cwd, env=pk.clean_env())
    assert r.returncode == 0, r.stdout + r.stderr
    return venv / "bin"


def _algorithms(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    r = subprocess.run([*cmd, "algorithms"], capture_output=True, text=True, timeout=120,
                       cwd=cwd, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_kernel_alone_installs_and_lists_only_its_own(pk, wheels, tmp_path, outside):
    bin_ = _install(pk, tmp_path / "venv", wheels, f"sshcore=={pk.KERNEL.version}", outside)
    r = pk.run([str(bin_ / "python"), "-m", "pip", "list", "--format", "json"], cwd=outside,
               env=pk.clean_env())
    names = {d["name"].lower() for d in json.loads(r.stdout)}
    assert "sshcore" in names and not any(n.startswith("sshcore-") for n in names), names
    out = _algorithms([str(bin_ / "sshcore")], outside, pk.clean_env())
    # Every family is listed; the only algorithm is the kernel's own "none" compression.
    assert out.count("(none installed)") == len([ln for ln in out.splitlines()
                                                 if ln.endswith(":")]) - 1, out
    listed = [ln.split() for ln in out.splitlines() if ln.startswith("  ") and "(none" not in ln]
    assert listed == [["none", "sshcore-builtin"]], out


def test_standard_extra_gives_a_working_client_and_server(pk, wheels, tmp_path, outside, keys,
                                                          start_sshd):
    bin_ = _install(pk, tmp_path / "venv", wheels,
                    f"sshcore[standard]=={pk.KERNEL.version}", outside)
    env = pk.clean_env()
    venv = (tmp_path / "venv").resolve()

    # Everything runs from the venv: the kernel, every plugin, from its site-packages.
    modules = ["sshcore", *(p.module for p in pk.PLUGINS)]
    r = pk.run([str(bin_ / "python"), "-c", PROBE, *modules], cwd=outside, env=env)
    assert r.returncode == 0, r.stderr
    probe = json.loads(r.stdout)
    for name, path in probe["modules"].items():
        assert path is not None and venv in Path(path).resolve().parents, (name, path)
        assert pk.ROOT not in Path(path).resolve().parents, (name, path)
    assert probe["dists"] == sorted([pk.KERNEL.name, *(p.name for p in pk.PLUGINS)])
    # A plain install gets pycryptodome's fast paths (cffi comes with sshcore-ciphers).
    assert probe["fast"] == [True, True, True, True]

    # The same algorithms, in the same order, as the development install lists.
    assert _algorithms([str(bin_ / "sshcore")], outside, env) == \
        _algorithms([sys.executable, "-m", "sshcore"], outside, env)

    # The client against real sshd.
    sshd = start_sshd()
    r = pk.run([str(bin_ / "sshcore"), "run", "-p", str(sshd.port), "-i", str(keys.user["ed25519"]),
                "--known-hosts", str(sshd.known_hosts), "127.0.0.1", "echo", "ok"],
               timeout=60, cwd=outside, env=env)
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr + sshd.log_tail()

    # The server, for the real ssh client.
    home = tmp_path / "home"
    home.mkdir()
    port = pk.interop.free_port()
    proc = subprocess.Popen([str(bin_ / "sshcore"), "serve", "--listen", f"127.0.0.1:{port}",
                             "--authorized-keys", str(keys.authorized_keys)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=outside,
                            env=pk.clean_env(HOME=str(home)))
    try:
        host_pub = home / ".local/share/sshcore/ssh_host_ed25519_key.pub"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        assert host_pub.exists(), proc.poll()
        kh = tmp_path / "known_hosts"
        kh.write_text(f"[127.0.0.1]:{port} {host_pub.read_text()}")
        r = pk.interop.run_ssh(port, "echo served; exit 3", identity=keys.user["ed25519"],
                               known_hosts=kh, timeout=60)
        assert (r.returncode, r.stdout) == (3, b"served\n"), r.stderr
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
