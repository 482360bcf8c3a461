"""sntrup761 in Python: the KEM's round trip, implicit rejection and encodings (its
interoperability is proven against OpenSSH's ssh and sshd in the algorithm matrix), and
the hybrid exchange's handling of wrong lengths."""

from __future__ import annotations

import hashlib

import pytest

from sshcore.wire import byte, string
from sshcore.errors import KeyExchangeError
from sshcore.interfaces import KexContext
from sshcore_kex_pq import _sntrup761 as kem
from sshcore_kex_pq._hybrid import KEX_HYBRID_INIT, SNTRUP761X25519Exchange


def deterministic(seed: bytes):
    """A reproducible byte source (SHAKE-256 stream) for repeatable keys."""
    stream = hashlib.shake_256(seed).digest(1 << 16)
    pos = 0

    def rand(n: int) -> bytes:
        nonlocal pos
        out = stream[pos:pos + n]
        pos += n
        return out
    return rand


def test_sizes_round_trip_and_implicit_rejection():
    pk, sk = kem.keypair()
    assert (len(pk), len(sk)) == (1158, 1763)
    ct, key = kem.encapsulate(pk)
    assert len(ct) == 1039 and len(key) == 32
    assert kem.decapsulate(ct, sk) == key
    tampered = ct[:500] + bytes([ct[500] ^ 4]) + ct[501:]
    other = kem.decapsulate(tampered, sk)
    assert other != key and len(other) == 32
    assert kem.decapsulate(tampered, sk) == other  # deterministic: derived from rho


def test_deterministic_keys_and_encodings():
    pk1, sk1 = kem.keypair(deterministic(b"seed"))
    pk2, sk2 = kem.keypair(deterministic(b"seed"))
    assert (pk1, sk1) == (pk2, sk2)
    h = kem._rq_decode(pk1)
    assert all(-kem.Q12 <= x <= kem.Q12 for x in h) and kem._rq_encode(h) == pk1
    f = kem._small_decode(sk1[:kem.SMALL_BYTES])
    assert sum(1 for x in f if x) == kem.W and set(f) <= {-1, 0, 1}
    ginv = kem._small_decode(sk1[kem.SMALL_BYTES:2 * kem.SMALL_BYTES])
    # 1/g really is an inverse mod 3, and h*3f = g mod q
    g = kem._inverse(ginv, 3)
    assert [kem._freeze_3(x) for x in kem._mul(g, ginv, 3)] == [1] + [0] * (kem.P - 1)
    three_f = [3 * x for x in f]
    assert [kem._freeze_q(x) for x in kem._mul(h, three_f, kem.Q)] == \
        [kem._freeze_3(x) for x in g]


def test_wrong_lengths_end_the_key_exchange():
    server = SNTRUP761X25519Exchange(KexContext(role="server", client_version=b"a",
                                                server_version=b"b", client_kexinit=b"c",
                                                server_kexinit=b"d", host_key_blob=b"k",
                                                sign=lambda h: b"s"))
    with pytest.raises(KeyExchangeError, match="wrong length"):
        server.receive(byte(KEX_HYBRID_INIT) + string(b"x" * 100))
    with pytest.raises(ValueError):
        kem.encapsulate(b"short")
    with pytest.raises(ValueError):
        kem.decapsulate(b"short", b"")


def test_branch_free_reductions_agree_with_the_definition():
    for x in range(-3 * kem.Q, 3 * kem.Q):
        r = x % kem.Q
        assert kem._freeze_q(x) == (r - kem.Q if r > kem.Q12 else r)
        assert kem._freeze_3(x) == (x % 3 - 3 if x % 3 > 1 else x % 3)
    assert kem._weight([1, -1, 0, 1]) == 3


def test_packed_inverse_agrees_with_the_reference():
    """``_rq_inverse`` (slots in one integer) against ``_inverse`` (lists), on the inputs a
    key pair gives it (3f for short f), on dense and sparse ones, and on 0."""
    import random

    from sshcore_kex_pq import _rq_inverse

    rng = random.Random(761)
    cases = [[3 * rng.choice((-1, 0, 1)) for _ in range(kem.P)] for _ in range(6)]
    cases += [[rng.randrange(kem.Q) for _ in range(kem.P)] for _ in range(3)]
    cases += [[1], [0, 1], [kem.Q - 1] * kem.P, [5, 0, 3], [0] * (kem.P - 1) + [2], [0] * kem.P, []]
    for a in cases:
        got = _rq_inverse.inverse(a)
        assert got == kem._inverse(a, kem.Q)
        if got is not None:  # and it is an inverse
            assert kem._mul(got, a, kem.Q) == [1] + [0] * (kem.P - 1)
