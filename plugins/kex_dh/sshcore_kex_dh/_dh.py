"""One fixed-group DH exchange, sans-I/O: KEXDH_INIT (30) carries e, KEXDH_REPLY (31) f.

Modular exponentiation uses Python's built-in ``pow``; no crypto library is needed.
"""

from __future__ import annotations

import hashlib

from sshcore.wire import SSHReader, byte, mpint, string
from sshcore.errors import KeyExchangeError, SSHError
from sshcore.interfaces import KexContext, KexResult, KexStep

KEXDH_INIT, KEXDH_REPLY = 30, 31


class DHExchange:
    def __init__(self, ctx: KexContext, p: int, g: int, hash_name: str) -> None:
        self.ctx = ctx
        self.p, self.g = p, g
        self.hash_name = hash_name
        # 512-bit exponents give >= 256-bit security, more than any of these groups has.
        bits = min(512, p.bit_length() - 1)
        self.x = int.from_bytes(ctx.random(bits // 8), "big") | 1 << (bits - 1)
        self.pub = pow(g, self.x, p)
        self.done = False

    def _check(self, value: int) -> None:
        if not 1 < value < self.p - 1:
            raise KeyExchangeError("DH public value out of range (must be 1 < e < p-1)")

    def _hash(self, k_s: bytes, e: int, f: int, k: bytes) -> bytes:
        c = self.ctx
        return hashlib.new(self.hash_name, b"".join((
            string(c.client_version), string(c.server_version), string(c.client_kexinit),
            string(c.server_kexinit), string(k_s), mpint(e), mpint(f), k))).digest()

    def start(self) -> KexStep:
        if self.ctx.role == "client":
            return KexStep(send=[byte(KEXDH_INIT) + mpint(self.pub)])
        return KexStep()

    def receive(self, payload: bytes) -> KexStep:
        if self.done:
            raise KeyExchangeError("key exchange message after the exchange finished")
        try:
            r = SSHReader(payload, 1)
            if self.ctx.role == "server" and payload[0] == KEXDH_INIT:
                e = r.mpint()
                r.finish()
                self._check(e)
                k = mpint(pow(e, self.x, self.p))
                h = self._hash(self.ctx.host_key_blob, e, self.pub, k)
                assert self.ctx.sign is not None
                reply = b"".join((byte(KEXDH_REPLY), string(self.ctx.host_key_blob),
                                  mpint(self.pub), string(self.ctx.sign(h))))
                self.done = True
                return KexStep(send=[reply], result=KexResult(k, h))
            if self.ctx.role == "client" and payload[0] == KEXDH_REPLY:
                k_s, f, sig = r.string(), r.mpint(), r.string()
                r.finish()
                self._check(f)
                k = mpint(pow(f, self.x, self.p))
                h = self._hash(k_s, self.pub, f, k)
                self.done = True
                return KexStep(result=KexResult(k, h, k_s, sig))
        except KeyExchangeError:
            raise
        except SSHError as exc:
            raise KeyExchangeError(f"malformed DH message: {exc}") from None
        raise KeyExchangeError(f"unexpected message {payload[0]} during DH key exchange")
