"""Known-answer and cross-implementation tests for every cipher of the plugin."""

from __future__ import annotations

import os
import struct

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
from cryptography.hazmat.primitives import poly1305
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM as RefGCM

from sshcore.registry import build_registry
from sshcore_ciphers import hooks

DESCS = {d.name: d for d in hooks.sshcore_ciphers()}


def make(name, key=None, iv=None, encrypt=True):
    d = DESCS[name]
    return d.factory(key=key or os.urandom(d.key_size), iv=iv or os.urandom(d.iv_size), encrypt=encrypt)


def test_aes128_ctr_nist_sp800_38a_f51():
    # NIST SP 800-38A, F.5.1 CTR-AES128.Encrypt, fed in two calls (state carries over)
    key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    ctr = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
    pt = bytes.fromhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
                       "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
    ct = bytes.fromhex("874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
                       "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee")
    c = make("aes128-ctr", key, ctr)
    assert c.encrypt(pt[:16]) + c.encrypt(pt[16:]) == ct


def test_aes128_cbc_nist_sp800_38a_f21():
    key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    iv = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
    pt = bytes.fromhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51")
    ct = bytes.fromhex("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2")
    c = make("aes128-cbc", key, iv)
    assert c.encrypt(pt[:16]) + c.encrypt(pt[16:]) == ct
    d = make("aes128-cbc", key, iv, encrypt=False)
    assert d.decrypt(ct) == pt


def packet(n):
    body = bytes([4]) + os.urandom(n) + os.urandom(4)
    return struct.pack(">I", len(body)) + body


@pytest.mark.parametrize("name,klen", [("aes128-gcm@openssh.com", 16), ("aes256-gcm@openssh.com", 32)])
def test_gcm_matches_reference_and_counts_invocations(name, klen):
    key, iv = os.urandom(klen), os.urandom(12)
    enc, dec = make(name, key, iv), make(name, key, iv, encrypt=False)
    ref = RefGCM(key)
    counter = int.from_bytes(iv[4:], "big")
    for i, n in enumerate((11, 27, 1000, 32763)):
        pkt = packet(n)
        wire = enc.encrypt_packet(i, pkt)
        nonce = iv[:4] + ((counter + i) & (2**64 - 1)).to_bytes(8, "big")
        assert wire == pkt[:4] + ref.encrypt(nonce, pkt[4:], pkt[:4])
        assert dec.decrypt_length(i, wire[:4]) == len(pkt) - 4
        assert dec.decrypt_packet(i, wire[:4], wire[4:]) == pkt[4:]
    bad = bytearray(enc.encrypt_packet(9, packet(40)))
    bad[10] ^= 0x01
    assert dec.decrypt_packet(9, bytes(bad[:4]), bytes(bad[4:])) is None


def _chacha(key, seq, counter, data):
    nonce = counter.to_bytes(8, "little") + seq.to_bytes(8, "big")
    return Cipher(algorithms.ChaCha20(key, nonce), mode=None).encryptor().update(data)


def test_chacha20_poly1305_openssh_construction():
    # OpenSSH PROTOCOL.chacha20poly1305, rebuilt from cryptography's ChaCha20 and Poly1305
    key = os.urandom(64)
    k_main, k_header = key[:32], key[32:]
    enc, dec = make("chacha20-poly1305@openssh.com", key), make("chacha20-poly1305@openssh.com", key)
    for seq in (0, 1, 7, 2**32 - 1):
        pkt = packet(100 + seq % 50)
        wire = enc.encrypt_packet(seq, pkt)
        enc_len = _chacha(k_header, seq, 0, pkt[:4])
        enc_body = _chacha(k_main, seq, 1, pkt[4:])
        poly_key = _chacha(k_main, seq, 0, bytes(32))
        tag = poly1305.Poly1305.generate_tag(poly_key, enc_len + enc_body)
        assert wire == enc_len + enc_body + tag
        assert dec.decrypt_length(seq, wire[:4]) == len(pkt) - 4
        assert dec.decrypt_packet(seq, wire[:4], wire[4:]) == pkt[4:]
        for pos in (0, 5, len(wire) - 1):
            bad = bytearray(wire)
            bad[pos] ^= 0x80
            assert dec.decrypt_packet(seq, bytes(bad[:4]), bytes(bad[4:])) is None


@pytest.mark.parametrize("name,klen", [("arcfour128", 16), ("arcfour256", 32)])
def test_arcfour_rfc4345_discards_1536_bytes(name, klen):
    key = os.urandom(klen)
    data = os.urandom(3000)
    ref = Cipher(ARC4(key), mode=None).encryptor()
    ref.update(bytes(1536))
    assert make(name, key).encrypt(data) == ref.update(data)


