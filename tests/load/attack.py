"""An internet-facing ``sshcore serve`` under attack: per-source penalties at work.

A password-guessing flood from many simulated sources (each its own 127.2.x.y address:
Linux routes all of 127/8 on lo), a connection flood from one source (127.3.0.1) and,
throughout, timed legitimate clients from other sources (127.1.0.x) logging in with a
key.  Figures: the legitimate clients' connect times (median, p95) idle (before and
after the attack) and attacked, and their ratio; how many of them failed; how many
guessing sources failed a password and were then refused at accept, and how many
guesses got through from a penalised source; the attack connections refused; the
attacker's achieved connection rate and CPU; the server's CPU per attack connection
and its RSS idle, at peak and after.

The attackers run in a separate process: guessers (``concurrency`` at a time) that,
like a bot, guess again at once after a failure until refused, then move to the next
source, and ``flood`` raw connections at a time from one source, each reading the
first line and closing.  By default nothing limits them but their own speed (on a
2-core machine, 1,000-3,500 connections a second, half a core or more: CPU a real
attacker would spend on its own machines).  ``--rate N`` caps the guessing
connections a second, ``--flood-rate N`` the flood's, and ``--attacker-nice N``
lowers the attacker's priority, to take its CPU out of the picture; the table states
them, and the achieved rate.

    python -m tests.load.attack          # CI size (what tests/load/test_attack.py runs)
    python -m tests.load.attack --full   # 1,000 guessing sources
    python -m tests.load.attack --sshd   # and the same against OpenSSH's sshd, beside it
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sshcore

from .scenarios import KEX, Identity, _summary
from .serve import ServeProcess

#: attack_s: how long the attackers keep at it (the timed clients run all along).
SIZES: dict[str, dict[str, Any]] = {
    "ci": {"sources": 24, "flood": 10, "concurrency": 8, "attack_s": 20, "duration": 35},
    # every source's first guess costs a scrypt check (~50 ms, one at a time): the full
    # run takes 15-20 minutes on a busy 2-core machine
    "full": {"sources": 1000, "flood": 10, "concurrency": 16, "attack_s": 900,
             "duration": 1200}}

#: The server's settings for the run: sshd 9.8's penalty defaults except authfail, set
#: above ``min`` so that one failed connection blocks a source (the default 5 s needs
#: four, which only multiplies the handshakes this shared machine must run), and long
#: enough (30 s) that a source is still blocked when the guessers come back to it;
#: PerSourceMaxStartups 3 so that one source cannot fill MaxStartups.
PENALTY_S = 30
SERVER_ARGS = ["--per-source-penalties", f"authfail:{PENALTY_S}s", "--per-source-max-startups", "3",
               "--max-startups", "100:30:200"]


def _source(i: int) -> str:
    return f"127.2.{i // 250}.{i % 250 + 1}"


async def _legit_once(port: int, ident: Identity, source: str) -> float:
    start = time.monotonic()
    async with sshcore.connect("127.0.0.1", port, username=getpass.getuser(), client_keys=[ident.key],
                               known_hosts=str(ident.known_hosts), agent_path=None, config=None,
                               kex_algs=[KEX], keepalive_interval=None, connect_timeout=60,
                               local_addr=(source, 0)):
        pass
    return time.monotonic() - start


async def _guess(port: int, source: str) -> str:
    """One password guess from ``source``: "refused" (closed at accept), "failed"."""
    try:
        async with sshcore.connect("127.0.0.1", port, username="admin", password="123456",
                                   client_keys=[], known_hosts=None, agent_path=None, config=None,
                                   kex_algs=[KEX], preferred_auth="password", keepalive_interval=None,
                                   connect_timeout=60, local_addr=(source, 0)):
            return "logged-in"
    except sshcore.ClosedBeforeBannerError:
        return "refused"
    except (sshcore.SSHError, OSError):
        return "failed"


async def _flood_one(port: int) -> str:
    """A raw connection from the flooding source: "refused" (no banner), "limited"
    (told Exceeded MaxStartups) or "served" (got a banner; closes without a word)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.3.0.1", 0))
    except OSError:
        return "error"
    try:
        line = await asyncio.wait_for(reader.readline(), 10)
    except (OSError, asyncio.TimeoutError):
        line = b""
    finally:
        writer.transport.abort()
    if not line:
        return "refused"
    return "limited" if line.startswith(b"Exceeded MaxStartups") else "served"


