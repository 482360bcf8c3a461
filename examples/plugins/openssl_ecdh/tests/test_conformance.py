"""The kit, with this distribution serving the names (OpenSSH knows them: both ways)."""

import pytest

DIST = "sshcore-openssl-ecdh"


@pytest.mark.parametrize("name", ["ecdh-sha2-nistp256", "ecdh-sha2-nistp521"])
def test_conformance(sshcore_kit, name):
    report = sshcore_kit.check_kex(name, DIST, size=1 << 20)
    assert report.provider.startswith(DIST)
    assert "sshcore -> sshd" in str(report) and "ssh -> sshcore" in str(report)
    assert "host-key signature over the wrong data: refused" in str(report)
