"""Hook implementations: the ECDH key exchanges this distribution contributes."""

from __future__ import annotations

from collections.abc import Sequence

from sshcore import hookimpl
from sshcore.interfaces import KexAlgorithm, LazyCallable, lazy, require


def _factory(curve: str, hash_name: str) -> LazyCallable:
    # Imported at the first exchange, not when the registry lists the algorithms.
    return lazy("sshcore_kex_ecdh._ecdh:ECDHExchange", curve=curve, hash_name=hash_name)


@hookimpl
def sshcore_kex_algorithms() -> Sequence[KexAlgorithm]:
    require("Crypto.Protocol.DH", "Crypto.PublicKey.ECC")
    return [
        KexAlgorithm("curve25519-sha256", "sha256", _factory("curve25519", "sha256"), priority=100),
        KexAlgorithm("curve25519-sha256@libssh.org", "sha256", _factory("curve25519", "sha256"),
                     priority=99),
        KexAlgorithm("curve448-sha512", "sha512", _factory("curve448", "sha512"), priority=95),
        # The NIST curves are off unless named (kex_algs="+ecdh-sha2-nistp256"): ssh-audit
        # fails them (curve parameters of unexplained origin), and every peer that has
        # them also has curve25519.
        KexAlgorithm("ecdh-sha2-nistp256", "sha256", _factory("nistp256", "sha256"), priority=90,
                     enabled_by_default=False),
        KexAlgorithm("ecdh-sha2-nistp384", "sha384", _factory("nistp384", "sha384"), priority=89,
                     enabled_by_default=False),
        KexAlgorithm("ecdh-sha2-nistp521", "sha512", _factory("nistp521", "sha512"), priority=88,
                     enabled_by_default=False),
    ]
