"""sshcore-openssl serving each of its algorithms against real OpenSSH, both ways: our
client (``connect()`` and ``sshcore run``) against sshd, and OpenSSH's ``ssh`` against our
server.  The pycryptodome provider of the name is blocked for the connection, so only
this plugin can have served it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

import sshcore
from sshcore.registry import default_registry

pytestmark = pytest.mark.interop

SCRIPT = "echo out; echo err >&2; wc -c; exit 3"
PAYLOAD = "x" * 300_000
CIPHERS = ["chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr",
           "aes128-gcm@openssh.com", "aes256-gcm@openssh.com"]
KEX = ["curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256",
       "ecdh-sha2-nistp384", "ecdh-sha2-nistp521"]
#: host key algorithm -> the key kind of tests/interop's ``keys`` fixture
HOST_KEYS = {"ssh-ed25519": "ed25519", "rsa-sha2-256": "rsa", "rsa-sha2-512": "rsa",
             "ecdsa-sha2-nistp256": "ecdsa"}


def go(coro):
    return asyncio.run(asyncio.wait_for(coro, 90))


async def our_client(port, keys, known_hosts, user_key="ed25519", **kw):
    async with sshcore.connect("127.0.0.1", port, client_keys=[keys.user[user_key]],
                               known_hosts=known_hosts, **kw) as conn:
        result = await conn.run(SCRIPT, input=PAYLOAD)
        return result, conn.get_extra_info("algorithms")


def check(result):
    assert result.stdout == f"out\n{len(PAYLOAD)}\n"
    assert result.stderr == "err\n"
    assert result.exit_status == 3


def test_openssl_serves_every_name_here():
    reg = default_registry()
    for family, names in (("cipher", CIPHERS), ("kex", KEX), ("signature", HOST_KEYS)):
        for name in names:
            assert reg.provider(family, name).startswith("sshcore-openssl"), name


@pytest.mark.parametrize("cipher", CIPHERS)
def test_our_client_cipher_against_sshd(cipher, start_sshd, keys):
    sshd = start_sshd(Ciphers=cipher)
    result, algs = go(our_client(sshd.port, keys, str(sshd.known_hosts),
                                 encryption_algs=[cipher], blocked_plugins=["sshcore-ciphers"]))
    check(result)
    assert algs["enc_cs"] == algs["enc_sc"] == cipher


@pytest.mark.parametrize("kex", KEX)
def test_our_client_kex_against_sshd(kex, start_sshd, keys):
    sshd = start_sshd(KexAlgorithms=kex)
    result, algs = go(our_client(sshd.port, keys, str(sshd.known_hosts), kex_algs=[kex],
                                 blocked_plugins=["sshcore-kex-ecdh"]))
    check(result)
    assert algs["kex"] == kex


@pytest.mark.parametrize("alg", sorted(HOST_KEYS))
def test_our_client_verifies_sshd_host_key(alg, start_sshd, keys):
    # The host key's signature and the known_hosts match go through this plugin's key
    # objects (sshcore-keys still reads the user's key file, so it stays loaded; the
    # choice names this plugin for the algorithm).
    sshd = start_sshd(HostKeyAlgorithms=alg)
    result, algs = go(our_client(sshd.port, keys, str(sshd.known_hosts),
                                 server_host_key_algs=[alg],
                                 implementations={alg: "sshcore-openssl"}))
    check(result)
    assert algs["host_key"] == alg


def test_sshcore_run_with_openssl_gcm_against_sshd(start_sshd, keys):
    sshd = start_sshd(Ciphers="aes256-gcm@openssh.com")
    env = {k: v for k, v in os.environ.items()
           if k not in ("SSHCORE_IMPLEMENTATIONS", "SSHCORE_BLOCK_PLUGINS")}
    env["SSHCORE_BLOCK_PLUGINS"] = "ciphers"  # sshcore-ciphers' entry point
    r = subprocess.run(
        [sys.executable, "-m", "sshcore", "run", "-F", "none", "-p", str(sshd.port),
         "-i", str(keys.user["ed25519"]), "--known-hosts", str(sshd.known_hosts),
         "-o", "Ciphers=aes256-gcm@openssh.com",
         "-o", "Implementations=curve25519-sha256=sshcore-openssl", "-v",
         "127.0.0.1", "cat"],
        input=b"y" * 200_000, capture_output=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    assert r.stdout == b"y" * 200_000


# ------------------------------------------------------------------ ssh -> our server


def serve(keys, helpers, host_keys=("ed25519",), **kwargs):
    return helpers.ServerThread(server_host_keys=[keys.host[k] for k in host_keys],
                                authorized_client_keys=str(keys.authorized_keys), **kwargs)


def ssh(helpers, srv, keys, identity="ed25519", options=None):
    r = helpers.run_ssh(srv.port, SCRIPT, identity=keys.user[identity], input=b"x" * 300_000,
                        options={"LogLevel": "DEBUG1", **(options or {})})
    assert r.returncode == 3, r.stderr.decode(errors="replace")[-3000:]
    assert r.stdout == b"out\n300000\n"
    return r


@pytest.mark.parametrize("cipher", CIPHERS)
def test_openssh_client_cipher_against_our_server(cipher, keys, helpers):
    with serve(keys, helpers, encryption_algs=[cipher],
               blocked_plugins=["sshcore-ciphers"]) as srv:
        r = ssh(helpers, srv, keys, options={"Ciphers": cipher})
    assert f"server->client cipher: {cipher}".encode() in r.stderr


@pytest.mark.parametrize("kex", KEX)
def test_openssh_client_kex_against_our_server(kex, keys, helpers):
    with serve(keys, helpers, kex_algs=[kex], blocked_plugins=["sshcore-kex-ecdh"]) as srv:
        r = ssh(helpers, srv, keys, options={"KexAlgorithms": kex})
    assert f"kex: algorithm: {kex}".encode() in r.stderr


@pytest.mark.parametrize("user_key,alg", [("ed25519", "ssh-ed25519"), ("rsa", "rsa-sha2-512"),
                                          ("rsa", "rsa-sha2-256"),
                                          ("ecdsa", "ecdsa-sha2-nistp256")])
def test_our_server_verifies_openssh_user_keys(user_key, alg, keys, helpers):
    with serve(keys, helpers, implementations={alg: "sshcore-openssl"}) as srv:
        r = ssh(helpers, srv, keys, identity=user_key,
                options={"PubkeyAcceptedAlgorithms": alg})
    # the server (this plugin's key object) checked the probe's key and the signature
    assert b"Server accepts key" in r.stderr and b"Authenticated to" in r.stderr


# ------------------------------------------------------------------ signing through OpenSSL


def _openssl_key(path):
    from cryptography.hazmat.primitives.serialization import load_ssh_private_key

    from sshcore_openssl import from_cryptography

    return from_cryptography(load_ssh_private_key(path.read_bytes(), None))


@pytest.mark.parametrize("alg", sorted(HOST_KEYS))
def test_openssh_client_checks_a_host_key_signed_through_openssl(alg, keys, helpers, tmp_path):
    host_key = _openssl_key(keys.host[HOST_KEYS[alg]])
    with helpers.ServerThread(server_host_keys=[host_key],
                              authorized_client_keys=str(keys.authorized_keys)) as srv:
        known = tmp_path / "known_hosts"
        known.write_text(f"[127.0.0.1]:{srv.port} "
                         + keys.host[HOST_KEYS[alg]].with_suffix(".pub").read_text())
        r = helpers.run_ssh(srv.port, SCRIPT, identity=keys.user["ed25519"],
                            input=b"x" * 300_000, known_hosts=known,
                            options={"LogLevel": "DEBUG1", "HostKeyAlgorithms": alg})
    assert r.returncode == 3, r.stderr.decode(errors="replace")[-3000:]
    key_type = "ssh-rsa" if alg.startswith("rsa-") else alg
    assert f"Server host key: {key_type} ".encode() in r.stderr
    assert type(host_key).__module__ == "sshcore_openssl._keys"


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa"])
def test_sshd_accepts_a_user_key_signing_through_openssl(kind, start_sshd, keys):
    sshd = start_sshd()
    key = _openssl_key(keys.user[kind])
    assert type(key).__module__ == "sshcore_openssl._keys" and key.has_private
    result, _ = go(_run_with_key(sshd.port, key, str(sshd.known_hosts)))
    check(result)


async def _run_with_key(port, key, known_hosts):
    async with sshcore.connect("127.0.0.1", port, client_keys=[key],
                               known_hosts=known_hosts) as conn:
        return await conn.run(SCRIPT, input=PAYLOAD), None
