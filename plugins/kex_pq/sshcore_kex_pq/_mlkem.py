"""ML-KEM-768 encapsulation and decapsulation in pure Python (FIPS 203, Algorithms 14,
15, 17 and 18), for when pycryptodome's own are not reachable.

pycryptodome (4.2 to 4.5 at least) generates and checks ML-KEM keys through its public API
but keeps encapsulation and decapsulation private (``MLKEMKey._encaps`` / ``_decaps``).
``_primitives`` uses those when it finds them and this module otherwise; both give the
same bytes (plugins/kex_pq/tests/test_mlkem_fallback.py).  Inputs are checked by the
caller: the encapsulation key by pycryptodome's public ``MLKEMKey(ek=...)``, the
decapsulation key because pycryptodome made it, ciphertext lengths here.

Not constant time (Python integers): a fallback, some 5 ms per operation.
"""

from __future__ import annotations

import hashlib

__all__ = ["encapsulate", "decapsulate", "EK_LEN", "DK_LEN", "CT_LEN"]

N, Q, K = 256, 3329, 3          # ML-KEM-768: k = 3, eta1 = eta2 = 2, du = 10, dv = 4
ETA1 = ETA2 = 2
DU, DV = 10, 4
EK_LEN = 384 * K + 32           # 1184
DK_LEN = 768 * K + 96           # 2400
CT_LEN = 32 * (DU * K + DV)     # 1088


def _bitrev7(i: int) -> int:
    return int(f"{i:07b}"[::-1], 2)


ZETAS = [pow(17, _bitrev7(i), Q) for i in range(128)]
GAMMAS = [pow(17, 2 * _bitrev7(i) + 1, Q) for i in range(128)]


def _ntt(f: list[int]) -> list[int]:
    """Algorithm 9."""
    f = list(f)
    i = 1
    length = 128
    while length >= 2:
        for start in range(0, N, 2 * length):
            zeta = ZETAS[i]
            i += 1
            for j in range(start, start + length):
                t = zeta * f[j + length] % Q
                f[j + length] = (f[j] - t) % Q
                f[j] = (f[j] + t) % Q
        length //= 2
    return f


def _ntt_inv(f: list[int]) -> list[int]:
    """Algorithm 10."""
    f = list(f)
    i = 127
    length = 2
    while length <= 128:
        for start in range(0, N, 2 * length):
            zeta = ZETAS[i]
            i -= 1
            for j in range(start, start + length):
                t = f[j]
                f[j] = (t + f[j + length]) % Q
                f[j + length] = zeta * (f[j + length] - t) % Q
        length *= 2
    return [x * 3303 % Q for x in f]


def _mul(f: list[int], g: list[int]) -> list[int]:
    """Algorithms 11 and 12: the product of two polynomials in the NTT domain."""
    h = [0] * N
    for i in range(128):
        a0, a1, b0, b1 = f[2 * i], f[2 * i + 1], g[2 * i], g[2 * i + 1]
        h[2 * i] = (a0 * b0 + a1 * b1 * GAMMAS[i]) % Q
        h[2 * i + 1] = (a0 * b1 + a1 * b0) % Q
    return h


def _add(f: list[int], g: list[int]) -> list[int]:
    return [(a + b) % Q for a, b in zip(f, g)]


def _encode(f: list[int], d: int) -> bytes:
    """ByteEncode_d (Algorithm 5): d bits per coefficient, little-endian."""
    acc = 0
    for i, x in enumerate(f):
        acc |= x << (d * i)
    return acc.to_bytes(32 * d, "little")


def _decode(b: bytes, d: int) -> list[int]:
    """ByteDecode_d (Algorithm 6); coefficients mod q for d = 12."""
    acc = int.from_bytes(b, "little")
    mask = (1 << d) - 1
    m = Q if d == 12 else 1 << d
    return [((acc >> (d * i)) & mask) % m for i in range(N)]


