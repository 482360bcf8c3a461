"""The kit on rsa-pss-sha256@example.com (sshcore against itself: OpenSSH lacks it)."""

DIST = "sshcore-rsa-pss"


def test_conformance(sshcore_kit):
    report = sshcore_kit.check_host_key("rsa-pss-sha256@example.com", DIST, size=1 << 20)
    assert "host-key signature over the wrong data: refused" in str(report)
    assert "sshd" not in str(report)
