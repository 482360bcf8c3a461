#!/usr/bin/env python3
"""Accepts port forwarding requests (``ssh -L``) only to one destination port (80 by
default); the server itself connects there and relays the data.  Others are refused."""

import asyncio
import sys

import sshcore
from _args import listen_options, listening, server_parser


def server_factory(allowed_port):
    class MySSHServer(sshcore.SSHServer):
        def connection_requested(self, dest_host, dest_port, orig_host, orig_port):
            return dest_port == allowed_port

    return MySSHServer


async def main(args):
    server = await sshcore.listen("", args.port, server_factory=server_factory(args.allowed_port),
                                  **listen_options(args))
    listening(server)
    await server.wait_closed()


if __name__ == "__main__":
    parser = server_parser(__doc__)
    parser.add_argument("--allowed-port", type=int, default=80)
    try:
        asyncio.run(main(parser.parse_args()))
    except (OSError, sshcore.SSHError) as exc:
        sys.exit(f"Error starting server: {exc}")
