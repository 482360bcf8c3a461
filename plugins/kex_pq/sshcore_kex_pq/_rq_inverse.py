"""1/a in R/q = Z_q[x]/(x^p - x - 1) for sntrup761's key pair, in pure Python, fast.

Extended Euclid as in ``_sntrup761._inverse`` (the reference), but each polynomial is
one Python integer holding its coefficients in 48-bit slots (SWAR: SIMD within a
register).  One Euclid step is then a handful of big-integer operations instead of
two passes over 761-element lists, which makes the key pair about four times faster
without numpy, whose import alone costs more than the whole pure-Python key pair.

Coefficients are kept in [0, 2q) rather than [0, q), which lets every step add
instead of subtract and reduce with one Barrett step per slot:

* a step computes ``r0 - (q1*x + q0) * r1`` as ``r0 + r1 * ((q-q1)*X + (q-q0))`` with
  ``X`` one slot: a slot stays below 2q + 2 * q * 2q < 2**27;
* Barrett: ``t = floor(v * C / 2**27)`` with ``C = floor(2**27 / q)`` is ``floor(v/q)``
  or one less, so ``v - t*q`` is back in [0, 2q); ``v * C`` < 2**42 fits a slot, and
  one shift and one mask take every slot's ``t`` at once.

Like the reference, this is variable-time; it runs once per key pair (the client's
ephemeral key), never in decapsulation.
"""

from __future__ import annotations

from ._sntrup761 import P, Q

W = 48                   # bits per slot (whole bytes: unpacking is int.to_bytes)
_MASK = (1 << W) - 1
_K = 27                  # every slot value is below 2**27 before a reduction
_C = (1 << _K) // Q
#: after ``(v * C) >> K``, the bits of each slot that hold its own ``t``
_TMASK = sum(((1 << (W - _K)) - 1) << (W * i) for i in range(P + 2))


def _reduce_slots(v: int) -> int:
    """Every slot from [0, 2**27) to [0, 2q), congruent mod q."""
    return v - (((v * _C) >> _K) & _TMASK) * Q


def _slot(v: int, i: int) -> int:
    return (v >> (W * i)) & _MASK


def _trim(v: int, n: int) -> tuple[int, int]:
    """Drop top slots that are 0 mod q (a slot may hold q itself): (value, length)."""
    while n:
        top = _slot(v, n - 1)
        if top % Q:
            break
        v -= top << (W * (n - 1))
        n -= 1
    return v, n


def _pack(coeffs: list[int]) -> int:
    return int.from_bytes(b"".join((c % Q).to_bytes(W // 8, "little") for c in coeffs), "little")


def inverse(a: list[int]) -> list[int] | None:
    """1/a in R/q with coefficients in [0, q), or ``None`` when a is 0 (R/q is a field)."""
    m = Q
    r0, n0 = _pack([-1, -1] + [0] * (P - 2) + [1]), P + 1     # x^p - x - 1
    r1, n1 = _trim(_pack(a), len(a))
    s0, s1 = 0, 1
    while n1:
        inv_lead = pow(_slot(r1, n1 - 1) % m, -1, m)
        if n0 == n1 + 1 and n1 >= 2:
            # The usual case, a quotient q1*x + q0: both eliminations in one product.
            q1 = _slot(r0, n0 - 1) * inv_lead % m
            q0 = (_slot(r0, n0 - 2) - q1 * _slot(r1, n1 - 2)) * inv_lead % m
            step = ((m - q1) << W) + (m - q0)
            rem, nrem = _trim(_reduce_slots(r0 + r1 * step), n0)
            s_new = _reduce_slots(s0 + s1 * step)
        else:
            # Any other quotient: one coefficient at a time.
            rem, nrem, s_new = r0, n0, s0
            while nrem >= n1:
                coef = _slot(rem, nrem - 1) * inv_lead % m
                shift = W * (nrem - n1)
                rem, nrem = _trim(_reduce_slots(rem + ((r1 * (m - coef)) << shift)), nrem)
                s_new = _reduce_slots(s_new + ((s1 * (m - coef)) << shift))
        r0, n0, r1, n1 = r1, n1, rem, nrem
        s0, s1 = s1, s_new
    if n0 != 1:
        return None
    scale = pow(_slot(r0, 0) % m, -1, m)
    size = max(P, (s0.bit_length() + W - 1) // W)
    raw = s0.to_bytes(size * (W // 8), "little")
    step_bytes = W // 8
    out = [int.from_bytes(raw[i:i + step_bytes], "little") * scale % m
           for i in range(0, len(raw), step_bytes)]
    if len(out) > P:
        from ._sntrup761 import _reduce

        return _reduce(out, m)
    return out
