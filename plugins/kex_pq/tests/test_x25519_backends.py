"""The hybrids' X25519: OpenSSL's (``cryptography``) when installed, else pycryptodome's.
Both must give the same bytes: RFC 7748's vectors, random keys crossed, low-order points
refused."""

from __future__ import annotations

import os

import pytest

from sshcore_kex_pq import _primitives

# RFC 7748 section 6.1
ALICE_PRIV = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
ALICE_PUB = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
BOB_PRIV = bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
BOB_PUB = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
SHARED = bytes.fromhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")


@pytest.fixture(params=["openssl", "pycryptodome"])
def backend(request, monkeypatch):
    if request.param == "pycryptodome":
        monkeypatch.setattr(_primitives, "OPENSSL_X25519", False)
    else:
        assert _primitives.OPENSSL_X25519, "cryptography is a test dependency: it must be found"
    return request.param


def test_rfc7748_vectors(backend):
    alice, alice_pub = _primitives.x25519_from_private(ALICE_PRIV)
    bob, bob_pub = _primitives.x25519_from_private(BOB_PRIV)
    assert (alice_pub, bob_pub) == (ALICE_PUB, BOB_PUB)
    shared = _primitives.x25519_shared(alice, BOB_PUB)
    assert shared == _primitives.x25519_shared(bob, ALICE_PUB)
    assert shared == SHARED


@pytest.mark.parametrize("peer", [bytes(32), b"\x01" + bytes(31), b"\xff" * 31, b"x" * 33])
def test_low_order_and_malformed_points_are_refused(backend, peer):
    key, _ = _primitives.x25519_keypair()
    with pytest.raises(ValueError):
        _primitives.x25519_shared(key, peer)


def test_backends_agree_on_random_keys(monkeypatch):
    for _ in range(20):
        a, b = os.urandom(32), os.urandom(32)
        ka, pa = _primitives.x25519_from_private(a)
        kb, pb = _primitives.x25519_from_private(b)
        fast = (pa, pb, _primitives.x25519_shared(ka, pb))
        monkeypatch.setattr(_primitives, "OPENSSL_X25519", False)
        ka2, pa2 = _primitives.x25519_from_private(a)
        kb2, pb2 = _primitives.x25519_from_private(b)
        assert (pa2, pb2, _primitives.x25519_shared(ka2, pb)) == fast
        assert _primitives.x25519_shared(kb2, pa) == fast[2]
        monkeypatch.setattr(_primitives, "OPENSSL_X25519", True)
