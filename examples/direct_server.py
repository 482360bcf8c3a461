#!/usr/bin/env python3
"""Handles direct TCP connections itself: a connection to port 7 (the "echo" port) on any
host is answered by this server echoing the data back; other destinations are refused."""

import asyncio
import sys

import sshcore
from _args import listen_options, listening, server_parser


class MySSHTCPSession(sshcore.SSHTCPSession):
    def connection_made(self, chan):
        self._chan = chan

    def data_received(self, data, datatype):
        self._chan.write(data)


class MySSHServer(sshcore.SSHServer):
    def connection_requested(self, dest_host, dest_port, orig_host, orig_port):
        if dest_port == 7:
            return MySSHTCPSession()
        return False


async def main(args):
    server = await sshcore.listen("", args.port, server_factory=MySSHServer,
                                  **listen_options(args))
    listening(server)
    await server.wait_closed()


if __name__ == "__main__":
    try:
        asyncio.run(main(server_parser(__doc__).parse_args()))
    except (OSError, sshcore.SSHError) as exc:
        sys.exit(f"Error starting server: {exc}")
