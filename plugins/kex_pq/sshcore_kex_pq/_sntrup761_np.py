"""sntrup761 with numpy: the same KEM as the pure-Python reference ``_sntrup761`` (same
randomness requests in the same order, so the same bytes out), about ten times faster
for a key pair and six for encapsulation and decapsulation.

Polynomials are float64 arrays holding integers: every product and sum below stays under
2**53, so float arithmetic is exact and numpy's float convolution (much faster than its
integer one) can be used.  A coefficient of a product of two elements of R/q sums at most
761 * 2295**2 < 2**32 terms' worth before the fold x^p = x + 1, which at most triples it.
Reduction mod m is ``x - m*rint(x/m)``: the centred representative, exactly, for
|x| < 2**51 and odd m (x/m is then within 1/(2m) of its rounding).

Inverses (key generation only) use the extended Euclidean algorithm on numpy arrays:
each step is one correlation and one subtraction over the whole (cofactor, remainder)
pair, with the reduction mod q left out for as many steps as a 2**50 bound allows.
The mod-3 inverse is the reference's bit-sliced Euclid, faster than numpy steps there.

Decapsulation has no branch and no table index that depends on secret data: whole-array
numpy operations, and the same arithmetic selections as the reference.
"""

from __future__ import annotations

import secrets
from typing import Any, Callable

import numpy as np

from ._sntrup761 import (CIPHERTEXT_BYTES, P, PUBLICKEY_BYTES, Q, Q12, ROUNDED_BYTES,
                         SECRETKEY_BYTES, SMALL_BYTES, W, _hash, _hash_confirm,
                         _hash_session, _inverse3, _inverse3_bits)

__all__ = ["keypair", "encapsulate", "decapsulate",
           "PUBLICKEY_BYTES", "SECRETKEY_BYTES", "CIPHERTEXT_BYTES"]

Rand = Callable[[int], bytes]
Poly = Any  # a float64 numpy array of length P with integer values

try:  # numpy >= 2 moved the C module; np.correlate's wrapper costs more than the work
    from numpy._core.multiarray import correlate as _correlate
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import correlate as _correlate  # type: ignore[no-redef]

_ROUNDED_M = (Q + 2) // 3   # 1531


# --------------------------------------------------------------------------- arithmetic

def _freeze(x: Poly, m: int) -> Poly:
    """x mod m, centred (in [-(m-1)/2, (m-1)/2]); exact for |x| < 2**51, odd m."""
    return x - m * np.rint(x * (1.0 / m))


def _mul(a: Poly, b: Poly) -> Poly:
    """a*b mod x^p - x - 1 (no reduction of the coefficients)."""
    c = np.convolve(a, b)
    low = c[:P].copy()
    high = c[P:]                     # x^(p+i) = x^i * (x + 1)
    low[:P - 1] += high
    low[1:] += high
    return low


def _mul_q(a: Poly, b: Poly) -> Poly:
    return _freeze(_mul(a, b), Q)


# Euclid's state is two flat buffers A and B (halves of one array, so that one reduction
# covers both), each [0, cofactor (L coefficients), remainder (L)]: the leading 0 lets a
# 'valid' correlation with (q1, q0) give q1*B[k-1] + q0*B[k], that is (q1*x + q0)*B for
# cofactor and remainder at once.  Coefficients above a polynomial's degree are multiples
# of m (what crosses from the cofactor into the remainder is such a multiple: harmless),
# and the remainder part is only worked on up to its degree.
_L = P + 2
_N = 2 * _L


def _euclid_params(m: int) -> tuple[list[int], int]:
    """(table of inverses mod m, number of Euclid steps between two reductions)."""
    x = np.arange(m, dtype=np.int64)
    inv = np.ones(m, dtype=np.int64)
    e = m - 2
    while e:
        if e & 1:
            inv = inv * x % m
        x = x * x % m
        e >>= 1
    inv[0] = 0
    # Each step computes A - (q1*x + q0)*B with |q1|, |q0| <= (m-1)/2; after a reduction
    # everything is at most h in absolute value.  Count the steps that stay below 2**50.
    h = (m + 1) // 2 + 1
    prev, cur, steps = h, h, 0
    while True:
        prev, cur = cur, prev + (m - 1) * cur
        if cur >= 2 ** 50:
            return inv.tolist(), steps
        steps += 1


_EUCLID: dict[int, tuple[list[int], int]] = {Q: _euclid_params(Q)}


def _reduce_in_place(x: Poly, t: Poly, m: int) -> None:
    np.multiply(x, 1.0 / m, out=t)
    np.rint(t, out=t)
    t *= m
    x -= t


