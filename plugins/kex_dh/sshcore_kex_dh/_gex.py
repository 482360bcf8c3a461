"""Diffie-Hellman group exchange (RFC 4419), sans-I/O.

Client: KEX_DH_GEX_REQUEST (34: min, n, max) -> GROUP (31: p, g) -> INIT (32: e)
-> REPLY (33: K_S, f, signature).  The server picks the group from a moduli file in
OpenSSH's format, honouring min <= size <= max and preferring the size closest to n.
"""

from __future__ import annotations

import hashlib
import secrets
from functools import lru_cache
from pathlib import Path

from sshcore.wire import SSHReader, byte, mpint, string, uint32
from sshcore.errors import KeyExchangeError, SSHError
from sshcore.interfaces import KexContext, KexResult, KexStep

GEX_GROUP, GEX_INIT, GEX_REPLY, GEX_REQUEST = 31, 32, 33, 34
MIN_BITS, PREFERRED_BITS, MAX_BITS = 2048, 3072, 8192


@lru_cache(maxsize=8)
def load_moduli(path: str | None = None) -> tuple[tuple[int, int, int], ...]:
    """(bits, generator, prime) for each usable line of a moduli file."""
    if path:
        text = Path(path).read_text()
    else:
        from importlib import resources  # ~10 ms to import: only for the default file

        text = resources.files(__package__).joinpath("moduli").read_text()
    groups = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 7 or line.startswith("#"):
            continue
        _, mtype, tests, _, size, gen, modulus = parts
        # type 2 = safe prime; tests must include Miller-Rabin (bit 0x04)
        if mtype != "2" or not int(tests) & 0x04:
            continue
        groups.append((int(size) + 1, int(gen), int(modulus, 16)))
    return tuple(groups)


def choose_group(groups: tuple[tuple[int, int, int], ...], lo: int, n: int,
                 hi: int) -> tuple[int, int]:
    fitting = [g for g in groups if lo <= g[0] <= hi]
    if not fitting:
        raise KeyExchangeError(f"no group-exchange modulus between {lo} and {hi} bits")
    best = min(abs(g[0] - n) for g in fitting)
    _, gen, p = secrets.choice([g for g in fitting if abs(g[0] - n) == best])
    return p, gen


class GexExchange:
    def __init__(self, ctx: KexContext, hash_name: str) -> None:
        self.ctx = ctx
        self.hash_name = hash_name
        opts = ctx.options
        self.lo = int(opts.get("gex_min", MIN_BITS))
        self.n = int(opts.get("gex_n", PREFERRED_BITS))
        self.hi = int(opts.get("gex_max", MAX_BITS))
        self.moduli = opts.get("gex_moduli")
        self.p = self.g = self.x = self.e = 0
        self.state = "start"

    def _keypair(self) -> int:
        bits = min(512, self.p.bit_length() - 1)
        self.x = int.from_bytes(self.ctx.random(bits // 8), "big") | 1 << (bits - 1)
        return pow(self.g, self.x, self.p)

    def _check(self, value: int) -> None:
        if not 1 < value < self.p - 1:
            raise KeyExchangeError("DH public value out of range (must be 1 < e < p-1)")

    def _hash(self, k_s: bytes, e: int, f: int, k: bytes) -> bytes:
        c = self.ctx
        return hashlib.new(self.hash_name, b"".join((
            string(c.client_version), string(c.server_version), string(c.client_kexinit),
            string(c.server_kexinit), string(k_s), uint32(self.lo), uint32(self.n), uint32(self.hi),
            mpint(self.p), mpint(self.g), mpint(e), mpint(f), k))).digest()

    def start(self) -> KexStep:
        if self.ctx.role == "client":
            self.state = "wait_group"
            return KexStep(send=[byte(GEX_REQUEST) + uint32(self.lo) + uint32(self.n) + uint32(self.hi)])
        self.state = "wait_request"
        return KexStep()

    def receive(self, payload: bytes) -> KexStep:
        try:
            return self._receive(payload)
        except KeyExchangeError:
            raise
        except SSHError as exc:
            raise KeyExchangeError(f"malformed group exchange message: {exc}") from None

    def _receive(self, payload: bytes) -> KexStep:
        r = SSHReader(payload, 1)
        mtype, state = payload[0], self.state
        if state == "wait_request" and mtype == GEX_REQUEST:
            self.lo, self.n, self.hi = r.uint32(), r.uint32(), r.uint32()
            r.finish()
            if not self.lo <= self.n <= self.hi or self.hi < 1024:
                raise KeyExchangeError(f"bad group exchange request {self.lo}/{self.n}/{self.hi}")
            self.p, self.g = choose_group(load_moduli(self.moduli), max(self.lo, MIN_BITS // 2),
                                          self.n, self.hi)
            self.state = "wait_init"
            return KexStep(send=[byte(GEX_GROUP) + mpint(self.p) + mpint(self.g)])
        if state == "wait_group" and mtype == GEX_GROUP:
            self.p, self.g = r.mpint(), r.mpint()
            r.finish()
            bits = self.p.bit_length()
            if not self.lo <= bits <= self.hi or self.p % 2 == 0:
                raise KeyExchangeError(f"server offered a {bits}-bit group outside {self.lo}..{self.hi}")
            if not 1 < self.g < self.p - 1:
                raise KeyExchangeError("server offered an invalid generator")
            self.e = self._keypair()
            self.state = "wait_reply"
            return KexStep(send=[byte(GEX_INIT) + mpint(self.e)])
        if state == "wait_init" and mtype == GEX_INIT:
            e = r.mpint()
            r.finish()
            self._check(e)
            f = self._keypair()
            k = mpint(pow(e, self.x, self.p))
            h = self._hash(self.ctx.host_key_blob, e, f, k)
            assert self.ctx.sign is not None
            self.state = "done"
            reply = b"".join((byte(GEX_REPLY), string(self.ctx.host_key_blob), mpint(f),
                              string(self.ctx.sign(h))))
            return KexStep(send=[reply], result=KexResult(k, h))
        if state == "wait_reply" and mtype == GEX_REPLY:
            k_s, f, sig = r.string(), r.mpint(), r.string()
            r.finish()
            self._check(f)
            k = mpint(pow(f, self.x, self.p))
            self.state = "done"
            return KexStep(result=KexResult(k, self._hash(k_s, self.e, f, k), k_s, sig))
        raise KeyExchangeError(f"unexpected message {mtype} during group exchange ({state})")
