"""The public plugin API: versioning, alternative implementations of one name, and
per-connection plugin control."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import sshcore
import sshcore.plugin as plugin_api
from sshcore.errors import ConfigurationError
from sshcore.interfaces import CipherAlgorithm, KeyType, SignatureAlgorithm
from sshcore.registry import BLOCK_ENV, IMPLEMENTATIONS_ENV, build_registry, connection_registry

ROOT = Path(__file__).resolve().parents[1]
TOY = Path(__file__).parent / "toy_alt_cipher"


class _Provider:
    """A plugin object contributing one cipher name with a given implementation priority."""

    def __init__(self, label: str, impl_priority: int, name: str = "aes128-ctr",
                 api: object = None) -> None:
        self.label = label
        self.impl_priority = impl_priority
        self.name = name
        if api is not None:
            self.SSHCORE_PLUGIN_API = api

    @sshcore.hookimpl
    def sshcore_ciphers(self):
        return [CipherAlgorithm(self.name, 16, 16, 16, lambda **kw: self.label, priority=90,
                                implementation_priority=self.impl_priority)]

    def __repr__(self) -> str:
        return f"<{self.label}>"


def test_the_higher_implementation_priority_serves_and_both_are_kept():
    low, high = _Provider("low", 0), _Provider("high", 5)
    reg = build_registry(plugins=[low, high])
    assert reg.get("cipher", "aes128-ctr").factory() == "high"
    provs = reg.providers("cipher", "aes128-ctr")
    assert [p.descriptor.factory() for p in provs] == ["high", "low"]
    assert reg.names("cipher").count("aes128-ctr") == 1  # one name for negotiation


def test_a_choice_makes_another_provider_serve_without_changing_the_order():
    low, high = _Provider("low", 0), _Provider("high", 5)
    other = _Provider("other", 0, name="aes256-ctr")
    reg = build_registry(plugins=[low, high, other])
    low_name = next(p.provider for p in reg.providers("cipher", "aes128-ctr")
                    if p.descriptor.factory() == "low")
    chosen = reg.choose({"aes128-ctr": low_name})
    assert chosen.get("cipher", "aes128-ctr").factory() == "low"
    assert chosen.names("cipher") == reg.names("cipher")
    assert reg.get("cipher", "aes128-ctr").factory() == "high"  # the original is untouched
    with pytest.raises(ConfigurationError, match="not by 'nobody'"):
        reg.choose({"aes128-ctr": "nobody"})
    with pytest.raises(ConfigurationError, match="no plugin provides"):
        reg.choose({"no-such-cipher": low_name})


class _SigAndKeyType:
    """Contributes the signature algorithm "x-key" and, optionally, the key type "x-key"."""

    def __init__(self, label: str, impl_priority: int, key_type: bool) -> None:
        self.label, self.impl_priority, self.key_type = label, impl_priority, key_type

    @sshcore.hookimpl
    def sshcore_signature_algorithms(self):
        return [SignatureAlgorithm("x-key", "x-key", lambda blob: self.label, priority=1,
                                   implementation_priority=self.impl_priority)]

    @sshcore.hookimpl
    def sshcore_key_types(self):
        return [KeyType("x-key", lambda **kw: self.label)] if self.key_type else []

    def __repr__(self) -> str:
        return f"<{self.label}>"


def test_a_choice_applies_in_the_families_where_the_provider_has_the_name():
    # "x-key" is a signature algorithm of both and a key type of "keys" only (as
    # ssh-ed25519 is for sshcore-keys and sshcore-openssl): choosing "alt" for it is valid.
    keys, alt = _SigAndKeyType("keys", 0, True), _SigAndKeyType("alt", 5, False)
    reg = build_registry(plugins=[keys, alt])
    alt_name = next(p.provider for p in reg.providers("signature", "x-key")
                    if p.descriptor.decode(b"") == "alt")
    keys_name = next(p.provider for p in reg.providers("signature", "x-key")
                     if p.descriptor.decode(b"") == "keys")
    back = reg.choose({"x-key": keys_name})
    assert back.get("signature", "x-key").decode(b"") == "keys"
    again = back.choose({"x-key": alt_name})
    assert again.get("signature", "x-key").decode(b"") == "alt"
    assert again.get("key_type", "x-key").generate() == "keys"
    with pytest.raises(ConfigurationError, match="not by 'nobody'"):
        reg.choose({"x-key": "nobody"})


def test_equal_implementation_priorities_without_a_choice_are_an_error_naming_both():
    a, b = _Provider("a", 3), _Provider("b", 3)
    with pytest.raises(ConfigurationError, match="registered twice") as info:
        build_registry(plugins=[a, b])
    assert "<a>" in str(info.value) or "a" in str(info.value)
    assert IMPLEMENTATIONS_ENV in str(info.value)


def test_restrict_drops_providers_and_the_next_one_serves():
    low, high = _Provider("low", 0), _Provider("high", 5)
    reg = build_registry(plugins=[low, high])
    high_name = reg.providers("cipher", "aes128-ctr")[0].provider
    fewer = reg.restrict(block=[high_name])
    assert fewer.get("cipher", "aes128-ctr").factory() == "low"
    only = reg.restrict(allow=[high_name])
    assert only.get("cipher", "aes128-ctr").factory() == "high"
    assert "none" in only.names("compression")  # the kernel's own algorithm stays


@pytest.mark.parametrize("declared, ok", [((1, 0), True), ("1.0", True), ("1", True),
                                          ((2, 0), False), ("1.99", False), ((0, 9), False),
                                          ("one", False)])
def test_a_plugin_declaring_an_api_it_cannot_get_is_refused(declared, ok):
    p = _Provider("versioned", 0, name="aes192-ctr", api=declared)
    if ok:
        assert build_registry(plugins=[p]).get("cipher", "aes192-ctr").factory() == "versioned"
    else:
        with pytest.raises(ConfigurationError, match="plugin API|not a plugin API version"):
            build_registry(plugins=[p])


def test_api_version_and_deprecation_mechanism(monkeypatch):
    assert plugin_api.API_VERSION == (1, 0)
    assert plugin_api.api_incompatibility((1, 0)) is None
    assert "provides 1.0" in plugin_api.api_incompatibility((1, 3))
    monkeypatch.setitem(plugin_api._DEPRECATED, "OldReader",
                        ("sshcore.wire", "SSHReader", "sshcore.plugin.SSHReader"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert plugin_api.OldReader is plugin_api.SSHReader
    assert caught and issubclass(caught[0].category, plugin_api.SSHCorePluginDeprecationWarning)
    with pytest.raises(AttributeError):
        plugin_api.NoSuchName  # noqa: B018


def test_every_name_in_the_plugin_namespace_exists_and_imports_no_crypto():
    for name in plugin_api.__all__:
        assert hasattr(plugin_api, name), name
    code = ("import sys, sshcore.plugin, sshcore.wire\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('asyncio', 'Crypto')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "[]", r.stderr


def test_connection_registry_blocks_a_distribution_for_one_connection_only():
    reg = connection_registry(blocked_plugins=["sshcore-kex-pq"])
    assert not any("sntrup" in n or "mlkem" in n for n in reg.names("kex"))
    assert "curve25519-sha256" in reg.names("kex")
    full = connection_registry()
    assert "mlkem768x25519-sha256" in full.names("kex")
    only = connection_registry(allowed_plugins=["sshcore-kex-ecdh", "sshcore-ciphers",
                                                "sshcore-macs", "sshcore-keys", "sshcore-auth"])
    assert set(only.names("kex")) <= set(full.names("kex")) and "mlkem768x25519-sha256" not in only.names("kex")


def test_blocked_plugins_change_what_a_real_connection_negotiates():
    from sshcore.keys import generate_private_key

    async def main():
        srv = await sshcore.listen("127.0.0.1", 0, server_host_keys=[generate_private_key()],
                                   passwords={"u": "pw"}, process_factory=lambda p: 0)
        async with srv:
            async with sshcore.connect("127.0.0.1", srv.port, username="u", password="pw",
                                       client_keys=[], known_hosts=None, config=None) as conn:
                default_kex = conn.get_extra_info("algorithms")["kex"]
            async with sshcore.connect("127.0.0.1", srv.port, username="u", password="pw",
                                       client_keys=[], known_hosts=None, config=None,
                                       blocked_plugins=["sshcore-kex-pq"]) as conn:
                blocked_kex = conn.get_extra_info("algorithms")["kex"]
        return default_kex, blocked_kex

    default_kex, blocked_kex = asyncio.run(asyncio.wait_for(main(), 60))
    assert default_kex == "mlkem768x25519-sha256"
    assert blocked_kex == "curve25519-sha256"


ALT_SCRIPT = textwrap.dedent("""
    import asyncio, sys, sshcore
    from sshcore.keys import generate_private_key

    async def main(choice):
        kw = {"implementations": {"aes128-ctr": choice}} if choice else {}
        srv = await sshcore.listen("127.0.0.1", 0, server_host_keys=[generate_private_key()],
                                   passwords={"u": "pw"}, encryption_algs=["aes128-ctr"],
                                   implementations={"aes128-ctr": "sshcore-ciphers"})
        async with srv:
            async with sshcore.connect("127.0.0.1", srv.port, username="u", password="pw",
                                       client_keys=[], known_hosts=None, config=None,
                                       encryption_algs=["aes128-ctr"], **kw) as conn:
                r = await conn.run("echo through-$((40+2))")
                print(r.stdout.strip(), conn.get_extra_info("algorithms")["enc_cs"])
    asyncio.run(asyncio.wait_for(main(sys.argv[1] if len(sys.argv) > 1 else None), 60))
