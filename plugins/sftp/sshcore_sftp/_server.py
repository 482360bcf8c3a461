"""Placeholder: the SFTP server (being written)."""

from __future__ import annotations

from typing import Any


async def run_sftp_server(process: Any, **options: Any) -> int:
    process.stderr.write(b"sftp server not written yet\n")
    return 1
