#!/usr/bin/env python3
"""Run a command and report the remote program's exit status."""

import asyncio
import sys

import sshcore
from _args import client_parser, connect_options


class MySSHClientSession(sshcore.SSHClientSession):
    def data_received(self, data, datatype):
        print(data, end="")

    def exit_status_received(self, status):
        print(f"Remote program exited with status {status}")

    def exit_signal_received(self, signal, core_dumped, msg, lang):
        print(f"Remote program was killed by signal {signal}")

    def connection_lost(self, exc):
        if exc:
            print(f"SSH session error: {exc}", file=sys.stderr)


async def main(args):
    async with sshcore.connect(args.host, **connect_options(args)) as conn:
        chan, session = await conn.create_session(MySSHClientSession, args.command)
        await chan.wait_closed()


if __name__ == "__main__":
    parser = client_parser(__doc__)
    parser.add_argument("command", nargs="?", default="ls abc")
    try:
        asyncio.run(main(parser.parse_args()))
    except (OSError, sshcore.SSHError) as exc:
        sys.exit(f"SSH connection failed: {exc}")