def _compress(f: list[int], d: int) -> list[int]:
    return [((x << d) + Q // 2) // Q % (1 << d) for x in f]


def _decompress(f: list[int], d: int) -> list[int]:
    return [(x * Q + (1 << (d - 1))) >> d for x in f]


def _sample_ntt(seed: bytes) -> list[int]:
    """SampleNTT (Algorithm 7): rejection sampling from SHAKE-128(seed)."""
    n = 840
    while True:
        stream = hashlib.shake_128(seed).digest(n)
        a: list[int] = []
        for p in range(0, n - 2, 3):
            d1 = stream[p] | (stream[p + 1] & 15) << 8
            d2 = stream[p + 1] >> 4 | stream[p + 2] << 4
            if d1 < Q:
                a.append(d1)
            if d2 < Q and len(a) < N:
                a.append(d2)
            if len(a) == N:
                return a
        n *= 2  # pragma: no cover - astronomically rare


def _cbd(b: bytes, eta: int) -> list[int]:
    """SamplePolyCBD_eta (Algorithm 8)."""
    bits = int.from_bytes(b, "little")
    f = []
    for i in range(N):
        x = bits >> (2 * i * eta)
        a = sum((x >> j) & 1 for j in range(eta))
        c = sum((x >> (eta + j)) & 1 for j in range(eta))
        f.append((a - c) % Q)
    return f


def _prf(eta: int, s: bytes, n: int) -> bytes:
    return hashlib.shake_256(s + bytes([n])).digest(64 * eta)


def _pke_encrypt(ek: bytes, m: bytes, r: bytes) -> bytes:
    """K-PKE.Encrypt (Algorithm 14)."""
    t_hat = [_decode(ek[384 * i:384 * (i + 1)], 12) for i in range(K)]
    rho = ek[384 * K:]
    # A_hat[i][j] = SampleNTT(rho || j || i); u needs the transpose: A_hat[j][i]
    a_hat = [[_sample_ntt(rho + bytes([j, i])) for j in range(K)] for i in range(K)]
    y = [_cbd(_prf(ETA1, r, i), ETA1) for i in range(K)]
    e1 = [_cbd(_prf(ETA2, r, K + i), ETA2) for i in range(K)]
    e2 = _cbd(_prf(ETA2, r, 2 * K), ETA2)
    y_hat = [_ntt(p) for p in y]
    u = []
    for i in range(K):
        acc = [0] * N
        for j in range(K):
            acc = _add(acc, _mul(a_hat[j][i], y_hat[j]))
        u.append(_add(_ntt_inv(acc), e1[i]))
    mu = _decompress(_decode(m, 1), 1)
    acc = [0] * N
    for i in range(K):
        acc = _add(acc, _mul(t_hat[i], y_hat[i]))
    v = _add(_add(_ntt_inv(acc), e2), mu)
    return (b"".join(_encode(_compress(p, DU), DU) for p in u)
            + _encode(_compress(v, DV), DV))


def _pke_decrypt(dk_pke: bytes, c: bytes) -> bytes:
    """K-PKE.Decrypt (Algorithm 15)."""
    u = [_decompress(_decode(c[32 * DU * i:32 * DU * (i + 1)], DU), DU) for i in range(K)]
    v = _decompress(_decode(c[32 * DU * K:], DV), DV)
    s_hat = [_decode(dk_pke[384 * i:384 * (i + 1)], 12) for i in range(K)]
    acc = [0] * N
    for i in range(K):
        acc = _add(acc, _mul(s_hat[i], _ntt(u[i])))
    w = [(a - b) % Q for a, b in zip(v, _ntt_inv(acc))]
    return _encode(_compress(w, 1), 1)


def encapsulate(ek: bytes, m: bytes) -> tuple[bytes, bytes]:
    """ML-KEM.Encaps_internal (Algorithm 17) with the 32-byte randomness ``m``:
    (shared secret, ciphertext).  ``ek`` must have passed FIPS 203's input checks."""
    if len(ek) != EK_LEN or len(m) != 32:
        raise ValueError("ML-KEM-768 encapsulation: wrong key or randomness length")
    g = hashlib.sha3_512(m + hashlib.sha3_256(ek).digest()).digest()
    return g[:32], _pke_encrypt(ek, m, g[32:])


def decapsulate(dk: bytes, c: bytes) -> bytes:
    """ML-KEM.Decaps_internal (Algorithm 18) with implicit rejection; ValueError for a
    ciphertext or key of the wrong length."""
    if len(c) != CT_LEN:
        raise ValueError(f"ML-KEM-768 ciphertext must be {CT_LEN} bytes, not {len(c)}")
    if len(dk) != DK_LEN:
        raise ValueError("ML-KEM-768 decapsulation key has the wrong length")
    dk_pke, ek = dk[:384 * K], dk[384 * K:768 * K + 32]
    h, z = dk[768 * K + 32:768 * K + 64], dk[768 * K + 64:]
    m = _pke_decrypt(dk_pke, c)
    g = hashlib.sha3_512(m + h).digest()
    rejected = hashlib.shake_256(z + c).digest(32)
    import hmac

    return g[:32] if hmac.compare_digest(_pke_encrypt(ek, m, g[32:]), c) else rejected
