"""Hook implementations: the ``sftp`` subsystem and the ``sshcore sftp`` / ``sshcore scp`` commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sshcore import hookimpl
from sshcore.interfaces import CliCommand, Subsystem, lazy


async def _serve(process: Any, **options: Any) -> int | None:
    from ._server import run_sftp_server

    return await run_sftp_server(process, **options)


async def _open_client(conn: Any, **options: Any) -> Any:
    from ._client import open_sftp_client

    return await open_sftp_client(conn, **options)


@hookimpl
def sshcore_subsystems() -> Sequence[Subsystem]:
    return [Subsystem("sftp", server_factory=_serve, client_factory=_open_client)]


_CLI = "sshcore_sftp._cli:"


@hookimpl
def sshcore_cli_commands() -> Sequence[CliCommand]:
    # Named, not imported: the CLI module loads only when its command runs.
    return [CliCommand("scp", "copy files over SFTP, like OpenSSH's scp",
                       lazy(_CLI + "_scp_arguments"), lazy(_CLI + "_scp_main")),
            CliCommand("sftp", "interactive SFTP client, like OpenSSH's sftp",
                       lazy(_CLI + "_sftp_arguments"), lazy(_CLI + "_sftp_main"))]
