"""HMAC known answers (RFC 2202, RFC 4231) through the SSH MAC interface."""

from __future__ import annotations

import pytest

from sshcore_macs import hooks

DESCS = {d.name: d for d in hooks.sshcore_macs()}
# sign(seq, data) is HMAC(key, uint32(seq) || data): split the RFC message accordingly.
MSG = b"what do ya want for nothing?"
SEQ, REST = int.from_bytes(MSG[:4], "big"), MSG[4:]

VECTORS = {  # RFC 2202 test case 2 (MD5, SHA-1), RFC 4231 test case 2 (SHA-2), key "Jefe"
    "hmac-md5": "750c783e6ab0b503eaa86e310a5db738",
    "hmac-sha1": "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
    "hmac-sha2-256": "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    "hmac-sha2-512": "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a"
                     "6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
}


@pytest.mark.parametrize("name", sorted(DESCS))
def test_known_answers(name):
    d = DESCS[name]
    base = name.replace("-etm@openssh.com", "").replace("-96", "")
    expected = bytes.fromhex(VECTORS[base])[:d.digest_size]
    mac = d.factory(key=b"Jefe")
    assert mac.sign(SEQ, REST) == expected
    assert mac.verify(SEQ, REST, expected)
    flipped = bytes([expected[0] ^ 1]) + expected[1:]
    assert not mac.verify(SEQ, REST, flipped)
    assert not mac.verify(SEQ + 1, REST, expected)


def test_truncated_and_etm_flags():
    assert DESCS["hmac-sha1-96"].digest_size == 12 and DESCS["hmac-md5-96"].digest_size == 12
    for name, d in DESCS.items():
        assert d.etm == name.endswith("-etm@openssh.com")
    enabled = {n for n, d in DESCS.items() if d.enabled_by_default}
    assert not any("md5" in n or "-96" in n for n in enabled)
