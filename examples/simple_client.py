#!/usr/bin/env python3
"""Simple client: log in to localhost and list the files in a directory ('abc' under the
home directory by default).  Keys come from ~/.ssh and the server's key must be in
known_hosts."""

import asyncio
import sys

import sshcore
from _args import client_parser, connect_options


class MySSHClientSession(sshcore.SSHClientSession):
    def data_received(self, data, datatype):
        print(data, end="")

    def connection_lost(self, exc):
        if exc:
            print(f"SSH session error: {exc}", file=sys.stderr)


async def main(args):
    async with sshcore.connect(args.host, **connect_options(args)) as conn:
        chan, session = await conn.create_session(MySSHClientSession, f"ls {args.directory}")
        await chan.wait_closed()


if __name__ == "__main__":
    parser = client_parser(__doc__)
    parser.add_argument("directory", nargs="?", default="abc")
    try:
        asyncio.run(main(parser.parse_args()))
    except (OSError, sshcore.SSHError) as exc:
        sys.exit(f"SSH connection failed: {exc}")
