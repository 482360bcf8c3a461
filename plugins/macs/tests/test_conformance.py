"""The conformance kit on every default-enabled MAC of this plugin, with the RFC 4231
HMAC vectors (an SSH MAC is HMAC(key, uint32 seq || packet): the first four bytes of
the RFC's data are the sequence number)."""

from __future__ import annotations

import pytest

from sshcore.conformance.fixtures import (sshcore_kit, sshcore_openssh,
                                          sshcore_vectors)  # noqa: F401
from sshcore.registry import default_registry

PROVIDER = "sshcore-macs"
NAMES = [d.name for d in default_registry().all("mac") if d.enabled_by_default
         and any(p.matches(PROVIDER) for p in default_registry().providers("mac", d.name))]

# RFC 4231 test case 2: key "Jefe" (HMAC pads keys with zeros, so "Jefe" + zeros up to
# the key size is the same key), data "what do ya want for nothing?".
_SEQ = int.from_bytes(b"what", "big")
_DATA = b" do ya want for nothing?".hex()
_KEY = b"Jefe".hex()
_SHA256 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
_SHA512 = ("164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
           "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737")


@pytest.fixture(scope="session")
def sshcore_vectors():  # noqa: F811
    out = {}
    for name, mac, size in (("hmac-sha2-256", _SHA256, 32), ("hmac-sha2-512", _SHA512, 64)):
        vector = [{"key": _KEY + "00" * (size - 4), "seq": _SEQ, "data": _DATA, "mac": mac}]
        out[name] = vector
        out[f"{name}-etm@openssh.com"] = vector
    return out


def test_the_modern_macs_are_all_here():
    assert set(NAMES) >= {"hmac-sha2-256", "hmac-sha2-512", "hmac-sha2-256-etm@openssh.com",
                          "hmac-sha2-512-etm@openssh.com"}


@pytest.mark.interop
@pytest.mark.parametrize("name", NAMES)
def test_mac_conformance(sshcore_kit, name):  # noqa: F811
    report = sshcore_kit.check_mac(name, PROVIDER, openssh_size=4 << 20)
    ran = "; ".join(report.ran)
    assert report.vectors == 1
    assert "corrupted packet from the server: MAC_ERROR" in ran
    assert "sshcore -> sshd" in ran and "ssh -> sshcore" in ran
