"""The conformance kit itself: it passes correct plugins and names what is wrong with
broken ones (each broken toy below breaks one rule the kit checks), and its pytest
plugin is inert unless a run opts in."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import textwrap

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import (X25519PrivateKey,
                                                              X25519PublicKey)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from sshcore import conformance
from sshcore.conformance import OpenSSH
from sshcore.plugin import (AuthDone, AuthMethod, AuthSend, CipherAlgorithm, KexAlgorithm,
                            KexResult, KexStep, MacAlgorithm, exchange_hash, hookimpl)
from sshcore.registry import build_registry
from sshcore.wire import byte, mpint, string

SMALL = 1 << 20


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = OpenSSH(tmp_path_factory.mktemp("kit"))
    yield e
    e.close()


class _Ctr:
    def __init__(self, key, iv, stateless=False):
        self.key, self.iv, self.stateless = key, iv, stateless
        self.ctx = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()

    def encrypt(self, data):
        if self.stateless:  # the bug: every call starts the key stream again
            fresh = Cipher(algorithms.AES(self.key), modes.CTR(self.iv)).encryptor()
            return fresh.update(bytes(data))
        return self.ctx.update(bytes(data))

    decrypt = encrypt


class _AlwaysMac:
    def __init__(self, key):
        import hmac
        self.key, self.hmac = key, hmac

    def sign(self, seq, data):
        return self.hmac.new(self.key, struct.pack(">I", seq) + bytes(data), "sha256").digest()

    def verify(self, seq, data, mac):  # the bug: never refuses
        return True


class _X25519Kex:
    """A raw curve25519 exchange that parses the reply by hand, and badly: a short reply
    raises struct.error, not KeyExchangeError."""

    def __init__(self, ctx):
        self.ctx, self.key = ctx, X25519PrivateKey.generate()
        self.pub = self.key.public_key().public_bytes_raw()

    def start(self):
        if self.ctx.role == "client":
            return KexStep(send=[byte(30) + string(self.pub)])
        return KexStep()

    def _k(self, peer):
        secret = self.key.exchange(X25519PublicKey.from_public_bytes(peer))
        return mpint(int.from_bytes(secret, "big"))

    def receive(self, payload):
        def take(off):
            (n,) = struct.unpack_from(">I", payload, off)  # struct.error when short
            return payload[off + 4:off + 4 + n], off + 4 + n
        if self.ctx.role == "server":
            q_c, _ = take(1)
            k = self._k(q_c)
            h = exchange_hash(self.ctx, "sha256", self.ctx.host_key_blob, string(q_c),
                              string(self.pub), k)
            return KexStep(send=[byte(31) + string(self.ctx.host_key_blob) + string(self.pub)
                                 + string(self.ctx.sign(h))], result=KexResult(k, h))
        k_s, off = take(1)
        q_s, off = take(off)
        sig, _ = take(off)
        k = self._k(q_s)
        h = exchange_hash(self.ctx, "sha256", k_s, string(self.pub), string(q_s), k)
        return KexStep(result=KexResult(k, h, k_s, sig))


class _Anyone:
    """Server side of a method that lets anyone in (the bug)."""

    def __init__(self, ctx):
        pass

    def request(self, username, service, body):
        return AuthDone(success=True)

    def receive(self, payload):
        return AuthDone()

    def resume(self, answer):
        return AuthDone()


class _Say:
    def __init__(self, ctx):
        self.word, self.sent = ctx.credentials.get("word"), False

    def next_attempt(self):
        if self.sent or self.word is None:
            return AuthDone()
        self.sent = True
        return AuthSend(string(self.word))

    def receive(self, payload):
        return AuthDone()

    def resume(self, answer):
        return AuthDone()


class Toys:
    @hookimpl
    def sshcore_auth_methods(self):
        return [AuthMethod("anyone@kit.test", client=_Say, server=_Anyone,
                           enabled_by_default=False)]

    @hookimpl
    def sshcore_ciphers(self):
        return [CipherAlgorithm("toy-ctr@kit.test", 16, 16, 16,
                                lambda key, iv, encrypt: _Ctr(key, iv)),
                CipherAlgorithm("stateless-ctr@kit.test", 16, 16, 16,
                                lambda key, iv, encrypt: _Ctr(key, iv, stateless=True))]

    @hookimpl
    def sshcore_macs(self):
        return [MacAlgorithm("always-ok@kit.test", 32, 32, lambda key: _AlwaysMac(key))]

    @hookimpl
    def sshcore_kex_algorithms(self):
        return [KexAlgorithm("sloppy-x25519@kit.test", "sha256", _X25519Kex)]


@pytest.fixture(scope="module")
def toys():
    return build_registry(plugins=[Toys()], autoload=True)


def test_a_correct_cipher_passes_every_scenario(toys, env):
    report = conformance.check_cipher("toy-ctr@kit.test", size=SMALL, openssh=env, registry=toys)
    ran = "; ".join(report.ran)
    assert "sshcore <-> sshcore" in ran
    assert "corrupted packet from the client: MAC_ERROR" in ran
    assert "corrupted packet from the server: MAC_ERROR" in ran
    assert "sshd" not in ran  # OpenSSH does not know the name: sshcore only


def test_a_stateless_stream_cipher_is_caught(toys, env):
    with pytest.raises(AssertionError, match="two calls differs from one call"):
        conformance.check_cipher("stateless-ctr@kit.test", size=SMALL, openssh=env,
                                 registry=toys)


def test_a_mac_that_accepts_everything_is_caught(toys, env):
    with pytest.raises(AssertionError, match="a flipped tag bit verifies"):
        conformance.check_mac("always-ok@kit.test", size=SMALL, openssh=env, registry=toys)


def test_the_corruption_scenario_catches_an_unchecked_mac(toys, env):
    """Past the unit checks, on the wire: the receiver of a corrupted packet must end
    the connection with MAC_ERROR, which an always-true verify never does."""
    from sshcore.conformance import _checks
    from sshcore.conformance._session import Peers, run_loop
    from sshcore.keys import read_private_key

    hk = read_private_key(env.host_key(), registry=toys)
    opts = {"mac_algs": ["always-ok@kit.test"], "encryption_algs": ["aes128-ctr"]}
    p = Peers(toys, hk, read_private_key(env.user_key, registry=toys), None, opts,
              {"authorized_client_keys": str(env.authorized_keys), **opts})
    with pytest.raises(AssertionError, match="expected MACError"):
        run_loop(_checks._corruption(p, "mac", toys.get("mac", "always-ok@kit.test")), 60, "t")


def test_a_kex_that_crashes_on_a_malformed_reply_is_caught(toys, env):
    with pytest.raises(AssertionError, match=r"malformed reply \(truncated\): failed with "
                                             r"error: unpack_from.*expected ProtocolError"):
        conformance.check_kex("sloppy-x25519@kit.test", size=SMALL, openssh=env, registry=toys)


def test_an_auth_method_that_lets_anyone_in_is_caught(toys, env):
    from sshcore.conformance import AuthSetup

    setup = AuthSetup(client_options={"auth_credentials": {"word": "please"}},
                      server_options={"auth_methods": ["anyone@kit.test"]},
                      bad_client_options={"auth_credentials": {"word": "wrong"}})
    with pytest.raises(AssertionError, match="wrong credentials: was accepted; it must be "
                                             "refused"):
        conformance.check_auth_method("anyone@kit.test", size=SMALL, openssh=env,
                                      registry=toys, auth=setup)


def test_real_kex_passes_with_openssh_both_ways(env):
    report = conformance.check_kex("curve25519-sha256", "sshcore-kex-ecdh", size=SMALL,
                                   openssh=env)
    ran = "; ".join(report.ran)
    for part in ("sshcore -> sshd", "ssh -> sshcore", "host-key signature over the wrong data",
                 "server given a truncated init: KEY_EXCHANGE_FAILED"):
        assert part in ran, ran
    assert report.provider == "sshcore-kex-ecdh 0.1.0"


def test_a_provider_that_does_not_provide_the_name_is_an_error(env):
    from sshcore.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="not by 'sshcore-macs'"):
        conformance.check_cipher("aes128-ctr", "sshcore-macs", size=SMALL, openssh=env)


def test_an_unregistered_name_is_a_clear_failure(env):
    with pytest.raises(AssertionError, match="is not registered"):
        conformance.check_mac("no-such-mac@kit.test", openssh=env)


# --------------------------------------------------------------------------- pytest plugin

KIT_TEST = textwrap.dedent("""
    def test_kit(sshcore_kit):
        report = sshcore_kit.check_mac("hmac-sha2-256", size=1 << 18)
        assert "sshcore -> sshd" in str(report) and "1 known-answer" in str(report)
