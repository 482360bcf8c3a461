"""The conformance kit on this plugin's compression methods: round trips and a bounded
decompressor, 4 MiB each way with rekeys (zlib@openssh.com against sshd and ssh; plain
zlib, which sshd no longer offers, against ssh and sshcore), corrupted packets refused
with MAC_ERROR while compressing."""

from __future__ import annotations

import pytest

from sshcore.conformance.fixtures import (sshcore_kit, sshcore_openssh,
                                          sshcore_vectors)  # noqa: F401
from sshcore.registry import default_registry

PROVIDER = "sshcore-compression"
NAMES = [d.name for d in default_registry().all("compression")
         if any(p.matches(PROVIDER) for p in default_registry().providers("compression", d.name))]


@pytest.fixture(scope="session")
def sshcore_vectors():  # noqa: F811
    return {name: [{"data": b"sshcore " * 1000}, {"data": b""}] for name in NAMES}


@pytest.mark.interop
@pytest.mark.parametrize("name", NAMES)
def test_compression_conformance(sshcore_kit, name):  # noqa: F811
    report = sshcore_kit.check_compression(name, PROVIDER, size=4 << 20)
    ran = "; ".join(report.ran)
    assert report.vectors == 2
    assert "corrupted packet from the server: MAC_ERROR" in ran
    assert "ssh -> sshcore" in ran
    assert ("sshcore -> sshd" in ran) == (name == "zlib@openssh.com")
