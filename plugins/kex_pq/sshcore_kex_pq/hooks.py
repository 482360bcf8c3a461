"""Hook implementations: the post-quantum hybrid key exchanges of this distribution."""

from __future__ import annotations

from collections.abc import Sequence

from sshcore import hookimpl
from sshcore.interfaces import KexAlgorithm, lazy, require

# Imported at the first exchange, not when the registry lists the algorithms.
MLKEM768X25519Exchange = lazy("sshcore_kex_pq._hybrid:MLKEM768X25519Exchange")
SNTRUP761X25519Exchange = lazy("sshcore_kex_pq._hybrid:SNTRUP761X25519Exchange")
#: A client offering sntrup761 starts its key pair in the background as it connects.
_PREFETCH = lazy("sshcore_kex_pq._hybrid:prefetch_sntrup761")


@hookimpl
def sshcore_kex_algorithms() -> Sequence[KexAlgorithm]:
    # ML-KEM came with pycryptodome 4.2: an older one makes this plugin broken, at once.
    require("Crypto.PublicKey.MLKEM", "Crypto.Protocol.DH")
    # First in the default order, in OpenSSH 10's order (curve25519-sha256 is 100).
    return [
        KexAlgorithm("mlkem768x25519-sha256", "sha256", MLKEM768X25519Exchange, priority=110),
        KexAlgorithm("sntrup761x25519-sha512", "sha512", SNTRUP761X25519Exchange, priority=105,
                     prefetch=_PREFETCH),
        KexAlgorithm("sntrup761x25519-sha512@openssh.com", "sha512", SNTRUP761X25519Exchange,
                     priority=104, prefetch=_PREFETCH),
    ]
