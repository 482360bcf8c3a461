"""Streamlined NTRU Prime sntrup761 (the KEM of OpenSSH's sntrup761x25519-sha512), in
Python from the NTRU Prime specification: p = 761, q = 4591, w = 286, R = Z[x]/(x^p-x-1).

Polynomial products use Kronecker substitution on Python integers; inverses use the
extended Euclidean algorithm (key generation only).  Decapsulation has no branch and no
table index that depends on secret data: reductions, the weight check and the final
selection are arithmetic.  CPython's integer arithmetic itself is not constant-time,
which is as far as Python allows.
"""

from __future__ import annotations

import hashlib
import secrets

P, Q, W = 761, 4591, 286
Q12 = (Q - 1) // 2
SMALL_BYTES = (P + 3) // 4          # 191
RQ_BYTES = 1158
ROUNDED_BYTES = 1007
PUBLICKEY_BYTES = RQ_BYTES
SECRETKEY_BYTES = 2 * SMALL_BYTES + PUBLICKEY_BYTES + SMALL_BYTES + 32   # 1763
CIPHERTEXT_BYTES = ROUNDED_BYTES + 32                                    # 1039
_SLOT = 5  # bytes per coefficient in Kronecker products (sums stay below 2**40)


# --------------------------------------------------------------------------- arithmetic

def _freeze_q(x: int) -> int:
    """x mod q in [-(q-1)/2, (q-1)/2], without a branch on x."""
    r = x % Q
    return r - Q * (((Q12 - r) >> 63) & 1)


def _freeze_3(x: int) -> int:
    """x mod 3 in {-1, 0, 1}, without a branch on x."""
    r = x % 3
    return r - 3 * (r >> 1)


def _pack(coeffs: list[int]) -> int:
    return int.from_bytes(b"".join(c.to_bytes(_SLOT, "little") for c in coeffs), "little")


def _mul(a: list[int], b: list[int], m: int) -> list[int]:
    """a*b in Z_m[x]/(x^p - x - 1), coefficients in [0, m)."""
    prod = _pack([x % m for x in a]) * _pack([x % m for x in b])
    raw = prod.to_bytes(_SLOT * (2 * P - 1), "little")
    return _reduce([int.from_bytes(raw[i:i + _SLOT], "little") for i in range(0, len(raw), _SLOT)], m)


def _inverse(a: list[int], m: int) -> list[int] | None:
    """1/a in Z_m[x]/(x^p - x - 1) for a prime m, or None if a is not invertible."""
    def trim(v: list[int]) -> list[int]:
        while v and v[-1] == 0:
            v.pop()
        return v

    r0 = [(-1) % m, (-1) % m] + [0] * (P - 2) + [1]
    r1 = trim([x % m for x in a])
    s0: list[int] = []
    s1 = [1]
    while r1:
        inv_lead = pow(r1[-1], -1, m)
        d1 = len(r1)
        if len(r0) == d1 + 1 and d1 >= 2:
            # The usual case, a quotient q1*x + q0: both eliminations in one pass.
            q1 = r0[-1] * inv_lead % m
            q0 = (r0[-2] - q1 * r1[-2]) * inv_lead % m
            r1x = [0] + r1
            rem = trim([(a - q1 * b - q0 * c) % m for a, b, c in zip(r0, r1x, r1 + [0])])
            ls = max(len(s0), len(s1) + 1)
            s0e = s0 + [0] * (ls - len(s0))
            s1x = [0] + s1 + [0] * (ls - len(s1) - 1)
            s1e = s1 + [0] * (ls - len(s1))
            s_new = trim([(a - q1 * b - q0 * c) % m for a, b, c in zip(s0e, s1x, s1e)])
            r0, r1 = r1, rem
            s0, s1 = s1, s_new
            continue
        s_new = list(s0)
        rem = r0
        while len(rem) >= d1:
            coef = rem[-1] * inv_lead % m
            shift = len(rem) - d1
            if coef:
                head = rem[:shift]
                tail = [(x - coef * y) % m for x, y in zip(rem[shift:], r1)]
                rem = trim(head + tail)
                # s_new -= coef * x^shift * s1
                need = shift + len(s1)
                if len(s_new) < need:
                    s_new.extend([0] * (need - len(s_new)))
                seg = s_new[shift:need]
                s_new[shift:need] = [(x - coef * y) % m for x, y in zip(seg, s1)]
            else:
                rem = trim(rem[:-1])
        r0, r1 = r1, rem
        s0, s1 = s1, trim(s_new)
    if len(r0) != 1:
        return None
    scale = pow(r0[0], -1, m)
    inv = [x * scale % m for x in s0] + [0] * max(0, P - len(s0))
    return _reduce(inv, m) if len(inv) > P else inv


