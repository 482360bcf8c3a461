"""The benchmark's key exchange table runs and prints every row (never a timing check)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_bench_kex_table_prints_every_method():
    root = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, "-m", "bench", "--kex", "--kex-seconds", "0.05"], cwd=root,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    for name in ("curve25519-sha256", "mlkem768x25519-sha256", "sntrup761x25519-sha512",
                 "ecdh-sha2-nistp256",
                 "diffie-hellman-group14-sha256"):
        assert any(line.split()[:1] == [name] and line.rstrip().endswith("curve25519)")
                   for line in r.stdout.splitlines()), (name, r.stdout)


def test_bench_kex_rows_run_whole_exchanges():
    """Each row times a complete exchange: both sides end with the same shared secret
    (sntrup761's work comes as KexCompute steps, which the bench must run)."""
    from bench.kex import KEX_METHODS, exchange
    from sshcore.registry import default_registry

    reg = default_registry()
    for name in KEX_METHODS:
        client, server = exchange(reg, name)
        assert client is not None and server is not None, name
        assert client.shared_secret == server.shared_secret, name
