"""Every declared minimum version is true: each plugin's tests, and the kernel's registry,
auth and connection tests, pass with their dependencies installed at exactly the lowest
versions the pyprojects allow.

For each plugin, the ``>=`` bounds of its own and the kernel's dependencies become
``name==minimum`` pins (for the kernel, its own bounds); members with the same pins share
one fresh venv.  Into it go the pins, the test tools, the kernel and the plugins built as
wheels from a copy of the checkout (plus every other plugin whose own bounds the pins
satisfy, since some tests drive a whole connection), and then the group's tests
(``plugins/<name>/tests``, ``conftest.KERNEL_TESTS``) run there, from a folder outside the
checkout.  A small pytest plugin records which files and versions the run really
imported, so the proof cannot silently use something else.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

# The test tools of the plugins' tests: not the code under test, so not pinned.  pytest
# itself uses pluggy, so pip picks a pytest release that accepts the kernel's minimum.
TEST_TOOLS = ["pytest>=7", "pytest-timeout", "hypothesis", "cryptography",
              "pycryptodome-test-vectors"]

RECORDER = textwrap.dedent('''
    """Records, at the end of the run, where each module the proof is about came from."""
    import json, os, sys
    from importlib import metadata

    def pytest_sessionfinish(session, exitstatus):
        mods = {}
        for name in os.environ["PIN_CHECK_MODULES"].split(","):
            m = sys.modules.get(name)
            mods[name] = getattr(m, "__file__", None) if m else None
        dists = {d: metadata.version(d) for d in os.environ["PIN_CHECK_DISTS"].split(",")}
        with open(os.environ["PIN_CHECK_OUT"], "w") as f:
            json.dump({"modules": mods, "dists": dists}, f)
''')

# Top-level modules of the pinned distributions whose files the recorder checks.
IMPORT_NAMES = {"pycryptodome": "Crypto", "pluggy": "pluggy", "bcrypt": "bcrypt", "numpy": "numpy",
                "argon2-cffi": "argon2", "cryptography": "cryptography", "cffi": "cffi"}


@pytest.fixture(scope="module")
def wheels(pk, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pk.build_wheels(tmp_path_factory.mktemp("minwheels"), isolation=False)


@pytest.mark.timeout(600)
def test_plugin_tests_pass_at_minimum_versions(min_group, pk, wheels, tmp_path, outside):
    pins, plugins = min_group
    KERNEL, PLUGINS, ROOT, run, clean_env = pk.KERNEL, pk.PLUGINS, pk.ROOT, pk.run, pk.clean_env
    py = pk.make_venv(tmp_path / "venv", with_pip=False)
    kernel_whl = next(wheels.glob(f"{KERNEL.module}-*.whl"))
    installable = [p for p in PLUGINS
                   if p.dir.name in plugins or pk.satisfied(pins, p.dependencies)]
    plugin_whls = [next(wheels.glob(f"{p.module}-*.whl")) for p in installable]
    reqs = [f"{n}=={v}" for n, v in pins.items()]
    r = run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q",
             "--disable-pip-version-check", str(kernel_whl), *map(str, plugin_whls), *reqs,
             *TEST_TOOLS], timeout=600, cwd=outside, env=clean_env())
    assert r.returncode == 0, r.stdout + r.stderr

    (outside / "_pin_check.py").write_text(RECORDER)
    record = tmp_path / "imported.json"
    mine = [p for p in PLUGINS if p.dir.name in plugins]
    modules = ["sshcore", *(p.module for p in mine),
               *(IMPORT_NAMES.get(n, n) for n in pins)]
    env = clean_env(PYTHONPATH=str(outside), PIN_CHECK_OUT=str(record),
                    PIN_CHECK_MODULES=",".join(modules), PIN_CHECK_DISTS=",".join(pins))
    r = run([str(py), "-m", "pytest", "-q", "-p", "_pin_check", "-p", "no:cacheprovider",
             "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT),
             # The conformance kit's checks run the whole standard stack (keys, kex,
             # ciphers) against OpenSSH: the full suite runs them; here each plugin's own
             # tests prove its own minimum dependencies.
             "-k", "not test_conformance",
             *(str(p) for name in plugins for p in pk.test_paths(name))],
            timeout=540, cwd=outside, env=env)
    assert r.returncode == 0, f"under {reqs}:\n{r.stdout[-6000:]}\n{r.stderr[-3000:]}"
    assert " passed" in r.stdout.splitlines()[-1], r.stdout[-2000:]

    seen = json.loads(record.read_text())
    site = (tmp_path / "venv").resolve()
    for name, path in seen["modules"].items():
        if name == "numpy" and path is None:  # imported only where a plugin uses it
            continue
        assert path is not None, f"the tests never imported {name}"
        assert site in Path(path).resolve().parents, f"{name} came from {path}, not the venv"
    from packaging.version import Version

    assert {n: Version(v) for n, v in seen["dists"].items()} == {n: Version(v) for n, v in pins.items()}
