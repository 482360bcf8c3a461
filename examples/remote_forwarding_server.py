#!/usr/bin/env python3
"""Accepts remote forwarding requests (``ssh -R``) only to listen on one port (8080 by
default); connections arriving there are forwarded back to the client."""

import asyncio
import sys

import sshcore
from _args import listen_options, listening, server_parser


def server_factory(listen_port):
    class MySSHServer(sshcore.SSHServer):
        def server_requested(self, listen_host, port):
            return port == listen_port

    return MySSHServer


async def main(args):
    server = await sshcore.listen("", args.port, server_factory=server_factory(args.listen_port),
                                  **listen_options(args))
    listening(server)
    await server.wait_closed()


if __name__ == "__main__":
    parser = server_parser(__doc__)
    parser.add_argument("--listen-port", type=int, default=8080)
    try:
        asyncio.run(main(parser.parse_args()))
    except (OSError, sshcore.SSHError) as exc:
        sys.exit(f"Error starting server: {exc}")
