"""Every cipher of sshcore-openssl against sshcore-ciphers (pycryptodome), byte for byte:
same keys and IVs give the same wire bytes packet after packet, each decrypts the
other's, and a tampered packet is refused."""

from __future__ import annotations

import os
import struct

import pytest

from sshcore_ciphers import hooks as pycryptodome_hooks
from sshcore_openssl import hooks

OURS = {d.name: d for d in hooks.sshcore_ciphers()}
THEIRS = {d.name: d for d in pycryptodome_hooks.sshcore_ciphers()}
AEAD = sorted(n for n, d in OURS.items() if d.aead)
STREAM = sorted(n for n, d in OURS.items() if not d.aead)
#: payload sizes: tiny, around block and ChaCha20-block boundaries, bulk
SIZES = (1, 15, 16, 17, 59, 60, 63, 64, 65, 1000, 32763, 4)


def packet(n: int) -> bytes:
    body = bytes([4]) + os.urandom(n) + os.urandom(4)
    return struct.pack(">I", len(body)) + body


def pair(name: str, key: bytes, iv: bytes, encrypt: bool):
    return (OURS[name].factory(key=key, iv=iv, encrypt=encrypt),
            THEIRS[name].factory(key=key, iv=iv, encrypt=encrypt))


def keys_for(name: str, *, wrap_counter: bool = False) -> tuple[bytes, bytes]:
    d = OURS[name]
    iv = os.urandom(d.iv_size)
    if wrap_counter and d.iv_size:
        # a counter about to wrap: GCM's 64-bit invocation counter, CTR's 128-bit counter
        iv = iv[:4] + b"\xff" * (d.iv_size - 5) + b"\xfe"
    return os.urandom(d.key_size), iv


def test_same_names_and_negotiation_priorities_as_the_pycryptodome_plugin():
    for name, d in OURS.items():
        t = THEIRS[name]
        assert (d.key_size, d.iv_size, d.block_size, d.aead, d.tag_size, d.priority,
                d.enabled_by_default) == (t.key_size, t.iv_size, t.block_size, t.aead,
                                          t.tag_size, t.priority, t.enabled_by_default)
        assert d.implementation_priority > t.implementation_priority
    assert set(OURS) == {"aes128-ctr", "aes192-ctr", "aes256-ctr", "aes128-gcm@openssh.com",
                         "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"}


@pytest.mark.parametrize("wrap", [False, True])
@pytest.mark.parametrize("name", AEAD)
def test_aead_identical_wire_bytes_and_cross_decryption(name, wrap):
    key, iv = keys_for(name, wrap_counter=wrap)
    ours_enc, theirs_enc = pair(name, key, iv, True)
    ours_dec, theirs_dec = pair(name, key, iv, False)
    start = 2**32 - 3 if wrap else 0  # sequence numbers wrap at 2**32 in the kernel
    for i, n in enumerate(SIZES):
        seq = (start + i) & 0xFFFFFFFF
        pkt = packet(n)
        wire = ours_enc.encrypt_packet(seq, pkt)
        assert isinstance(wire, bytes)
        assert wire == theirs_enc.encrypt_packet(seq, pkt), (seq, n)
        assert len(wire) == len(pkt) + 16
        # decrypt with the other implementation, from views as the kernel passes them
        buf = bytearray(wire)
        view = memoryview(buf)
        assert ours_dec.decrypt_length(seq, view[:4]) == len(pkt) - 4
        assert theirs_dec.decrypt_length(seq, view[:4]) == len(pkt) - 4
        mine = ours_dec.decrypt_packet(seq, view[:4], view[4:])
        assert bytes(theirs_dec.decrypt_packet(seq, view[:4], view[4:])) == pkt[4:]
        assert bytes(mine) == pkt[4:]
        # a new object, not a view into the kernel's buffer
        assert not isinstance(mine, memoryview)
        buf[4:] = bytes(len(buf) - 4)
        assert bytes(mine) == pkt[4:]


@pytest.mark.parametrize("name", AEAD)
def test_theirs_encrypts_ours_decrypts(name):
    key, iv = keys_for(name)
    (_, theirs_enc), (ours_dec, _) = pair(name, key, iv, True), pair(name, key, iv, False)
    for seq, n in enumerate(SIZES):
        pkt = packet(n)
        wire = memoryview(theirs_enc.encrypt_packet(seq, pkt))
        assert ours_dec.decrypt_length(seq, wire[:4]) == len(pkt) - 4
        assert bytes(ours_dec.decrypt_packet(seq, wire[:4], wire[4:])) == pkt[4:]


