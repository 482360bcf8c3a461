"""The asyncio adapter: our client against our server in one event loop (stand-in algorithms)."""

from __future__ import annotations

import asyncio

import pytest

import sshcore
from sshcore.aio.server import SSHServer
from sshcore.testing import TestKey


class KeyServer(SSHServer):
    allowed: bytes = b""

    def public_key_auth_supported(self):
        return True

    async def validate_public_key(self, username, key):
        await asyncio.sleep(0)  # async decisions are allowed
        return key.public_blob == self.allowed

    def password_auth_supported(self):
        return True

    def validate_password(self, username, password):
        return username == "pw-user" and password == "s3cret"


async def echo_upper(proc):
    data = await proc.stdin.read()
    proc.stdout.write(data.upper() if data else f"cmd={proc.command}".encode())
    proc.stderr.write(b"to stderr\n")
    return 7


@pytest.fixture
def keys():
    return TestKey(), TestKey()


async def start(test_registry, keys, handler=echo_upper):
    host_key, user_key = keys
    KeyServer.allowed = user_key.public_blob
    return await sshcore.listen("127.0.0.1", 0, server_host_keys=[host_key], registry=test_registry,
                                server_factory=KeyServer, process_factory=handler)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_run_stdout_stderr_status_and_stdin(test_registry, keys):
    async def main():
        srv = await start(test_registry, keys)
        async with srv, sshcore.connect("127.0.0.1", srv.port, username="u", client_keys=[keys[1]],
                                        known_hosts=None, registry=test_registry) as conn:
            r = await conn.run("ignored", input="abc" * 200_000)
            assert r.exit_status == 7 and r.returncode == 7
            assert r.stdout == "ABC" * 200_000
            assert r.stderr == "to stderr\n"
            with pytest.raises(sshcore.ProcessError):
                await conn.run("x", check=True)
    run(main())


def test_many_sessions_many_connections(test_registry, keys):
    async def one_conn(port, n):
        async with sshcore.connect("127.0.0.1", port, username="u", client_keys=[keys[1]],
                                   known_hosts=None, registry=test_registry) as conn:
            results = await asyncio.gather(*(conn.run(f"c{n}-{i}") for i in range(10)))
            return [r.stdout for r in results]

    async def main():
        srv = await start(test_registry, keys)
        async with srv:
            outs = await asyncio.gather(*(one_conn(srv.port, n) for n in range(5)))
        assert outs == [[f"cmd=c{n}-{i}" for i in range(10)] for n in range(5)]
    run(main())


def test_password_auth_and_wrong_password(test_registry, keys):
    async def main():
        srv = await start(test_registry, keys)
        async with srv:
            async with sshcore.connect("127.0.0.1", srv.port, username="pw-user", password="s3cret",
                                       client_keys=[], known_hosts=None, registry=test_registry) as conn:
                assert (await conn.run("p")).stdout == "cmd=p"
            with pytest.raises(sshcore.PermissionDeniedError):
                await sshcore.connect("127.0.0.1", srv.port, username="pw-user", password="nope",
                                      client_keys=[], known_hosts=None, registry=test_registry)
    run(main())


def test_password_callback(test_registry, keys):
    asked = []

    async def ask(prompt):
        asked.append(prompt)
        return "s3cret"

    async def main():
        srv = await start(test_registry, keys)
        async with srv, sshcore.connect("127.0.0.1", srv.port, username="pw-user", password=ask,
                                        client_keys=[], known_hosts=None,
                                        registry=test_registry) as conn:
            assert (await conn.run("q")).exit_status == 7
    run(main())
    assert asked and "pw-user" in asked[0]


def test_host_key_checking(test_registry, keys, tmp_path):
    from sshcore.keys import public_key_line

    async def main():
        srv = await start(test_registry, keys)
        async with srv:
            kh = tmp_path / "known_hosts"
            kh.write_text(f"[127.0.0.1]:{srv.port} {public_key_line(TestKey())}\n")
            with pytest.raises(sshcore.HostKeyNotVerifiableError, match="mismatch.* line 1"):
                await sshcore.connect("127.0.0.1", srv.port, username="u", client_keys=[keys[1]],
                                      known_hosts=str(kh), registry=test_registry)
            kh.write_text(f"[127.0.0.1]:{srv.port} {public_key_line(keys[0])}\n")
            async with sshcore.connect("127.0.0.1", srv.port, username="u", client_keys=[keys[1]],
                                       known_hosts=str(kh), registry=test_registry) as conn:
                assert (await conn.run("k")).stdout == "cmd=k"
            with pytest.raises(sshcore.HostKeyNotVerifiableError, match="host is not in .*empty"):
                await sshcore.connect("127.0.0.1", srv.port, username="u", client_keys=[keys[1]],
                                      known_hosts=str(tmp_path / "empty"), registry=test_registry)
    run(main())


