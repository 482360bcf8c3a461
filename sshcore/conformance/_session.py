"""The kit's connections: sshcore against itself in process, against ``sshd``, and
OpenSSH ``ssh`` against an sshcore server; bulk echo transfers with checksums.

Every scenario runs inside :func:`run_loop`, whose event loop fails the check if any
exception reaches its exception handler (an exception nobody handled).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import hashlib
import os
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from typing import Any

from ..errors import ProtocolError

USER = "kit"
PASSWORD = "kit-password"
CHUNK = 65536


def run_loop(coro: Coroutine[Any, Any, Any], timeout: float, what: str) -> Any:
    """Run ``coro`` on a new event loop, bounded by ``timeout`` seconds; an exception that
    reaches the loop's exception handler fails with an AssertionError naming ``what``."""
    calls: list[dict[str, Any]] = []

    async def main() -> Any:
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: calls.append(ctx))
        try:
            async with asyncio.timeout(timeout):
                result = await coro
        except TimeoutError:
            raise AssertionError(f"{what}: did not finish within {timeout:g} s") from None
        for _ in range(5):  # let closing transports finish, then collect orphans
            await asyncio.sleep(0.02)
        gc.collect()
        await asyncio.sleep(0)
        return result

    result = asyncio.run(main())
    gc.collect()
    if calls:
        shown = "; ".join(f"{c.get('message')}: {c.get('exception')!r}" for c in calls[:3])
        raise AssertionError(f"{what}: exceptions reached the event loop's handler: {shown}")
    return result


async def echo_process(proc: Any) -> int:
    """Server side of a transfer: send back everything read, until EOF."""
    while True:
        data = await proc.stdin.read(CHUNK)
        if not data:
            break
        proc.stdout.write(data)
        await proc.stdout.drain()
    return 0


async def echo_transfer(conn: Any, size: int, what: str) -> None:
    """Push ``size`` random bytes through the remote ``cat`` (or our echo) while reading
    them back: ``size`` bytes each way, compared by SHA-256."""
    data = os.urandom(size)
    proc = await conn.create_process("cat", encoding=None)

    async def writer() -> None:
        for i in range(0, len(data), CHUNK):
            proc.stdin.write(data[i:i + CHUNK])
            await proc.stdin.drain()
        proc.stdin.write_eof()

    task = asyncio.ensure_future(writer())
    hasher, got = hashlib.sha256(), 0
    try:
        while True:
            chunk = await proc.stdout.read(CHUNK)
            if not chunk:
                break
            hasher.update(chunk)
            got += len(chunk)
        await task
    finally:
        task.cancel()
    await proc.wait_closed()
    assert got == size, f"{what}: sent {size} bytes, {got} came back"
    assert hasher.digest() == hashlib.sha256(data).digest(), \
        f"{what}: the {size} bytes that came back differ from those sent (checksum)"


class Recorder:
    """Client and server callbacks recording how each connection ended."""

    def __init__(self) -> None:
        self.client_errors: list[Exception | None] = []
        self.server_errors: list[Exception | None] = []

    def client(self) -> Any:
        from ..aio.client import SSHClient

        rec = self

        class _Client(SSHClient):
            def connection_lost(self, exc: Exception | None) -> None:
                rec.client_errors.append(exc)
        return _Client()

    def server(self) -> Any:
        from ..aio.server import SSHServer

        rec = self

        class _Server(SSHServer):
            def connection_lost(self, exc: Exception | None) -> None:
                rec.server_errors.append(exc)
        return _Server()


def describe(exc: BaseException | None) -> str:
    if exc is None:
        return "a clean close"
    reason = getattr(exc, "reason", None)
    code = f" (reason {int(reason)} {reason.name})" if reason is not None else ""
    return f"{type(exc).__name__}: {exc}{code}"


def replaced(registry: Any, family: str, descriptor: Any) -> Any:
    """``registry`` in which ``descriptor`` serves its name in ``family`` (the kit's way
    to wrap the serving implementation on one side of a connection)."""
    alts = {f: dict(names) for f, names in registry.alternatives.items()}
    old = alts[family][descriptor.name]
    alts[family][descriptor.name] = (dataclasses.replace(old[0], descriptor=descriptor), *old[1:])
    return registry._rebuilt(alts)


@dataclasses.dataclass
class Peers:
    """What a scenario needs: registries, keys and the forced algorithm options."""

    registry: Any
    host_key: Any
    user_key: Any
    host_key_check: Callable[[str, int, Any], bool] | None
    client_options: Mapping[str, Any]
    server_options: Mapping[str, Any]


async def serve(p: Peers, registry: Any = None, **extra: Any) -> Any:
    from .. import listen

    opts: dict[str, Any] = {"process_factory": echo_process, "passwords": {USER: PASSWORD},
                            "max_startups": None, "login_timeout": 60}
    opts.update(p.server_options)
    opts.update(extra)
    return await listen("127.0.0.1", 0, server_host_keys=[p.host_key],
                        registry=registry or p.registry, **opts)


def client_kwargs(p: Peers, registry: Any = None, **extra: Any) -> dict[str, Any]:
    opts: dict[str, Any] = {"username": USER, "client_keys": [p.user_key], "password": PASSWORD,
                            "known_hosts": p.host_key_check, "config": None,
                            "agent_path": None, "keepalive_interval": None,
                            "connect_timeout": 30, "registry": registry or p.registry}
    opts.update(p.client_options)
    opts.update(extra)
    return opts


async def expect_refusal(coro: Coroutine[Any, Any, Any], what: str,
                         expected: tuple[type[BaseException], ...] = (ProtocolError,)
                         ) -> BaseException:
    """``coro`` must fail with one of ``expected``; returns the exception."""
    try:
        result = await coro
    except expected as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - a plugin's crash is what the kit reports
        raise AssertionError(f"{what}: failed with {describe(exc)}, expected "
                             f"{' or '.join(e.__name__ for e in expected)}") from exc
    else:
        close = getattr(result, "close", None)
        if close is not None:
            close()
        raise AssertionError(f"{what}: was accepted; it must be refused")


@contextlib.asynccontextmanager
async def inprocess_pair(registry: Any = None, *, host_key: Any = None,
                         server_options: Mapping[str, Any] | None = None,
                         **options: Any) -> AsyncIterator[tuple[Any, Any]]:
    """An sshcore server on 127.0.0.1 and an sshcore client connected to it, in this
    event loop: yields ``(client connection, acceptor)``.

    ``options`` (``encryption_algs=[...]``, ``rekey_bytes=...``, any keyword both
    :func:`sshcore.connect` and :func:`sshcore.listen` take) apply to both ends;
    ``server_options`` to the server only.  The server echoes every session's input
    and authenticates user ``kit`` with password ``kit-password``; a new Ed25519 host
    key is made unless ``host_key`` is given, and the client trusts exactly that key.
    """
    from .. import connect
    from ..files.keys import generate_private_key
    from ..registry import connection_registry

    reg = connection_registry(registry)
    key = host_key if host_key is not None else generate_private_key("ssh-ed25519",
                                                                     registry=reg)
    p = Peers(reg, key, None, None, {}, {**options, **(server_options or {})})
    async with await serve(p) as server:
        kw = client_kwargs(p, client_keys=[], known_hosts=lambda h, port, k:
                           k.public_blob == key.public_blob, **options)
        async with connect("127.0.0.1", server.port, **kw) as conn:
            yield conn, server
