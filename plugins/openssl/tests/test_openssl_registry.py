"""Installed, sshcore-openssl serves its names and the pycryptodome plugins stay as the
alternatives; what is negotiated (names, their order, what is on by default) does not
change."""

from __future__ import annotations

import os
import subprocess
import sys

from sshcore.registry import build_registry, default_registry
from sshcore_ciphers import hooks as ciphers
from sshcore_kex_ecdh import hooks as kex_ecdh
from sshcore_keys import hooks as keys
from sshcore_openssl import hooks

#: name -> the pycryptodome distribution this plugin is the alternative to
REPLACED = {
    **{d.name: "sshcore-ciphers" for d in hooks.sshcore_ciphers()},
    **{d.name: "sshcore-kex-ecdh" for d in hooks.sshcore_kex_algorithms()},
    **{d.name: "sshcore-keys" for d in hooks.sshcore_signature_algorithms()},
}
FAMILIES = ("kex", "cipher", "mac", "signature")


def test_sshcore_algorithms_shows_openssl_serving_and_the_alternative():
    env = {k: v for k, v in os.environ.items()
           if k not in ("SSHCORE_IMPLEMENTATIONS", "SSHCORE_BLOCK_PLUGINS")}
    r = subprocess.run([sys.executable, "-m", "sshcore", "algorithms"], capture_output=True,
                       text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    for name, other in REPLACED.items():
        i = next(i for i, line in enumerate(lines) if line.split()[:1] == [name])
        assert "sshcore-openssl" in lines[i] and "* serves" in lines[i], lines[i]
        assert other in lines[i + 1] and "(alternative)" in lines[i + 1], lines[i + 1]


def test_default_negotiation_order_is_unchanged():
    with_openssl = default_registry()
    assert with_openssl.provider("cipher", "aes128-ctr").startswith("sshcore-openssl")
    without = with_openssl.restrict(block=["sshcore-openssl"])
    assert without.provider("cipher", "aes128-ctr").startswith("sshcore-ciphers")
    for family in FAMILIES:
        assert with_openssl.names(family) == without.names(family), family
        assert with_openssl.default_names(family) == without.default_names(family), family
    # the same with registries built from the plugin modules alone
    alone = build_registry(plugins=[ciphers, kex_ecdh, keys])
    both = build_registry(plugins=[ciphers, kex_ecdh, keys, hooks])
    for family in FAMILIES:
        assert both.names(family) == alone.names(family)
        assert both.default_names(family) == alone.default_names(family)
    assert both.get("kex", "curve25519-sha256").factory.target.startswith("sshcore_openssl")
    assert alone.get("kex", "curve25519-sha256").factory.target.startswith("sshcore_kex_ecdh")


def test_listing_imports_no_crypto_library():
    code = ("import sys\nfrom sshcore_openssl import hooks\n"
            "n = len(hooks.sshcore_ciphers()) + len(hooks.sshcore_kex_algorithms())"
            " + len(hooks.sshcore_signature_algorithms())\n"
            "print(n, sorted(m for m in sys.modules if m.split('.')[0] in"
            " ('cryptography', 'Crypto')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split(None, 1) == ["17", "[]\n"]
