"""Hook implementations of the toy plugin (written exactly as any third party would)."""

from __future__ import annotations

import hashlib
import hmac

from sshcore import hookimpl
from sshcore.interfaces import MacAlgorithm

NAME = "hmac-sha3-256-toy@example.test"


class _Mac:
    def __init__(self, key: bytes) -> None:
        self._base = hmac.new(key, digestmod=hashlib.sha3_256)

    def sign(self, seq: int, data: bytes) -> bytes:
        h = self._base.copy()
        h.update(seq.to_bytes(4, "big"))
        h.update(data)
        return h.digest()

    def verify(self, seq: int, data: bytes, mac: bytes) -> bool:
        return hmac.compare_digest(self.sign(seq, data), mac)


@hookimpl
def sshcore_macs():
    return [MacAlgorithm(NAME, key_size=32, digest_size=32, factory=lambda key: _Mac(key),
                         priority=-10, enabled_by_default=False)]
