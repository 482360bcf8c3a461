"""Scenario 2: small messages over one session channel: 1-byte echo round trips per
second, and 1 KiB messages per second one way."""

from __future__ import annotations

from .env import CIPHERS, DEFAULT_CIPHER, Env
from .table import Cell, Row, Target, find, ratio

RTT = "1-byte echo round trips"
ONEWAY = "1 KiB messages one way"
SSHCORE_OWN = "sshcore -> sshcore in-process"
ASYNCSSH_OWN = "asyncssh -> asyncssh in-process"
SSHCORE_SSHD = "sshcore -> sshd"
ASYNCSSH_SSHD = "asyncssh -> sshd"
#: (label, client, server); against sshd the echo is `cat` and the sink `cat > /dev/null`
PAIRS = [(SSHCORE_OWN, "sshcore", "sshcore"), (ASYNCSSH_OWN, "asyncssh", "asyncssh"),
         (SSHCORE_SSHD, "sshcore", "sshd"), (ASYNCSSH_SSHD, "asyncssh", "sshd")]
COMPARISONS = {SSHCORE_OWN: [ASYNCSSH_OWN], SSHCORE_SSHD: [ASYNCSSH_SSHD]}


def cells(env: Env, count: int) -> list[Cell]:
    cipher, mac = CIPHERS[DEFAULT_CIPHER]
    todo = []
    for case, kind, unit in ((RTT, "rtt", "ops/s"), (ONEWAY, "oneway", "msgs/s")):
        for label, client, server in PAIRS:
            todo.append(Cell(case, label, unit,
                             dict(op="small", lib=client, port=env.port(server), cipher=cipher,
                                  mac=mac, kind=kind, count=count, runs=1)))
    return todo


def targets(rows: list[Row]) -> list[Target]:
    # 1 KiB messages: issue #18's 1.5x AsyncSSH; round trips: #7's 1.0x
    return [Target(f"small {case}: {ours} vs {peer}",
                   ratio(find(rows, case, ours), find(rows, case, peer)),
                   1.5 if case == ONEWAY else 1.0)
            for case in (RTT, ONEWAY) for ours, peers in COMPARISONS.items() for peer in peers]
