"""Command-line options shared by the examples.

Every example points at localhost; ports, key files and the like are options so the
tests (and you) can run them against any sshd or ssh without editing them.
"""

from __future__ import annotations

import argparse
import os
from typing import Any


def client_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--host", default="localhost", help="SSH server (default localhost)")
    p.add_argument("--port", type=int, default=22, help="SSH port (default 22)")
    p.add_argument("--username", help="remote user (default: the local one)")
    p.add_argument("--key", action="append", help="client private key (default: ~/.ssh/id_*)")
    p.add_argument("--known-hosts", default="~/.ssh/known_hosts",
                   help="known_hosts file to check the server's key against")
    return p


def connect_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"port": args.port, "username": args.username, "client_keys": args.key,
            "known_hosts": os.path.expanduser(args.known_hosts)}


def server_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--port", type=int, default=8022, help="port to listen on (default 8022)")
    p.add_argument("--host-key", default="ssh_host_key", help="server host key file")
    p.add_argument("--authorized-keys", default="~/.ssh/authorized_keys",
                   help="client keys allowed to log in (default ~/.ssh/authorized_keys)")
    return p


def listen_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"server_host_keys": [args.host_key],
            "authorized_client_keys": os.path.expanduser(args.authorized_keys)}


def listening(acceptor: Any) -> None:
    """Say where the server listens (the tests start examples with --port 0)."""
    print(f"Listening on port {acceptor.port}", flush=True)
