"""Timing script (not a test): sntrup761 key pair, encapsulation and decapsulation with
the pure-Python reference and with the numpy implementation.

    .venv/bin/python plugins/kex_pq/tests/time_sntrup761.py [repeats]

Prints the best (minimum) wall-clock and CPU time of each operation over the repeats.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable


def best(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """(best wall-clock ms, best CPU ms) of ``fn()`` over ``repeats`` runs."""
    wall = cpu = float("inf")
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    return wall * 1e3, cpu * 1e3


def main() -> None:
    from sshcore_kex_pq import _sntrup761, _sntrup761_np
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    print(f"sntrup761, best of {repeats} (wall ms / CPU ms):")
    print(f"  {'':<10} {'key pair':>17} {'encapsulate':>17} {'decapsulate':>17} {'kp + dec':>9}")
    for name, mod, n in (("reference", _sntrup761, max(3, repeats // 5)), ("numpy", _sntrup761_np, repeats)):
        pk, sk = mod.keypair()
        ct, _ = mod.encapsulate(pk)
        kp = best(mod.keypair, n)
        enc = best(lambda: mod.encapsulate(pk), n)
        dec = best(lambda: mod.decapsulate(ct, sk), n)
        print(f"  {name:<10} " + " ".join(f"{w:7.2f} / {c:7.2f}" for w, c in (kp, enc, dec))
              + f" {kp[0] + dec[0]:9.2f}")


if __name__ == "__main__":
    main()