def test_callback_session_api(test_registry, keys):
    class Session(sshcore.SSHClientSession):
        def __init__(self):
            self.out, self.status, self.closed = [], None, asyncio.get_event_loop().create_future()

        def data_received(self, data, datatype):
            self.out.append((data, datatype))

        def exit_status_received(self, status):
            self.status = status

        def connection_lost(self, exc):
            self.closed.set_result(exc)

    async def main():
        srv = await start(test_registry, keys)
        async with srv, sshcore.connect("127.0.0.1", srv.port, username="u", client_keys=[keys[1]],
                                        known_hosts=None, registry=test_registry) as conn:
            chan, session = await conn.create_session(Session, "hello")
            chan.write_eof()
            await session.closed
            assert ("cmd=hello", None) in session.out and ("to stderr\n", 1) in session.out
            assert session.status == 7
    run(main())


def test_refused_connection_is_clean_error(test_registry):
    async def main():
        with pytest.raises(sshcore.SSHError):
            await sshcore.connect("127.0.0.1", 1, username="u", known_hosts=None,
                                  registry=test_registry)
    run(main())


def test_slow_reader_bounds_buffering(test_registry, keys):
    """A reader that does not read stops the sender: we buffer at most one window."""
    from sshcore.config import ConnectionConfig

    window = ConnectionConfig("client").window_size

    async def flood(proc):
        for _ in range(200):  # 200 x 64 KiB = 12.5 MiB
            proc.stdout.write(b"z" * 65536)
            await proc.stdout.drain()
        return 0

    async def main():
        srv = await start(test_registry, keys, handler=flood)
        async with srv, sshcore.connect("127.0.0.1", srv.port, username="u", client_keys=[keys[1]],
                                        known_hosts=None, registry=test_registry) as conn:
            proc = await conn.create_process("flood", encoding=None)
            await asyncio.sleep(0.5)
            assert proc.stdout._size <= window
            chan = next(iter(conn._conn.channels.channels.values()))
            assert chan.local_window >= 0
            total = len(await proc.stdout.read())
            assert total == 200 * 65536
    run(main())


def test_exception_in_application_callback_closes_only_that_connection(test_registry, keys):
    class Boom(sshcore.SSHClientSession):
        def data_received(self, data, datatype):
            raise RuntimeError("application bug")

    async def talk(proc):
        proc.stdout.write(f"cmd={proc.command}")
        return 0

    async def main():
        srv = await start(test_registry, keys, handler=talk)
        async with srv:
            conn = await sshcore.connect("127.0.0.1", srv.port, username="u", client_keys=[keys[1]],
                                         known_hosts=None, registry=test_registry)
            await conn.create_session(Boom, "x")
            await asyncio.wait_for(conn.wait_closed(), 10)
            # the loop and the server survive: a new connection works
            async with sshcore.connect("127.0.0.1", srv.port, username="u", client_keys=[keys[1]],
                                       known_hosts=None, registry=test_registry) as conn2:
                assert (await conn2.run("ok")).stdout == "cmd=ok"
    run(main())