@pytest.mark.parametrize("where", ["tag", "ciphertext", "header"])
@pytest.mark.parametrize("name", AEAD)
def test_aead_tampering_is_refused(name, where):
    key, iv = keys_for(name)
    (ours_enc, _), (ours_dec, theirs_dec) = pair(name, key, iv, True), pair(name, key, iv, False)
    pkt = packet(100)
    wire = bytearray(ours_enc.encrypt_packet(7, pkt))
    pos = {"tag": len(wire) - 1, "ciphertext": 10, "header": 2}[where]
    wire[pos] ^= 0x01
    view = memoryview(bytes(wire))
    assert ours_dec.decrypt_packet(7, view[:4], view[4:]) is None
    assert theirs_dec.decrypt_packet(7, view[:4], view[4:]) is None


@pytest.mark.parametrize("name", AEAD)
def test_aead_body_shorter_than_a_tag_is_refused(name):
    key, iv = keys_for(name)
    dec = OURS[name].factory(key=key, iv=iv, encrypt=False)
    for body in (b"", b"short", bytes(15)):
        assert dec.decrypt_packet(0, memoryview(b"\0\0\0\x10"), memoryview(body)) is None


@pytest.mark.parametrize("name", AEAD)
def test_aead_wrong_sequence_number_is_refused(name):
    key, iv = keys_for(name)
    ours_enc, ours_dec = OURS[name].factory(key=key, iv=iv, encrypt=True), \
        OURS[name].factory(key=key, iv=iv, encrypt=False)
    wire = memoryview(ours_enc.encrypt_packet(1, packet(50)))
    if name.startswith("chacha"):  # the nonce is the sequence number
        assert ours_dec.decrypt_packet(2, wire[:4], wire[4:]) is None
    else:  # GCM: the invocation counter, which a skipped packet leaves behind
        ours_dec.decrypt_packet(0, wire[:4], wire[4:])  # counter 0: wrong, refused
        assert ours_dec.decrypt_packet(1, wire[:4], wire[4:]) is None


@pytest.mark.parametrize("wrap", [False, True])
@pytest.mark.parametrize("name", STREAM)
def test_ctr_identical_stream_across_calls(name, wrap):
    key, iv = keys_for(name, wrap_counter=wrap)
    ours_enc, theirs_enc = pair(name, key, iv, True)
    ours_dec, theirs_dec = pair(name, key, iv, False)
    for n in (16, 32, 48, 16, 32768, 64, 4096):
        data = os.urandom(n)
        ct = ours_enc.encrypt(memoryview(data))
        assert isinstance(ct, bytes) and ct != data
        assert ct == bytes(theirs_enc.encrypt(data))
        buf = bytearray(ct)
        clear = ours_dec.decrypt(memoryview(buf))
        assert bytes(theirs_dec.decrypt(memoryview(buf))) == data
        buf[:] = bytes(n)  # the result does not alias the input buffer
        assert clear == data


def test_ctr_nist_sp800_38a_f55():
    # NIST SP 800-38A, F.5.5 CTR-AES256.Encrypt, fed in two calls (state carries over)
    key = bytes.fromhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
    ctr = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
    pt = bytes.fromhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51")
    ct = bytes.fromhex("601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5")
    c = OURS["aes256-ctr"].factory(key=key, iv=ctr, encrypt=True)
    assert c.encrypt(pt[:16]) + c.encrypt(pt[16:]) == ct


def test_chacha_without_reset_nonce_gives_the_same_bytes():
    """cryptography < 43 has no ``reset_nonce``: a context per packet, the same output."""
    name = "chacha20-poly1305@openssh.com"
    key = os.urandom(64)
    fast_enc, fast_dec = pair(name, key, b"", True)[0], pair(name, key, b"", False)[0]
    slow_enc, slow_dec = pair(name, key, b"", True)[0], pair(name, key, b"", False)[0]
    slow_enc._main = slow_enc._header = slow_dec._main = slow_dec._header = None
    for seq, n in enumerate(SIZES):
        pkt = packet(n)
        wire = slow_enc.encrypt_packet(seq, pkt)
        assert wire == fast_enc.encrypt_packet(seq, pkt)
        view = memoryview(wire)
        assert slow_dec.decrypt_length(seq, view[:4]) == len(pkt) - 4
        assert bytes(slow_dec.decrypt_packet(seq, view[:4], view[4:])) == pkt[4:]
        assert bytes(fast_dec.decrypt_packet(seq, view[:4], view[4:])) == pkt[4:]


def test_tags_are_checked_by_the_library_or_in_constant_time():
    """No tag is compared with ``==``: Poly1305.verify and AESGCM.decrypt check them."""
    import inspect

    from sshcore_openssl import _ciphers

    for fn in (_ciphers.ChaChaPoly.decrypt_packet, _ciphers.AESGCM.decrypt_packet):
        src = inspect.getsource(fn)
        assert ".verify(" in src or ".decrypt(" in src, fn.__qualname__
        assert " == " not in src and "!=" not in src, fn.__qualname__
