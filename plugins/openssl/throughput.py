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
    """(encrypt MiB/s, decrypt MiB/s) of ``total`` bytes in ``size``-byte payloads.

    The timed encryption drops each packet as the kernel does once it is written (keeping
    64 MiB would time page faults); an identical, untimed encryptor makes the packets
    that the timed decryption reads.
    """
    key, iv = os.urandom(desc.key_size), os.urandom(desc.iv_size)
    mkey = os.urandom(mac_desc.key_size if mac_desc else 0)
    pkt = _packet(size)
    n = total // size

    def sender():  # type: ignore[no-untyped-def]
        enc = desc.factory(key=key, iv=iv, encrypt=True)
        mac = mac_desc.factory(key=mkey) if mac_desc is not None else None
        for seq in range(n):
            if desc.aead:
                yield enc.encrypt_packet(seq, pkt)
            elif mac is None:
                yield enc.encrypt(pkt)
            else:
                ct = enc.encrypt(pkt)
                yield ct + mac.sign(seq, ct)

    wires = list(sender())
    dec = desc.factory(key=key, iv=iv, encrypt=False)
    vmac = mac_desc.factory(key=mkey) if mac_desc is not None else None
    t0 = time.perf_counter()
    for _ in sender():
        pass
    t1 = time.perf_counter()
    for seq, wire in enumerate(wires):
        view = memoryview(wire)
        if desc.aead:
            length = dec.decrypt_length(seq, view[:4])
            assert dec.decrypt_packet(seq, view[:4], view[4:]) is not None, length
        elif vmac is None:
            dec.decrypt(view)
        else:
            ct = view[:-mac_desc.digest_size]
            assert vmac.verify(seq, ct, view[-mac_desc.digest_size:])
            dec.decrypt(ct)
    t2 = time.perf_counter()
    mib = n * size / 2**20
    return mib / (t1 - t0), mib / (t2 - t1)


class CryptographyHMAC:
    """What an HMAC on ``cryptography`` would be, shaped as sshcore-macs' (for the figures)."""

    def __init__(self, key: bytes, size: int) -> None:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.hmac import HMAC

        self._base = HMAC(key, hashes.SHA256())
        self._size = size

    def sign(self, seq: int, data: bytes) -> bytes:
        h = self._base.copy()
        h.update(struct.pack(">I", seq))
        h.update(data)
        return h.finalize()[:self._size]


def hmac_compare(total: int, size: int) -> None:
    key = os.urandom(32)
    std = {d.name: d for d in mac_hooks.sshcore_macs()}["hmac-sha2-256"].factory(key=key)
    alt = CryptographyHMAC(key, 32)
    for length, count in ((size, total // size), (64, 100_000)):
        data = os.urandom(length)
        assert std.sign(7, data) == alt.sign(7, data) == std_hmac.new(
            key, struct.pack(">I", 7) + data, "sha256").digest()
        per = {}
        for label, mac in (("stdlib", std), ("cryptography", alt)) * 2:  # best of two
            t0 = time.perf_counter()
            for seq in range(count):
                mac.sign(seq, data)
            per[label] = min(per.get(label, 1e9), (time.perf_counter() - t0) / count * 1e6)
        print(f"{'hmac-sha2-256, ' + str(length) + '-byte packets':34} sshcore-macs (stdlib) "
              f"{per['stdlib']:7.2f} µs/pkt   cryptography {per['cryptography']:7.2f} µs/pkt")


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
        macs = [mac] if fast[name].aead else [mac, None]
        for m in macs:
            pe, pd = run(slow[name], m, total, args.packet)
            oe, od = run(fast[name], m, total, args.packet)
            label = name if m is mac else f"{name} (cipher alone)"
            print(f"{label:34} {pe:13.0f} /{pd:6.0f}       {oe:11.0f} /{od:6.0f}      "
                  f"x{(1 / pe + 1 / pd) / (1 / oe + 1 / od):.2f}")
    hmac_compare(total, args.packet)


if __name__ == "__main__":
    main()
