"""Placeholder: the SFTP client (helper C replaces this)."""

from __future__ import annotations

from typing import Any


async def open_sftp_client(conn: Any, **options: Any) -> Any:
    raise NotImplementedError("the SFTP client is not written yet")
