#!/usr/bin/env python3
"""Send input to a remote program: some sums for the calculator 'bc', each printed with
its answer (2+2 = 4, 1*2*3*4 = 24, 2^32 = 4294967296)."""

import asyncio
import sys

import sshcore
from _args import client_parser, connect_options


class MySSHClientSession(sshcore.SSHClientSession):
    def __init__(self):
        self._ops = ["2+2", "1*2*3*4", "2^32"]
        self._pending = list(self._ops)
        self._buf = ""

    def connection_made(self, chan):
        self._chan = chan

    def session_started(self):
        for op in self._ops:
            self._chan.write(op + "\n")
        self._chan.write_eof()  # bc exits at the end of its input

    def data_received(self, data, datatype):
        self._buf += data
        while "\n" in self._buf and self._pending:
            line, self._buf = self._buf.split("\n", 1)
            print(f"{self._pending.pop(0)} = {line}")

    def connection_lost(self, exc):
        if exc:
            print(f"SSH session error: {exc}", file=sys.stderr)


async def main(args):
    async with sshcore.connect(args.host, **connect_options(args)) as conn:
        chan, session = await conn.create_session(MySSHClientSession, "bc")
        await chan.wait_closed()


if __name__ == "__main__":
    try:
        asyncio.run(main(client_parser(__doc__).parse_args()))
    except (OSError, sshcore.SSHError) as exc:
        sys.exit(f"SSH connection failed: {exc}")
