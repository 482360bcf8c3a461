"""Scenario 3: handshakes per second (connect + curve25519 key exchange + ed25519 auth +
exec + close), one after another and all at once."""

from __future__ import annotations

from .env import CIPHERS, DEFAULT_CIPHER, Env
from .table import Cell, Row, Target, find, ratio

SEQ = "sequential"
CONC = "concurrent"
SSHCORE_LOOP = "sshcore <-> sshcore, one event loop"
ASYNCSSH_LOOP = "asyncssh <-> asyncssh, one event loop"
SSHCORE_SSHD = "sshcore -> sshd"
ASYNCSSH_SSHD = "asyncssh -> sshd"
#: (label, client, server): None is the library's own server in the client's event loop
PAIRS = [(SSHCORE_LOOP, "sshcore", None), (ASYNCSSH_LOOP, "asyncssh", None),
         (SSHCORE_SSHD, "sshcore", "sshd"), (ASYNCSSH_SSHD, "asyncssh", "sshd")]
COMPARISONS = {SSHCORE_LOOP: [ASYNCSSH_LOOP], SSHCORE_SSHD: [ASYNCSSH_SSHD]}


def cells(env: Env, sequential: int, concurrent: int) -> list[Cell]:
    cipher, mac = CIPHERS[DEFAULT_CIPHER]
    todo = []
    for case, mode, count in ((SEQ, "seq", sequential), (CONC, "conc", concurrent)):
        for label, client, server in PAIRS:
            todo.append(Cell(case, label, "handshakes/s",
                             dict(op="handshake", lib=client, cipher=cipher, mac=mac, mode=mode,
                                  count=count, runs=1,
                                  port=None if server is None else env.port(server))))
    return todo


def targets(rows: list[Row]) -> list[Target]:
    return [Target(f"handshakes {case}: {ours} vs {peer}",
                   ratio(find(rows, case, ours), find(rows, case, peer)), 1.0)
            for case in (SEQ, CONC) for ours, peers in COMPARISONS.items() for peer in peers]
