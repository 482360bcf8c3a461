"""Scenario 3: handshakes per second (connect + curve25519 key exchange + ed25519 auth +
exec + close), one after another and all at once."""

from __future__ import annotations

from .env import CIPHERS, DEFAULT_CIPHER, Env
from .table import Cell, Row, Target, find, ratio

SEQ = "sequential"
CONC = "concurrent"
#: OpenSSH 9's default key exchange, whose sntrup761 costs ~6 ms per client key pair with
#: numpy (~140 ms in the pure-Python fallback): the case a process pool (kex_executor) is for.
PQ_KEX = "sntrup761x25519-sha512@openssh.com"
PQ = "concurrent, sntrup761x25519"
SSHCORE_SSHD_POOL = "sshcore -> sshd, 2-process kex pool"
SSHCORE_LOOP = "sshcore <-> sshcore, one event loop"
ASYNCSSH_LOOP = "asyncssh <-> asyncssh, one event loop"
SSHCORE_SSHD = "sshcore -> sshd"
ASYNCSSH_SSHD = "asyncssh -> sshd"
#: (label, client, server): None is the library's own server in the client's event loop
PAIRS = [(SSHCORE_LOOP, "sshcore", None), (ASYNCSSH_LOOP, "asyncssh", None),
         (SSHCORE_SSHD, "sshcore", "sshd"), (ASYNCSSH_SSHD, "asyncssh", "sshd")]
COMPARISONS = {SSHCORE_LOOP: [ASYNCSSH_LOOP], SSHCORE_SSHD: [ASYNCSSH_SSHD],
               SSHCORE_SSHD_POOL: [SSHCORE_SSHD]}


def cells(env: Env, sequential: int, concurrent: int) -> list[Cell]:
    cipher, mac = CIPHERS[DEFAULT_CIPHER]
    todo = []
    for case, mode, count in ((SEQ, "seq", sequential), (CONC, "conc", concurrent)):
        for label, client, server in PAIRS:
            todo.append(Cell(case, label, "handshakes/s",
                             dict(op="handshake", lib=client, cipher=cipher, mac=mac, mode=mode,
                                  count=count, runs=1,
                                  port=None if server is None else env.port(server))))
    # The pool's speed-up on this machine: the same fan-out to sshd, inline and pooled
    # (AsyncSSH has no sntrup761 without liboqs, so sshcore only).
    for label, pool in ((SSHCORE_SSHD, 0), (SSHCORE_SSHD_POOL, 2)):
        todo.append(Cell(PQ, label, "handshakes/s",
                         dict(op="handshake", lib="sshcore", cipher=cipher, mac=mac, mode="conc",
                              count=max(2, concurrent // 5), runs=1, kex=PQ_KEX, pool=pool,
                              port=env.port("sshd"))))
    return todo


def targets(rows: list[Row]) -> list[Target]:
    return [Target(f"handshakes {case}: {ours} vs {peer}",
                   ratio(find(rows, case, ours), find(rows, case, peer)), 1.0)
            for case in (SEQ, CONC) for ours, peers in COMPARISONS.items() for peer in peers
            if ours != SSHCORE_SSHD_POOL]
