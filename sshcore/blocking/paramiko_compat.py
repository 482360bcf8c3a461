"""A small class shaped like paramiko's ``SSHClient``, on :mod:`sshcore.blocking`.

The common paramiko script ports by changing its import::

    from sshcore.blocking import paramiko_compat as paramiko

    client = paramiko.SSHClient()
    client.load_system_host_keys()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect("host", username="me", key_filename="~/.ssh/id_ed25519")
    stdin, stdout, stderr = client.exec_command("ls")
    print(stdout.read(), stdout.channel.recv_exit_status())
    sftp = client.open_sftp(); sftp.put("a", "b"); sftp.close()
    client.close()

Covered: ``connect`` (hostname, port, username, password, pkey, key_filename, timeout,
allow_agent, look_for_keys, banner_timeout, auth_timeout), ``exec_command`` (three file
objects; get_pty, environment, timeout), ``invoke_shell``, ``open_sftp`` (get, put,
open, listdir, listdir_attr, stat, lstat, mkdir, rmdir, remove/unlink, rename, chmod,
normalize), ``get_transport().open_channel("direct-tcpip", ...)``, host keys
(``load_system_host_keys``, ``load_host_keys``, ``get_host_keys``,
``set_missing_host_key_policy`` with :class:`AutoAddPolicy`, :class:`RejectPolicy`,
:class:`WarningPolicy`), and paramiko's exception names as aliases of sshcore's.
See ``docs/from-paramiko.md``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ..errors import (ChannelOpenError, HostKeyNotVerifiableError, PermissionDeniedError,
                      SSHError)
from ..files.keys import KnownHosts, add_known_host
from . import SSHTimeoutError
from .client import SSHClientConnection, connect

logger = logging.getLogger("sshcore.blocking")

__all__ = ["SSHClient", "AutoAddPolicy", "RejectPolicy", "WarningPolicy",
           "MissingHostKeyPolicy", "SSHException", "AuthenticationException",
           "BadHostKeyException", "ChannelException", "SSHTimeoutError"]

SSHException = SSHError
AuthenticationException = PermissionDeniedError
BadHostKeyException = HostKeyNotVerifiableError
ChannelException = ChannelOpenError


class MissingHostKeyPolicy:
    """Decides about a server whose host key is not known (paramiko's interface)."""

    def missing_host_key(self, client: SSHClient, hostname: str, key: Any) -> None:
        pass


class AutoAddPolicy(MissingHostKeyPolicy):
    """Trust the unknown key and remember it (saved by ``save_host_keys``)."""

    def missing_host_key(self, client: SSHClient, hostname: str, key: Any) -> None:
        client._learned.append((hostname, key))


class RejectPolicy(MissingHostKeyPolicy):
    """Refuse an unknown host (paramiko's default)."""

    def missing_host_key(self, client: SSHClient, hostname: str, key: Any) -> None:
        raise SSHException(f"Server {hostname!r} not found in known_hosts")


class WarningPolicy(MissingHostKeyPolicy):
    """Log a warning and trust the key for this connection."""

    def missing_host_key(self, client: SSHClient, hostname: str, key: Any) -> None:
        logger.warning("Unknown %s host key for %s", key.key_type, hostname)


class SSHClient:
    """paramiko's ``SSHClient`` surface over :func:`sshcore.blocking.connect`."""

    def __init__(self) -> None:
        self._system_files: list[str] = []
        self._host_files: list[str] = []
        self._learned: list[tuple[str, Any]] = []
        self._policy: MissingHostKeyPolicy = RejectPolicy()
        self._conn: SSHClientConnection | None = None

    # -------------------------------------------------------------- host keys

    def load_system_host_keys(self, filename: str | None = None) -> None:
        self._system_files.append(os.path.expanduser(filename or "~/.ssh/known_hosts"))

    def load_host_keys(self, filename: str) -> None:
        self._host_files.append(os.path.expanduser(filename))

    def save_host_keys(self, filename: str) -> None:
        for host, key in self._learned:
            add_known_host(filename, host, 22, key)

    def get_host_keys(self) -> KnownHosts:
        table, _ = KnownHosts.load(self._system_files + self._host_files)
        return table

    def set_missing_host_key_policy(self, policy: Any) -> None:
        self._policy = policy() if isinstance(policy, type) else policy

    # -------------------------------------------------------------- connecting

    def connect(self, hostname: str, port: int = 22, username: str | None = None,
                password: str | None = None, pkey: Any = None, key_filename: Any = None,
                timeout: float | None = None, allow_agent: bool = True,
                look_for_keys: bool = True, compress: bool = False, sock: Any = None,
                banner_timeout: float | None = None, auth_timeout: float | None = None,
                passphrase: str | None = None, **ignored: Any) -> None:
        keys: list[Any] = []
        if pkey is not None:
            keys.append(pkey)
        if key_filename is not None:
            keys += [key_filename] if isinstance(key_filename, (str, os.PathLike)) else list(key_filename)
        client_keys: Any = keys
        if not keys and look_for_keys:
            client_keys = None  # the default key files, as paramiko looks for them
        table = self.get_host_keys()

        def unknown(host: str, port_: int, key: Any) -> bool:
            self._policy.missing_host_key(self, hostname if port == 22 else f"[{hostname}]:{port}", key)
            return True
        limit = max((t for t in (timeout, banner_timeout, auth_timeout) if t is not None), default=None)
        self._conn = connect(
            hostname, port, config=None, username=username, password=password,
            passphrase=passphrase, client_keys=client_keys,
            agent_path=(os.environ.get("SSH_AUTH_SOCK") if allow_agent else None),
            known_hosts=table, unknown_host_handler=unknown, update_host_keys=False,
            connect_timeout=limit if limit is not None else 30.0, sock=sock,
            compression_algs="zlib@openssh.com,zlib,none" if compress else None)

    def _live(self) -> SSHClientConnection:
        if self._conn is None or self._conn.is_closed:
            raise SSHException("SSH session not active")
        return self._conn

    def exec_command(self, command: str, bufsize: int = -1, timeout: float | None = None,
                     get_pty: bool = False, environment: dict[str, str] | None = None,
                     ) -> tuple[Any, Any, Any]:
        """Start ``command``: its (stdin, stdout, stderr) file objects; ``timeout`` is each
        later read's limit (raising :class:`~sshcore.blocking.SSHTimeoutError`, a
        :class:`TimeoutError` as paramiko's ``socket.timeout`` is)."""
        conn = self._live()
        proc = conn.exec(command, env=environment, term_type="vt100" if get_pty else None,
                         timeout=timeout if timeout is not None else conn.timeout)
        if timeout is not None:
            proc.default_timeout = timeout  # each read and write on the three files
        return ChannelFile(proc.stdin), ChannelFile(proc.stdout), ChannelFile(proc.stderr)

    def invoke_shell(self, term: str = "vt100", width: int = 80, height: int = 24, **_: Any) -> Any:
        return self._live().shell(term_type=term, term_size=(width, height))

    def open_sftp(self) -> SFTPClient:
        return SFTPClient(self._live().start_sftp_client())

    def get_transport(self) -> Transport | None:
        return Transport(self._conn) if self._conn is not None else None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> SSHClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class ChannelFile:
    """As paramiko's: ``read()`` gives bytes, ``readline()`` and iteration give text
    (UTF-8), ``write()`` takes either, ``channel`` has ``recv_exit_status()``."""

    def __init__(self, f: Any) -> None:
        self._f = f
        self.channel = f.channel

    def read(self, size: int = -1) -> bytes:
        return self._f.read(size)

    def readline(self, size: int = -1) -> str:
        return self._f.readline().decode("utf-8", "replace")

    def readlines(self) -> list[str]:
        return list(self)

    def __iter__(self) -> Any:
        while line := self.readline():
            yield line

    def write(self, data: Any) -> None:
        self._f.write(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self._f.close()

    @property
    def closed(self) -> bool:
        return self._f.closed

    def __enter__(self) -> ChannelFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Transport:
    """The little of paramiko's Transport that scripts use through ``get_transport()``."""

    def __init__(self, conn: SSHClientConnection) -> None:
        self._conn = conn

    def is_active(self) -> bool:
        return not self._conn.is_closed

    def is_authenticated(self) -> bool:
        return not self._conn.is_closed

    def getpeername(self) -> Any:
        return self._conn.get_extra_info("peername")

    def open_channel(self, kind: str, dest_addr: tuple[str, int] | None = None,
                     src_addr: tuple[str, int] | None = None, timeout: float | None = None) -> Any:
        if kind == "session":
            return self._conn.shell(term_type=None, timeout=timeout)
        if kind != "direct-tcpip" or dest_addr is None:
            raise SSHException(f"channel type {kind!r} is not supported here")
        src = src_addr or ("127.0.0.1", 0)
        return self._conn.open_direct_tcpip(dest_addr[0], dest_addr[1], src[0], src[1],
                                            timeout=timeout)

    def close(self) -> None:
        self._conn.close()


class SFTPAttributes:
    """paramiko's attribute names over an :class:`sshcore_sftp.SFTPAttrs`."""

    def __init__(self, attrs: Any, filename: str | None = None) -> None:
        self.st_size = attrs.size
        self.st_uid = attrs.uid
        self.st_gid = attrs.gid
        self.st_mode = attrs.permissions
        self.st_atime = attrs.atime
        self.st_mtime = attrs.mtime
        if filename is not None:
            self.filename = filename

    def __repr__(self) -> str:
        return f"<SFTPAttributes size={self.st_size} mode={self.st_mode and oct(self.st_mode)}>"


class SFTPClient:
    """paramiko's ``SFTPClient`` names over :class:`sshcore.blocking.sftp.SFTPClient`."""

    def __init__(self, sftp: Any) -> None:
        self._s = sftp

    def get(self, remotepath: str, localpath: str, callback: Any = None) -> None:
        size = self._s.get(remotepath, localpath)
        if callback is not None:
            callback(size, size)

    def put(self, localpath: str, remotepath: str, callback: Any = None,
            confirm: bool = True) -> SFTPAttributes:
        attrs = SFTPAttributes(self._s.put(localpath, remotepath))
        if callback is not None:
            callback(attrs.st_size, attrs.st_size)
        return attrs

    def open(self, filename: str, mode: str = "r", bufsize: int = -1) -> Any:
        return self._s.open(filename, mode)

    file = open

    def listdir(self, path: str = ".") -> list[str]:
        return self._s.listdir(path)

    def listdir_attr(self, path: str = ".") -> list[SFTPAttributes]:
        return [SFTPAttributes(n.attrs, n.filename) for n in self._s.listdir_attr(path)]

    def stat(self, path: str) -> SFTPAttributes:
        return SFTPAttributes(self._s.stat(path))

    def lstat(self, path: str) -> SFTPAttributes:
        return SFTPAttributes(self._s.lstat(path))

    def mkdir(self, path: str, mode: int = 0o777) -> None:
        self._s.mkdir(path, mode)

    def rmdir(self, path: str) -> None:
        self._s.rmdir(path)

    def remove(self, path: str) -> None:
        self._s.remove(path)

    unlink = remove

    def rename(self, oldpath: str, newpath: str) -> None:
        self._s.rename(oldpath, newpath, overwrite=False)

    def posix_rename(self, oldpath: str, newpath: str) -> None:
        self._s.rename(oldpath, newpath)

    def chmod(self, path: str, mode: int) -> None:
        self._s.chmod(path, mode)

    def normalize(self, path: str) -> str:
        return self._s.normalize(path)

    def close(self) -> None:
        self._s.close()

    def __enter__(self) -> SFTPClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

