#!/usr/bin/env python3
"""Shows the environment variables the client sent (``ssh -o SetEnv=...``), or fails with
an error when there are none."""

import asyncio
import sys

import sshcore
from _args import listen_options, listening, server_parser


class MySSHServerSession(sshcore.SSHServerSession):
    def connection_made(self, chan):
        self._chan = chan

    def env_requested(self, name, value):
        return True

    def shell_requested(self):
        return True

    def exec_requested(self, command):
        return True

    def session_started(self):
        env = self._chan.get_environment()
        if env:
            self._chan.write("Environment:\r\n")
            for name, value in sorted(env.items()):
                self._chan.write(f"  {name}={value}\r\n")
            self._chan.exit(0)
        else:
            self._chan.write_stderr("No environment variables set\r\n")
            self._chan.exit(1)


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
