"""Hook implementations: the ``sftp`` subsystem and the ``sshcore sftp`` / ``sshcore scp`` commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sshcore import hookimpl
from sshcore.interfaces import CliCommand, Subsystem


async def _serve(process: Any, **options: Any) -> int | None:
    from ._server import run_sftp_server

    return await run_sftp_server(process, **options)


async def _open_client(conn: Any, **options: Any) -> Any:
    from ._client import open_sftp_client

    return await open_sftp_client(conn, **options)


@hookimpl
def sshcore_subsystems() -> Sequence[Subsystem]:
    return [Subsystem("sftp", server_factory=_serve, client_factory=_open_client)]


@hookimpl
def sshcore_cli_commands() -> Sequence[CliCommand]:
    from ._cli import commands

    return commands()