""")


def test_an_installed_second_provider_serves_is_listed_and_can_be_passed_over(child_venv, tmp_path):
    py = child_venv()
    r = subprocess.run([py, "-m", "pip", "install", "--no-deps", "--no-build-isolation", str(TOY)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    env = dict(os.environ, TOY_ALT_CIPHER_LOG=str(tmp_path / "log"))
    env.pop(IMPLEMENTATIONS_ENV, None)
    # The toy is the only provider besides sshcore-ciphers: sshcore-openssl (installed
    # beside it by setup.sh, with a higher implementation priority) stays out.
    env[BLOCK_ENV] = "openssl"

    algs = subprocess.run([py, "-m", "sshcore", "algorithms"], capture_output=True, text=True,
                          timeout=60, env=env)
    assert algs.returncode == 0, algs.stderr
    lines = algs.stdout.splitlines()
    i = next(i for i, line in enumerate(lines) if line.split()[:1] == ["aes128-ctr"])
    assert "sshcore-toy-alt-cipher 0.1.0" in lines[i] and "* serves" in lines[i]
    assert "sshcore-ciphers" in lines[i + 1] and "(alternative)" in lines[i + 1]

    log = tmp_path / "log"
    r = subprocess.run([py, "-c", ALT_SCRIPT], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["through-42", "aes128-ctr"]
    assert log.read_text().count("keyed") == 2  # the client's two directions, on OpenSSL

    log.unlink()
    r = subprocess.run([py, "-c", ALT_SCRIPT, "sshcore-ciphers"], capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0 and r.stdout.split()[0] == "through-42", r.stderr
    assert not log.exists()  # chosen away for this connection

    env2 = dict(env, **{IMPLEMENTATIONS_ENV: "aes128-ctr=sshcore-ciphers"})
    algs = subprocess.run([py, "-m", "sshcore", "algorithms"], capture_output=True, text=True,
                          timeout=60, env=env2)
    line = next(line for line in algs.stdout.splitlines() if line.split()[:1] == ["aes128-ctr"])
    assert "sshcore-ciphers" in line and "* serves" in line


def test_the_command_line_chooses_an_implementation_with_o(child_venv, tmp_path):
    """``sshcore run -o Implementations=NAME=DIST`` passes the toy OpenSSL provider over."""
    import threading

    from sshcore.keys import export_private_key, generate_private_key, public_key_line

    py = child_venv()
    r = subprocess.run([py, "-m", "pip", "install", "--no-deps", "--no-build-isolation", str(TOY)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    user_key = generate_private_key("ssh-ed25519")
    key_file = tmp_path / "id"
    key_file.write_bytes(export_private_key(user_key, "openssh"))
    key_file.chmod(0o600)
    (tmp_path / "authorized_keys").write_text(public_key_line(user_key) + "\n")

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    srv = asyncio.run_coroutine_threadsafe(sshcore.listen(
        "127.0.0.1", 0, server_host_keys=[generate_private_key()],
        authorized_client_keys=str(tmp_path / "authorized_keys"),
        process_factory=lambda proc: 0), loop).result(30)
    log = tmp_path / "log"
    env = dict(os.environ, TOY_ALT_CIPHER_LOG=str(log))
    env.pop(IMPLEMENTATIONS_ENV, None)
    # The toy is the only provider besides sshcore-ciphers: sshcore-openssl (installed
    # beside it by setup.sh, with a higher implementation priority) stays out.
    env[BLOCK_ENV] = "openssl"
    base = [py, "-m", "sshcore", "run", "-F", "none", "-p", str(srv.port), "-i", str(key_file),
            "--known-hosts", "none", "-o", "Ciphers=aes128-ctr", "-l", "u", "127.0.0.1"]
    try:
        r = subprocess.run(base + ["true"], capture_output=True, text=True, timeout=60, env=env)
        assert r.returncode == 0, r.stderr
        assert log.read_text().count("keyed") == 2
        log.unlink()
        r = subprocess.run(base[:4] + ["-o", "Implementations=aes128-ctr=sshcore-ciphers"]
                           + base[4:] + ["true"], capture_output=True, text=True, timeout=60,
                           env=env)
        assert r.returncode == 0, r.stderr
        assert not log.exists()
        r = subprocess.run(base[:4] + ["-o", "Implementations=aes128-ctr=nobody"] + base[4:]
                           + ["true"], capture_output=True, text=True, timeout=60, env=env)
        assert r.returncode == 255 and "not by 'nobody'" in r.stderr
    finally:
        loop.call_soon_threadsafe(srv.close)
        asyncio.run_coroutine_threadsafe(srv.wait_closed(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
