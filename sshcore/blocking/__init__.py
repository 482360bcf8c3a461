"""sshcore without asyncio: a blocking client (and simple server) on the same kernel.

::

    from sshcore import blocking

    with blocking.connect("host", username="me") as conn:
        print(conn.run("uname -a", timeout=10).stdout)
        proc = conn.exec("cat")
        proc.stdin.write(b"hi\\n"); proc.stdin.close()
        print(proc.stdout.read(), proc.wait())
        with conn.start_sftp_client() as sftp:
            sftp.put("local.txt", "remote.txt")

:func:`connect` takes exactly the keywords of :func:`sshcore.connect` (both build one
:class:`sshcore.options.ClientOptions`) and reads ssh_config the same way.

Threads: each connection has one I/O thread (sockets and :mod:`selectors`, never an
event loop) and one lock guarding the sans-I/O kernel; any number of application
threads may share a connection, each call waiting on the lock's condition for its own
result.  Callbacks given to ``connect`` (``password``, ``kbdint_handler``,
``unknown_host_handler``, a callable ``known_hosts``) run in the I/O thread and must not
use the connection.

Timeouts: every blocking call takes ``timeout=`` (seconds; by default the connection's
``timeout`` attribute, None: wait forever).  When it expires the call raises
:class:`SSHTimeoutError` (a subclass of :class:`sshcore.SSHError` and of the built-in
:class:`TimeoutError`), and the connection stays usable; connecting raises
:class:`sshcore.ConnectTimeoutError` after ``connect_timeout``.
"""

from __future__ import annotations

from ._channel import ChannelFile, ChannelSocket, CompletedProcess, SSHProcess
from ._driver import SSHTimeoutError
from .client import LocalForward, SSHClientConnection, connect, connect_with_options

__all__ = ["connect", "connect_with_options", "SSHClientConnection", "SSHProcess",
           "CompletedProcess", "ChannelFile", "ChannelSocket", "LocalForward", "SSHTimeoutError",
           "serve"]


def __getattr__(name: str) -> object:
    if name == "serve":
        from .server import serve

        return serve
    raise AttributeError(f"module 'sshcore.blocking' has no attribute {name!r}")
