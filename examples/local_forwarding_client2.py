#!/usr/bin/env python3
"""Local port forwarding on a port the system picks, refusing connections from
localhost (or from the addresses given with --reject)."""

import asyncio
import sys

import sshcore
from _args import client_parser, connect_options


async def main(args):
    rejected = set(args.reject or ["127.0.0.1", "::1"])

    def accept_connection(orig_host, orig_port):
        if orig_host in rejected:
            print(f"Rejected connection from {orig_host}", flush=True)
            return False
        return True

    async with sshcore.connect(args.host, **connect_options(args)) as conn:
        listener = await conn.forward_local_port("localhost", 0, args.dest_host, args.dest_port,
                                                 accept_handler=accept_connection)
        print(f"Listening on port {listener.get_port()}...", flush=True)
        await listener.wait_closed()


if __name__ == "__main__":
    parser = client_parser(__doc__)
    parser.add_argument("--dest-host", default="www.google.com")
    parser.add_argument("--dest-port", type=int, default=80)
    parser.add_argument("--reject", action="append", help="peer address to refuse (repeatable)")
    try:
        asyncio.run(main(parser.parse_args()))
    except (OSError, sshcore.SSHError) as exc:
        sys.exit(f"SSH connection failed: {exc}")
