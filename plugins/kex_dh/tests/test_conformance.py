"""The conformance kit on every default-enabled key exchange of this plugin: sshcore
both ends and, when OpenSSH knows the name, OpenSSH both ways, with rekeys mid-stream;
malformed replies and inits end in a key-exchange failure, a host-key signature over
the wrong data is refused.

The transfers are 256 KiB each way, rekeyed once mid-stream: the data path is the
cipher kit's business; here each rekey is one more complete exchange."""

from __future__ import annotations

import pytest

from sshcore.conformance import openssh_names
from sshcore.conformance.fixtures import (sshcore_kit, sshcore_openssh,
                                          sshcore_vectors)  # noqa: F401
from sshcore.registry import default_registry

PROVIDER = "sshcore-kex-dh"
NAMES = [d.name for d in default_registry().all("kex") if d.enabled_by_default
         and any(p.matches(PROVIDER) for p in default_registry().providers("kex", d.name))]
SIZE = 256 * 1024


@pytest.mark.interop
@pytest.mark.parametrize("name", NAMES)
def test_kex_conformance(sshcore_kit, name):  # noqa: F811
    report = sshcore_kit.check_kex(name, PROVIDER, size=SIZE)
    ran = "; ".join(report.ran)
    assert "host-key signature over the wrong data: refused" in ran
    assert "malformed reply (truncated): refused (KEY_EXCHANGE_FAILED)" in ran
    assert ("sshcore -> sshd" in ran) == (name in openssh_names("kex"))
