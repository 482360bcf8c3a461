"""sshcore-sftp: the ``sftp`` subsystem (SFTP v3 and OpenSSH's extensions), server and client."""

from __future__ import annotations

from typing import Any

__all__ = ["ATTR", "FXF", "FXP", "MAX_PACKET", "SFTPAttrs", "SFTPError", "SFTPProtocolError",
           "Status", "SFTPServer", "run_sftp_server"]

_PROTOCOL = ("ATTR", "FXF", "FXP", "MAX_PACKET", "SFTPAttrs", "SFTPError", "SFTPProtocolError",
             "Status")


def __getattr__(name: str) -> Any:
    # Loaded when asked for: the registry imports this package to find the plugin's hooks,
    # and a connection that never opens SFTP should not pay for the protocol module, nor
    # for the server (asyncio, threads).
    if name in _PROTOCOL:
        from . import _protocol

        return getattr(_protocol, name)
    if name in ("SFTPServer", "run_sftp_server"):
        from . import _server

        return getattr(_server, name)
    raise AttributeError(f"module 'sshcore_sftp' has no attribute {name!r}")
