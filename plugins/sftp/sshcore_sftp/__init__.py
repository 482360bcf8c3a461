"""sshcore-sftp: the ``sftp`` subsystem (SFTP v3 and OpenSSH's extensions), server and client."""

from __future__ import annotations

from typing import Any

from ._protocol import ATTR, FXF, FXP, MAX_PACKET, SFTPAttrs, SFTPError, SFTPProtocolError, Status

__all__ = ["ATTR", "FXF", "FXP", "MAX_PACKET", "SFTPAttrs", "SFTPError", "SFTPProtocolError",
           "Status", "SFTPServer", "run_sftp_server"]


def __getattr__(name: str) -> Any:
    # The server (asyncio, threads) loads only when asked for.
    if name in ("SFTPServer", "run_sftp_server"):
        from . import _server

        return getattr(_server, name)
    raise AttributeError(f"module 'sshcore_sftp' has no attribute {name!r}")