""")
VECTORS = textwrap.dedent("""
    import hmac, pytest, struct

    KEY = bytes(range(32))
    @pytest.fixture(scope="session")
    def sshcore_vectors():
        return {"hmac-sha2-256": [{"key": KEY.hex(), "seq": 7, "data": "00ff",
                                   "mac": hmac.new(KEY, struct.pack(">I", 7) + b"\\x00\\xff",
                                                   "sha256").hexdigest()}]}
""")


def _pytest(tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "no:xdist", *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env=env)


@pytest.mark.parametrize("how", ["flag", "ini", "pytest_plugins"])
def test_the_pytest_plugin_serves_the_kit_when_asked(tmp_path, how):
    (tmp_path / "test_k.py").write_text(KIT_TEST)
    conftest = VECTORS
    args = []
    if how == "flag":
        args = ["--sshcore-kit"]
    elif how == "ini":
        (tmp_path / "pytest.ini").write_text("[pytest]\nsshcore_kit = true\n")
    else:
        conftest = 'pytest_plugins = ["sshcore.conformance.fixtures"]\n' + VECTORS
    (tmp_path / "conftest.py").write_text(conftest)
    r = _pytest(tmp_path, *args)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "1 passed" in r.stdout


def test_the_pytest_plugin_is_inert_when_merely_installed(tmp_path):
    (tmp_path / "test_k.py").write_text(KIT_TEST)
    r = _pytest(tmp_path)
    assert r.returncode != 0
    assert "fixture 'sshcore_kit' not found" in r.stdout


def test_inprocess_pair_forces_options_on_both_ends():
    import asyncio

    from sshcore.conformance import echo_transfer, inprocess_pair

    async def main():
        async with inprocess_pair(encryption_algs=["aes256-gcm@openssh.com"],
                                  rekey_bytes=1 << 18) as (conn, server):
            await echo_transfer(conn, 1 << 20, "pair")
            return conn.get_extra_info("algorithms"), conn.statistics()["key_exchanges"]
    algs, kex = asyncio.run(asyncio.wait_for(main(), 60))
    assert algs["enc_cs"] == algs["enc_sc"] == "aes256-gcm@openssh.com"
    assert kex >= 2
