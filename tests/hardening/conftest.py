"""Fixtures for the hostile-peer tests: a server to attack, a check that it still serves,
and an event loop whose default exception handler must never be reached."""

from __future__ import annotations

import asyncio
import gc
import sys
from pathlib import Path
from typing import Any

import pytest

import sshcore
from sshcore.testing import TestKey

sys.path.insert(0, str(Path(__file__).parent))

USER, PASSWORD = "alice", "secret"


@pytest.fixture(scope="session")
def real_registry():
    """The installed plugins (curve25519, AES, HMAC, Ed25519, ...)."""
    from sshcore.registry import default_registry

    return default_registry()


@pytest.fixture(scope="session")
def ed25519_key():
    from sshcore.keys import generate_private_key

    return generate_private_key("ssh-ed25519")


def host_key_for(registry: Any, real_key: Any = None) -> Any:
    return TestKey() if "test-key@sshcore.test" in registry.names("signature") else real_key


async def echo_command(proc: Any) -> int:
    proc.stdout.write(f"ran {proc.command}")
    return 0


async def serve(registry: Any, host_key: Any, **options: Any) -> Any:
    """Our server on 127.0.0.1 with one password user (``alice``/``secret``)."""
    options.setdefault("process_factory", echo_command)
    # The bad peers these tests send would get 127.0.0.1 penalised (PerSourcePenalties),
    # refusing the good client that follows; as OpenSSH's regress suite, turn them off.
    options.setdefault("per_source_penalties", False)
    return await sshcore.listen("127.0.0.1", 0, server_host_keys=[host_key], registry=registry,
                                passwords={USER: PASSWORD}, **options)


async def client(port: int, registry: Any, **options: Any) -> Any:
    return await sshcore.connect("127.0.0.1", port, username=USER, password=PASSWORD,
                                 known_hosts=None, registry=registry, config=None,
                                 agent_path=None, client_keys=[], **options)


async def assert_serves(port: int, registry: Any) -> None:
    """A well-behaved client still logs in and runs a command."""
    async with asyncio.timeout(20):
        async with await client(port, registry) as conn:
            result = await conn.run("still-here")
            assert result.stdout == "ran still-here" and result.exit_status == 0


def run(coro: Any, timeout: float = 60) -> Any:
    """Run ``coro`` on a fresh loop; any call of the loop's exception handler (an
    exception nobody handled: a task's, a callback's, a protocol's) fails the test."""
    calls: list[dict[str, Any]] = []

    async def main() -> Any:
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: calls.append(ctx))
        async with asyncio.timeout(timeout):
            result = await coro
        # let closing transports and cancelled tasks finish, then collect orphans
        for _ in range(5):
            await asyncio.sleep(0.02)
        gc.collect()
        await asyncio.sleep(0)
        return result

    result = asyncio.run(main())
    gc.collect()
    assert not calls, f"exceptions reached the event loop's handler: {calls}"
    return result
