"""listen()'s per-source penalties and limits on real loopback sockets (stand-in algorithms)."""

from __future__ import annotations

import asyncio

import pytest

import sshcore
from sshcore.aio.server import SSHServer
from sshcore.errors import SSHError
from sshcore.testing import TestKey

USER, PASSWORD = "alice", "secret"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def serve(registry, **options):
    async def cmd(proc):
        proc.stdout.write("ok")
        return 0
    options.setdefault("passwords", {USER: PASSWORD})
    return await sshcore.listen("127.0.0.1", 0, server_host_keys=[TestKey()], registry=registry,
                                process_factory=cmd, **options)


async def login(port, registry, password=PASSWORD, source="127.0.0.1"):
    async with sshcore.connect("127.0.0.1", port, username=USER, password=password,
                               known_hosts=None, registry=registry, config=None, agent_path=None,
                               client_keys=[], local_addr=(source, 0), connect_timeout=10) as conn:
        return (await conn.run("x")).stdout


async def fail_login(port, registry, source="127.0.0.1"):
    with pytest.raises(SSHError):
        await login(port, registry, password="wrong", source=source)


async def first_bytes(port, source="127.0.0.1", timeout=5.0):
    """What the server sends a raw TCP peer first (b"" if it closes without a word)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        return await asyncio.wait_for(reader.read(100), timeout)
    except ConnectionResetError:
        return b""
    finally:
        writer.close()


def test_failed_auth_penalises_the_source_and_refusal_comes_before_the_banner(test_registry):
    async def main():
        async with await serve(test_registry, per_source_penalties="authfail:10s min:15s") as srv:
            assert await login(srv.port, test_registry) == "ok"
            await fail_login(srv.port, test_registry)
            assert (await first_bytes(srv.port)).startswith(b"SSH-2.0-")  # 10 s <= min
            await fail_login(srv.port, test_registry)
            await asyncio.sleep(0.1)
            # 20 s outstanding: refused at accept, before the version line
            assert await first_bytes(srv.port) == b""
            with pytest.raises(SSHError):
                await login(srv.port, test_registry)
            # another source (Linux routes all of 127/8 on lo) is unaffected
            assert await login(srv.port, test_registry, source="127.0.0.2") == "ok"
            outstanding, active = srv.source_limiter.penalty("127.0.0.1", asyncio.get_running_loop().time())
            assert active and 15 < outstanding <= 21  # 2 x authfail, 1 x noauth (the raw peer)
    run(main())


def test_penalty_expires(test_registry):
    async def main():
        async with await serve(test_registry, per_source_penalties="authfail:0.6 min:0.5") as srv:
            await fail_login(srv.port, test_registry)
            await asyncio.sleep(0.05)
            assert await first_bytes(srv.port) == b""
            await asyncio.sleep(0.8)
            assert await login(srv.port, test_registry) == "ok"
    run(main())


def test_exempt_list_and_disabled_penalties(test_registry):
    async def main():
        for opts in ({"per_source_penalty_exempt": "127.0.0.0/8"}, {"per_source_penalties": False}):
            async with await serve(test_registry, **opts) as srv:
                for _ in range(4):  # 4 x authfail 5 s would pass min 15 s
                    await fail_login(srv.port, test_registry)
                assert await login(srv.port, test_registry) == "ok"
                assert len(srv.source_limiter) == 0
    run(main())


def test_noauth_penalty_for_connections_closed_before_auth(test_registry):
    async def main():
        async with await serve(test_registry, per_source_penalties="noauth:20s") as srv:
            assert (await first_bytes(srv.port, timeout=0.2)).startswith(b"SSH-2.0-")
            await asyncio.sleep(0.2)
            assert await first_bytes(srv.port) == b""
    run(main())


def test_grace_exceeded_penalty(test_registry):
    async def main():
        async with await serve(test_registry, login_timeout=0.3,
                               per_source_penalties="grace-exceeded:20s noauth:0") as srv:
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            assert (await reader.readline()).startswith(b"SSH-2.0-")
            await asyncio.wait_for(reader.read(), 5)  # its KEXINIT, then EOF at the grace time
            writer.close()
            await asyncio.sleep(0.1)
            assert await first_bytes(srv.port) == b""
            assert srv.source_limiter.refused == {"penalty: exceeded LoginGraceTime": 1}
    run(main())


def test_crash_penalty(test_registry):
    class Buggy(SSHServer):
        def password_auth_supported(self):
            return True

        def validate_password(self, username, password):
            raise RuntimeError("bug")

        def kbdint_auth_supported(self):
            return False

    async def main():
        async with await serve(test_registry, server_factory=Buggy) as srv:  # defaults: crash 90 s
            with pytest.raises(SSHError):
                await login(srv.port, test_registry)
            await asyncio.sleep(0.1)
            assert await first_bytes(srv.port) == b""
            assert srv.source_limiter.refused == {"penalty: caused crash": 1}
    run(main())


def test_net_block_size_groups_sources(test_registry):
    async def main():
        async with await serve(test_registry, per_source_penalties="authfail:20s",
                               per_source_net_block_size="24") as srv:
            await fail_login(srv.port, test_registry, source="127.0.0.5")
            await asyncio.sleep(0.1)
            assert await first_bytes(srv.port, source="127.0.0.9") == b""
            assert (await first_bytes(srv.port, source="127.0.1.9", timeout=0.3)).startswith(b"SSH-")
    run(main())


def test_per_source_max_startups(test_registry):
    async def main():
        async with await serve(test_registry, per_source_max_startups=2,
                               per_source_penalties=False) as srv:
            held = [await asyncio.open_connection("127.0.0.1", srv.port) for _ in range(2)]
            for reader, _ in held:
                assert (await reader.readline()).startswith(b"SSH-2.0-")
            assert await first_bytes(srv.port) == b"Exceeded MaxStartups\r\n"
            assert await login(srv.port, test_registry, source="127.0.0.3") == "ok"
            for _, writer in held:
                writer.close()
            await asyncio.sleep(0.2)  # their slots are released on close
            assert await login(srv.port, test_registry) == "ok"
            # an authenticated connection no longer counts against its source
            async with sshcore.connect("127.0.0.1", srv.port, username=USER, password=PASSWORD,
                                       known_hosts=None, registry=test_registry, config=None,
                                       agent_path=None, client_keys=[]):
                async with sshcore.connect("127.0.0.1", srv.port, username=USER, password=PASSWORD,
                                           known_hosts=None, registry=test_registry, config=None,
                                           agent_path=None, client_keys=[]):
                    assert (await first_bytes(srv.port, timeout=0.3)).startswith(b"SSH-2.0-")
    run(main())


def test_bad_options_are_configuration_errors(test_registry):
    async def main():
        for opts in ({"per_source_penalties": "authfail:soon"},
                     {"per_source_net_block_size": "40"},
                     {"per_source_penalty_exempt": "10.0.0.0/99"},
                     {"per_source_max_startups": 0}):
            with pytest.raises(sshcore.ConfigurationError):
                await serve(test_registry, **opts)
    run(main())



def _raw_first_bytes(port: int) -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            return s.recv(100)
        except ConnectionResetError:
            return b""


@pytest.mark.parametrize("exempt", [False, True])
def test_sshcore_serve_per_source_options(tmp_path, exempt):
    import time

    from tests.load.serve import ServeProcess

    args = ["--per-source-penalties", "noauth:20s"]
    if exempt:
        args += ["--per-source-penalty-exempt", "127.0.0.0/8"]
    with ServeProcess(tmp_path / "home", *args) as srv:
        # ServeProcess's own readiness probe already closed one connection unauthenticated
        time.sleep(0.3)
        first = _raw_first_bytes(srv.port)
        assert first.startswith(b"SSH-2.0-") if exempt else first == b""
        assert srv.alive()


def test_a_shared_source_limiter_is_used_even_when_empty(test_registry):
    from sshcore.srclimit import SourceLimiter

    async def main():
        shared = SourceLimiter("authfail:20s")  # empty, so len() == 0
        async with await serve(test_registry, source_limiter=shared) as one, \
                await serve(test_registry, source_limiter=shared) as two:
            assert one.source_limiter is shared and two.source_limiter is shared
            await fail_login(one.port, test_registry)
            await asyncio.sleep(0.1)
            assert await first_bytes(two.port) == b""  # penalised on one, refused on two
    run(main())


def test_penalised_sources_are_refused_at_accept_without_a_transport(test_registry):
    """Refused by the listener's AcceptGate right after accept(): no asyncio transport,
    task or protocol is made for them (the listener counts them), no byte is sent."""
    import socket

    made, gated = [], []

    async def main():
        async with await serve(test_registry, per_source_penalties="authfail:30s") as srv:
            await fail_login(srv.port, test_registry)
            await asyncio.sleep(0.1)
            loop = asyncio.get_running_loop()
            # Count the transports asyncio makes from here on (a penalised source gets none).
            orig = loop._make_socket_transport
            loop._make_socket_transport = lambda *a, **kw: made.append(1) or orig(*a, **kw)
            try:
                for _ in range(20):
                    assert await first_bytes(srv.port) == b""
            finally:
                loop._make_socket_transport = orig
            gated.append(sum(g.refused for g in getattr(srv, "accept_gates", [])))
            assert srv.source_limiter.refused == {"penalty: failed authentication": 20}
            # a raw socket from another source still gets the banner
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5,
                                         source_address=("127.0.0.9", 0))
            s.settimeout(5)
            assert (await loop.run_in_executor(None, s.recv, 8)).startswith(b"SSH-")
            s.close()
    run(main())
    # 20 client-side transports (open_connection) and none for the server side
    assert len(made) == 20
    assert gated == [20]


def test_drop_lines_and_audit_events_are_rate_limited_per_source(test_registry):
    """One drop line (and one "refused" audit event) per source and penalty, then one
    per SourceLimiter.drop_log_interval with the count of those left out."""
    events = []

    async def main():
        async with await serve(test_registry, per_source_penalties="authfail:30s",
                               audit=events.append) as srv:
            srv.source_limiter.drop_log_interval = 0.5
            for source in ("127.0.0.1", "127.0.0.2"):
                await fail_login(srv.port, test_registry, source=source)
            await asyncio.sleep(0.1)
            for _ in range(10):
                for source in ("127.0.0.1", "127.0.0.2"):
                    assert await first_bytes(srv.port, source=source) == b""
            await asyncio.sleep(0.6)
            assert await first_bytes(srv.port) == b""
    run(main())
    refused = [(e.addr, e.detail.get("unlogged", 0)) for e in events if e.kind == "refused"]
    assert refused == [("127.0.0.1", 0), ("127.0.0.2", 0), ("127.0.0.1", 9)], refused
    from sshcore.aio.audit import SshdLogFormat

    last = [e for e in events if e.kind == "refused"][-1]
    line, = SshdLogFormat().lines(last)
    assert line.startswith("drop connection from [127.0.0.1]:")
    assert line.endswith(": penalty: failed authentication (9 more since the last line)")


def test_a_source_over_per_source_max_startups_is_told_so_at_accept(test_registry):
    """A flood from one source past PerSourceMaxStartups (penalties off, as for an
    exempt source): each extra connection gets sshd's ``Exceeded MaxStartups`` line from
    the AcceptGate, with no asyncio transport made for it, and the drop is audited
    once (then rate-limited), not once per connection."""
    made, events = [], []

    async def main():
        async with await serve(test_registry, per_source_max_startups=1,
                               per_source_penalties=False, audit=events.append) as srv:
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            assert (await reader.readline()).startswith(b"SSH-2.0-")
            loop = asyncio.get_running_loop()
            orig = loop._make_socket_transport
            loop._make_socket_transport = lambda *a, **kw: made.append(1) or orig(*a, **kw)
            try:
                for _ in range(20):
                    assert await first_bytes(srv.port) == b"Exceeded MaxStartups\r\n"
            finally:
                loop._make_socket_transport = orig
            writer.close()
    run(main())
    assert len(made) == 20  # the clients' own transports: none on the server side
    refused = [e for e in events if e.kind == "refused"]
    assert [e.reason for e in refused] == ["past PerSourceMaxStartups"]
