"""Hook implementations: the MACs this distribution contributes."""

from __future__ import annotations

from collections.abc import Sequence

from sshcore import hookimpl
from sshcore.interfaces import MacAlgorithm

from ._hmac import factory

# (name, hash, key size, digest size, priority, enabled by default)
_TABLE = [
    ("hmac-sha2-256", "sha256", 32, 32, 90, True),
    ("hmac-sha2-512", "sha512", 64, 64, 89, True),
    # legacy (legacy.py in spirit: SHA-1, truncated and MD5 MACs are off unless asked for;
    # ssh-audit fails SHA-1 MACs)
    ("hmac-sha1", "sha1", 20, 20, 50, False),
    ("hmac-sha1-96", "sha1", 20, 12, 20, False),
    ("hmac-md5", "md5", 16, 16, 15, False),
    ("hmac-md5-96", "md5", 16, 12, 10, False),
]


@hookimpl
def sshcore_macs() -> Sequence[MacAlgorithm]:
    out = []
    for name, hash_name, key_size, size, prio, enabled in _TABLE:
        make = factory(hash_name, size)
        out.append(MacAlgorithm(name, key_size, size, make, priority=prio,
                                enabled_by_default=enabled))
        out.append(MacAlgorithm(f"{name}-etm@openssh.com", key_size, size, make, etm=True,
                                priority=prio + 10, enabled_by_default=enabled))
    return out
