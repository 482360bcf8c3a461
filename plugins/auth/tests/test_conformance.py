"""The conformance kit on publickey, password and keyboard-interactive: each logs in
sshcore to sshcore and OpenSSH ssh to an sshcore server (publickey also sshcore to
sshd; sshd checks passwords against system accounts, which the kit does not create),
and wrong credentials are refused."""

from __future__ import annotations

import pytest

from sshcore.conformance.fixtures import (sshcore_kit, sshcore_openssh,
                                          sshcore_vectors)  # noqa: F401

PROVIDER = "sshcore-auth"


@pytest.mark.interop
@pytest.mark.parametrize("name", ["publickey", "password", "keyboard-interactive"])
def test_auth_conformance(sshcore_kit, name):  # noqa: F811
    report = sshcore_kit.check_auth_method(name, PROVIDER, size=256 * 1024)
    ran = "; ".join(report.ran)
    assert "ssh -> sshcore" in ran
    assert "wrong credentials refused by sshcore server" in ran
    assert ("sshcore -> sshd" in ran) == (name == "publickey")
