"""Scenario "startup": what a user feels first, with default settings.

Whole processes, as a user starts them: ``sshcore algorithms``; ``sshcore run HOST true``
beside an AsyncSSH script doing the same connect and ``run('true')`` and OpenSSH's
``ssh HOST true``, with each side's default key exchange (sntrup761x25519 for sshcore
against OpenSSH 9.2's sshd, whatever AsyncSSH picks for itself) and again with
curve25519 forced; in-process sequential connects with default settings (the
interpreter already warm); and, in a fresh interpreter, the first registry build and
sntrup761's key pair plus decapsulation, the client's share of OpenSSH 9's default
key exchange.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from .env import USER, Env
from .table import Cell, Row, Target, find, ratio

ALGS = "sshcore algorithms"
RUN_DEFAULT = "run HOST true, default settings"
RUN_CURVE = "run HOST true, curve25519-sha256"
CONNECT = "in-process connect + exec, default settings"
SNTRUP = "sntrup761 key pair + decapsulation"
REGISTRY = "first registry build in a process"
SSHCORE, ASYNCSSH, OPENSSH = "sshcore", "asyncssh", "OpenSSH ssh"
COMPARISONS = {SSHCORE: [ASYNCSSH, OPENSSH]}
CURVE = "curve25519-sha256"

ASYNCSSH_SCRIPT = textwrap.dedent("""
    import asyncio, sys, asyncssh
    async def main(port, key, kh, kex):
        kw = {"kex_algs": [kex]} if kex else {}
        async with asyncssh.connect("127.0.0.1", int(port), username=sys.argv[5],
                                    client_keys=[key], known_hosts=kh, agent_path=None,
                                    config=None, **kw) as conn:
            r = await conn.run("true")
            assert r.exit_status == 0, r
    asyncio.run(main(*sys.argv[1:5]))
""")

SNTRUP_CODE = textwrap.dedent("""
    import time
    from sshcore_kex_pq import _sntrup761 as kem
    import sshcore_kex_pq._hybrid as hybrid
    ops = hybrid._SNTRUP761
    pk, sk = ops.keypair()                       # warm: imports and tables
    secret, ct = ops.encapsulate(pk)
    best = []
    for _ in range(5):
        t0 = time.perf_counter()
        pk, sk = ops.keypair()
        t1 = time.perf_counter()
        secret, ct = ops.encapsulate(pk)
        t2 = time.perf_counter()
        assert ops.decapsulate(ct, sk) == secret
        t3 = time.perf_counter()
        best.append((t1 - t0) + (t3 - t2))
    print(sorted(best)[len(best) // 2] * 1000)
""")

REGISTRY_CODE = textwrap.dedent("""
    import time
    t0 = time.perf_counter()
    from sshcore.registry import build_registry
    build_registry()
    print((time.perf_counter() - t0) * 1000)
""")


#: The timed processes run as a user's would: with the installed modules' bytecode cached
#: (a development shell's PYTHONDONTWRITEBYTECODE would make every start compile them).
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _compile_installed() -> None:
    """Write the bytecode of sshcore, its plugins and the peers, as pip does at install."""
    code = ("import compileall, importlib, os, sys\n"
            "for name in ('sshcore', 'sshcore_auth', 'sshcore_ciphers', 'sshcore_compression',"
            " 'sshcore_kex_dh', 'sshcore_kex_ecdh', 'sshcore_kex_pq', 'sshcore_keys',"
            " 'sshcore_macs', 'sshcore_sftp', 'sshcore_openssl', 'asyncssh'):\n"
            "    try:\n        m = importlib.import_module(name)\n"
            "    except ImportError:\n        continue\n"
            "    compileall.compile_dir(os.path.dirname(m.__file__), quiet=1)\n")
    subprocess.run([sys.executable, "-c", code], env=_ENV, capture_output=True, timeout=600)


def _timed(args: list[str], reps: int = 1) -> list[float]:
    """Seconds for each of ``reps`` runs of a whole process (which must succeed)."""
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        r = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=120,
                           env=_ENV)
        out.append(time.perf_counter() - t0)
        if r.returncode:
            raise RuntimeError(f"{args[:3]} failed ({r.returncode}): {r.stderr[-2000:]!r}")
    return out


def _python_figure(code: str) -> list[float]:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env=_ENV)
    if r.returncode:
        raise RuntimeError(r.stderr[-2000:])
    return [float(r.stdout.split()[-1])]


def _sshcore_cli() -> list[str]:
    script = Path(sys.executable).with_name("sshcore")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sshcore"]


def cells(env: Env, count: int) -> list[Cell]:
    _compile_installed()
    port = env.port("sshd")
    key, kh = str(env.dir / "user"), str(env.kh)
    script = env.dir / "asyncssh_run.py"
    script.write_text(ASYNCSSH_SCRIPT)
    sshcore_run = _sshcore_cli() + ["run", "-F", "none", "-p", str(port), "-i", key,
                                    "--known-hosts", kh, "-o", "BatchMode=yes", "-n"]
    ssh_run = ["ssh", "-F", "/dev/null", "-p", str(port), "-i", key, "-o",
               f"UserKnownHostsFile={kh}", "-o", "BatchMode=yes", "-o", "IdentityAgent=none",
               "-n"]
    todo = [Cell(ALGS, SSHCORE, "s", lambda: _timed(_sshcore_cli() + ["algorithms"]))]
    for case, kex in ((RUN_DEFAULT, None), (RUN_CURVE, CURVE)):
        kex_opt = ["-o", f"KexAlgorithms={kex}"] if kex else []
        todo += [
            Cell(case, SSHCORE, "s", lambda o=kex_opt: _timed(
                sshcore_run + o + [f"{USER}@127.0.0.1", "true"])),
            Cell(case, ASYNCSSH, "s", lambda k=kex: _timed(
                [sys.executable, str(script), str(port), key, kh, k or "", USER])),
            Cell(case, OPENSSH, "s", lambda o=kex_opt: _timed(
                ssh_run + o + [f"{USER}@127.0.0.1", "true"])),
        ]
    for lib in ("sshcore", "asyncssh"):
        # seconds per connect: the handshake worker's rate, inverted
        todo.append(Cell(CONNECT, lib, "s",
                         dict(op="handshake", lib=lib, cipher=None, mac=None, mode="seq",
                              count=count, runs=1, kex="default", port=port),
                         convert=lambda rate: 1.0 / rate))
    todo.append(Cell(SNTRUP, SSHCORE, "ms", lambda: _python_figure(SNTRUP_CODE)))
    todo.append(Cell(REGISTRY, SSHCORE, "ms", lambda: _python_figure(REGISTRY_CODE)))
    return todo


def targets(rows: list[Row]) -> list[Target]:
    def value(case: str) -> float | None:
        row = find(rows, case, SSHCORE)
        return None if row is None else row.value

    return [
        Target(f"{RUN_DEFAULT}: sshcore vs an AsyncSSH script (whole process)",
               ratio(find(rows, RUN_DEFAULT, SSHCORE), find(rows, RUN_DEFAULT, ASYNCSSH)), 1.0),
        Target(f"{ALGS}, whole process", value(ALGS), 0.15, "<=", " s"),
        Target(f"{CONNECT} to sshd: sshcore (sntrup761x25519) vs AsyncSSH's default",
               ratio(find(rows, CONNECT, SSHCORE), find(rows, CONNECT, ASYNCSSH)), 1 / 1.2),
        Target(SNTRUP, value(SNTRUP), 10.0, "<=", " ms"),
    ]
