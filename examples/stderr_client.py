#!/usr/bin/env python3
"""Like simple_client, but output the server wrote to stderr goes to our stderr."""

import asyncio
import sys

import sshcore
from _args import client_parser, connect_options


class MySSHClientSession(sshcore.SSHClientSession):
    def data_received(self, data, datatype):
        if datatype == sshcore.EXTENDED_DATA_STDERR:
            print(data, end="", file=sys.stderr)
        else:
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