async def attackers(port: int, size: dict[str, Any], duration: float) -> dict[str, Any]:
    """The attack, in its own process (so that its CPU does not slow the timed clients'
    event loop): guessers cycling over every source until ``duration`` ends, and the
    flood from one source.  ``size["rate"]``: at most that many guessing connections a
    second (0: as fast as the guessers go); ``size["nice"]``: this process's niceness."""
    import os

    if size.get("nice"):
        os.nice(int(size["nice"]))
    cpu0, t0 = time.process_time(), time.monotonic()
    stop = time.monotonic() + duration
    rate = float(size.get("rate") or 0)
    slot = [time.monotonic()]

    async def pace() -> None:
        if rate:
            slot[0] = max(slot[0] + 1 / rate, time.monotonic())
            await asyncio.sleep(max(0.0, slot[0] - time.monotonic()))
    outcomes: dict[str, int] = {}
    refused_sources: set[str] = set()
    first_refusal: dict[str, int] = {}
    tries: dict[str, int] = {}
    queue = list(range(size["sources"]))

    failed_at: dict[str, float] = {}
    misses: dict[str, int] = {}
    busy: set[str] = set()
    window = 0.8 * float(size.get("penalty_s", PENALTY_S))

    async def guesser() -> None:
        """Like a bot: a source guesses again at once after a failure, until it is
        refused (or has tried three times); then the next source in turn."""
        while time.monotonic() < stop:
            i = queue.pop(0)
            queue.append(i)
            src = _source(i)
            if src in busy:  # another guesser is at it: one connection a source at a time
                await asyncio.sleep(0)
                continue
            busy.add(src)
            try:
                await bot(src)
            finally:
                busy.discard(src)

    async def bot(src: str) -> None:
        for _ in range(3):
            if time.monotonic() >= stop:
                break
            await pace()
            result = await _guess(port, src)
            outcomes[result] = outcomes.get(result, 0) + 1
            tries[src] = tries.get(src, 0) + 1
            now = time.monotonic()
            if result == "failed":
                if now - failed_at.get(src, -1e9) < window:
                    # guessed again while it should have been penalised
                    misses[src] = misses.get(src, 0) + 1
                failed_at[src] = now
            if result == "refused":
                if src not in refused_sources:
                    refused_sources.add(src)
                    first_refusal[src] = tries[src]
                break

    flood: dict[str, int] = {}
    flood_rate = float(size.get("flood_rate") or 0)
    flood_slot = [time.monotonic()]

    async def flooder() -> None:
        while time.monotonic() < stop:
            if flood_rate:
                flood_slot[0] = max(flood_slot[0] + 1 / flood_rate, time.monotonic())
                await asyncio.sleep(max(0.0, flood_slot[0] - time.monotonic()))
            r = await _flood_one(port)
            flood[r] = flood.get(r, 0) + 1

    tasks = [asyncio.ensure_future(c) for c in (*(flooder() for _ in range(size["flood"])),
                                                *(guesser() for _ in range(size["concurrency"])))]
    # Stop on time: a guess still queued for its password check at the end is dropped.
    _, pending = await asyncio.wait(tasks, timeout=max(0.0, stop - time.monotonic()) + 1)
    for t in pending:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    wall = time.monotonic() - t0
    return {"guesses": outcomes, "sources_refused": len(refused_sources),
            "sources_failed": len(failed_at), "penalty_misses": sum(misses.values()),
            "max_penalty_misses_per_source": max(misses.values(), default=0),
            "max_tries_before_refusal": max(first_refusal.values(), default=0), "flood": flood,
            "attacker": {"connections_per_s": round((sum(outcomes.values()) + sum(flood.values()))
                                                    / wall, 1),
                         "cpu_share": round((time.process_time() - cpu0) / wall, 2),
                         "nice": size.get("nice", 0), "rate_cap": rate or None}}


