#!/usr/bin/env python3
"""Forwarded TCP connections handled by the client itself: the server listens on port
8888 and each connection that arrives there gets a greeting from this program."""

import asyncio
import sys

import sshcore
from _args import client_parser, connect_options


class MySSHTCPSession(sshcore.SSHTCPSession):
    def __init__(self, orig_host, orig_port):
        self._orig = (orig_host, orig_port)

    def connection_made(self, chan):
        self._chan = chan

    def session_started(self):
        host, port = self._orig
        self._chan.write(f"Connection received from {host}, port {port}\r\n")
        self._chan.close()


async def main(args):
    async with sshcore.connect(args.host, **connect_options(args)) as conn:
        listener = await conn.create_server(MySSHTCPSession, "localhost", args.listen_port,
                                            encoding="utf-8")
        print(f"Server listening on port {listener.get_port()}", flush=True)
        await listener.wait_closed()


if __name__ == "__main__":
    parser = client_parser(__doc__)
    parser.add_argument("--listen-port", type=int, default=8888)
    try:
        asyncio.run(main(parser.parse_args()))
    except (OSError, sshcore.SSHError) as exc:
        sys.exit(f"SSH connection failed: {exc}")
