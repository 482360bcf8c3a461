"""The numpy sntrup761 against the pure-Python reference, byte for byte: the same
randomness gives the same public key, secret key, ciphertext and shared key; any
ciphertext (valid, altered or random) decapsulates to the same key; the pieces
(inverses, products, encodings) agree on random inputs.  The hybrid exchange uses the
numpy one whenever numpy imports, the reference otherwise."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sshcore_kex_pq import _hybrid
from sshcore_kex_pq import _sntrup761 as ref
from sshcore_kex_pq import _sntrup761_np as fast

P, Q = ref.P, ref.Q
SLOW = settings(deadline=None, max_examples=8, suppress_health_check=[HealthCheck.too_slow])
QUICK = settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])


def deterministic(seed: bytes):
    """A reproducible byte source (SHAKE-256 stream): two calls, two identical streams."""
    stream = hashlib.shake_256(seed).digest(1 << 16)
    pos = 0

    def rand(n: int) -> bytes:
        nonlocal pos
        out = stream[pos:pos + n]
        pos += n
        return out
    return rand


@pytest.fixture(scope="module")
def keys():
    return ref.keypair(deterministic(b"fixture"))


def small_polys(min_weight: int = 0):
    return st.lists(st.sampled_from([-1, 0, 1]), min_size=P, max_size=P).filter(
        lambda v: sum(1 for x in v if x) >= min_weight)


def rq_polys():
    return st.lists(st.integers(-ref.Q12, ref.Q12), min_size=P, max_size=P)


@SLOW
@given(st.binary(max_size=16))
def test_same_randomness_same_keys_ciphertext_and_shared_key(seed):
    pk, sk = fast.keypair(deterministic(seed))
    assert (pk, sk) == ref.keypair(deterministic(seed))
    ct, key = fast.encapsulate(pk, deterministic(seed + b"/enc"))
    assert (ct, key) == ref.encapsulate(pk, deterministic(seed + b"/enc"))
    assert fast.decapsulate(ct, sk) == ref.decapsulate(ct, sk) == key


def test_fresh_keys_interoperate_both_ways():
    pk, sk = fast.keypair()
    ct, key = ref.encapsulate(pk)
    assert fast.decapsulate(ct, sk) == ref.decapsulate(ct, sk) == key
    pk, sk = ref.keypair()
    ct, key = fast.encapsulate(pk)
    assert ref.decapsulate(ct, sk) == fast.decapsulate(ct, sk) == key


@QUICK
@given(st.integers(0, ref.CIPHERTEXT_BYTES - 1), st.integers(1, 255), st.binary(max_size=8))
def test_altered_ciphertexts_give_the_same_rejection_key(keys, pos, flip, seed):
    pk, sk = keys
    ct, key = ref.encapsulate(pk, deterministic(seed))
    bad = ct[:pos] + bytes([ct[pos] ^ flip]) + ct[pos + 1:]
    got = fast.decapsulate(bad, sk)
    assert got == ref.decapsulate(bad, sk) != key


@QUICK
@given(st.binary(min_size=ref.CIPHERTEXT_BYTES, max_size=ref.CIPHERTEXT_BYTES))
def test_random_ciphertexts_decapsulate_alike(keys, ct):
    assert fast.decapsulate(ct, keys[1]) == ref.decapsulate(ct, keys[1])


@QUICK
@given(st.binary(min_size=ref.SECRETKEY_BYTES, max_size=ref.SECRETKEY_BYTES),
       st.binary(min_size=ref.CIPHERTEXT_BYTES, max_size=ref.CIPHERTEXT_BYTES))
def test_any_secret_key_bytes_decapsulate_alike(sk, ct):
    """Small fields decode to -1..2, so a corrupt secret key takes the arithmetic outside
    what key generation makes; both still agree."""
    assert fast.decapsulate(ct, sk) == ref.decapsulate(ct, sk)


@QUICK
@given(st.binary(min_size=ref.PUBLICKEY_BYTES, max_size=ref.PUBLICKEY_BYTES), st.binary(max_size=8))
def test_any_public_key_bytes_encapsulate_alike(pk, seed):
    assert fast.encapsulate(pk, deterministic(seed)) == ref.encapsulate(pk, deterministic(seed))


def test_secret_key_made_by_either_decapsulates_with_the_other():
    seed = b"cross"
    pk, sk = fast.keypair(deterministic(seed))
    for enc, dec in ((fast, ref), (ref, fast)):
        ct, key = enc.encapsulate(pk)
        assert dec.decapsulate(ct, sk) == key


def test_wrong_lengths_are_value_errors():
    pk, sk = fast.keypair(deterministic(b"x"))
    with pytest.raises(ValueError, match="public key"):
        fast.encapsulate(pk[:-1])
    ct, _ = fast.encapsulate(pk)
    with pytest.raises(ValueError, match="ciphertext"):
        fast.decapsulate(ct + b"\0", sk)
    with pytest.raises(ValueError, match="ciphertext"):
        fast.decapsulate(ct, sk[:-1])


# --------------------------------------------------------------------------- the pieces

@QUICK
@given(rq_polys(), small_polys())
def test_product_in_rq_matches_the_reference(a, b):
    got = fast._mul_q(np.array(a, dtype=float), np.array(b, dtype=float))
    assert got.tolist() == [ref._freeze_q(x) for x in ref._mul(a, b, Q)]


@SLOW
@given(small_polys(min_weight=1))
def test_inverse_mod_q_matches_the_reference(f):
    got = fast._inverse(3 * np.array(f, dtype=float), Q)
    assert got is not None
    assert (got % Q).tolist() == ref._inverse([3 * x for x in f], Q)


@SLOW
@given(rq_polys())
def test_inverse_of_any_rq_element(a):
    expect = ref._inverse(a, Q)   # None only for 0: R/q is a field
    got = fast._inverse(np.array(a, dtype=float), Q)
    assert (got is None) == (expect is None) == (not any(a))
    if got is not None:
        assert (got % Q).tolist() == expect


@pytest.mark.parametrize("a", [
    [1] + [0] * (P - 1),                       # constant: no Euclid step at all
    [0] * (P - 1) + [1],                       # x^(p-1)
    [2, 0, 0, 5] + [0] * (P - 4),              # remainder degrees fall by more than one
    [1, 1] + [0] * (P - 2),
    [1] * P,
    [(i * i) % 7 - 3 for i in range(P)],
])
def test_inverse_in_non_generic_cases(a):
    for m, expect in ((Q, ref._inverse(a, Q)), (3, ref._inverse3(a))):
        arr = np.array([x - m * round(x / m) for x in a], dtype=float)
        got = fast._inverse(arr, m)
        assert expect is not None and got is not None
        assert (got % m).tolist() == [x % m for x in expect]
        # and it really is the inverse
        one = fast._freeze(fast._mul(got, arr), m)
        assert one.tolist() == [1] + [0] * (P - 1)


def test_zero_has_no_inverse():
    assert fast._inverse(np.zeros(P), Q) is None
    assert fast._inverse(np.zeros(P), 3) is None
    assert fast._inverse_mod_3(np.zeros(P)) is None


@SLOW
@given(small_polys())
def test_inverse_mod_3_matches_the_reference(g):
    expect = ref._inverse3(g)
    arr = np.array(g, dtype=float)
    for got in (fast._inverse_mod_3(arr), fast._inverse(arr, 3)):
        assert (got is None) == (expect is None)
        if got is not None:
            assert (got % 3).tolist() == expect


@QUICK
@given(rq_polys())
def test_rq_encoding_matches_the_reference(h):
    enc = fast._rq_encode(np.array(h, dtype=float))
    assert enc == ref._rq_encode(h)
    assert fast._rq_decode(enc).tolist() == h


@QUICK
@given(st.binary(min_size=ref.RQ_BYTES, max_size=ref.RQ_BYTES),
       st.binary(min_size=ref.ROUNDED_BYTES, max_size=ref.ROUNDED_BYTES))
def test_decoding_any_bytes_matches_the_reference(rq, rounded):
    assert fast._rq_decode(rq).tolist() == ref._rq_decode(rq)
    assert fast._rounded_decode(rounded).tolist() == ref._rounded_decode(rounded)


@QUICK
@given(rq_polys())
def test_rounded_encoding_matches_the_reference(c):
    rounded = ref._round(c)
    assert fast._round(np.array(c, dtype=float)).tolist() == rounded
    assert fast._rounded_encode(np.array(rounded, dtype=float)) == ref._rounded_encode(rounded)


@QUICK
@given(small_polys(), st.binary(min_size=ref.SMALL_BYTES, max_size=ref.SMALL_BYTES))
def test_small_encoding_matches_the_reference(f, raw):
    assert fast._small_encode(np.array(f, dtype=float)) == ref._small_encode(f)
    assert fast._small_decode(raw).tolist() == ref._small_decode(raw)


# --------------------------------------------------------------------------- selection

def run_python(code: str) -> str:
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                       text=True, timeout=60, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_the_hybrid_exchange_uses_numpy_when_it_imports():
    assert _hybrid.sntrup761_impl() is fast
    kem = _hybrid.SNTRUP761X25519Exchange.kem
    pk, sk = kem.keypair()
    secret, ct = kem.encapsulate(pk)
    assert kem.decapsulate(ct, sk) == secret == ref.decapsulate(ct, sk)


def test_without_numpy_the_hybrid_exchange_falls_back_to_the_reference():
    assert run_python("""
        import sys
        sys.modules["numpy"] = None          # import numpy now raises ImportError
        from sshcore_kex_pq import _hybrid, _sntrup761
        kem = _hybrid.SNTRUP761X25519Exchange.kem
        pk, sk = kem.keypair()
        secret, ct = kem.encapsulate(pk)
        assert kem.decapsulate(ct, sk) == secret
        assert _hybrid.sntrup761_impl() is _sntrup761, _hybrid.sntrup761_impl()
        print("reference")
    """) == "reference"


def test_numpy_is_imported_for_the_second_exchange_not_for_the_plugins_or_the_first():
    """numpy takes ~0.1 s to import: every sshcore start would pay it, and a process
    making one connection is faster with the pure-Python exchange."""
    assert run_python("""
        import sys
        from sshcore.registry import default_registry
        reg = default_registry()
        seen = ["numpy" in sys.modules]
        from sshcore_kex_pq import _hybrid, _sntrup761
        kem = _hybrid.SNTRUP761X25519Exchange.kem
        pk, sk = kem.keypair()                       # a client's first exchange
        ct, secret = _sntrup761.encapsulate(pk)
        assert kem.decapsulate(ct, sk) == secret
        seen.append("numpy" in sys.modules)
        pk, sk = kem.keypair()                       # its second
        seen.append("numpy" in sys.modules)
        assert kem.decapsulate(_sntrup761.encapsulate(pk)[0], sk)
        print(*seen)
    """) == "False False True"
