"""The NIST known-answer test of sntrup761, as PQClean runs it: the first KAT entry
(count = 0) generated with NIST's AES-256 CTR_DRBG must hash (SHA-256) to the value in
PQClean's crypto_kem/sntrup761/META.yml ("nistkat-sha256"), with the pure-Python
reference and with the numpy implementation."""

from __future__ import annotations

import hashlib

import pytest
from Crypto.Cipher import AES

from sshcore_kex_pq import _sntrup761, _sntrup761_np

NISTKAT_SHA256 = "afc42c3a5b10f4ef69654250097ebda9b9564570f4086744b24a6daf2bd1f89a"


class CtrDrbg:
    """NIST SP 800-90A AES-256 CTR_DRBG without derivation function, exactly as the
    rng.c of the NIST PQC KAT generator implements it (one update per request)."""

    def __init__(self, entropy: bytes) -> None:
        self.key, self.v = bytes(32), bytes(16)
        self._update(entropy)

    def _block(self) -> bytes:
        self.v = ((int.from_bytes(self.v, "big") + 1) % (1 << 128)).to_bytes(16, "big")
        return AES.new(self.key, AES.MODE_ECB).encrypt(self.v)

    def _update(self, provided: bytes | None) -> None:
        temp = b"".join(self._block() for _ in range(3))
        if provided is not None:
            temp = bytes(a ^ b for a, b in zip(temp, provided))
        self.key, self.v = temp[:32], temp[32:]

    def __call__(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += self._block()
        self._update(None)
        return out[:n]


@pytest.mark.parametrize("kem", [_sntrup761, _sntrup761_np], ids=["reference", "numpy"])
def test_nist_kat_count_0_matches_pqclean(kem):
    seed = CtrDrbg(bytes(range(48)))(48)
    rng = CtrDrbg(seed)
    pk, sk = kem.keypair(rng)
    ct, ss = kem.encapsulate(pk, rng)
    assert kem.decapsulate(ct, sk) == ss
    text = "".join(f"{name} = {value.hex().upper()}\n" for name, value in
                   (("seed", seed), ("pk", pk), ("sk", sk), ("ct", ct), ("ss", ss)))
    kat = "count = 0\n" + text
    assert hashlib.sha256(kat.encode()).hexdigest() == NISTKAT_SHA256