# GF(3) polynomials bit-sliced into two integers: bit i of ``p`` set when the coefficient
# of x^i is +1, of ``m`` when it is -1.  Additions are a handful of integer operations.

def _add3(ap: int, am: int, bp: int, bm: int) -> tuple[int, int]:
    nza, nzb = ap | am, bp | bm
    return ((ap & ~nzb) | (bp & ~nza) | (am & bm),
            (am & ~nzb) | (bm & ~nza) | (ap & bp))


def _inverse3(a: list[int]) -> list[int] | None:
    """1/a in Z_3[x]/(x^p - x - 1) (bit-sliced extended Euclid), or None."""
    r1p = sum(1 << i for i, x in enumerate(a) if x % 3 == 1)
    r1m = sum(1 << i for i, x in enumerate(a) if x % 3 == 2)
    inv = _inverse3_bits(r1p, r1m)
    if inv is None:
        return None
    s0p, s0m = inv
    out = [((s0p >> i) & 1) - ((s0m >> i) & 1) for i in range(max(s0p.bit_length(), s0m.bit_length(), P))]
    return [x % 3 for x in (_reduce(out, 3) if len(out) > P else out)]


def _inverse3_bits(r1p: int, r1m: int) -> tuple[int, int] | None:
    """The inverse of the bit-sliced (r1p, r1m) mod (3, x^p - x - 1), bit-sliced and not
    yet reduced mod x^p - x - 1 (in practice of degree < p), or None."""
    def lead(p_: int, m_: int) -> tuple[int, int]:
        d = max(p_.bit_length(), m_.bit_length()) - 1
        return d, (1 if (p_ >> d) & 1 else -1) if d >= 0 else 0

    r0p, r0m = 1 << P, 0b11          # x^p - x - 1
    s0p = s0m = 0
    s1p, s1m = 1, 0
    while r1p | r1m:
        d1, c1 = lead(r1p, r1m)
        remp, remm = r0p, r0m
        sp, sm = s0p, s0m
        while True:
            d, c = lead(remp, remm)
            if d < d1:
                break
            shift = d - d1
            # rem -= (c/c1) x^shift r1: with c/c1 = +1 subtract, -1 add
            if c == c1:
                remp, remm = _add3(remp, remm, r1m << shift, r1p << shift)
                sp, sm = _add3(sp, sm, s1m << shift, s1p << shift)
            else:
                remp, remm = _add3(remp, remm, r1p << shift, r1m << shift)
                sp, sm = _add3(sp, sm, s1p << shift, s1m << shift)
        r0p, r0m, r1p, r1m = r1p, r1m, remp, remm
        s0p, s0m, s1p, s1m = s1p, s1m, sp, sm
    d, c = lead(r0p, r0m)
    if d != 0:
        return None
    return (s0m, s0p) if c == -1 else (s0p, s0m)


def _reduce(c: list[int], m: int) -> list[int]:
    """c mod (x^p - x - 1, m): x^k = x^(k-p) * (x + 1), from the top down."""
    c = list(c)
    for k in range(len(c) - 1, P - 1, -1):
        v = c[k]
        if v:
            c[k - P] += v
            c[k - P + 1] += v
    return [x % m for x in c[:P]]


# --------------------------------------------------------------------------- encodings

