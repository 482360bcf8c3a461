#!/usr/bin/env python3
"""Simple server: listens on port 8022, does password authentication and greets users who
start a shell.  'guest' needs no password; 'user123' logs in with 'secretpw'."""

import asyncio
import sys

import sshcore
from _args import listen_options, listening, server_parser

# Salted hashes, as sshcore.hash_password() makes them; an empty string means "no password".
passwords = {
    "guest": "",
    "user123": "$scrypt$ln=15,r=8,p=1$8K0JRN35vmMIryFsp+gW6w$"
               "k4P3PDvsMBV+nQqi0BmvrMUt8AheB3DM+LFJkxYFim8",
}


class MySSHServerSession(sshcore.SSHServerSession):
    def connection_made(self, chan):
        self._chan = chan

    def shell_requested(self):
        return True

    def session_started(self):
        self._chan.write(f"Welcome to my SSH server, {self._chan.get_extra_info('username')}!\r\n")
        self._chan.exit(0)


class MySSHServer(sshcore.SSHServer):
    def connection_made(self, conn):
        print(f"SSH connection received from {conn.get_extra_info('peername')[0]}.", flush=True)

    def connection_lost(self, exc):
        if exc:
            print(f"SSH connection error: {exc}", file=sys.stderr, flush=True)
        else:
            print("SSH connection closed.", flush=True)

    def begin_auth(self, username):
        # If the user's password is the empty string, no auth is required
        return passwords.get(username) != ""

    def password_auth_supported(self):
        return True

    async def validate_password(self, username, password):
        hashed = passwords.get(username)
        if not hashed:
            return False
        # Checking a hash is slow on purpose: keep it off the event loop.
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, sshcore.check_password, password, hashed)

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