def _cpu_s(srv: ServeProcess) -> float:
    """The server process's CPU time so far (user + system), in seconds."""
    import os

    assert srv.proc is not None
    stat = Path(f"/proc/{srv.proc.pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _dropped(log: Path) -> set[str]:
    """Guessing sources the server has refused at accept (its log's drop lines)."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return set()
    return set(re.findall(r"drop connection from \[(127\.2\.\d+\.\d+)\]", text))


def _password_file(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "sshcore", "passwd", "--file", str(path), "--stdin",
                    "admin"], input=b"a long and unguessable password\n", check=True,
                   capture_output=True, timeout=60)
    return path


class SshdProcess:
    """OpenSSH's sshd, set up as :data:`SERVER_ARGS` set up ours where its options apply
    (9.2 has PerSourceMaxStartups and MaxStartups, not PerSourcePenalties), with the same
    interface as :class:`ServeProcess` for :func:`attack`."""

    def __init__(self, workdir: Path, authorized_keys: Path, log: Path) -> None:
        from .serve import free_port

        self.dir = workdir
        self.port = free_port()
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        key = workdir / "ssh_host_ed25519_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                       check=True, timeout=30)
        self.host_key_pub = Path(f"{key}.pub")
        self.config = workdir / "sshd_config"
        self.config.write_text("\n".join([
            "ListenAddress 127.0.0.1", f"Port {self.port}", f"HostKey {key}", "PidFile none",
            f"AuthorizedKeysFile {authorized_keys}", "StrictModes no", "UsePAM no",
            "PermitRootLogin prohibit-password", "PasswordAuthentication yes",
            "KbdInteractiveAuthentication no", "LogLevel INFO", "MaxStartups 100:30:200",
            "PerSourceMaxStartups 3"]) + "\n")

    def __enter__(self) -> SshdProcess:
        import os
        import shutil
        import socket

        os.makedirs("/run/sshd", exist_ok=True)
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        self.proc = subprocess.Popen([sshd, "-D", "-f", str(self.config), "-E", str(self.log)])
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("sshd did not start") from None
                time.sleep(0.05)

    def __exit__(self, *exc: Any) -> None:
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_key_pub.read_text()}"

    def rss_kib(self) -> int:
        """The listener's and its children's (one per connection) resident sets, summed."""
        assert self.proc is not None
        return _tree_rss_kib(self.proc.pid)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cpu_s(self) -> float:
        """CPU seconds of the listener, its reaped children and its live ones."""
        import os

        assert self.proc is not None
        total = 0
        for pid in _tree(self.proc.pid):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])
            if pid == self.proc.pid:
                total += int(fields[13]) + int(fields[14])
        return total / os.sysconf("SC_CLK_TCK")


def _sshd_version() -> str:
    r = subprocess.run(["ssh", "-V"], capture_output=True, text=True, timeout=30)
    m = re.search(r"OpenSSH_([\w.]+)", r.stderr)
    return m.group(1) if m else "?"


SSHD_VERSION = _sshd_version()
SSHD_NOTE = ("no PerSourcePenalties before OpenSSH 9.8: the same scenario with the options "
             "that apply, MaxStartups 100:30:200 and PerSourceMaxStartups 3; nothing refuses "
             "a guessing source at accept, so every guess costs sshd a fork, a key exchange "
             "and a password check")


def _tree(root: int) -> set[int]:
    import os

    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(stat[stat.rindex(")") + 2:].split()[1])
            except (OSError, ValueError):
                continue
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, ppid in parents.items() if ppid in tree and pid not in tree}
        tree |= more
        grew = bool(more)
    return tree


def _tree_rss_kib(root: int) -> int:
    tree = _tree(root)
    total = 0
    for pid in tree:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def _cpu_any(srv: Any) -> float:
    """CPU seconds (user + system) of the server: ours, or sshd's listener and children."""
    if isinstance(srv, ServeProcess):
        return _cpu_s(srv)
    return srv.cpu_s()


async def attack(workdir: Path, size: dict[str, Any], server: str = "sshcore") -> dict[str, Any]:
    """The scenario against ``sshcore serve`` (or, ``server="sshd"``, OpenSSH's sshd)."""
    ident = Identity(workdir / "id")
    log = workdir / "auth.log"
    srv: Any
    if server == "sshd":
        srv = SshdProcess(workdir, ident.authorized_keys, log)
    else:
        srv = ServeProcess(workdir / "home", "--authorized-keys", str(ident.authorized_keys),
                           "--password-file", str(_password_file(workdir / "passwords")),
                           "--log-file", str(log), *SERVER_ARGS)
    idle_n = size.get("idle_samples", 20)
    with srv:
        ident.trust(srv)
        port = srv.port
        for i in range(3):  # warm-up (imports, caches), not timed
            await _legit_once(port, ident, f"127.1.0.{i + 1}")
        rss_idle = srv.rss_kib()
        baseline = [await _legit_once(port, ident, f"127.1.0.{i % 50 + 1}") for i in range(idle_n)]
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.load.attack", "--attacker", str(port),
            "--size", json.dumps(size), stdout=asyncio.subprocess.PIPE,
            cwd=Path(__file__).resolve().parents[2])
        rss_peak = rss_idle
        loaded: dict[str, list[float]] = {"guessing": [], "penalised": []}
        legit_errors: list[str] = []
        start = time.monotonic()
        cpu_start = _cpu_any(srv)
        all_dropped_at = None
        i = 0
        while child.returncode is None and time.monotonic() - start < size["duration"]:
            # "penalised": every guessing source has been refused at accept at least once
            phase = "penalised" if all_dropped_at is not None else "guessing"
            try:
                loaded[phase].append(await _legit_once(port, ident, f"127.1.0.{i % 50 + 1}"))
            except Exception as exc:  # noqa: BLE001 - counted, and reported
                legit_errors.append(repr(exc))
            i += 1
            rss_peak = max(rss_peak, srv.rss_kib())
            if (server == "sshcore" and all_dropped_at is None
                    and len(_dropped(log)) >= size["sources"]):
                all_dropped_at = round(time.monotonic() - start, 1)
            try:
                await asyncio.wait_for(asyncio.shield(child.wait()), size.get("legit_gap", 0.2))
            except TimeoutError:
                pass
        cpu_attack = _cpu_any(srv) - cpu_start
        try:
            out, _ = await asyncio.wait_for(child.communicate(), 60)
        except TimeoutError:
            child.kill()
            out = b"{}"
        wall = time.monotonic() - start
        after = [await _legit_once(port, ident, f"127.1.0.{i % 50 + 1}") for i in range(idle_n)]
        rss_peak = max(rss_peak, srv.rss_kib())
        await asyncio.sleep(0.5)
        rss_after = srv.rss_kib()
        alive = srv.alive()
    text = log.read_text(errors="replace")
    attackers_fig = json.loads(out.decode() or "{}")
    idle = _summary(baseline + after)
    attacked = _summary(loaded["guessing"] + loaded["penalised"])
    refused = attackers_fig.get("guesses", {}).get("refused", 0) + attackers_fig.get(
        "flood", {}).get("refused", 0)

    def ratio(key: str) -> float | None:
        return round(attacked[key] / idle[key], 2) if attacked and idle.get(key) else None
    return {"server": server, "sources": size["sources"], "concurrency": size["concurrency"],
            **attackers_fig,
            "sources_dropped_in_log": len(_dropped(log)), "all_penalised_after_s": all_dropped_at,
            "failed_password_lines": text.count("Failed password for"),
            "legit_clients": sum(map(len, loaded.values())) + len(legit_errors),
            "legit_failed": len(legit_errors),
            "legit_errors": sorted(set(legit_errors))[:3],
            "idle": idle, "attacked": attacked,
            "ratio_median": ratio("median_s"), "ratio_p95": ratio("p95_s"),
            "baseline": _summary(baseline), "while_guessing": _summary(loaded["guessing"]),
            "once_penalised": _summary(loaded["penalised"]), "after_attack": _summary(after),
            "refused_connections": refused,
            "server_cpu_share": round(cpu_attack / max(wall, 1e-3), 2),
            "server_cpu_us_per_attack_connection": round(
                1e6 * cpu_attack / max(1, refused + sum(attackers_fig.get("guesses", {}).values())
                                       - attackers_fig.get("guesses", {}).get("refused", 0)
                                       + sum(attackers_fig.get("flood", {}).values())
                                       - attackers_fig.get("flood", {}).get("refused", 0))),
            "wall_s": round(wall, 1),
            "rss_kib": {"idle": rss_idle, "peak": rss_peak, "after": rss_after},
            "server_alive": alive}


