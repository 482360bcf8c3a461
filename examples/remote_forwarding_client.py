#!/usr/bin/env python3
"""Remote port forwarding: the server listens on port 8080 and connections arriving there
come back through SSH to port 80 on this machine."""

import asyncio
import sys

import sshcore
from _args import client_parser, connect_options


async def main(args):
    async with sshcore.connect(args.host, **connect_options(args)) as conn:
        listener = await conn.forward_remote_port("localhost", args.listen_port,
                                                  "localhost", args.dest_port)
        print(f"Server listening on port {listener.get_port()}, forwarding to "
              f"localhost:{args.dest_port}", flush=True)
        await listener.wait_closed()


if __name__ == "__main__":
    parser = client_parser(__doc__)
    parser.add_argument("--listen-port", type=int, default=8080)
    parser.add_argument("--dest-port", type=int, default=80)
    try:
        asyncio.run(main(parser.parse_args()))
    except (OSError, sshcore.SSHError) as exc:
        sys.exit(f"SSH connection failed: {exc}")