def _encode(r: list[int], m: list[int]) -> bytes:
    out = bytearray()

    def rec(r: list[int], m: list[int]) -> None:
        if len(r) == 1:
            rr, mm = r[0], m[0]
            while mm > 1:
                out.append(rr & 255)
                rr >>= 8
                mm = (mm + 255) >> 8
            return
        r2, m2 = [], []
        i = 0
        while i < len(r) - 1:
            m0 = m[i]
            rr = r[i] + r[i + 1] * m0
            mm = m[i + 1] * m0
            while mm >= 16384:
                out.append(rr & 255)
                rr >>= 8
                mm = (mm + 255) >> 8
            r2.append(rr)
            m2.append(mm)
            i += 2
        if i < len(r):
            r2.append(r[i])
            m2.append(m[i])
        rec(r2, m2)

    rec(r, m)
    return bytes(out)


def _decode(s: bytes, m: list[int]) -> list[int]:
    pos = 0

    def rec(m: list[int]) -> list[int]:
        nonlocal pos
        if len(m) == 1:
            if m[0] == 1:
                return [0]
            if m[0] <= 256:
                v = s[pos] % m[0]
                return [v]
            return [(s[pos] + (s[pos + 1] << 8)) % m[0]]
        m2, bottom_r, bottom_t = [], [], []
        i = 0
        while i < len(m) - 1:
            mm = m[i] * m[i + 1]
            if mm > 256 * 16383:
                bottom_t.append(65536)
                bottom_r.append(s[pos] + 256 * s[pos + 1])
                pos += 2
                m2.append((((mm + 255) >> 8) + 255) >> 8)
            elif mm >= 16384:
                bottom_t.append(256)
                bottom_r.append(s[pos])
                pos += 1
                m2.append((mm + 255) >> 8)
            else:
                bottom_t.append(1)
                bottom_r.append(0)
                m2.append(mm)
            i += 2
        if i < len(m):
            m2.append(m[i])
        r2 = rec(m2)
        out = []
        i = 0
        while i < len(m) - 1:
            rr = bottom_r[i // 2] + bottom_t[i // 2] * r2[i // 2]
            r1, r0 = divmod(rr, m[i])
            out.append(r0)
            out.append(r1 % m[i + 1])
            i += 2
        if i < len(m):
            out.append(r2[i // 2])
        return out

    return rec(m)


def _rq_encode(h: list[int]) -> bytes:
    return _encode([x + Q12 for x in h], [Q] * P)


def _rq_decode(s: bytes) -> list[int]:
    return [x - Q12 for x in _decode(s, [Q] * P)]


def _rounded_encode(c: list[int]) -> bytes:
    return _encode([((x + Q12) * 10923) >> 15 for x in c], [(Q + 2) // 3] * P)


def _rounded_decode(s: bytes) -> list[int]:
    return [x * 3 - Q12 for x in _decode(s, [(Q + 2) // 3] * P)]


def _small_encode(f: list[int]) -> bytes:
    out = bytearray()
    for i in range(0, P - 1, 4):
        out.append((f[i] + 1) + ((f[i + 1] + 1) << 2) + ((f[i + 2] + 1) << 4) + ((f[i + 3] + 1) << 6))
    out.append(f[P - 1] + 1)
    return bytes(out)


def _small_decode(s: bytes) -> list[int]:
    f = []
    for i in range(SMALL_BYTES - 1):
        x = s[i]
        f += [(x & 3) - 1, ((x >> 2) & 3) - 1, ((x >> 4) & 3) - 1, ((x >> 6) & 3) - 1]
    f.append((s[SMALL_BYTES - 1] & 3) - 1)
    return f


# --------------------------------------------------------------------------- hashing

def _hash(prefix: int, data: bytes) -> bytes:
    return hashlib.sha512(bytes([prefix]) + data).digest()[:32]


def _hash_confirm(r_enc: bytes, cache: bytes) -> bytes:
    return _hash(2, _hash(3, r_enc) + cache)


def _hash_session(b: int, y: bytes, z: bytes) -> bytes:
    return _hash(b, _hash(3, y) + z)


# --------------------------------------------------------------------------- sampling

def _urandom32s(rand: object) -> list[int]:
    """p little-endian uint32 values from one randomness request (as the reference does,
    which fixes the NIST known answers)."""
    raw = rand(4 * P)  # type: ignore[operator]
    return [int.from_bytes(raw[i:i + 4], "little") for i in range(0, 4 * P, 4)]


def _short_random(rand: object) -> list[int]:
    """Weight-w vector with coefficients +-1 (a random permutation by sorting)."""
    lst = _urandom32s(rand)
    lst = [x & 0xFFFFFFFE for x in lst[:W]] + [(x & 0xFFFFFFFC) | 1 for x in lst[W:]]
    lst.sort()
    return [(x & 3) - 1 for x in lst]


def _small_random(rand: object) -> list[int]:
    return [(((x & 0x3FFFFFFF) * 3) >> 30) - 1 for x in _urandom32s(rand)]


def _round(a: list[int]) -> list[int]:
    return [x - _freeze_3(x) for x in a]


def _weight(r: list[int]) -> int:
    return sum(x & 1 for x in r)  # +-1 & 1 == 1, 0 & 1 == 0: no branch on the values


# --------------------------------------------------------------------------- the KEM

def keypair(rand: object = secrets.token_bytes) -> tuple[bytes, bytes]:
    """(public key, secret key)."""
    while True:
        g = _small_random(rand)
        ginv = _inverse3(g)
        if ginv is not None:
            break
    f = _short_random(rand)
    from ._rq_inverse import inverse  # the packed form of _inverse (~8x faster)

    finv = inverse([3 * x for x in f])
    assert finv is not None  # 3f is invertible: R/q is a field and f != 0
    h = [_freeze_q(x) for x in _mul(finv, g, Q)]
    pk = _rq_encode(h)
    ginv_small = [_freeze_3(x) for x in ginv]
    rho = rand(SMALL_BYTES)  # type: ignore[operator]  # random bytes for implicit rejection
    sk = _small_encode(f) + _small_encode(ginv_small) + pk + rho + _hash(4, pk)
    return pk, sk


def _encrypt(r: list[int], h: list[int]) -> list[int]:
    return _round([_freeze_q(x) for x in _mul(h, r, Q)])


def encapsulate(pk: bytes, rand: object = secrets.token_bytes) -> tuple[bytes, bytes]:
    """(ciphertext, shared key) for the public key ``pk``."""
    if len(pk) != PUBLICKEY_BYTES:
        raise ValueError("sntrup761 public key has the wrong length")
    h = _rq_decode(pk)
    r = _short_random(rand)
    r_enc = _small_encode(r)
    c = _rounded_encode(_encrypt(r, h)) + _hash_confirm(r_enc, _hash(4, pk))
    return c, _hash_session(1, r_enc, c)


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
    e3 = [_freeze_3(_freeze_q(3 * x)) for x in _mul(cc, f, Q)]   # 3*f*c in Rq, then mod 3
    ev = [_freeze_3(x) for x in _mul(e3, ginv, 3)]
    # Selections below are arithmetic, not branches on secret data (as far as Python
    # allows): a wrong-weight ev becomes the fixed vector (1,...,1,0,...,0).
    wd = _weight(ev) - W
    bad = ((wd | -wd) >> 63) & 1
    default = [1] * W + [0] * (P - W)
    r = [e + bad * (d - e) for e, d in zip(ev, default)]
    r_enc = _small_encode(r)
    h = _rq_decode(pk)
    c2 = _rounded_encode(_encrypt(r, h)) + _hash_confirm(r_enc, cache)
    diff = 0
    for x, y in zip(c, c2):
        diff |= x ^ y
    mismatch = ((diff | -diff) >> 63) & 1            # 1 when the ciphertext does not re-encrypt
    mb = 0xFF * mismatch
    chosen = bytes(a ^ ((a ^ b) & mb) for a, b in zip(r_enc, rho))
    return _hash_session(1 - mismatch, chosen, c)