def _inverse(a: Poly, m: int) -> Poly | None:
    """1/a in Z_m[x]/(x^p - x - 1) for an odd prime m (centred coefficients), or None.

    ``a`` holds integers of absolute value at most (m+1)/2.  Key generation only:
    the number of steps and the rare non-generic ones depend on ``a``."""
    if m not in _EUCLID:
        _EUCLID[m] = _euclid_params(m)
    inv, lazy = _EUCLID[m]
    half = m // 2
    Z = np.zeros(2 * (_N + 1))
    t = np.empty_like(Z)
    A, B = Z[:_N + 1], Z[_N + 1:]
    R = 1 + _L                       # where the remainder starts
    A[R] = A[R + 1] = -1.0
    A[R + P] = 1.0                   # r0 = x^p - x - 1, cofactor 0
    B[R:R + P] = a
    B[1] = 1.0                       # r1 = a, cofactor 1
    kern = np.zeros(2)
    da, db = P, P - 1
    while db >= 0 and B.item(R + db) % m == 0:
        db -= 1
    la = 1                           # leading coefficients mod m, kept from step to step
    lb = int(B.item(R + db) % m) if db >= 0 else 0
    budget = lazy
    while db > 0:
        if da == db + 1 and budget:
            # The usual step: deg A = deg B + 1, quotient q1*x + q0.
            ib = inv[lb]
            q1 = la * ib % m
            q0 = (int(A.item(R + db) % m) - q1 * int(B.item(R + db - 1) % m)) * ib % m
            kern[0] = q1 - m if q1 > half else q1
            kern[1] = q0 - m if q0 > half else q0
            end = R + da + 1
            w = A[1:end]
            np.subtract(w, _correlate(B[:end], kern, 0), out=w)
            budget -= 1
            d = db - 1
            lead = A.item(R + d) % m
            while lead == 0 and d > 0:
                d -= 1
                lead = A.item(R + d) % m
            if lead == 0:
                d = -1
            A, B = B, A
            da, db, la, lb = db, d, lb, int(lead)
            continue
        _reduce_in_place(Z, t, m)
        budget = lazy
        if da == db + 1:
            continue
        # A quotient of another degree (rare): long division, one term at a time.
        ib = inv[lb]
        while da >= db:
            c = int(A.item(R + da) % m) * ib % m
            shift = da - db
            A[1 + shift:] -= c * B[1:_N + 1 - shift]
            _reduce_in_place(Z, t, m)
            while da >= 0 and A.item(R + da) % m == 0:
                da -= 1
        A, B = B, A
        da, db = db, da
        la, lb = lb, int(B.item(R + db) % m) if db >= 0 else 0
    if db < 0:
        return None
    scale = inv[int(B.item(R) % m)]
    return _freeze(_freeze(B[1:1 + P], m) * scale, m)


_BYTES_P = (P + 7) // 8


def _to_bits(mask: Any) -> int:
    return int.from_bytes(np.packbits(mask, bitorder="little").tobytes(), "little")


def _inverse_mod_3(g: Poly) -> Poly | None:
    """1/g in Z_3[x]/(x^p - x - 1), centred, or None: the reference's bit-sliced Euclid
    (faster than numpy steps for mod 3), with the bit masks made and read by numpy."""
    inv = _inverse3_bits(_to_bits(g == 1), _to_bits(g == -1))
    if inv is None:
        return None
    sp, sm = inv
    if max(sp.bit_length(), sm.bit_length()) > P:  # pragma: no cover - never seen
        return _freeze(np.array(_inverse3([int(x) for x in g.tolist()]), dtype=np.float64), 3)

    def unpack(x: int) -> Any:
        raw = np.frombuffer(x.to_bytes(_BYTES_P, "little"), dtype=np.uint8)
        return np.unpackbits(raw, bitorder="little")[:P].astype(np.float64)
    return unpack(sp) - unpack(sm)


# --------------------------------------------------------------------------- encodings

def _emit(mm: int) -> tuple[int, int]:
    """(bytes the reference emits for a pair whose product of moduli is mm, what is left)."""
    e = 0
    while mm >= 16384:
        e += 1
        mm = (mm + 255) >> 8
    return e, mm


def _levels(n: int, m: int) -> list[tuple[int, int, int, int, int]]:
    """The shape of the reference's recursive encoding of n values mod m: per level
    (n, m, m_last, bytes per pair, bytes of the last pair), where every value is mod m but
    the last, mod m_last.  The top level (n = 1) has the top value's byte count last."""
    m_last = m
    out = []
    while n > 1:
        pairs = n // 2
        e_bulk, mm_bulk = _emit(m * m)
        if n % 2:                    # the last value waits for the next level
            e_last, mm_last = e_bulk, mm_bulk
        else:                        # the last pair has the odd modulus
            e_last, mm_last = _emit(m * m_last)
            if pairs == 1:
                e_bulk, mm_bulk = e_last, mm_last
        out.append((n, m, m_last, e_bulk, e_last))
        if n % 2:
            n, m = pairs + 1, mm_bulk
        else:
            n, m, m_last = pairs, mm_bulk, mm_last
    e, mm = 0, m_last
    while mm > 1:
        e += 1
        mm = (mm + 255) >> 8
    out.append((1, m, m_last, 0, e))
    return out


