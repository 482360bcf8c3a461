#!/usr/bin/env python3
"""Reading input in a server session: sums a column of numbers and prints the total when
the input ends.  Not interactive: feed it from a file or a pipe
(``seq 10 | ssh -p 8022 localhost``)."""

import asyncio
import sys

import sshcore
from _args import listen_options, listening, server_parser


class MySSHServerSession(sshcore.SSHServerSession):
    def __init__(self):
        self._input = ""
        self._total = 0

    def connection_made(self, chan):
        self._chan = chan

    def shell_requested(self):
        return True

    def exec_requested(self, command):
        return True

    def session_started(self):
        self._chan.write("Enter numbers one per line, or EOF when done:\r\n")

    def _add(self, line):
        try:
            self._total += int(line)
        except ValueError:
            self._chan.write_stderr(f"Invalid number: {line}\r\n")
            self._chan.exit(1)
            return False
        return True

    def data_received(self, data, datatype):
        lines = (self._input + data).split("\n")
        for line in lines[:-1]:
            if line.strip() and not self._add(line.strip()):
                return
        self._input = lines[-1]

    def eof_received(self):
        if self._input.strip() and not self._add(self._input.strip()):
            return False
        self._chan.write(f"Total = {self._total}\r\n")
        self._chan.exit(0)
        return False


class MySSHServer(sshcore.SSHServer):
    def session_requested(self):
        return MySSHServerSession()


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
