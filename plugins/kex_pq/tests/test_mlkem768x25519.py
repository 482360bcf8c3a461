"""ML-KEM-768 checked against an independent implementation (OpenSSL, through the
`cryptography` package), and the hybrid exchange's handling of hostile peer values."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric import mlkem

from sshcore.errors import KeyExchangeError
from sshcore.interfaces import KexContext
from sshcore_kex_pq import _primitives
from sshcore_kex_pq._hybrid import KEX_HYBRID_INIT, KEX_HYBRID_REPLY, MLKEM768X25519Exchange
from sshcore.wire import SSHReader, byte, string


def rng_stream(n):
    """Deterministic test inputs: a SHAKE-128 stream of the empty string (as C2SP's
    accumulated ML-KEM vectors draw theirs)."""
    return hashlib.shake_128(b"").digest(n)


def test_ml_kem_768_agrees_with_openssl_on_200_deterministic_cases():
    from Crypto.PublicKey import MLKEM

    data = rng_stream(200 * (64 + 32 + 1088))
    pos = 0
    for _ in range(200):
        seed, coins, bogus_ct = data[pos:pos + 64], data[pos + 64:pos + 96], data[pos + 96:pos + 1184]
        pos += 1184
        ours = MLKEM.MLKEMKey(param_set=MLKEM.ML_KEM_768, seed=seed)
        theirs = mlkem.MLKEM768PrivateKey.from_seed_bytes(seed)
        assert bytes(ours.ek) == theirs.public_key().public_bytes_raw()       # KeyGen
        secret, ct = MLKEM.MLKEMKey(param_set=MLKEM.ML_KEM_768, ek=ours.ek)._encaps(coins)
        assert theirs.decapsulate(ct) == secret                               # Encaps/Decaps
        assert bytes(ours._decaps(bogus_ct)) == theirs.decapsulate(bogus_ct)  # implicit rejection
    their_secret, their_ct = theirs.public_key().encapsulate()
    assert bytes(ours._decaps(their_ct)) == their_secret


def test_shim_round_trip_and_invalid_encapsulation_key():
    kem = _primitives.MLKEM768()
    secret, ct = _primitives.mlkem768_encapsulate(kem.encapsulation_key)
    assert kem.decapsulate(ct) == secret and len(ct) == _primitives.MLKEM768_CT_LEN
    with pytest.raises(ValueError):
        _primitives.mlkem768_encapsulate(b"\xff" * _primitives.MLKEM768_EK_LEN)  # coefficients >= q


def ctx(role, sign=None):
    return KexContext(role=role, client_version=b"SSH-2.0-a", server_version=b"SSH-2.0-b",
                      client_kexinit=b"ci", server_kexinit=b"si", host_key_blob=b"hostkey",
                      sign=sign)


def exchange():
    client = MLKEM768X25519Exchange(ctx("client"))
    server = MLKEM768X25519Exchange(ctx("server", sign=lambda h: b"sig:" + h))
    init = client.start().send[0]
    return client, server, init


def test_both_sides_derive_the_same_secret_and_hash():
    client, server, init = exchange()
    step = server.receive(init)
    reply = step.send[0]
    done = client.receive(reply)
    assert done.result.shared_secret == step.result.shared_secret and done.result.exchange_hash == step.result.exchange_hash
    k = SSHReader(done.result.shared_secret)
    assert len(k.string()) == 32 and not k.remaining   # K is a string, not an mpint


@pytest.mark.parametrize("mutate,why", [
    (lambda c_init: c_init[:-1], "wrong length"),
    (lambda c_init: b"\xff" * 1184 + c_init[1184:], "encapsulation key"),
    (lambda c_init: c_init[:1184] + bytes(32), "X25519"),          # low-order point: zero secret
])
def test_server_rejects_bad_client_values(mutate, why):
    _, server, init = exchange()
    c_init = SSHReader(init, 1).string()
    with pytest.raises(KeyExchangeError, match=why):
        server.receive(byte(KEX_HYBRID_INIT) + string(mutate(c_init)))


@pytest.mark.parametrize("mutate,why", [
    (lambda s: s + b"\0", "wrong length"),
    (lambda s: s[:1088] + bytes(32), "X25519"),
])
def test_client_rejects_bad_server_values(mutate, why):
    client, server, init = exchange()
    r = SSHReader(server.receive(init).send[0], 1)
    k_s, s_reply, sig = r.string(), r.string(), r.string()
    with pytest.raises(KeyExchangeError, match=why):
        client.receive(byte(KEX_HYBRID_REPLY) + string(k_s) + string(mutate(s_reply)) + string(sig))


def test_tampered_ciphertext_gives_a_different_secret_not_an_error():
    client, server, init = exchange()
    step = server.receive(init)
    r = SSHReader(step.send[0], 1)
    k_s, s_reply, sig = r.string(), r.string(), r.string()
    tampered = bytes([s_reply[0] ^ 1]) + s_reply[1:]
    done = client.receive(byte(KEX_HYBRID_REPLY) + string(k_s) + string(tampered) + string(sig))
    assert done.result.shared_secret != step.result.shared_secret  # the host key signature check then fails the kex


def test_first_in_the_default_order():
    from sshcore.registry import default_registry

    assert default_registry().default_names("kex")[:4] == [
        "mlkem768x25519-sha256", "sntrup761x25519-sha512", "sntrup761x25519-sha512@openssh.com",
        "curve25519-sha256"]
