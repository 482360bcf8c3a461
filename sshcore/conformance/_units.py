"""The kit's checks on a descriptor's objects alone (no connection) and its runner for
known-answer vectors.

Vector format (a list; each item a ``dict`` of hex strings or bytes, or a callable that
receives the descriptor and raises :class:`AssertionError` on failure):

================  =============================================================================
family            keys
================  =============================================================================
cipher (stream)   ``key``, ``iv``, ``plaintext``, ``ciphertext``: encrypting ``plaintext``
                  from a fresh cipher gives ``ciphertext``; decrypting gives it back
cipher (AEAD)     ``key``, ``iv``, ``seq``, ``packet`` (clear, length field first), ``wire``:
                  ``encrypt_packet(seq, packet) == wire`` and back
mac               ``key``, ``seq``, ``data``, ``mac``: ``sign(seq, data) == mac``
compression       ``data`` and optionally ``compressed`` (first output of a fresh compressor)
host_key          ``public_blob``, ``data``, ``signature``, optional ``valid`` (default true)
kex, auth         callables only
================  =============================================================================
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

Vector = Mapping[str, Any] | Callable[[Any], None]


def _b(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return bytes.fromhex(value.replace(" ", "").replace("\n", ""))
    raise AssertionError(f"vector value {value!r} is neither bytes nor a hex string")


def _flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


# --------------------------------------------------------------------------- ciphers


def cipher_units(desc: Any) -> None:
    what = f"cipher {desc.name}"
    key, iv = os.urandom(desc.key_size), os.urandom(desc.iv_size)
    if desc.aead:
        enc = desc.factory(key=key, iv=iv, encrypt=True)
        dec = desc.factory(key=key, iv=iv, encrypt=False)
        for seq, size in ((0, 28), (1, 1020), (0xFFFFFFFF, 65532)):
            body = os.urandom(size)
            packet = len(body).to_bytes(4, "big") + body
            wire = bytes(enc.encrypt_packet(seq, packet))
            assert len(wire) == len(packet) + desc.tag_size, (
                f"{what}: encrypt_packet returned {len(wire)} bytes for a {len(packet)}-byte "
                f"packet; expected packet + tag_size ({desc.tag_size})")
            assert dec.decrypt_length(seq, memoryview(wire)[:4]) == len(body), (
                f"{what}: decrypt_length does not give back the packet length")
            got = dec.decrypt_packet(seq, memoryview(wire)[:4], memoryview(wire)[4:])
            assert got is not None and bytes(got) == body, \
                f"{what}: decrypt_packet(encrypt_packet(p)) != p (seq {seq})"
        tamper_enc = desc.factory(key=key, iv=iv, encrypt=True)
        tamper_dec = desc.factory(key=key, iv=iv, encrypt=False)
        packet = (60).to_bytes(4, "big") + os.urandom(60)
        wire = bytes(tamper_enc.encrypt_packet(7, packet))
        for index, part in ((10, "ciphertext"), (len(wire) - 1, "tag")):
            bad = _flip(wire, index)
            assert tamper_dec.decrypt_packet(7, bad[:4], bad[4:]) is None, (
                f"{what}: a packet with a flipped {part} bit was accepted "
                f"(decrypt_packet must return None)")
        return
    enc = desc.factory(key=key, iv=iv, encrypt=True)
    dec = desc.factory(key=key, iv=iv, encrypt=False)
    block = max(desc.block_size, 1)
    whole = os.urandom(block * 64)
    # A stream cipher keeps state: two calls must equal one.
    one = desc.factory(key=key, iv=iv, encrypt=True)
    c1 = bytes(enc.encrypt(memoryview(whole)[:block * 16])) + bytes(enc.encrypt(whole[block * 16:]))
    c2 = bytes(one.encrypt(whole))
    assert c1 == c2, f"{what}: encrypting in two calls differs from one call (state not kept)"
    assert c1 != whole, f"{what}: encryption returned the plaintext"
    assert len(c1) == len(whole), f"{what}: ciphertext length {len(c1)} != {len(whole)}"
    back = bytes(dec.decrypt(c1[:block])) + bytes(dec.decrypt(memoryview(c1)[block:]))
    assert back == whole, f"{what}: decrypt(encrypt(p)) != p"
    other = desc.factory(key=_flip(key, 0), iv=iv, encrypt=True)
    assert bytes(other.encrypt(whole)) != c2, f"{what}: the key does not change the output"


def cipher_vector(desc: Any, v: Mapping[str, Any]) -> None:
    what = f"cipher {desc.name} vector"
    key, iv = _b(v["key"]), _b(v["iv"])
    if desc.aead:
        seq, packet, wire = int(v["seq"]), _b(v["packet"]), _b(v["wire"])
        got = bytes(desc.factory(key=key, iv=iv, encrypt=True).encrypt_packet(seq, packet))
        assert got == wire, f"{what}: encrypt_packet gave {got.hex()}, expected {wire.hex()}"
        back = desc.factory(key=key, iv=iv, encrypt=False).decrypt_packet(seq, wire[:4], wire[4:])
        assert back is not None and bytes(back) == packet[4:], f"{what}: decrypt_packet failed"
        return
    pt, ct = _b(v["plaintext"]), _b(v["ciphertext"])
    got = bytes(desc.factory(key=key, iv=iv, encrypt=True).encrypt(pt))
    assert got == ct, f"{what}: encrypt gave {got.hex()}, expected {ct.hex()}"
    back = bytes(desc.factory(key=key, iv=iv, encrypt=False).decrypt(ct))
    assert back == pt, f"{what}: decrypt gave {back.hex()}, expected {pt.hex()}"


# --------------------------------------------------------------------------- MACs


def mac_units(desc: Any) -> None:
    what = f"MAC {desc.name}"
    key = os.urandom(desc.key_size)
    mac = desc.factory(key=key)
    for seq, size in ((0, 0), (3, 100), (0xFFFFFFFF, 35000)):
        data = os.urandom(size)
        tag = bytes(mac.sign(seq, memoryview(data)))
        assert len(tag) == desc.digest_size, \
            f"{what}: sign returned {len(tag)} bytes; digest_size says {desc.digest_size}"
        assert mac.verify(seq, data, tag), f"{what}: verify rejects its own tag (seq {seq})"
        assert bytes(mac.sign(seq, data)) == tag, f"{what}: sign is not deterministic"
        assert not mac.verify(seq, data, _flip(tag, 0)), f"{what}: a flipped tag bit verifies"
        assert not mac.verify((seq + 1) & 0xFFFFFFFF, data, tag), \
            f"{what}: the tag does not depend on the sequence number"
        if data:
            assert not mac.verify(seq, _flip(data, len(data) // 2), tag), \
                f"{what}: a flipped data bit verifies"
    other = desc.factory(key=_flip(key, 0) if key else b"\x01")
    data = os.urandom(64)
    assert bytes(other.sign(1, data)) != bytes(mac.sign(1, data)), \
        f"{what}: the key does not change the tag"


def mac_vector(desc: Any, v: Mapping[str, Any]) -> None:
    got = bytes(desc.factory(key=_b(v["key"])).sign(int(v["seq"]), _b(v["data"])))
    assert got == _b(v["mac"]), \
        f"MAC {desc.name} vector: sign gave {got.hex()}, expected {_b(v['mac']).hex()}"


# --------------------------------------------------------------------------- compression


def compression_units(desc: Any) -> None:
    what = f"compression {desc.name}"
    comp, decomp = desc.compressor(), desc.decompressor()
    messages = [b"", os.urandom(1000), b"A" * 100_000, b"hello " * 3000, os.urandom(30_000)]
    for msg in messages:
        packed = bytes(comp.compress(msg))
        got = bytes(decomp.decompress(packed, 256 * 1024))
        assert got == msg, f"{what}: decompress(compress(m)) != m for a {len(msg)}-byte message"
    bomb = desc.compressor().compress(b"\x00" * 200_000)
    try:
        desc.decompressor().decompress(bytes(bomb), 1024)
    except Exception:  # noqa: BLE001 - any refusal will do; the kernel reports it
        pass
    else:
        raise AssertionError(f"{what}: decompress ignored max_length (1024 < 200000)")


def compression_vector(desc: Any, v: Mapping[str, Any]) -> None:
    data = _b(v["data"])
    packed = bytes(desc.compressor().compress(data))
    if "compressed" in v:
        assert packed == _b(v["compressed"]), \
            f"compression {desc.name} vector: compress gave {packed.hex()}"
    assert bytes(desc.decompressor().decompress(packed, 1 << 20)) == data, \
        f"compression {desc.name} vector: round trip failed"


# --------------------------------------------------------------------------- host keys


def host_key_units(desc: Any, key: Any) -> None:
    what = f"host key algorithm {desc.name}"
    assert desc.name in key.sig_algorithms(), \
        f"{what}: the key's sig_algorithms() {list(key.sig_algorithms())} lack it"
    pub = desc.decode(key.public_blob)
    assert pub.public_blob == key.public_blob, f"{what}: decode(blob).public_blob != blob"
    data = os.urandom(64)
    sig = key.sign(data, desc.name)
    assert pub.verify(data, sig, desc.name), f"{what}: a signature does not verify"
    assert not pub.verify(_flip(data, 5), sig, desc.name), f"{what}: verifies changed data"
    assert not pub.verify(data, _flip(sig, len(sig) - 1), desc.name), \
        f"{what}: a signature with a flipped bit verifies"
    for garbage in (b"", sig[:len(sig) // 2], b"\x00\x00\x00\x05hello"):
        try:
            ok = pub.verify(data, garbage, desc.name)
        except Exception as exc:  # noqa: BLE001
            raise AssertionError(f"{what}: verify raised {exc!r} on a malformed signature; "
                                 f"it must return False") from exc
        assert not ok, f"{what}: a malformed signature verifies"


def host_key_vector(desc: Any, v: Mapping[str, Any]) -> None:
    pub = desc.decode(_b(v["public_blob"]))
    ok = pub.verify(_b(v["data"]), _b(v["signature"]), desc.name)
    assert ok == bool(v.get("valid", True)), \
        f"host key algorithm {desc.name} vector: verify returned {ok}"


VECTOR_RUNNERS: dict[str, Callable[[Any, Mapping[str, Any]], None]] = {
    "cipher": cipher_vector, "mac": mac_vector, "compression": compression_vector,
    "host_key": host_key_vector}


def run_vectors(family: str, desc: Any, vectors: Iterable[Vector] | None) -> int:
    """Run known-answer vectors against ``desc``; returns how many ran."""
    count = 0
    for i, v in enumerate(vectors or ()):
        try:
            if callable(v):
                v(desc)
            elif family in VECTOR_RUNNERS:
                VECTOR_RUNNERS[family](desc, v)
            else:
                raise AssertionError(f"{family} vectors must be callables")
        except AssertionError as exc:
            raise AssertionError(f"known-answer vector #{i}: {exc}") from None
        count += 1
    return count
