#!/usr/bin/env python3
"""Local port forwarding: listen on port 8080 here and send each connection through the
SSH server on to a web server (the seed used www.google.com:80)."""

import asyncio
import sys

import sshcore
from _args import client_parser, connect_options


async def main(args):
    async with sshcore.connect(args.host, **connect_options(args)) as conn:
        listener = await conn.forward_local_port("localhost", args.listen_port,
                                                 args.dest_host, args.dest_port)
        print(f"Forwarding port {listener.get_port()} to {args.dest_host}:{args.dest_port}",
              flush=True)
        await listener.wait_closed()


if __name__ == "__main__":
    parser = client_parser(__doc__)
    parser.add_argument("--listen-port", type=int, default=8080)
    parser.add_argument("--dest-host", default="www.google.com")
    parser.add_argument("--dest-port", type=int, default=80)
    try:
        asyncio.run(main(parser.parse_args()))
    except (OSError, sshcore.SSHError) as exc:
        sys.exit(f"SSH connection failed: {exc}")
