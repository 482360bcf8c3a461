"""Cells to measure, the rows they become, ratios between rows, and the targets.

A :class:`Cell` is one (case, pair) of a scenario and the job that measures it: a
:mod:`bench.workers` spec, or a callable run here (OpenSSH's ``ssh``).  :func:`measure`
runs every cell ``runs`` times, interleaved (run 1 of every cell, then run 2, ...) so
that a burst of load from elsewhere spreads over the pairs instead of landing on one,
and keeps the median.  Nothing is hard-coded: a row's figure, every ratio and every
PASS/FAIL come from the values measured in this run.
"""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

#: Units where a smaller figure is better: their ratio is peer/sshcore, so that a ratio
#: above 1 always means sshcore is ahead.
LOWER_IS_BETTER = {"s", "ms", "KiB/conn"}


@dataclass
class Cell:
    case: str
    pair: str
    unit: str
    #: a worker spec (``op`` and its arguments), or a callable returning raw values
    job: dict[str, Any] | Callable[[], list[float]] | None
    #: raw worker value (seconds, ops/s ...) -> the printed figure
    convert: Callable[[float], float] = lambda v: v
    #: why there is no figure (the peer lacks the algorithm): printed instead of one
    unsupported: str | None = None
    values: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Row:
    scenario: str
    case: str
    pair: str
    unit: str
    value: float | None
    runs: int
    note: str | None = None


def measure(env: Any, cells: list[Cell], runs: int, batch: bool) -> None:
    """Fill each cell's values: ``runs`` rounds over all cells.  With ``batch`` (smoke
    mode) a round's worker jobs share one interpreter; otherwise each job gets its own,
    so that no measurement inherits another's heap or threads."""
    for _ in range(runs):
        live = [c for c in cells if c.job is not None and c.unsupported is None]
        jobs = [c for c in live if isinstance(c.job, dict)]
        if batch and jobs:
            results = env.worker_batch([c.job for c in jobs])
            for c, r in zip(jobs, results):
                c.values += [c.convert(v) for v in r]
        for c in live:
            if callable(c.job):
                c.values += [c.convert(v) for v in c.job()]
            elif not batch:
                c.values += [c.convert(v) for v in env.worker_batch([c.job])[0]]


def profile(env: Any, title: str, cells: list[Cell], top: int = 25,
            lib: str = "sshcore") -> None:
    """One more round of the ``lib`` client cells (sshcore's asyncio client by default),
    each under cProfile (never timed: the profiler slows them), and the merged top
    entries by own time."""
    import pstats

    jobs = [dict(c.job, profile=str(env.dir / f"profile-{i}.pstats"))
            for i, c in enumerate(cells)
            if isinstance(c.job, dict) and c.job.get("lib") == lib and c.unsupported is None]
    if not jobs:
        return
    env.worker_batch(jobs)
    stats = pstats.Stats(*(j["profile"] for j in jobs), stream=sys.stdout)
    print(f"\n### Profile: {title} ({lib} client side, {len(jobs)} job(s), by own time)\n")
    print("```")
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    print("```", flush=True)


def rows_of(scenario: str, cells: list[Cell]) -> list[Row]:
    return [Row(scenario, c.case, c.pair, c.unit,
                statistics.median(c.values) if c.values else None, len(c.values), c.unsupported)
            for c in cells]


def ratio(ours: Row | None, peer: Row | None) -> float | None:
    """sshcore/peer in "how much better" terms (peer/sshcore for time and memory)."""
    if ours is None or peer is None or not ours.value or not peer.value:
        return None
    if ours.unit in LOWER_IS_BETTER:
        return peer.value / ours.value
    return ours.value / peer.value


def find(rows: list[Row], case: str, pair: str) -> Row | None:
    return next((r for r in rows if r.case == case and r.pair == pair), None)


@dataclass(frozen=True)
class Target:
    """One of the issue's targets, checked against this run's figures."""

    name: str
    measured: float | None
    required: float
    #: ``>=`` (a ratio at least), ``<=`` (a figure at most)
    op: str = ">="
    what: str = "x"

    @property
    def verdict(self) -> str:
        if self.measured is None:
            return "FAIL (not measured)"
        ok = self.measured >= self.required if self.op == ">=" else self.measured <= self.required
        return "PASS" if ok else "FAIL"


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def print_rows(title: str, rows: list[Row], comparisons: dict[str, list[str]]) -> None:
    """One markdown table: case | pair | figure | unit | ratios to the named peers."""
    print(f"\n### {title}\n")
    print("| case | pair | figure | unit | sshcore/peer |")
    print("|---|---|---:|---|---|")
    for r in rows:
        value = r.note if r.value is None and r.note else fmt(r.value)
        ratios = []
        for peer in comparisons.get(r.pair, []):
            q = ratio(r, find(rows, r.case, peer))
            if q is not None:
                ratios.append(f"{q:.2f}x {peer}")
        print(f"| {r.case} | {r.pair} | {value} | {r.unit} | {'; '.join(ratios)} |", flush=True)


def print_spread(cells: list[Cell]) -> None:
    """Each cell's runs: min, median and max, and the spread (max - min) / median."""
    print("\n| case | pair | runs | min | median | max | spread |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for c in cells:
        if not c.values:
            continue
        lo, mid, hi = min(c.values), statistics.median(c.values), max(c.values)
        spread = f"{(hi - lo) / mid:.0%}" if mid else "-"
        print(f"| {c.case} | {c.pair} | {len(c.values)} | {fmt(lo)} | {fmt(mid)} | {fmt(hi)} "
              f"| {spread} |", flush=True)


def print_targets(targets: list[Target]) -> None:
    print("\n### Targets (issues #7, #17 and #18), from this run\n")
    print("| target | measured | required | verdict |")
    print("|---|---:|---:|---|")
    for t in targets:
        measured = "-" if t.measured is None else f"{t.measured:.3f}{t.what}"
        required = f"{t.op} {t.required:g}{t.what}"
        print(f"| {t.name} | {measured} | {required} | {t.verdict} |")
    passed = sum(t.verdict == "PASS" for t in targets)
    print(f"\n{passed} of {len(targets)} targets met.")
