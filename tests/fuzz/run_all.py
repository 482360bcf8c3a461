"""Run every fuzz target under atheris, one after the other, and print the figures.

    python tests/fuzz/run_all.py [--scale X] [--out DIR]

Each target gets its own run budget (``RUNS``, multiplied by ``--scale``), a corpus
directory under ``--out`` (kept, so a second run continues from the first) and a log.
The table at the end gives inputs executed and the outcome per target; a crash input
is left in ``--out`` as ``<target>-crash-*``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.fuzz.targets import TARGETS, load_seeds  # noqa: E402

#: inputs per target for --scale 1 (about a quarter of an hour on one core; 1.5 million)
RUNS = {"packet_reader": 300_000, "kexinit": 200_000, "transport": 200_000,
        "userauth_server": 100_000, "userauth_client": 100_000, "channels": 100_000,
        "private_key": 100_000, "public_key": 200_000, "authorized_keys": 100_000,
        "known_hosts": 100_000}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--out", default="fuzz-out")
    ap.add_argument("targets", nargs="*", default=sorted(TARGETS))
    args = ap.parse_args()
    out = Path(args.out)
    runner = Path(__file__).with_name("run_atheris.py")
    rows = []
    for name in args.targets:
        corpus = out / f"corpus-{name}"
        if not corpus.exists():
            corpus.mkdir(parents=True)
            for i, seed in enumerate(load_seeds(name)):
                (corpus / f"seed-{i}").write_bytes(seed)
        runs = int(RUNS.get(name, 100_000) * args.scale)
        log = out / f"{name}.log"
        start = time.monotonic()
        with log.open("w") as f:
            rc = subprocess.run([sys.executable, str(runner), name, f"-runs={runs}",
                                 f"-artifact_prefix={out}/{name}-", "-print_final_stats=1",
                                 str(corpus)], stdout=f, stderr=subprocess.STDOUT).returncode
        text = log.read_text(errors="replace")
        done = re.findall(r"^Done (\d+) runs", text, re.M)
        execs = re.findall(r"^stat::number_of_executed_units:\s*(\d+)", text, re.M)
        n = int(done[-1]) if done else int(execs[-1]) if execs else 0
        outcome = "ok" if rc == 0 else f"CRASH (rc {rc}, see {log})"
        rows.append((name, n, time.monotonic() - start, outcome))
        print(f"{name:<18} {n:>9} inputs {rows[-1][2]:7.1f} s  {outcome}", flush=True)
    total = sum(r[1] for r in rows)
    print(f"{'total':<18} {total:>9} inputs")
    return 0 if all(r[3] == "ok" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
