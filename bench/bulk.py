"""Scenario 1: bulk channel throughput, up and down, per cipher (MB/s).

(The blocking front-end's bulk rows, beside paramiko, are in :mod:`bench.blocking`.)"""

from __future__ import annotations

from typing import Any

from .env import CIPHERS, Env
from .table import Cell, Row, Target, find, ratio

SSHCORE_SSHD = "sshcore -> sshd"
SSH_SERVE = "ssh -> sshcore serve"
SSHCORE_SERVE = "sshcore -> sshcore serve"
SSHCORE_OWN = "sshcore -> sshcore in-process"
ASYNCSSH_SSHD = "asyncssh -> sshd"
ASYNCSSH_OWN = "asyncssh -> asyncssh in-process"
PARAMIKO_SSHD = "paramiko -> sshd"
SSH_SSHD = "ssh -> sshd"

#: (label, client, server): "serve" is `sshcore serve` (commands as subprocesses), a
#: library name its in-process server of bench.servers.
PAIRS = [
    (SSHCORE_SSHD, "sshcore", "sshd"),
    (SSH_SERVE, "ssh", "serve"),
    (SSHCORE_SERVE, "sshcore", "serve"),
    (SSHCORE_OWN, "sshcore", "sshcore"),
    (ASYNCSSH_SSHD, "asyncssh", "sshd"),
    (ASYNCSSH_OWN, "asyncssh", "asyncssh"),
    (PARAMIKO_SSHD, "paramiko", "sshd"),
    (SSH_SSHD, "ssh", "sshd"),
]

COMPARISONS = {
    SSHCORE_SSHD: [ASYNCSSH_SSHD, PARAMIKO_SSHD, SSH_SSHD],
    SSHCORE_OWN: [ASYNCSSH_OWN],
    SSH_SERVE: [SSH_SSHD],
}


def case_name(short: str, direction: str) -> str:
    return f"{short} {direction}"


def paramiko_lacks(cipher: str, mac: str | None) -> str | None:
    import paramiko

    t = paramiko.Transport
    missing = [a for a, have in ((cipher, t._preferred_ciphers), (mac, t._preferred_macs))
               if a and a not in have]
    return f"unsupported (paramiko {paramiko.__version__} lacks {missing[0]})" if missing else None


def cells(env: Env, size: int, ciphers: list[str], warmup: int = 0) -> list[Cell]:
    """``warmup``: bytes of an untimed transfer on each library client's connection
    first (`ssh` runs over a ControlMaster connection, warm after its first use)."""
    out = []
    mb = size / 1e6
    for short in ciphers:
        cipher, mac = CIPHERS[short]
        for direction in ("up", "down"):
            for label, client, server in PAIRS:
                port = env.port(server)
                job: Any
                if client == "ssh":
                    def job(port: int = port, d: str = direction, c: str = cipher,
                            m: str | None = mac) -> list[float]:
                        return [env.ssh_bulk(port, d, c, m, size, warmup)]
                else:
                    job = dict(op="bulk", lib=client, port=port, cipher=cipher, mac=mac,
                               size=size, runs=1, direction=direction, warmup=warmup)
                out.append(Cell(case_name(short, direction), label, "MB/s", job,
                                convert=lambda s: mb / s,
                                unsupported=paramiko_lacks(cipher, mac) if client == "paramiko" else None))
    return out


def targets(rows: list[Row], ciphers: list[str]) -> list[Target]:
    out = []
    for short in ciphers:
        for direction in ("up", "down"):
            case = case_name(short, direction)
            # issue #18 (with sshcore-openssl): 1.3x AsyncSSH, which uses OpenSSL too
            out.append(Target(f"bulk {case}: {SSHCORE_SSHD} vs {ASYNCSSH_SSHD}",
                              ratio(find(rows, case, SSHCORE_SSHD), find(rows, case, ASYNCSSH_SSHD)), 1.3))
            out.append(Target(f"bulk {case}: {SSHCORE_OWN} vs {ASYNCSSH_OWN}",
                              ratio(find(rows, case, SSHCORE_OWN), find(rows, case, ASYNCSSH_OWN)), 1.2))
            out.append(Target(f"bulk {case}: {SSHCORE_SSHD} vs {SSH_SSHD}",
                              ratio(find(rows, case, SSHCORE_SSHD), find(rows, case, SSH_SSHD)), 0.9))
    return out
