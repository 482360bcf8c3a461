"""One fixed-group DH exchange, sans-I/O: KEXDH_INIT (30) carries e, KEXDH_REPLY (31) f.

Modular exponentiation uses Python's built-in ``pow``; no crypto library is needed.
"""

from __future__ import annotations

from sshcore.plugin import KexContext, KeyExchangeError, OneRoundTripKex
from sshcore.wire import mpint

KEXDH_INIT, KEXDH_REPLY = 30, 31


class DHExchange(OneRoundTripKex):
    label = "DH key exchange"
    value_type = "mpint"

    def __init__(self, ctx: KexContext, p: int, g: int, hash_name: str) -> None:
        super().__init__(ctx)
        self.p, self.g = p, g
        self.hash_name = hash_name  # type: ignore[misc]
        # 512-bit exponents give >= 256-bit security, more than any of these groups has.
        bits = min(512, p.bit_length() - 1)
        self.x = int.from_bytes(ctx.random(bits // 8), "big") | 1 << (bits - 1)
        self.pub = pow(g, self.x, p)

    def _shared(self, value: int) -> bytes:
        if not 1 < value < self.p - 1:
            raise KeyExchangeError("DH public value out of range (must be 1 < e < p-1)")
        return mpint(pow(value, self.x, self.p))

    def client_init(self) -> int:
        return self.pub

    def server_reply(self, e: int) -> tuple[int, bytes]:
        return self.pub, self._shared(e)

    def client_finish(self, f: int) -> bytes:
        return self._shared(f)


def fixed_group_exchange(ctx: KexContext, group: str, hash_name: str) -> DHExchange:
    """The exchange in one of RFC 3526's / RFC 8268's fixed ``group``s (``group14``...)."""
    from ._groups import GENERATOR, GROUPS

    return DHExchange(ctx, GROUPS[group][2], GENERATOR, hash_name)
