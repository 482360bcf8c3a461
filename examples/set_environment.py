#!/usr/bin/env python3
"""Set environment variables for the remote session and show them with 'env'.  (Servers
only accept the variables they are configured to, e.g. sshd's AcceptEnv LANG LC_*.)"""

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
        chan, session = await conn.create_session(
            MySSHClientSession, "env", env={"LANG": "en_GB", "LC_COLLATE": "C"})
        await chan.wait_closed()


if __name__ == "__main__":
    try:
        asyncio.run(main(client_parser(__doc__).parse_args()))
    except (OSError, sshcore.SSHError) as exc:
        sys.exit(f"SSH connection failed: {exc}")
