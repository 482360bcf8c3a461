"""Bulk throughput, pycryptodome plugins vs this plugin, in-process (not a test).

Encrypts (and MACs, for the non-AEAD ciphers, with the serving MAC plugin) 64 MiB in
32 KiB packets framed as the kernel frames them, then decrypts (and verifies) them, and
prints MiB/s for each cipher and implementation.  Also compares ``sshcore-macs``'
stdlib HMAC with ``cryptography``'s HMAC per packet.

    .venv/bin/python plugins/openssl/throughput.py [--mib 64] [--packet 32768]
"""

from __future__ import annotations

import argparse
import hmac as std_hmac
import os
import struct
import time

from sshcore_ciphers import hooks as pycryptodome_ciphers
from sshcore_macs import hooks as mac_hooks

from sshcore_openssl import hooks as openssl_hooks

CIPHERS = ["chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
           "aes128-ctr", "aes192-ctr", "aes256-ctr"]
MAC = "hmac-sha2-256-etm@openssh.com"


def _packet(size: int) -> bytes:
    body = bytes([4]) + os.urandom(size) + os.urandom(4)
    return struct.pack(">I", len(body)) + body


def run(desc, mac_desc, total: int, size: int) -> tuple[float, float]:
    """(encrypt MiB/s, decrypt MiB/s) of ``total`` bytes in ``size``-byte payloads."""
    key, iv = os.urandom(desc.key_size), os.urandom(desc.iv_size)
    enc = desc.factory(key=key, iv=iv, encrypt=True)
    dec = desc.factory(key=key, iv=iv, encrypt=False)
    mkey = os.urandom(mac_desc.key_size)
    smac, vmac = mac_desc.factory(key=mkey), mac_desc.factory(key=mkey)
    pkt = _packet(size)
    n = total // size
    wires = []
    t0 = time.perf_counter()
    for seq in range(n):
        if desc.aead:
            wires.append(enc.encrypt_packet(seq, pkt))
        else:
            ct = enc.encrypt(pkt)
            wires.append(ct + smac.sign(seq, ct))
    t1 = time.perf_counter()
    for seq, wire in enumerate(wires):
        view = memoryview(wire)
        if desc.aead:
            desc_len = dec.decrypt_length(seq, view[:4])
            assert dec.decrypt_packet(seq, view[:4], view[4:]) is not None, desc_len
        else:
            ct = view[:-mac_desc.digest_size]
            assert vmac.verify(seq, ct, view[-mac_desc.digest_size:])
            dec.decrypt(ct)
    t2 = time.perf_counter()
    mib = n * size / 2**20
    return mib / (t1 - t0), mib / (t2 - t1)


def hmac_compare(total: int, size: int) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.hmac import HMAC

    key, data = os.urandom(32), os.urandom(size)
    n = total // size
    std = {d.name: d for d in mac_hooks.sshcore_macs()}["hmac-sha2-256"].factory(key=key)
    t0 = time.perf_counter()
    for seq in range(n):
        std.sign(seq, data)
    t1 = time.perf_counter()
    base = HMAC(key, hashes.SHA256())
    for seq in range(n):
        h = base.copy()
        h.update(struct.pack(">I", seq))
        h.update(data)
        h.finalize()
    t2 = time.perf_counter()
    small = os.urandom(64)
    t3 = time.perf_counter()
    for seq in range(100_000):
        std.sign(seq, small)
    t4 = time.perf_counter()
    for seq in range(100_000):
        h = base.copy()
        h.update(struct.pack(">I", seq))
        h.update(small)
        h.finalize()
    t5 = time.perf_counter()
    mib = n * size / 2**20
    print(f"{'hmac-sha2-256, ' + str(size) + ' B':34} sshcore-macs (stdlib) {mib / (t1 - t0):8.0f} MiB/s"
          f"   cryptography {mib / (t2 - t1):8.0f} MiB/s")
    print(f"{'hmac-sha2-256, 64 B packets':34} sshcore-macs (stdlib) {(t4 - t3) * 10:8.2f} µs/pkt"
          f"   cryptography {(t5 - t4) * 10:8.2f} µs/pkt")
    assert std.sign(0, data) == std_hmac.new(key, struct.pack(">I", 0) + data, "sha256").digest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=64)
    ap.add_argument("--packet", type=int, default=32768)
    args = ap.parse_args()
    total = args.mib * 2**20
    slow = {d.name: d for d in pycryptodome_ciphers.sshcore_ciphers()}
    fast = {d.name: d for d in openssl_hooks.sshcore_ciphers()}
    mac = {d.name: d for d in mac_hooks.sshcore_macs()}[MAC]
    print(f"{args.mib} MiB in {args.packet}-byte packets; non-AEAD ciphers with {MAC}")
    print(f"{'cipher':34} {'pycryptodome enc/dec MiB/s':>28} {'openssl enc/dec MiB/s':>24}  speed-up")
    for name in CIPHERS:
        pe, pd = run(slow[name], mac, total, args.packet)
        oe, od = run(fast[name], mac, total, args.packet)
        print(f"{name:34} {pe:13.0f} /{pd:6.0f}       {oe:11.0f} /{od:6.0f}      "
              f"x{(oe + od) / (pe + pd):.2f}")
    hmac_compare(total, args.packet)


if __name__ == "__main__":
    main()
