#!/usr/bin/env python3
"""Shows the client's terminal type and size, then each window-size change (connect with
``ssh -t``).  Type 'q' (or Ctrl-C / Ctrl-D) to leave."""

import asyncio
import sys

import sshcore
from _args import listen_options, listening, server_parser


class MySSHServerSession(sshcore.SSHServerSession):
    def connection_made(self, chan):
        self._chan = chan

    def pty_requested(self, term_type, term_size, term_modes):
        return True

    def shell_requested(self):
        return True

    def session_started(self):
        term_type = self._chan.get_terminal_type()
        if term_type is None:
            self._chan.write_stderr("This example needs a terminal: connect with ssh -t\r\n")
            self._chan.exit(1)
            return
        width, height, pixwidth, pixheight = self._chan.get_terminal_size()
        self._chan.write(f"Terminal type: {term_type}, size: {width}x{height}")
        if pixwidth and pixheight:
            self._chan.write(f" ({pixwidth}x{pixheight} pixels)")
        self._chan.write("\r\nTry resizing your window, or type q to quit.\r\n")

    def data_received(self, data, datatype):
        if any(ch in data for ch in "qQ\x03\x04"):
            self._chan.write("Goodbye!\r\n")
            self._chan.exit(0)

    def terminal_size_changed(self, width, height, pixwidth, pixheight):
        self._chan.write(f"New window size: {width}x{height}")
        if pixwidth and pixheight:
            self._chan.write(f" ({pixwidth}x{pixheight} pixels)")
        self._chan.write("\r\n")


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