#: The issue's bound on the legitimate clients' connect time under attack, against idle.
TARGET_RATIO = 2.0


def check(fig: dict[str, Any], ratio_bound: float = TARGET_RATIO) -> list[str]:
    """What the figures of :func:`attack` against ``sshcore serve`` fail of the target:
    no legitimate client failed, every guessing source and the flooding source were
    refused at accept (penalised), the server's memory is bounded and it is alive, and
    the legitimate clients' median connect time under attack is within ``ratio_bound``
    times the idle one (measured before and after the attack, in the same run)."""
    bad = []
    if fig["legit_failed"]:
        bad.append(f"{fig['legit_failed']} legitimate clients failed: {fig['legit_errors']}")
    # The penalty is recorded when the server sees the failed connection end (as sshd
    # records it when the pre-auth child exits): a bot reconnecting in that instant can
    # race it once.  More than one guess through from a penalised source is a failure.
    if fig["max_penalty_misses_per_source"] > 1:
        bad.append(f"a source got {fig['max_penalty_misses_per_source']} guesses through while "
                   "penalised")
    if (not fig["sources_refused"]
            or fig["sources_refused"] < fig["sources_failed"] - fig["concurrency"]):
        # (a source whose failure came in the attack's last moments may not try again)
        bad.append(f"only {fig['sources_refused']} of the {fig['sources_failed']} guessing "
                   "sources that failed were then refused")
    if not fig["flood"].get("refused"):
        bad.append(f"the flooding source was never refused: {fig['flood']}")
    if fig["ratio_median"] is None:
        bad.append("no legitimate client ran during the attack")
    elif fig["ratio_median"] > ratio_bound:
        bad.append(f"legitimate connect time under attack {fig['attacked']['median_s']} s, "
                   f"{fig['ratio_median']}x the idle {fig['idle']['median_s']} s (bound "
                   f"{ratio_bound}x)")
    # Bounded: one password check at a time (32 MiB of scrypt) plus the connections'
    # state; before the pwcheck pool, six concurrent checks took it ~200 MiB up.
    if fig["rss_kib"]["peak"] - fig["rss_kib"]["idle"] > 96 * 1024:
        bad.append(f"RSS peaked {fig['rss_kib']['peak']} KiB from {fig['rss_kib']['idle']} idle")
    if fig["rss_kib"]["after"] - fig["rss_kib"]["idle"] > 64 * 1024:
        bad.append(f"RSS grew from {fig['rss_kib']['idle']} to {fig['rss_kib']['after']} KiB")
    if not fig["server_alive"]:
        bad.append("the server died")
    return bad


