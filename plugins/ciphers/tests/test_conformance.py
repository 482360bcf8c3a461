"""The conformance kit on every default-enabled cipher of this plugin: objects, a
known-answer vector, 16 MiB each way with rekeys against sshcore (4 MiB with OpenSSH,
both ways: it knows every name), and corrupted packets refused with MAC_ERROR."""

from __future__ import annotations

import pytest

from sshcore.conformance.fixtures import (sshcore_kit, sshcore_openssh,
                                          sshcore_vectors)  # noqa: F401
from sshcore.registry import default_registry

PROVIDER = "sshcore-ciphers"
NAMES = [d.name for d in default_registry().all("cipher") if d.enabled_by_default
         and any(p.matches(PROVIDER) for p in default_registry().providers("cipher", d.name))]


@pytest.fixture(scope="session")
def sshcore_vectors():  # noqa: F811 - the plugin's known answers, given to the kit
    # NIST SP 800-38A F.5.1 (CTR-AES128): SSH's CTR counter is the IV, big-endian.
    return {"aes128-ctr": [{"key": "2b7e151628aed2a6abf7158809cf4f3c",
                            "iv": "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
                            "plaintext": "6bc1bee22e409f96e93d7e117393172a",
                            "ciphertext": "874d6191b620e3261bef6864990db6ce"}]}


def test_the_modern_ciphers_are_all_here():
    assert set(NAMES) >= {"chacha20-poly1305@openssh.com", "aes128-ctr", "aes256-ctr",
                          "aes128-gcm@openssh.com", "aes256-gcm@openssh.com"}


@pytest.mark.interop
@pytest.mark.parametrize("name", NAMES)
def test_cipher_conformance(sshcore_kit, name):  # noqa: F811
    report = sshcore_kit.check_cipher(name, PROVIDER, openssh_size=4 << 20)
    ran = "; ".join(report.ran)
    assert "corrupted packet from the client: MAC_ERROR" in ran
    assert "sshcore -> sshd" in ran and "ssh -> sshcore" in ran  # OpenSSH knows them all
    if name == "aes128-ctr":
        assert report.vectors == 1
