"""examples/plugins/: four third-party plugins (a cipher, a key exchange, a host key type
and an auth method), each under 100 lines of code, installed with pip into a fresh
virtual environment, where each passes its own conformance-kit tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "plugins"
PLUGINS = {"openssl_ctr": "cipher", "openssl_ecdh": "kex", "rsa_pss": "signature",
           "totp_auth": "auth"}


def run(cmd, **kw):
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, **kw)


def code_lines(directory: Path) -> int:
    return sum(1 for p in directory.rglob("*.py") if "tests" not in p.parts
               for line in p.read_text().splitlines()
               if line.strip() and not line.strip().startswith("#"))


@pytest.fixture(scope="module")
def venv(child_venv, tmp_path_factory):
    """One venv with all four installed (from copies: the checkout stays clean)."""
    py = child_venv("examples")
    root = tmp_path_factory.mktemp("example-copies")
    for name in PLUGINS:
        shutil.copytree(EXAMPLES / name, root / name)
        r = run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                 str(root / name)])
        assert r.returncode == 0, r.stderr[-2000:]
    return py, root


@pytest.mark.parametrize("name", list(PLUGINS))
def test_example_plugin_passes_the_kit(venv, name):
    py, root = venv
    assert code_lines(EXAMPLES / name) < 100
    r = run([py, "-c", "import sshcore.registry as r; reg = r.default_registry();"
             f"print(sorted(p.provider for n in reg.alternatives[{PLUGINS[name]!r}]"
             f".values() for p in n))"])
    assert r.returncode == 0 and "sshcore-" + name.replace("_", "-") in r.stdout, r.stdout
    r = run([py, "-m", "pytest", "-q", "-p", "no:xdist", "tests"], cwd=root / name)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert " passed" in r.stdout and "failed" not in r.stdout


def test_the_standard_names_still_have_our_implementations_serving(venv):
    """Installed next to our providers, the example alternative (implementation priority
    -10) does not take over by default: one of ours (sshcore-openssl or sshcore-ciphers)
    still serves."""
    py, _ = venv
    r = run([py, "-c", "import sshcore.registry as r; reg = r.default_registry();"
             "print(reg.provider('cipher', 'aes256-ctr'));"
             "print([p.provider for p in reg.providers('cipher', 'aes256-ctr')])"])
    assert r.returncode == 0, r.stderr
    serving, providers = r.stdout.splitlines()
    assert serving.startswith(("sshcore-ciphers", "sshcore-openssl "))
    assert "sshcore-openssl-ctr 0.1.0" in providers
