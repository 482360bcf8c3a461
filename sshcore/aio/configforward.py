"""The forwards connect() sets up (ssh's -L/-R/-D, LocalForward/RemoteForward/DynamicForward).

:func:`start_forwards` opens each :class:`~sshcore.sessionconfig.ForwardSpec` of a
connection's options once it is authenticated; the listeners close with the
connection.  A forward that cannot be set up is a warning (ssh's
``ExitOnForwardFailure=no``), or, with ``exit_on_forward_failure``, a
:class:`~sshcore.ChannelListenError` that fails the connect.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ..errors import ChannelListenError, SSHError
from ..sessionconfig import ForwardSpec, forward_failed

logger = logging.getLogger("sshcore.aio")

__all__ = ["start_forwards", "start_forward"]


async def start_forward(conn: Any, f: ForwardSpec) -> Any:
    """Set up one forward on an open client connection: its listener."""
    host = f.bind_host()
    if f.kind == "D":
        return await conn.forward_socks(host, f.listen_port)
    side = "local" if f.kind == "L" else "remote"
    if f.listen_path is not None:                 # a socket to a socket
        return await getattr(conn, f"forward_{side}_path")(f.listen_path, f.dest_path)
    if f.dest_path is not None:                   # a port to a socket
        return await getattr(conn, f"forward_{side}_port_to_path")(host, f.listen_port,
                                                                    f.dest_path)
    return await getattr(conn, f"forward_{side}_port")(host, f.listen_port, f.dest_host,
                                                        f.dest_port)


async def start_forwards(conn: Any, specs: Sequence[ForwardSpec],
                         exit_on_failure: bool) -> list[tuple[ForwardSpec, Any]]:
    """Set up ``specs`` in order: the ``(spec, listener)`` pairs that worked.  A failure
    is logged as a warning, or with ``exit_on_failure`` closes what was set up and
    raises :class:`~sshcore.ChannelListenError`."""
    started: list[tuple[ForwardSpec, Any]] = []
    for spec in specs:
        try:
            listener = await start_forward(conn, spec)
        except (SSHError, OSError) as exc:
            try:
                forward_failed(spec, exc, exit_on_failure)
            except ChannelListenError:
                for _, lst in started:
                    lst.close()
                raise
            continue
        if spec.kind == "R" and spec.listen_port == 0 and spec.listen_path is None:
            logger.info("Allocated port %s for remote forward to %s", listener.get_port(),
                        spec.destination())
        started.append((spec, listener))
    return started