def test_server_session_callbacks_semantics(test_registry, keys):
    """Input waits for session_started; a false eof_received closes the channel; writing
    after exit is a BrokenPipeError; a clean client disconnect is connection_lost(None);
    only the methods the server supports are offered."""
    events = []

    class Session(sshcore.SSHServerSession):
        def connection_made(self, chan):
            self.chan = chan

        def exec_requested(self, command):
            return True

        def session_started(self):
            events.append("started")
            self.chan.write("hello\n")

        def data_received(self, data, datatype):
            events.append(("data", data))

        def eof_received(self):
            events.append("eof")
            self.chan.exit(5)
            try:
                self.chan.write("too late")
            except BrokenPipeError:
                events.append("broken pipe")
            return False

    class Server(SSHServer):
        lost = None

        def begin_auth(self, username):
            return username != "free"

        def connection_lost(self, exc):
            events.append(("lost", exc))

        def session_requested(self):
            return Session()

    async def main():
        srv = await sshcore.listen("127.0.0.1", 0, server_host_keys=[keys[0]],
                                   registry=test_registry, server_factory=Server)
        async with srv:
            async with sshcore.connect("127.0.0.1", srv.port, username="free", known_hosts=None,
                                       client_keys=[], registry=test_registry) as conn:
                proc = await conn.create_process("x", input="abc")
                assert await proc.stdout.read() == "hello\n"
                assert (await proc.wait()).exit_status == 5
            for _ in range(100):
                if any(isinstance(e, tuple) and e[0] == "lost" for e in events):
                    break
                await asyncio.sleep(0.02)
            # a server that supports no method offers none: the client is told so
            with pytest.raises(sshcore.PermissionDeniedError) as info:
                await sshcore.connect("127.0.0.1", srv.port, username="u", known_hosts=None,
                                      client_keys=[keys[1]], password="pw", registry=test_registry)
            assert "publickey" not in str(info.value) and "password" not in str(info.value)
    run(main())
    assert events[:4] == ["started", ("data", "abc"), "eof", "broken pipe"], events
    assert ("lost", None) in events, events


def test_keepalive_replies_do_not_steal_application_global_replies(test_registry, keys):
    async def main():
        srv = await start(test_registry, keys)
        async with srv, sshcore.connect("127.0.0.1", srv.port, username="u", client_keys=[keys[1]],
                                        known_hosts=None, registry=test_registry,
                                        keepalive_interval=0.01, keepalive_count_max=3) as conn:
            answers = []
            for _ in range(20):
                answers.append(await conn.global_request("nothing@test.invalid"))
                await asyncio.sleep(0.01)  # keepalives go out in between
            assert answers == [(False, b"")] * 20
            assert conn._conn._probes <= 1 and conn._conn.keepalives_sent > 0
            assert (await conn.run("still")).stdout == "cmd=still"
    run(main())


def test_use_after_close_is_a_clear_error(test_registry, keys):
    async def main():
        srv = await start(test_registry, keys)
        async with srv:
            conn = await sshcore.connect("127.0.0.1", srv.port, username="u", client_keys=[keys[1]],
                                         known_hosts=None, registry=test_registry)
            conn.close()
            await asyncio.wait_for(conn.wait_closed(), 10)
            assert conn.is_closed
            with pytest.raises(sshcore.SSHError, match="closed"):
                await conn.run("late")
    run(main())


def test_wait_closed_waiters_are_independent(test_registry, keys):
    """Several tasks may wait for the close; cancelling one leaves the others waiting
    (the wait is shielded: the connection keeps one waiter, made on first use), and
    waiting after the close returns at once."""
    async def main():
        srv = await start(test_registry, keys)
        async with srv:
            conn = await sshcore.connect("127.0.0.1", srv.port, username="u", client_keys=[keys[1]],
                                         known_hosts=None, registry=test_registry)
            first = asyncio.ensure_future(conn.wait_closed())
            second = asyncio.ensure_future(conn.wait_closed())
            await asyncio.sleep(0.05)
            first.cancel()
            await asyncio.sleep(0.05)
            assert first.cancelled() and not second.done() and not conn.is_closed
            conn.close()
            await asyncio.wait_for(second, 10)
            assert conn.is_closed
            await asyncio.wait_for(conn.wait_closed(), 1)
    run(main())


def test_stream_reader_returns_bytes_for_views_of_packets():
    """The kernel delivers channel data as memoryviews of decrypted packets; what the
    application reads is bytes, whichever path the reader takes (one chunk handed over,
    several joined, lines, exact counts)."""
    from sshcore.aio.process import SSHStreamReader

    class Chan:
        consumed = 0

        def consume(self, n):
            self.consumed += n

    async def main():
        chan = Chan()
        r = SSHStreamReader(chan, None)
        r._feed(memoryview(b"abc"))
        one = await r.read(100)          # the single chunk, handed over as is
        r._feed(memoryview(b"de"))
        r._feed(memoryview(b"f\ngh"))
        part = await r.read(2)           # joined, then split
        line = await r.readline()
        r._feed(memoryview(b"ij"))
        exact = await r.readexactly(4)
        r._feed_eof()
        rest = await r.read()
        return chan.consumed, [one, part, line, exact, rest]

    consumed, got = asyncio.run(main())
    assert got == [b"abc", b"de", b"f\n", b"ghij", b""]
    assert all(type(x) is bytes for x in got), [type(x) for x in got]
    assert consumed == 11


