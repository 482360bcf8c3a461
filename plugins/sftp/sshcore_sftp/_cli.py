"""Placeholder: the ``sshcore sftp`` and ``sshcore scp`` commands (helper C replaces this)."""

from __future__ import annotations

from typing import Any


def commands() -> list[Any]:
    return []
