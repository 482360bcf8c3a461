"""sshcore-sftp: the ``sftp`` subsystem (SFTP v3 and OpenSSH's extensions), server and client."""

from __future__ import annotations

from ._protocol import ATTR, FXF, FXP, MAX_PACKET, SFTPAttrs, SFTPError, SFTPProtocolError, Status

__all__ = ["ATTR", "FXF", "FXP", "MAX_PACKET", "SFTPAttrs", "SFTPError", "SFTPProtocolError",
           "Status"]
