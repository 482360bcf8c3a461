"""Scenario 5: many sessions on one connection, all at once, each downloading the same
amount (`head -c N /dev/zero`); total seconds."""

from __future__ import annotations

from .env import CIPHERS, DEFAULT_CIPHER, Env
from .table import Cell

CASE = "sessions on one connection"
SSHCORE_OWN = "sshcore -> sshcore in-process"
ASYNCSSH_OWN = "asyncssh -> asyncssh in-process"
SSHCORE_SSHD = "sshcore -> sshd"
ASYNCSSH_SSHD = "asyncssh -> sshd"
PAIRS = [(SSHCORE_OWN, "sshcore", "sshcore"), (ASYNCSSH_OWN, "asyncssh", "asyncssh"),
         (SSHCORE_SSHD, "sshcore", "sshd"), (ASYNCSSH_SSHD, "asyncssh", "sshd")]
COMPARISONS = {SSHCORE_OWN: [ASYNCSSH_OWN], SSHCORE_SSHD: [ASYNCSSH_SSHD]}


def cells(env: Env, sessions: int, size: int) -> list[Cell]:
    cipher, mac = CIPHERS[DEFAULT_CIPHER]
    todo = [Cell(CASE, label, "s", dict(op="sessions", lib=client, port=env.port(server),
                                        cipher=cipher, mac=mac, sessions=sessions, size=size,
                                        runs=1))
            for label, client, server in PAIRS]
    return todo
