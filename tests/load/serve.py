"""``sshcore serve`` as a real subprocess on 127.0.0.1, for the load, fault and audit tests.

This is the one place those tests start the server.  It passes ``--max-startups none``
when (and only when) ``sshcore serve --help`` lists that option: the load tests open
hundreds of unauthenticated connections at once on purpose, which a MaxStartups-style
cap (10:30:100 by default) would refuse, and the option may not exist yet in every
branch.  ``listen_kwargs()`` does the same for in-process servers (``listen()``).
"""

from __future__ import annotations

import inspect
import os
import signal
import socket
import subprocess
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@lru_cache(maxsize=1)
def serve_help() -> str:
    r = subprocess.run([sys.executable, "-m", "sshcore", "serve", "--help"], capture_output=True,
                       text=True, timeout=60, cwd=ROOT)
    return r.stdout


def unlimited_startups_args() -> list[str]:
    """``--max-startups none`` if this ``sshcore serve`` has a MaxStartups-style cap, and
    ``--per-source-penalties no`` if it has per-source penalties (the churn from one
    address would otherwise be penalised, as sshd would)."""
    args = ["--max-startups", "none"] if "--max-startups" in serve_help() else []
    return args + (["--per-source-penalties", "no"] if "--per-source-penalties" in serve_help() else [])


def listen_kwargs() -> dict[str, Any]:
    """``max_startups=None`` (and ``per_source_penalties=False``) if this
    ``sshcore.listen()`` takes them (see the module doc)."""
    import sshcore

    params = inspect.signature(sshcore.listen).parameters
    return ({"max_startups": None} if "max_startups" in params else {}) | (
        {"per_source_penalties": False} if "per_source_penalties" in params else {})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServeProcess:
    """``with ServeProcess(home, *args) as srv:`` runs ``sshcore serve`` on ``srv.port``.

    ``home`` is the server's HOME (its default host key is generated there);
    ``unlimited=True`` lifts the cap on unauthenticated connections (see above)."""

    def __init__(self, home: Path, *args: str, unlimited: bool = False,
                 env: dict[str, str] | None = None) -> None:
        self.home = Path(home)
        self.port = free_port()
        self.args = list(args) + (unlimited_startups_args() if unlimited else [])
        self.env = dict(os.environ, HOME=str(self.home), **(env or {}))
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr = b""

    @property
    def host_key_pub(self) -> Path:
        return self.home / ".local/share/sshcore/ssh_host_ed25519_key.pub"

    def __enter__(self) -> ServeProcess:
        self.home.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sshcore", "serve", "--listen", f"127.0.0.1:{self.port}",
             *self.args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=self.env, cwd=ROOT)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"sshcore serve did not start: {self.stderr.decode(errors='replace')}")
                time.sleep(0.05)
        return self

    def rss_kib(self) -> int:
        """The server process's resident set size (VmRSS from /proc), in KiB."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS line")

    def open_fds(self) -> int:
        assert self.proc is not None
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def fd_kinds(self) -> dict[str, int]:
        """The server's open descriptors by kind (pipe, socket, anon_inode, a path...)."""
        assert self.proc is not None
        kinds: dict[str, int] = {}
        base = f"/proc/{self.proc.pid}/fd"
        for fd in os.listdir(base):
            try:
                target = os.readlink(f"{base}/{fd}")
            except OSError:
                continue
            kind = target.split(":", 1)[0] if ":[" in target else target
            kinds[kind] = kinds.get(kind, 0) + 1
        return kinds

    def children(self) -> list[int]:
        """Pids of the server's live child processes (commands it runs)."""
        assert self.proc is not None
        out = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == self.proc.pid and fields[0] != "Z":
                out.append(int(entry))
        return out

    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_key_pub.read_text()}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, self.stderr = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, self.stderr = self.proc.communicate(timeout=10)
        return self.proc.returncode

    def __exit__(self, *exc: Any) -> None:
        self.stop()
