#!/usr/bin/env python3
"""Simple server with public-key authentication: a user's keys are read from
<authorized-dir>/<username>.pub (a file in authorized_keys format)."""

import asyncio
import os
import sys

import sshcore
from _args import listen_options, listening, server_parser


class MySSHServerSession(sshcore.SSHServerSession):
    def connection_made(self, chan):
        self._chan = chan

    def shell_requested(self):
        return True

    def session_started(self):
        self._chan.write(f"Welcome to my SSH server, {self._chan.get_extra_info('username')}!\r\n")
        self._chan.exit(0)


def server_factory(key_dir):
    class MySSHServer(sshcore.SSHServer):
        def begin_auth(self, username):
            try:
                self._keys = sshcore.read_authorized_keys(os.path.join(key_dir, f"{username}.pub"))
            except OSError:
                self._keys = None
            return True

        def public_key_auth_supported(self):
            return True

        def validate_public_key(self, username, key):
            return self._keys is not None and self._keys.allows(key)

        def session_requested(self):
            return MySSHServerSession()

    return MySSHServer


async def main(args):
    server = await sshcore.listen("", args.port, server_factory=server_factory(args.authorized_dir),
                                  **listen_options(args))
    listening(server)
    await server.wait_closed()


if __name__ == "__main__":
    parser = server_parser(__doc__)
    parser.add_argument("--authorized-dir", default="authorized_keys",
                        help="directory of <username>.pub files (default authorized_keys)")
    try:
        asyncio.run(main(parser.parse_args()))
    except (OSError, sshcore.SSHError) as exc:
        sys.exit(f"Error starting server: {exc}")