def _byte_columns(r: Any, e: int) -> Any:
    """The low e bytes of each value, value by value (row-major)."""
    return np.stack([(r >> (8 * j)) & 255 for j in range(e)], axis=1).ravel()


def _encode(r: Any, levels: list[tuple[int, int, int, int, int]]) -> bytes:
    """The reference ``_encode`` on an int64 array, level by level."""
    parts = []
    for n, m, _m_last, e_bulk, e_last in levels:
        if n == 1:
            v = int(r[0])
            parts.append(bytes((v >> (8 * j)) & 255 for j in range(e_last)))
            break
        pairs = n // 2
        rr = r[0:2 * pairs:2] + r[1:2 * pairs:2] * m
        bulk = pairs - 1 if n % 2 == 0 else pairs
        if e_bulk and bulk:
            parts.append(_byte_columns(rr[:bulk], e_bulk).astype(np.uint8).tobytes())
        if bulk < pairs and e_last:
            parts.append(_byte_columns(rr[bulk:], e_last).astype(np.uint8).tobytes())
        shifted = rr >> (8 * e_bulk)
        if bulk < pairs:
            shifted[bulk] = rr[bulk] >> (8 * e_last)
        r = np.concatenate((shifted, r[n - 1:])) if n % 2 else shifted
    return b"".join(parts)


def _decode(s: bytes, levels: list[tuple[int, int, int, int, int]]) -> Any:
    """The reference ``_decode``: reads each level's bytes top-down, then rebuilds the
    values bottom-up; any input decodes (each value is reduced mod its m)."""
    buf = np.frombuffer(s, dtype=np.uint8).astype(np.int64)
    pos = 0
    bottoms = []
    for n, m, m_last, e_bulk, e_last in levels:
        if n == 1:
            top = int(buf[pos]) if m_last <= 256 else int(buf[pos]) + (int(buf[pos + 1]) << 8)
            r = np.array([top % m_last if m_last > 1 else 0], dtype=np.int64)
            break
        pairs = n // 2
        bulk = pairs - 1 if n % 2 == 0 else pairs

        def take(count: int, e: int) -> Any:
            nonlocal pos
            if not e:
                return np.zeros(count, dtype=np.int64)
            b = buf[pos:pos + count * e].reshape(count, e)
            pos += count * e
            return sum(b[:, j] << (8 * j) for j in range(e))
        low = take(bulk, e_bulk)
        scale = np.full(pairs, 1 << (8 * e_bulk), dtype=np.int64)
        if bulk < pairs:
            low = np.concatenate((low, take(1, e_last)))
            scale[bulk] = 1 << (8 * e_last)
        bottoms.append((n, m, m_last, low, scale))
    for n, m, m_last, low, scale in reversed(bottoms):
        pairs = n // 2
        rr = low + scale * r[:pairs]
        out = np.empty(n, dtype=np.int64)
        out[0:2 * pairs:2] = rr % m
        hi = rr // m
        second = np.full(pairs, m, dtype=np.int64)
        if n % 2 == 0:
            second[-1] = m_last
        out[1:2 * pairs:2] = hi % second
        if n % 2:
            out[n - 1] = r[pairs]
        r = out
    return r


_RQ_LEVELS = _levels(P, Q)
_ROUNDED_LEVELS = _levels(P, _ROUNDED_M)


def _rq_encode(h: Poly) -> bytes:
    return _encode(h.astype(np.int64) + Q12, _RQ_LEVELS)


def _rq_decode(s: bytes) -> Poly:
    return (_decode(s, _RQ_LEVELS) - Q12).astype(np.float64)


def _rounded_encode(c: Poly) -> bytes:
    return _encode(((c.astype(np.int64) + Q12) * 10923) >> 15, _ROUNDED_LEVELS)


def _rounded_decode(s: bytes) -> Poly:
    return (_decode(s, _ROUNDED_LEVELS) * 3 - Q12).astype(np.float64)


_SHIFTS = np.array([0, 2, 4, 6], dtype=np.uint8)


def _small_encode(f: Poly) -> bytes:
    v = (f.astype(np.int64) + 1).astype(np.uint8)
    packed = (v[:P - 1].reshape(-1, 4) << _SHIFTS).sum(axis=1, dtype=np.uint8)
    return packed.tobytes() + bytes((int(v[P - 1]),))


