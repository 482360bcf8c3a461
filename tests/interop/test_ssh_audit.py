"""ssh-audit (PyPI) against ``sshcore serve`` with its default settings: no failure, and
strict key exchange (the Terrapin countermeasure) reported as supported."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.load.serve import ServeProcess

pytestmark = pytest.mark.interop

FAMILIES = ("kex", "key", "enc", "mac")


def ssh_audit() -> str:
    exe = shutil.which("ssh-audit") or str(Path(sys.executable).with_name("ssh-audit"))
    if not Path(exe).exists():
        pytest.fail("ssh-audit is not installed (scripts/setup.sh installs it)")
    return exe


def audit(port: int) -> tuple[int, dict]:
    r = subprocess.run([ssh_audit(), "-j", "--skip-rate-test", "-t", "20", "-p", str(port), "127.0.0.1"],
                       capture_output=True, text=True, timeout=90)
    assert r.stdout.strip(), r.stderr
    return r.returncode, json.loads(r.stdout)


def failures(report: dict) -> list[str]:
    return [f"{family} {alg['algorithm']}: {note}" for family in FAMILIES
            for alg in report.get(family, []) for note in alg.get("notes", {}).get("fail", [])]


def test_ssh_audit_passes_serve_defaults(tmp_path):
    with ServeProcess(tmp_path / "home") as srv:
        rc, report = audit(srv.port)
        assert srv.alive(), "the audit's probes must not take the server down"
    assert report["banner"]["software"].startswith("sshcore")
    assert failures(report) == []
    assert report["cves"] == []
    # ssh-audit's exit status: 0 good, 2 warnings only, 3 failures (warnings are allowed:
    # e.g. "does not provide protection against post-quantum attacks" for curve25519)
    assert rc in (0, 2), (rc, report)
    kex = [a["algorithm"] for a in report["kex"]]
    assert "kex-strict-s-v00@openssh.com" in kex
    assert kex[0] == "mlkem768x25519-sha256"  # the post-quantum hybrid first, as OpenSSH 10


def test_ssh_audit_flags_an_enabled_sha1_mac(tmp_path):
    """The check can fail: with a legacy MAC enabled in the server, the audit fails it."""
    from sshcore.keys import export_private_key, generate_private_key

    key = tmp_path / "host_key"
    key.write_bytes(export_private_key(generate_private_key("ssh-ed25519"), "openssh"))
    key.chmod(0o600)
    script = ("import asyncio, sshcore, sys\n"
              "async def main():\n"
              f"    srv = await sshcore.listen('127.0.0.1', int(sys.argv[1]), server_host_keys=[{str(key)!r}],\n"
              "                               mac_algs='+hmac-sha1')\n"
              "    print('ready', flush=True)\n"
              "    await asyncio.sleep(120)\n"
              "asyncio.run(main())\n")
    from tests.load.serve import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", script, str(port)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        rc, report = audit(port)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert rc == 3
    assert any(f.startswith("mac hmac-sha1:") for f in failures(report))
