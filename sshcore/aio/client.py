"""Client connection: host-key trust, credentials, sessions, ``run()``."""

from __future__ import annotations

import asyncio
import getpass
import inspect
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import events as ev
from ..config import ConnectionConfig
from ..errors import (DisconnectReason, HostKeyNotVerifiableError, KeyImportError,
                      PermissionDeniedError, ProcessError)
from ..keys import KnownHosts, fingerprint, read_private_key
from .channel import SSHClientChannel, SSHClientSession
from .connection import SSHConnection, _maybe_await
from .process import SSHClientProcess, SSHCompletedProcess

DEFAULT_KEY_FILES = ("id_ed25519", "id_ecdsa", "id_rsa")


class SSHClient:
    """Optional callbacks for a client connection (seed API)."""

    def connection_made(self, conn: SSHClientConnection) -> None:
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        pass

    def auth_banner_received(self, msg: str, lang: str) -> None:
        pass

    def auth_completed(self) -> None:
        pass


class SSHClientConnection(SSHConnection):
    def __init__(self, config: ConnectionConfig, host: str, port: int, *,
                 known_hosts: Any, client: SSHClient | None,
                 password: Any, kbdint_handler: Any = None, password_change: Any = None) -> None:
        super().__init__(config)
        self.host = host
        self.port = port
        self._known_hosts = known_hosts
        self._client = client or SSHClient()
        self._password = password
        self._kbdint = kbdint_handler
        self._password_change = password_change
        self.server_host_key: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._client.connection_made(self)

    def on_closed(self, exc: Exception | None) -> None:
        self._client.connection_lost(exc)

    # -------------------------------------------------------------- events

    def _on_host_key(self, event: ev.HostKeyReceived) -> None:
        assert self._conn is not None
        self.server_host_key = event.key
        verdict = self._check_host_key(event.key)
        if verdict is True:
            self._conn.accept_host_key()
        elif inspect.isawaitable(verdict):
            async def decide() -> None:
                ok = await verdict
                if self._conn is None or self._conn.closed:
                    return
                if ok:
                    self._conn.accept_host_key()
                else:
                    self._reject_host_key("host key rejected by the application")
                self._process()
            self._spawn(decide())
        else:
            self._reject_host_key(verdict or "host key is not trusted")

    def _reject_host_key(self, why: str) -> None:
        assert self._conn is not None
        self._set_error(HostKeyNotVerifiableError(
            f"{self.host}:{self.port}: {why} ({self.server_host_key.key_type} "
            f"{fingerprint(self.server_host_key)})"))
        self._conn.reject_host_key(why)

    def _check_host_key(self, key: Any) -> Any:
        kh = self._known_hosts
        if kh is None:
            return True
        if callable(kh):
            return kh(self.host, self.port, key)
        if isinstance(kh, KnownHosts):
            tables = [kh]
        else:
            paths = [kh] if isinstance(kh, (str, Path)) else list(kh)
            tables = [KnownHosts.read(p) for p in paths]
        unknown = True
        for table in tables:
            verdict = table.match(self.host, self.port, key.public_blob)
            if verdict is True:
                return True
            if verdict is False:
                return "host key does not match the one recorded in known_hosts"
            unknown = unknown and verdict is None
        return "host is not in known_hosts"

    def _on_auth_input(self, event: ev.AuthInputRequested) -> None:
        assert self._conn is not None
        info = event.info
        if event.kind == "password" and callable(self._password):
            answer: Any = lambda: self._password(info.get("prompt", ""))  # noqa: E731
        elif event.kind == "kbdint" and callable(self._kbdint):
            answer = lambda: self._kbdint(info["name"], info["instruction"], info["prompts"])  # noqa: E731
        elif event.kind == "password_change" and callable(self._password_change):
            answer = lambda: self._password_change(info.get("prompt", ""))  # noqa: E731
        else:
            self._conn.provide_auth_input(None)
            return

        async def ask() -> None:
            value = await _maybe_await(answer())
            if self._conn is not None and not self._conn.closed:
                self._conn.provide_auth_input(value)
                self._process()
        self._spawn(ask())

    def _on_banner(self, event: ev.AuthBannerReceived) -> None:
        self._client.auth_banner_received(event.message, event.language)

    def _on_auth_completed(self, event: ev.AuthCompleted) -> None:
        self.username = event.username
        self._client.auth_completed()
        if not self._ready.done():
            self._ready.set_result(None)

    def _on_auth_exhausted(self, event: ev.AuthExhausted) -> None:
        assert self._conn is not None
        self._set_error(PermissionDeniedError(
            f"permission denied (server allows: {','.join(event.allowed) or 'none'})"))
        self._conn.disconnect(DisconnectReason.NO_MORE_AUTH_METHODS_AVAILABLE,
                              "no more authentication methods available")

    def channel_open_requested(self, channel: int, channel_type: str, data: bytes) -> Any:
        from ..errors import ChannelOpenError, ChannelOpenFailureReason

        raise ChannelOpenError(ChannelOpenFailureReason.ADMINISTRATIVELY_PROHIBITED,
                               f"{channel_type} channels are not accepted by this client")

    # -------------------------------------------------------------- sessions

    async def create_session(self, session_factory: Callable[[], Any], command: str | None = None,
                             *, subsystem: str | None = None, env: Mapping[str, str] | None = None,
                             term_type: str | None = None, term_size: Sequence[int] | None = None,
                             term_modes: Mapping[int, int] | None = None,
                             encoding: str | None = "utf-8", errors: str = "strict",
                             ) -> tuple[SSHClientChannel, Any]:
        session = session_factory()
        chan = SSHClientChannel(session, encoding=encoding, errors=errors)
        await self.open_channel("session", chan)
        chan._opened()
        await chan._start(command, subsystem, env, term_type,
                          tuple(term_size) if term_size else None, term_modes)
        return chan, session

    async def create_process(self, command: str | None = None, *, encoding: str | None = "utf-8",
                             errors: str = "strict", **kwargs: Any) -> SSHClientProcess:
        proc = SSHClientProcess(encoding, errors)
        proc.command = command
        chan = SSHClientChannel(proc, encoding=None)
        await self.open_channel("session", chan)
        chan._opened()
        await chan._start(command, kwargs.get("subsystem"), kwargs.get("env"),
                          kwargs.get("term_type"), kwargs.get("term_size"), kwargs.get("term_modes"))
        return proc

    async def run(self, command: str | None = None, *, input: str | bytes | None = None,
                  check: bool = False, **kwargs: Any) -> SSHCompletedProcess:
        proc = await self.create_process(command, **kwargs)
        if input is not None:
            proc.stdin.write(input)
        proc.stdin.write_eof()
        result = await proc.wait()
        if check and (result.exit_status != 0 or result.exit_signal):
            raise ProcessError(command, result.exit_status,
                               result.exit_signal[0] if result.exit_signal else None,
                               result.stdout, result.stderr)
        return result


SSHClientConnection.event_handlers = {
    **SSHConnection.event_handlers,
    ev.HostKeyReceived: SSHClientConnection._on_host_key,
    ev.AuthInputRequested: SSHClientConnection._on_auth_input,
    ev.AuthBannerReceived: SSHClientConnection._on_banner,
    ev.AuthCompleted: SSHClientConnection._on_auth_completed,
    ev.AuthExhausted: SSHClientConnection._on_auth_exhausted,
}


def load_client_keys(client_keys: Any, passphrase: Any, registry: Any) -> list[Any]:
    """Keys from paths/objects; ``None`` means the user's default key files (quietly)."""
    if client_keys is None:
        keys = []
        ssh_dir = Path("~/.ssh").expanduser()
        for name in DEFAULT_KEY_FILES:
            path = ssh_dir / name
            if path.exists():
                try:
                    keys.append(read_private_key(path, passphrase, registry=registry))
                except KeyImportError:
                    continue
        return keys
    if isinstance(client_keys, (str, Path)) or hasattr(client_keys, "sign"):
        client_keys = [client_keys]
    return [read_private_key(k, passphrase, registry=registry) if isinstance(k, (str, Path)) else k
            for k in client_keys]


def default_username() -> str:
    return getpass.getuser()
