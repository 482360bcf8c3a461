"""Scenario: the blocking front-end, ``sshcore.blocking``, beside paramiko (issue 17).

All against the bench's sshd (ed25519 host key, the same cipher and MAC for every
client), in one run: handshakes per second (each library's default key exchange, then
both on curve25519-sha256; aes256-gcm), bulk MB/s up and down for aes128-ctr (with
hmac-sha2-256-etm) and aes256-gcm, and SFTP get and put of one file of the bulk size
(64 MiB by default) through sshd's internal-sftp.  sshcore's asyncio client runs beside
them for bulk and SFTP.  Targets: sshcore.blocking at least 1.5x paramiko everywhere,
and within 10% of the asyncio client (>= 0.9x) for bulk.
"""

from __future__ import annotations

from typing import Any

from .env import CIPHERS, DEFAULT_CIPHER, KEX, Env
from .table import Cell, Row, Target, find, ratio

BLOCKING = "sshcore.blocking -> sshd"
PARAMIKO = "paramiko -> sshd"
ASYNCIO = "sshcore -> sshd"
#: the clients' worker ``lib`` names
LIBS = {BLOCKING: "sshcore-blocking", PARAMIKO: "paramiko", ASYNCIO: "sshcore"}
HS_DEFAULT = "handshakes, default kex"
HS_CURVE = f"handshakes, {KEX}"
BULK_CIPHERS = ("aes128-ctr", "aes256-gcm")
COMPARISONS = {BLOCKING: [PARAMIKO, ASYNCIO]}


def bulk_case(short: str, direction: str) -> str:
    return f"bulk {short} {direction}"


def sftp_case(direction: str, size: int) -> str:
    return f"SFTP {direction} {size / 1048576:g} MiB"


def cells(env: Env, size: int, handshakes: int, warmup: int = 0) -> list[Cell]:
    """``warmup``: bytes of an untimed bulk transfer on each connection first."""
    port = env.port("sshd")
    out = []
    cipher, mac = CIPHERS[DEFAULT_CIPHER]
    for case, kex in ((HS_DEFAULT, "default"), (HS_CURVE, KEX)):
        for pair in (BLOCKING, PARAMIKO):
            out.append(Cell(case, pair, "handshakes/s",
                            dict(op="handshake", lib=LIBS[pair], port=port, cipher=cipher,
                                 mac=mac, kex=kex, count=handshakes, runs=1)))
    mb = size / 1e6
    for short in BULK_CIPHERS:
        cipher, mac = CIPHERS[short]
        for direction in ("up", "down"):
            for pair in (BLOCKING, PARAMIKO, ASYNCIO):
                out.append(Cell(bulk_case(short, direction), pair, "MB/s",
                                dict(op="bulk", lib=LIBS[pair], port=port, cipher=cipher,
                                     mac=mac, size=size, runs=1, direction=direction,
                                     warmup=warmup),
                                convert=lambda s: mb / s))
    source, sha = env.sftp_source(size)
    cipher, mac = CIPHERS["aes128-ctr"]
    for direction in ("get", "put"):
        for pair in (BLOCKING, PARAMIKO, ASYNCIO):
            out.append(Cell(sftp_case(direction, size), pair, "MB/s",
                            dict(op="sftp", lib=LIBS[pair], port=port, cipher=cipher, mac=mac,
                                 size=size, runs=1, direction=direction, sftp_source=source,
                                 sftp_sha256=sha),
                            convert=lambda s: mb / s))
    return out


def negotiated(env: Env) -> str:
    """Which key exchange and host key each client's defaults settle on with sshd."""
    cipher, mac = CIPHERS[DEFAULT_CIPHER]
    jobs: list[dict[str, Any]] = [dict(op="negotiated", lib=LIBS[pair], port=env.port("sshd"),
                                       cipher=cipher, mac=mac, kex="default")
                                  for pair in (BLOCKING, PARAMIKO)]
    found = env.worker_batch(jobs)
    return "; ".join(f"{pair.split()[0]}: kex {kex}, host key {hk}"
                     for pair, (kex, hk) in zip((BLOCKING, PARAMIKO), found))


def targets(rows: list[Row], size: int) -> list[Target]:
    cases = [HS_DEFAULT, HS_CURVE]
    cases += [bulk_case(s, d) for s in BULK_CIPHERS for d in ("up", "down")]
    cases += [sftp_case(d, size) for d in ("get", "put")]
    out = [Target(f"{case}: {BLOCKING} vs {PARAMIKO}",
                  ratio(find(rows, case, BLOCKING), find(rows, case, PARAMIKO)), 1.5)
           for case in cases]
    out += [Target(f"{case}: {BLOCKING} vs {ASYNCIO}",
                   ratio(find(rows, case, BLOCKING), find(rows, case, ASYNCIO)), 0.9)
            for case in cases if case.startswith("bulk ")]
    return out
