"""The kit, with this distribution serving the names (OpenSSH knows them: both ways)."""

import pytest

DIST = "sshcore-openssl-ctr"


@pytest.mark.parametrize("name", ["aes128-ctr", "aes256-ctr"])
def test_conformance(sshcore_kit, name):
    report = sshcore_kit.check_cipher(name, DIST, size=4 << 20)
    assert report.provider.startswith(DIST)
    assert "sshcore -> sshd" in str(report) and "ssh -> sshcore" in str(report)