def test_a_burst_of_small_writes_leaves_as_few_packets(test_registry, keys):
    """write()+drain() in a loop that never yields (drain only waits above the high-water
    mark): the writes are held until the event loop runs, so 2,000 writes of 100 bytes
    leave in a handful of full packets, in order, rather than 2,000 small ones.  A lone
    write still leaves within the loop iteration."""
    async def sink(proc):
        data = await proc.stdin.read()
        proc.stdout.write(f"{len(data)} {hash(data)}".encode())
        return 0

    async def main():
        srv = await start(test_registry, keys, handler=sink)
        async with srv, sshcore.connect("127.0.0.1", srv.port, username="u", client_keys=[keys[1]],
                                        known_hosts=None, registry=test_registry) as conn:
            proc = await conn.create_process("sink", encoding=None)
            msgs = [bytes([i % 251]) * 100 for i in range(2000)]
            before = conn.statistics()["packets_sent"]
            for m in msgs:
                proc.stdin.write(m)
                await proc.stdin.drain()
            await asyncio.sleep(0)  # one loop iteration: the held writes leave
            sent = conn.statistics()["packets_sent"] - before
            assert 0 < sent <= 20, sent
            before = conn.statistics()["packets_sent"]
            proc.stdin.write(b"!")
            await asyncio.sleep(0)
            assert conn.statistics()["packets_sent"] == before + 1
            proc.stdin.write_eof()
            r = await proc.wait()
            data = b"".join(msgs) + b"!"
            assert r.stdout == f"{len(data)} {hash(data)}".encode()
    run(main())


def test_client_environment_is_refused_unless_accepted(test_registry, keys):
    """As sshd (AcceptEnv: none by default): a client's variables reach a process only when
    ``accept_env`` names them; otherwise ``LD_PRELOAD`` or ``BASH_ENV`` would get round a
    forced command."""
    async def show_env(proc):
        proc.stdout.write(repr(sorted(proc.env.items())))
        return 0

    async def seen(accept_env):
        host_key, user_key = keys
        KeyServer.allowed = user_key.public_blob
        kw = {} if accept_env is False else {"accept_env": accept_env}
        srv = await sshcore.listen("127.0.0.1", 0, server_host_keys=[host_key],
                                   registry=test_registry, server_factory=KeyServer,
                                   process_factory=show_env, **kw)
        async with srv, sshcore.connect("127.0.0.1", srv.port, username="u",
                                        client_keys=[keys[1]], known_hosts=None,
                                        registry=test_registry, config=None) as conn:
            # config=None: no SendEnv LANG LC_* from /etc/ssh/ssh_config adding this
            # process's own locale variables
            r = await conn.run("env", env={"LD_PRELOAD": "/tmp/x.so", "LANG": "C.UTF-8",
                                           "LC_TIME": "C"})
            return r.stdout

    async def main():
        assert await seen(False) == "[]"
        assert await seen(None) == "[]"
        assert await seen(["LANG", "LC_*"]) == repr([("LANG", "C.UTF-8"), ("LC_TIME", "C")])
        assert "LD_PRELOAD" in await seen("*")
    run(main())


def test_loopback_connections_take_their_path_as_short(test_registry, keys):
    """The adapter reads TCP's round-trip estimate and hands it to the kernel: over
    loopback the channels keep half a window in flight (see test_connection's
    short-path tests); a socket that is not TCP has no estimate."""
    import socket

    from sshcore._tcp import round_trip

    a, b = socket.socketpair()
    with a, b:
        assert round_trip(a) is None
    with socket.create_server(("127.0.0.1", 0)) as lsock:
        with socket.create_connection(lsock.getsockname()) as c, lsock.accept()[0] as s:
            for sock in (c, s):
                rtt = round_trip(sock)
                assert rtt is not None and 0 < rtt < 0.001, rtt

    async def main():
        srv = await start(test_registry, keys)
        async with srv, sshcore.connect("127.0.0.1", srv.port, username="u", client_keys=[keys[1]],
                                        known_hosts=None, registry=test_registry) as conn:
            assert conn._conn.channels.short_path
            r = await conn.run("x", input="y" * 5_000_000)
            assert r.stdout == "Y" * 5_000_000
    run(main())
