"""The conformance kit on every default-enabled plain host key algorithm of this plugin
(certificates need a CA: tests/interop/test_certificates.py covers them): sign/verify
and tampering, sshd and ssh with that host key algorithm both ways (ssh-ed448 against
sshcore only: OpenSSH has no Ed448), rekeys, and a signature over the wrong data refused.
Ed25519 also gets the RFC 8032 test 1 vector."""

from __future__ import annotations

import pytest

from sshcore.conformance import openssh_names
from sshcore.conformance.fixtures import (sshcore_kit, sshcore_openssh,
                                          sshcore_vectors)  # noqa: F401
from sshcore.registry import default_registry
from sshcore.wire import string

PROVIDER = "sshcore-keys"
NAMES = [d.name for d in default_registry().all("signature") if d.enabled_by_default
         and "-cert-" not in d.name
         and not d.name.startswith("sk-")  # security keys sign users in, never a host
         and any(p.matches(PROVIDER) for p in default_registry().providers("signature", d.name))]
SIZE = 256 * 1024

# RFC 8032 section 7.1, TEST 1 (empty message)
_PK = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
_SIG = bytes.fromhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555f"
                     "b8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")


@pytest.fixture(scope="session")
def sshcore_vectors():  # noqa: F811
    blob = string("ssh-ed25519") + string(_PK)
    return {"ssh-ed25519": [
        {"public_blob": blob, "data": b"", "signature": string("ssh-ed25519") + string(_SIG)},
        {"public_blob": blob, "data": b"x", "signature": string("ssh-ed25519") + string(_SIG),
         "valid": False}]}


@pytest.mark.interop
@pytest.mark.parametrize("name", NAMES)
def test_host_key_conformance(sshcore_kit, name):  # noqa: F811
    report = sshcore_kit.check_host_key(name, PROVIDER, size=SIZE)
    ran = "; ".join(report.ran)
    assert "host-key signature over the wrong data: refused" in ran
    assert ("sshcore -> sshd" in ran) == (name in openssh_names("host_key"))
    assert report.vectors == (2 if name == "ssh-ed25519" else 0)
