"""The ciphers work, byte for byte the same, when pycryptodome's internals are missing.

``_primitives`` feature-detects three uses of pycryptodome internals at import (the C
cores, the GHASH core, the Poly1305 key hook).  Here the detection results are turned off
and every internal handle is replaced by one that fails the test when touched; the
public-API paths must then give exactly the fast paths' output, and the known answers.
"""

from __future__ import annotations

import os
import struct

import pytest
from cryptography.hazmat.primitives import poly1305
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM as RefGCM

from sshcore_ciphers import _modern, _primitives, hooks

DESCS = {d.name: d for d in hooks.sshcore_ciphers()}
FAST_PATH_CIPHERS = ["chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr",
                     "aes128-gcm@openssh.com", "aes256-gcm@openssh.com"]
PRIVATE = ["_GHASH_C", "_ffi", "_CTR", "_AES_START", "_AES_STOP", "_C20", "_POLY", "_GHASH_EXPAND",
           "_GHASH_DESTROY", "_GHASH_FN", "_CTR_ENC", "_FROM_BUFFER", "_NEWP", "create_string_buffer"]


class _Untouchable:
    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str):
        raise AssertionError(f"the public-API path used pycryptodome's {self._name}.{attr}")

    def __call__(self, *args, **kwargs):
        raise AssertionError(f"the public-API path called pycryptodome's {self._name}")


def _public_api_only(monkeypatch: pytest.MonkeyPatch, *, ghash: bool = False) -> None:
    """What the plugin does when the internals are not found (``ghash``: all but the
    GHASH core, the middle tier of AES-GCM)."""
    monkeypatch.setattr(_primitives, "RAW", False)
    monkeypatch.setattr(_primitives, "POLY_KEY_HOOK", False)
    if not ghash:
        monkeypatch.setattr(_primitives, "_GHASH", None)
    for name in PRIVATE:
        if ghash and name in ("_GHASH_C", "create_string_buffer"):
            continue
        monkeypatch.setattr(_primitives, name, _Untouchable(name), raising=False)


def packet(n: int) -> bytes:
    body = bytes([4]) + os.urandom(n) + os.urandom(4)
    return struct.pack(">I", len(body)) + body


def _traffic(name: str, key: bytes, iv: bytes, packets: list[bytes]) -> tuple[list[bytes], type]:
    """What one direction of ``name`` sends for ``packets`` (sequence numbers near 2**32 so
    that wrapping counters are exercised), and the class that did it."""
    d = DESCS[name]
    enc = d.factory(key=key, iv=iv, encrypt=True)
    if d.aead:
        return [bytes(enc.encrypt_packet((2**32 - 2 + i) % 2**32, p)) for i, p in enumerate(packets)], type(enc)
    return [bytes(enc.encrypt(p)) for p in packets], type(enc._cipher)


@pytest.mark.parametrize("ghash", [False, True], ids=["no-internals", "ghash-only"])
@pytest.mark.parametrize("name", FAST_PATH_CIPHERS)
def test_public_api_path_matches_fast_path_byte_for_byte(name, ghash, monkeypatch):
    d = DESCS[name]
    key = os.urandom(d.key_size)
    iv = os.urandom(4) + b"\xff" * 7 + b"\xfe" if d.iv_size == 12 else os.urandom(d.iv_size)
    packets = [packet(n) for n in (0, 11, 16, 17, 1000, 32763)]
    fast, fast_cls = _traffic(name, key, iv, packets)
    assert fast_cls.__module__.endswith("_primitives") or fast_cls.__name__.startswith("_Raw")

    _public_api_only(monkeypatch, ghash=ghash)
    public, public_cls = _traffic(name, key, iv, packets)
    assert public_cls is not fast_cls and not public_cls.__name__.startswith(("_Raw", "Raw"))
    assert public == fast

    dec = d.factory(key=key, iv=iv, encrypt=False)
    for i, (wire, pkt) in enumerate(zip(fast, packets)):
        if d.aead:
            seq = (2**32 - 2 + i) % 2**32
            assert dec.decrypt_length(seq, wire[:4]) == len(pkt) - 4
            assert dec.decrypt_packet(seq, wire[:4], wire[4:]) == pkt[4:]
        else:
            assert dec.decrypt(wire) == pkt
    if d.aead:  # a fresh receiver (GCM counts invocations): a flipped tag bit is refused
        bad = bytearray(fast[0])
        bad[-1] ^= 0x01
        dec = d.factory(key=key, iv=iv, encrypt=False)
        assert dec.decrypt_packet(2**32 - 2, bytes(bad[:4]), bytes(bad[4:])) is None


def test_public_api_aes128_ctr_nist_sp800_38a_f51(monkeypatch):
    _public_api_only(monkeypatch)
    key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    ctr = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
    pt = bytes.fromhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51")
    ct = bytes.fromhex("874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff")
    c = DESCS["aes128-ctr"].factory(key=key, iv=ctr, encrypt=True)
    assert c.encrypt(pt[:16]) + c.encrypt(pt[16:]) == ct


@pytest.mark.parametrize("klen", [16, 32])
def test_public_api_gcm_matches_reference(klen, monkeypatch):
    _public_api_only(monkeypatch)
    key, iv = os.urandom(klen), os.urandom(12)
    enc = _modern.AESGCM(key, iv, True)
    assert type(enc) is _modern._AESGCM
    counter = int.from_bytes(iv[4:], "big")
    for i, n in enumerate((11, 1000)):
        pkt = packet(n)
        nonce = iv[:4] + ((counter + i) % 2**64).to_bytes(8, "big")
        assert enc.encrypt_packet(i, pkt) == pkt[:4] + RefGCM(key).encrypt(nonce, pkt[4:], pkt[:4])


def _chacha(key: bytes, seq: int, counter: int, data: bytes) -> bytes:
    nonce = counter.to_bytes(8, "little") + seq.to_bytes(8, "big")
    return Cipher(algorithms.ChaCha20(key, nonce), mode=None).encryptor().update(data)


def test_public_api_chacha20_poly1305_matches_reference(monkeypatch):
    _public_api_only(monkeypatch)
    key = os.urandom(64)
    enc = _modern.ChaChaPoly(key, b"", True)
    assert type(enc) is _modern._ChaChaPoly
    for seq in (0, 7, 2**32 - 1):
        pkt = packet(90)
        enc_len, enc_body = _chacha(key[32:], seq, 0, pkt[:4]), _chacha(key[:32], seq, 1, pkt[4:])
        tag = poly1305.Poly1305.generate_tag(_chacha(key[:32], seq, 0, bytes(32)), enc_len + enc_body)
        assert enc.encrypt_packet(seq, pkt) == enc_len + enc_body + tag
