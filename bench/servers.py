"""In-process bench servers: sshcore and AsyncSSH serving the bench's commands themselves.

    python -m bench.servers sshcore|asyncssh --host-key FILE --authorized-keys FILE

prints ``PORT n`` once it listens on 127.0.0.1, answers each ``stats`` line on stdin with a
JSON line (asyncio tasks, pending timers), and exits at EOF on stdin.  The commands are
the shell commands the bench sends sshd, served in the event loop so that no subprocess
limits the figure:

- ``cat > /dev/null``: read and drop everything (upload sink);
- ``head -c N /dev/zero``: send N zero bytes (download source);
- ``cat``: echo;
- ``true``: exit 0 at once (handshakes, idle sessions).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import threading
from typing import Any

CHUNK = 256 * 1024
_ZEROS = bytes(CHUNK)
_HEAD = re.compile(r"head -c (\d+) /dev/zero")


async def serve_command(command: str | None, stdin: Any, stdout: Any, stderr: Any) -> int:
    """Run one bench command over a library's process streams; the exit status."""
    command = (command or "").strip()
    if command == "cat > /dev/null":
        while await stdin.read(CHUNK):
            pass
        return 0
    if command == "cat":
        while True:
            data = await stdin.read(65536)
            if not data:
                return 0
            stdout.write(data)
            await stdout.drain()
    m = _HEAD.fullmatch(command)
    if m:
        left = int(m.group(1))
        while left:
            n = min(left, CHUNK)
            stdout.write(_ZEROS if n == CHUNK else _ZEROS[:n])
            await stdout.drain()
            left -= n
        return 0
    if command == "true":
        return 0
    stderr.write(f"bench server: unknown command {command!r}\n".encode())
    return 127


async def start(lib: str, host_key: str, authorized_keys: str, port: int = 0) -> tuple[Any, int]:
    """Start ``lib``'s server on 127.0.0.1; (server object, port)."""
    if lib == "sshcore":
        import sshcore

        async def handler(process: Any) -> int:
            return await serve_command(process.command, process.stdin, process.stdout,
                                       process.stderr)

        # No MaxStartups/MaxSessions caps: the bench opens 100 handshakes and 1,000
        # connections at once, and 100 sessions on one (its sshd is configured alike).
        server = await sshcore.listen("127.0.0.1", port, server_host_keys=[host_key],
                                      authorized_client_keys=authorized_keys,
                                      process_factory=handler, max_startups=None,
                                      max_sessions=None)
        return server, server.port
    if lib == "asyncssh":
        import asyncssh

        async def ahandler(process: Any) -> None:
            status = await serve_command(process.command, process.stdin, process.stdout,
                                         process.stderr)
            process.exit(status)

        server = await asyncssh.listen("127.0.0.1", port, server_host_keys=[host_key],
                                       authorized_client_keys=authorized_keys,
                                       process_factory=ahandler, encoding=None)
        return server, server.sockets[0].getsockname()[1]
    raise ValueError(f"unknown library {lib!r}")


def loop_stats() -> dict[str, int]:
    """Tasks and pending timers of the running loop (``_scheduled`` is asyncio's heap of
    TimerHandles: private, but the only place timers can be counted)."""
    loop = asyncio.get_running_loop()
    timers = sum(1 for h in getattr(loop, "_scheduled", []) if not h.cancelled())
    return {"tasks": len(asyncio.all_tasks(loop)), "timers": timers}


async def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.servers")
    ap.add_argument("lib", choices=["sshcore", "asyncssh"])
    ap.add_argument("--host-key", required=True)
    ap.add_argument("--authorized-keys", required=True)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)
    from .env import raise_fd_limit

    raise_fd_limit()
    server, port = await start(args.lib, args.host_key, args.authorized_keys, args.port)
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()

    def read_stdin() -> None:  # a thread: the loop never blocks on stdin
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line.strip())
        loop.call_soon_threadsafe(lines.put_nowait, "")

    threading.Thread(target=read_stdin, daemon=True).start()
    print(f"PORT {port}", flush=True)
    try:
        while True:
            line = await lines.get()
            if not line:
                break
            if line == "stats":
                print(json.dumps(loop_stats()), flush=True)
    finally:
        server.close()


if __name__ == "__main__":
    asyncio.run(main())
