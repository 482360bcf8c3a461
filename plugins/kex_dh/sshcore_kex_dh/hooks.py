"""Hook implementations: the fixed-group DH key exchanges this distribution contributes."""

from __future__ import annotations

from collections.abc import Sequence

from sshcore import hookimpl
from sshcore.interfaces import KexAlgorithm, LazyCallable, lazy

# Factories are lazy names: listing algorithms imports neither the exchanges nor the
# groups' primes nor the moduli file's reader.


def _factory(group: str, hash_name: str) -> LazyCallable:
    return lazy("sshcore_kex_dh._dh:fixed_group_exchange", group=group, hash_name=hash_name)


def _gex(hash_name: str) -> LazyCallable:
    return lazy("sshcore_kex_dh._gex:GexExchange", hash_name=hash_name)


@hookimpl
def sshcore_kex_algorithms() -> Sequence[KexAlgorithm]:
    return [
        KexAlgorithm("diffie-hellman-group-exchange-sha256", "sha256", _gex("sha256"), priority=80),
        KexAlgorithm("diffie-hellman-group-exchange-sha1", "sha1", _gex("sha1"), priority=15,
                     enabled_by_default=False),
        KexAlgorithm("diffie-hellman-group16-sha512", "sha512", _factory("group16", "sha512"),
                     priority=70),
        KexAlgorithm("diffie-hellman-group18-sha512", "sha512", _factory("group18", "sha512"),
                     priority=69),
        KexAlgorithm("diffie-hellman-group14-sha256", "sha256", _factory("group14", "sha256"),
                     priority=68),
        KexAlgorithm("diffie-hellman-group15-sha512", "sha512", _factory("group15", "sha512"),
                     priority=60),
        KexAlgorithm("diffie-hellman-group17-sha512", "sha512", _factory("group17", "sha512"),
                     priority=59),
        # legacy (SHA-1): only when asked for by name
        KexAlgorithm("diffie-hellman-group14-sha1", "sha1", _factory("group14", "sha1"),
                     priority=20, enabled_by_default=False),
        KexAlgorithm("diffie-hellman-group1-sha1", "sha1", _factory("group1", "sha1"),
                     priority=10, enabled_by_default=False),
    ]