def _line(fig: dict[str, Any]) -> dict[str, str]:
    """The figures of one run, as the side-by-side table shows them."""
    ms = lambda d: (f"{1000 * d['median_s']:.1f} / {1000 * d['p95_s']:.1f} ms"  # noqa: E731
                    if d else "-")
    a = fig.get("attacker", {})
    return {
        "idle connect (median / p95)": ms(fig["idle"]),
        "attacked connect (median / p95)": ms(fig["attacked"]),
        "ratio attacked / idle (median, p95)": f"{fig['ratio_median']}x, {fig['ratio_p95']}x",
        "  while guessing (median / p95)": ms(fig["while_guessing"]),
        "  once all penalised (median / p95)": ms(fig["once_penalised"]),
        "legitimate clients failed": f"{fig['legit_failed']} of {fig['legit_clients']}",
        "guessing sources failed / then refused": f"{fig['sources_failed']} / "
                                                  f"{fig['sources_refused']} of {fig['sources']}",
        "guesses let through while penalised": f"{fig['penalty_misses']} (max "
                                                f"{fig['max_penalty_misses_per_source']} a source)",
        "attack connections refused": str(fig["refused_connections"]),
        "guesses that reached a password check": str(fig["guesses"].get("failed", 0)),
        "flood (refused/limited/served)": "/".join(str(fig["flood"].get(k, 0))
                                                   for k in ("refused", "limited", "served")),
        "attacker conn/s (cpu share)": f"{a.get('connections_per_s')} ({a.get('cpu_share')})",
        "server cpu share (us per attack conn)": f"{fig['server_cpu_share']} "
                                                 f"({fig['server_cpu_us_per_attack_connection']})",
        "server RSS idle/peak/after (MiB)": "/".join(f"{fig['rss_kib'][k] / 1024:.0f}"
                                                     for k in ("idle", "peak", "after")),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="1,000 sources (minutes, not seconds)")
    ap.add_argument("--sshd", action="store_true",
                    help="also run it against OpenSSH's sshd (no penalties before 9.8) and "
                    "print both")
    ap.add_argument("--rate", type=float, help="cap the guessing connections a second")
    ap.add_argument("--flood-rate", type=float, help="cap the flood's connections a second")
    ap.add_argument("--attacker-nice", type=int, help="the attacker process's niceness")
    ap.add_argument("--attack-s", type=float, help="how long the attack lasts")
    ap.add_argument("--json", action="store_true", help="print every figure as JSON too")
    ap.add_argument("--attacker", type=int, metavar="PORT", help=argparse.SUPPRESS)
    ap.add_argument("--size", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.attacker:  # the child process of attack()
        size = json.loads(args.size)
        print(json.dumps(asyncio.run(attackers(args.attacker, size, size["attack_s"]))))
        return 0
    size = dict(SIZES["full" if args.full else "ci"])
    if args.rate is not None:
        size["rate"] = args.rate
    if args.flood_rate is not None:
        size["flood_rate"] = args.flood_rate
    if args.attacker_nice is not None:
        size["nice"] = args.attacker_nice
    if args.attack_s is not None:
        size["attack_s"] = args.attack_s
        size["duration"] = args.attack_s + 30
    figs = []
    with tempfile.TemporaryDirectory(prefix="sshcore-attack-") as tmp:
        figs.append(asyncio.run(attack(Path(tmp) / "sshcore", size)))
    if args.sshd:
        with tempfile.TemporaryDirectory(prefix="sshcore-attack-sshd-") as tmp:
            figs.append(asyncio.run(attack(Path(tmp), size, server="sshd")))
    if args.json:
        print(json.dumps(figs, indent=1))
    a = figs[0].get("attacker", {})
    print(f"attack: {size['sources']} guessing sources ({size['concurrency']} at a time, "
          f"rate cap {a.get('rate_cap') or 'none'}, attacker nice {a.get('nice', 0)}), "
          f"a flood from one source ({size['flood']} connections at a time, rate cap "
          f"{size.get('flood_rate') or 'none'}), {size['attack_s']} s")
    print(f"{'':40} {'sshcore serve':>26}" + (f" {'sshd ' + SSHD_VERSION:>26}" if args.sshd else ""))
    rows = [_line(f) for f in figs]
    for key in rows[0]:
        print(f"{key:40}" + "".join(f" {r[key]:>26}" for r in rows))
    print("sshcore serve: " + " ".join(SERVER_ARGS))
    if args.sshd:
        print(f"sshd {SSHD_VERSION}: {SSHD_NOTE}")
    problems = check(figs[0])
    for p in problems:
        print("FAILED:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
