"""Scenario 4: many idle authenticated connections to one server process.

For each library a fresh server process (bench.servers) and a driver process (the same
library's client, bench.workers ``scale``) that opens the connections in batches.  The
server's RSS comes from /proc: memory per connection is (RSS after - RSS before) /
connections, "before" being with two warm-up connections already open, so that imports
and first-use allocations are not charged to the connections.  While they sit idle, the
server's CPU time over a window and its own count of pending timers and tasks show
whether anything wakes per connection.
"""

from __future__ import annotations

import statistics
import time

from .env import Env, cpu_seconds, rss_kib, stop
from .table import Row, Target, find

MEMORY = "KiB per idle connection"
OPEN = "seconds to open them"
TIMERS = "pending timers per idle connection"
TASKS = "asyncio tasks per idle connection"
CPU = "CPU while idle"
SSHCORE = "sshcore server"
ASYNCSSH = "asyncssh server"
COMPARISONS = {SSHCORE: [ASYNCSSH]}
WARM = 2


def one_run(env: Env, lib: str, count: int, batch: int, idle: float) -> dict[str, float]:
    server = env.extra_server(lib)
    try:
        driver = env.spawn_worker("scale", lib=lib, port=server.port, count=count + WARM,
                                  batch=batch)
    except BaseException:
        server.close()
        raise
    assert driver.stdin is not None and driver.stdout is not None

    def ask(line: str) -> float:
        driver.stdin.write(line + "\n")
        driver.stdin.flush()
        answer = driver.stdout.readline().split()
        if not answer or answer[0] != "opened":
            raise RuntimeError(f"scale driver ({lib}) failed: {answer!r}")
        return float(answer[1])

    try:
        ask(f"open {WARM}")
        time.sleep(0.2)
        rss0, stats0 = rss_kib(server.pid), server.stats()
        seconds = ask(f"open {count}")
        time.sleep(0.5)  # let the last replies and frees settle
        rss1, stats1 = rss_kib(server.pid), server.stats()
        cpu0 = cpu_seconds(server.pid)
        time.sleep(idle)
        cpu1 = cpu_seconds(server.pid)
        return {MEMORY: (rss1 - rss0) / count, OPEN: seconds,
                TIMERS: (stats1["timers"] - stats0["timers"]) / count,
                TASKS: (stats1["tasks"] - stats0["tasks"]) / count,
                CPU: 100 * (cpu1 - cpu0) / idle}
    finally:
        try:
            driver.stdin.write("close\n")
            driver.stdin.close()
        except OSError:
            pass  # the driver died: stop() below
        try:
            driver.wait(120)
        finally:
            stop(driver)
            env.procs.remove(driver)
            server.close()


UNITS = {MEMORY: "KiB/conn", OPEN: "s", TIMERS: "timers/conn", TASKS: "tasks/conn", CPU: "%"}


def run(env: Env, count: int, batch: int, idle: float, runs: int) -> list[Row]:
    results: dict[str, list[dict[str, float]]] = {SSHCORE: [], ASYNCSSH: []}
    for _ in range(runs):
        for label, lib in ((SSHCORE, "sshcore"), (ASYNCSSH, "asyncssh")):
            results[label].append(one_run(env, lib, count, batch, idle))
    return [Row("scale", case, label, UNITS[case],
                statistics.median(r[case] for r in results[label]), runs)
            for case in UNITS for label in results]


def targets(rows: list[Row]) -> list[Target]:
    def value(case: str) -> float | None:
        row = find(rows, case, SSHCORE)
        return None if row is None else row.value

    # 16 KiB: the performance issue's target 4 (was 50 before it).
    return [Target(f"scale: {SSHCORE} {MEMORY}", value(MEMORY), 16, "<=", " KiB"),
            Target(f"scale: {SSHCORE} {TIMERS} (none per connection)", value(TIMERS), 0.1, "<=", ""),
            Target(f"scale: {SSHCORE} {CPU}", value(CPU), 1.0, "<=", "%")]
