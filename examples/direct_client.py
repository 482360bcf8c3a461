#!/usr/bin/env python3
"""Direct TCP connection through the server: send an HTTP HEAD request for / to a web
server (the seed used www.google.com:80) and print the reply.  I/O on forwarded
connections is bytes unless an encoding is given."""

import asyncio
import sys

import sshcore
from _args import client_parser, connect_options


class MySSHTCPSession(sshcore.SSHTCPSession):
    def data_received(self, data, datatype):
        print(data, end="")

    def connection_lost(self, exc):
        if exc:
            print(f"Direct connection error: {exc}", file=sys.stderr)


async def main(args):
    async with sshcore.connect(args.host, **connect_options(args)) as conn:
        chan, session = await conn.create_connection(MySSHTCPSession, args.dest_host,
                                                     args.dest_port, encoding="utf-8")
        chan.write(f"HEAD / HTTP/1.0\r\nHost: {args.dest_host}\r\n\r\n")
        chan.write_eof()
        await chan.wait_closed()


if __name__ == "__main__":
    parser = client_parser(__doc__)
    parser.add_argument("--dest-host", default="www.google.com")
    parser.add_argument("--dest-port", type=int, default=80)
    try:
        asyncio.run(main(parser.parse_args()))
    except (OSError, sshcore.SSHError) as exc:
        sys.exit(f"SSH connection failed: {exc}")