def test_arcfour_plain_does_not_discard():
    key = os.urandom(16)
    data = os.urandom(100)
    assert make("arcfour", key).encrypt(data) == Cipher(ARC4(key), mode=None).encryptor().update(data)


@pytest.mark.parametrize("name", sorted(DESCS))
def test_every_cipher_round_trips_across_calls(name):
    d = DESCS[name]
    key, iv = os.urandom(d.key_size), os.urandom(d.iv_size)
    enc, dec = d.factory(key=key, iv=iv, encrypt=True), d.factory(key=key, iv=iv, encrypt=False)
    for seq in range(5):
        if d.aead:
            pkt = packet(16 * seq + 11)
            wire = enc.encrypt_packet(seq, pkt)
            assert dec.decrypt_packet(seq, wire[:4], wire[4:]) == pkt[4:]
        else:
            data = os.urandom(d.block_size * (seq + 2))
            assert dec.decrypt(enc.encrypt(data)) == data


def test_registry_order_and_legacy_disabled():
    reg = build_registry(plugins=[hooks])
    defaults = reg.default_names("cipher")
    assert defaults[0] == "chacha20-poly1305@openssh.com"
    for legacy in ("aes128-cbc", "3des-cbc", "blowfish-cbc", "cast128-cbc", "arcfour"):
        assert legacy in reg.names("cipher") and legacy not in defaults


# ------------------------------------------------------ C-core fast path vs public API
from sshcore_ciphers import _modern, _primitives  # noqa: E402


def test_fast_path_is_in_use():
    """pycryptodome's internals are where the fast path expects them (from its lowest
    supported version on, tests/packaging proves); if this fails after an upgrade, the
    plugin still works (public API, test_public_api_fallback.py) but slower."""
    assert _primitives.RAW and _primitives.POLY_KEY_HOOK and _primitives._GHASH is not None
    assert isinstance(_modern.AESGCM(bytes(16), bytes(12), True), _modern._RawAESGCM)
    assert isinstance(_modern.ChaChaPoly(bytes(64), b"", True), _modern._RawChaChaPolyCipher)


@pytest.mark.parametrize("fast,slow,klen,ivlen", [
    (_modern._RawAESGCM, _modern._AESGCM, 32, 12),
    (_modern._RawAESGCM, _modern._AESGCM, 16, 12),
    (_modern._RawChaChaPolyCipher, _modern._ChaChaPoly, 64, 0),
])
def test_fast_and_public_api_ciphers_agree(fast, slow, klen, ivlen):
    key = os.urandom(klen)
    # an invocation counter about to wrap (GCM) exercises the 64-bit counter arithmetic
    iv = os.urandom(4) + b"\xff" * 7 + b"\xfe" if ivlen else b""
    enc_f, enc_s = fast(key, iv, True), slow(key, iv, True)
    dec_f, dec_s = fast(key, iv, False), slow(key, iv, False)
    for seq, n in enumerate((1, 15, 16, 17, 1000, 32763, 4)):
        pkt = packet(n)
        wire = enc_f.encrypt_packet(seq, pkt)
        assert wire == enc_s.encrypt_packet(seq, pkt)
        head, body = memoryview(wire)[:4], memoryview(wire)[4:]
        assert dec_f.decrypt_length(seq, head) == dec_s.decrypt_length(seq, bytes(head)) == len(pkt) - 4
        assert bytes(dec_f.decrypt_packet(seq, head, body)) == dec_s.decrypt_packet(seq, bytes(head), bytes(body)) == pkt[4:]
    bad = bytearray(enc_f.encrypt_packet(99, packet(64)))
    enc_s.encrypt_packet(99, packet(64))
    bad[9] ^= 0x80
    assert dec_f.decrypt_packet(99, memoryview(bad)[:4], memoryview(bad)[4:]) is None
    assert dec_s.decrypt_packet(99, bytes(bad[:4]), bytes(bad[4:])) is None


def test_fast_ctr_matches_public_api_across_calls():
    key, iv = os.urandom(16), b"\xff" * 15 + b"\xf0"  # the 128-bit counter carries
    fast = _primitives.RawCTR(key, iv)
    slow = _primitives.AES.new(key, _primitives.AES.MODE_CTR, nonce=b"", initial_value=iv)
    for n in (16, 48, 32768, 160):
        data = os.urandom(n)
        assert fast.encrypt(memoryview(data)) == slow.encrypt(data)
