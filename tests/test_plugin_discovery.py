"""A third-party plugin distribution is found through its entry point, used, and removed.

The toy distribution under tests/toy_plugin is pip-installed into a fresh virtual
environment (which sees this environment's packages), so installing and uninstalling it
does not disturb anything else.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TOY = Path(__file__).parent / "toy_plugin"
NAME = "hmac-sha3-256-toy@example.test"

NEGOTIATE = textwrap.dedent(f"""
    import sshcore.testing as t
    from sshcore.registry import build_registry
    # autoload=True: the toy MAC comes from its entry point, exactly like any plugin.
    reg = build_registry(plugins=[t.plugin], autoload=True)
    print("provider:", reg.provider("mac", "{NAME}"))
    cfgs = t.pair_configs(reg, kex_algs=[t.KEX], encryption_algs=[t.CIPHER],
                          mac_algs=["{NAME}"], server_host_key_algs=[t.KEY])
    p = t.ConnectionPair(cfgs.client, cfgs.server)
    p.pump()
    p.client.accept_host_key()
    p.pump()
    done = [e for e in p.client_events if type(e).__name__ == "KexCompleted"][0]
    print("negotiated:", done.algorithms["mac_cs"], done.algorithms["mac_sc"])
""")


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, **kw)


@pytest.fixture(scope="module")
def venv(child_venv):
    return child_venv()


def test_install_list_negotiate_uninstall(venv):
    r = run([str(venv), "-m", "sshcore", "algorithms"])
    assert r.returncode == 0, r.stderr
    assert NAME not in r.stdout

    r = run([str(venv), "-m", "pip", "install", "--no-deps", "--no-build-isolation", str(TOY)])
    assert r.returncode == 0, r.stdout + r.stderr

    r = run([str(venv), "-m", "sshcore", "algorithms"])
    assert r.returncode == 0, r.stderr
    line = next(line for line in r.stdout.splitlines() if NAME in line)
    assert "sshcore-toy-mac 0.1.0" in line and "disabled by default" in line

    r = run([str(venv), "-c", NEGOTIATE])
    assert r.returncode == 0, r.stderr
    assert "provider: sshcore-toy-mac 0.1.0" in r.stdout
    assert f"negotiated: {NAME} {NAME}" in r.stdout

    r = run([str(venv), "-m", "pip", "uninstall", "-y", "sshcore-toy-mac"])
    assert r.returncode == 0, r.stderr
    r = run([str(venv), "-m", "sshcore", "algorithms"])
    assert r.returncode == 0 and NAME not in r.stdout


def test_autoload_can_be_disabled(venv, monkeypatch):
    r = run([str(venv), "-c", "from sshcore.registry import build_registry as b; "
             "print(b().names('auth'))"], env={"SSHCORE_DISABLE_PLUGIN_AUTOLOAD": "1",
                                               "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