def _small_decode(s: bytes) -> Poly:
    b = np.frombuffer(s[:SMALL_BYTES], dtype=np.uint8)
    f = np.empty(P)
    f[:P - 1] = ((b[:SMALL_BYTES - 1, None] >> _SHIFTS) & 3).ravel()
    f[P - 1] = b[SMALL_BYTES - 1] & 3
    return f - 1


# --------------------------------------------------------------------------- sampling

def _urandom32s(rand: Rand) -> Any:
    return np.frombuffer(rand(4 * P), dtype="<u4").astype(np.uint32)


def _short_random(rand: Rand) -> Poly:
    lst = _urandom32s(rand)
    lst[:W] &= 0xFFFFFFFE
    lst[W:] = (lst[W:] & 0xFFFFFFFC) | 1
    lst.sort()
    return (lst & 3).astype(np.float64) - 1


def _small_random(rand: Rand) -> Poly:
    x = _urandom32s(rand).astype(np.int64)
    return (((x & 0x3FFFFFFF) * 3) >> 30).astype(np.float64) - 1


def _round(a: Poly) -> Poly:
    return a - _freeze(a, 3)


# --------------------------------------------------------------------------- the KEM

def keypair(rand: Rand = secrets.token_bytes) -> tuple[bytes, bytes]:
    """(public key, secret key), as ``_sntrup761.keypair`` makes them."""
    while True:
        g = _small_random(rand)
        ginv = _inverse_mod_3(g)
        if ginv is not None:
            break
    f = _short_random(rand)
    finv = _inverse(3 * f, Q)
    assert finv is not None  # 3f is invertible: R/q is a field and f != 0
    h = _mul_q(finv, g)
    pk = _rq_encode(h)
    rho = rand(SMALL_BYTES)
    sk = _small_encode(f) + _small_encode(ginv) + pk + rho + _hash(4, pk)
    return pk, sk


def _encrypt(r: Poly, h: Poly) -> Poly:
    return _round(_mul_q(h, r))


def encapsulate(pk: bytes, rand: Rand = secrets.token_bytes) -> tuple[bytes, bytes]:
    """(ciphertext, shared key) for the public key ``pk``."""
    if len(pk) != PUBLICKEY_BYTES:
        raise ValueError("sntrup761 public key has the wrong length")
    h = _rq_decode(pk)
    r = _short_random(rand)
    r_enc = _small_encode(r)
    c = _rounded_encode(_encrypt(r, h)) + _hash_confirm(r_enc, _hash(4, pk))
    return c, _hash_session(1, r_enc, c)


_DEFAULT_R = np.array([1.0] * W + [0.0] * (P - W))


def decapsulate(c: bytes, sk: bytes) -> bytes:
    """The shared key; a ciphertext that does not re-encrypt gives a pseudorandom key
    derived from the secret rho (implicit rejection)."""
    if len(c) != CIPHERTEXT_BYTES or len(sk) != SECRETKEY_BYTES:
        raise ValueError("sntrup761 ciphertext or secret key has the wrong length")
    f = _small_decode(sk[:SMALL_BYTES])
    ginv = _small_decode(sk[SMALL_BYTES:2 * SMALL_BYTES])
    pk = sk[2 * SMALL_BYTES:2 * SMALL_BYTES + PUBLICKEY_BYTES]
    rho = sk[2 * SMALL_BYTES + PUBLICKEY_BYTES:2 * SMALL_BYTES + PUBLICKEY_BYTES + SMALL_BYTES]
    cache = sk[-32:]
    cc = _rounded_decode(c[:ROUNDED_BYTES])
    e3 = _freeze(_freeze(3 * _mul(cc, f), Q), 3)      # 3*f*c in Rq, then mod 3
    ev = _freeze(_mul(e3, ginv), 3)
    # Arithmetic selections, as in the reference: a wrong-weight ev becomes (1,..,1,0,..,0).
    wd = int(np.abs(ev).sum()) - W
    bad = ((wd | -wd) >> 63) & 1
    r = ev + bad * (_DEFAULT_R - ev)
    r_enc = _small_encode(r)
    c2 = _rounded_encode(_encrypt(r, _rq_decode(pk))) + _hash_confirm(r_enc, cache)
    diff = int(np.bitwise_or.reduce(np.frombuffer(c, dtype=np.uint8)
                                    ^ np.frombuffer(c2, dtype=np.uint8)))
    mismatch = ((diff | -diff) >> 63) & 1            # 1 when the ciphertext does not re-encrypt
    a = np.frombuffer(r_enc, dtype=np.uint8)
    chosen = (a ^ ((a ^ np.frombuffer(rho, dtype=np.uint8)) & (0xFF * mismatch))).tobytes()
    return _hash_session(1 - mismatch, chosen, c)

