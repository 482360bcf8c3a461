"""listen(audit=...): structured audit events, and sshd's log lines made from them."""

from __future__ import annotations

import asyncio

import pytest

import sshcore
from sshcore.aio.audit import AuditEvent, SshdLogFormat, sanitize, sshd_key_type
from sshcore.errors import SSHError
from sshcore.keys import fingerprint, generate_private_key

USER, PASSWORD = "alice", "secret"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


@pytest.fixture(scope="module")
def keys():
    return generate_private_key("ssh-ed25519"), generate_private_key("ssh-ed25519")


async def cat(proc):
    data = await proc.stdin.read()
    proc.stdout.write(data or "ok")
    return 0


class Recorder:
    def __init__(self, valid=None):
        self.events: list[AuditEvent] = []
        self.fmt = SshdLogFormat(valid)
        self.log: list[str] = []

    def __call__(self, event):
        self.events.append(event)
        self.log.extend(self.fmt.lines(event))

    def kinds(self):
        return [e.kind for e in self.events]

    async def settle(self, kind="disconnect", n=1):
        for _ in range(200):
            if self.kinds().count(kind) >= n:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {kind} event: {self.kinds()}")


async def serve(host_key, rec, user_key=None, **options):
    if user_key is not None:
        from sshcore.keys import AuthorizedKeys, public_key_line

        options["authorized_client_keys"] = AuthorizedKeys.parse(public_key_line(user_key) + "\n")
    return await sshcore.listen("127.0.0.1", 0, server_host_keys=[host_key],
                                passwords={USER: PASSWORD}, process_factory=cat, audit=rec,
                                per_source_penalties=False, **options)


def connect(port, password=PASSWORD, username=USER, keys=(), **kw):
    return sshcore.connect("127.0.0.1", port, username=username, password=password,
                           known_hosts=None, config=None, agent_path=None,
                           client_keys=list(keys), **kw)


def test_password_failure_success_channels_and_disconnect(keys):
    host_key, _ = keys
    rec = Recorder()

    async def main():
        async with await serve(host_key, rec) as srv:
            with pytest.raises(SSHError):
                async with connect(srv.port, password="wrong", preferred_auth="password"):
                    pass
            await rec.settle()
            async with connect(srv.port, preferred_auth="password") as conn:
                local_port = conn._transport.get_extra_info("sockname")[1]
                assert (await conn.run("x", input="hi")).stdout == "hi"
            await rec.settle(n=2)
        return local_port

    port = run(main())
    auths = [e for e in rec.events if e.kind == "auth"]
    assert [(e.username, e.method, e.success) for e in auths][-1] == (USER, "password", True)
    assert all(e.addr == "127.0.0.1" for e in rec.events)
    failed = [e for e in auths if not e.success]
    assert failed and all(e.method == "password" for e in failed)
    assert f"Failed password for {USER} from 127.0.0.1 port {failed[0].port} ssh2" in rec.log
    assert f"Accepted password for {USER} from 127.0.0.1 port {port} ssh2" in rec.log
    assert f"Disconnected from user {USER} 127.0.0.1 port {port}" in rec.log
    # our client says goodbye (DISCONNECT) after the failure: sshd's two lines for that
    assert any(line.startswith(f"Received disconnect from 127.0.0.1 port {failed[0].port}:")
               and line.endswith("[preauth]") for line in rec.log)
    assert f"Disconnected from authenticating user {USER} 127.0.0.1 port {failed[0].port} [preauth]" in rec.log
    opened = [e for e in rec.events if e.kind == "channel_open"]
    closed = [e for e in rec.events if e.kind == "channel_close"]
    assert [(e.channel_type, e.username, e.port) for e in opened] == [("session", USER, port)]
    assert [(e.channel, e.channel_type) for e in closed] == [(opened[0].channel, "session")]
    assert rec.kinds()[-1] == "disconnect"


def test_publickey_events_carry_key_type_and_fingerprint(keys):
    host_key, user_key = keys
    other = generate_private_key("ssh-ed25519")
    rec = Recorder()

    async def main():
        async with await serve(host_key, rec, user_key=user_key) as srv:
            with pytest.raises(SSHError):
                async with connect(srv.port, password=None, keys=[other]):
                    pass
            async with connect(srv.port, password=None, keys=[user_key]) as conn:
                port = conn._transport.get_extra_info("sockname")[1]
            await rec.settle(n=2)
        return port

    port = run(main())
    fp = fingerprint(user_key)
    assert f"Accepted publickey for {USER} from 127.0.0.1 port {port} ssh2: ED25519 {fp}" in rec.log
    failed = [e for e in rec.events if e.kind == "auth" and not e.success and e.method == "publickey"]
    assert failed and failed[0].fingerprint == fingerprint(other) and failed[0].key_type == "ED25519"
    assert any(line.startswith(f"Failed publickey for {USER} from 127.0.0.1 port ")
               and line.endswith(f"ssh2: ED25519 {fingerprint(other)}") for line in rec.log)


def test_max_auth_tries_invalid_user_and_sanitized_names(keys):
    host_key, _ = keys
    rec = Recorder(valid=lambda name: name == USER)
    evil = "root\nFailed password for root from 203.0.113.9 port 1 ssh2"

    async def main():
        async with await serve(host_key, rec, max_auth_tries=1) as srv:
            with pytest.raises(SSHError):
                async with connect(srv.port, password="x", username=evil, preferred_auth="password"):
                    pass
            await rec.settle()

    run(main())
    assert rec.log and all("\n" not in line and "\r" not in line for line in rec.log)
    name = sanitize(evil)
    assert "\\012" in name
    port = rec.events[-1].port
    assert f"Invalid user {name} from 127.0.0.1 port {port}" in rec.log
    assert f"Failed password for invalid user {name} from 127.0.0.1 port {port} ssh2" in rec.log
    assert (f"error: maximum authentication attempts exceeded for invalid user {name} from "
            f"127.0.0.1 port {port} ssh2 [preauth]") in rec.log
    assert rec.events[-1].reason == "max_auth_tries"


def test_login_grace_time_and_closed_before_auth(keys):
    host_key, _ = keys
    rec = Recorder()

    async def main():
        async with await serve(host_key, rec, login_timeout=0.3) as srv:
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            await asyncio.wait_for(reader.read(), 5)
            writer.close()
            await rec.settle()
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            await reader.readline()
            writer.close()
            await rec.settle(n=2)

    run(main())
    first, second = [e for e in rec.events if e.kind == "disconnect"]
    assert first.reason == "login_grace_time" and second.reason == "closed"
    assert f"Timeout before authentication for 127.0.0.1 port {first.port}" in rec.log
    assert f"Connection closed by 127.0.0.1 port {second.port} [preauth]" in rec.log


def test_forward_and_direct_tcpip_events(keys):
    host_key, _ = keys
    rec = Recorder()

    async def main():
        echo = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        echo_port = echo.sockets[0].getsockname()[1]
        async with echo, await serve(host_key, rec, allow_forwarding=True) as srv:
            async with connect(srv.port) as conn:
                listener = await conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", echo_port)
                # a connection to the server's forwarded port: a forwarded-tcpip channel
                r2, w2 = await asyncio.open_connection("127.0.0.1", listener.port)
                await r2.read()
                w2.close()
                reader, writer = await conn.open_connection("127.0.0.1", echo_port)
                await reader.read()
                writer.close()
                listener.close()
            await rec.settle()
        return echo_port

    echo_port = run(main())
    fwd = [e for e in rec.events if e.kind == "forward"]
    assert fwd and fwd[0].detail["request"] == "tcpip-forward" and fwd[0].detail["allowed"]
    direct = [e for e in rec.events if e.kind == "channel_open" and e.channel_type == "direct-tcpip"]
    assert direct and direct[0].detail["host"] == "127.0.0.1" and direct[0].detail["port"] == echo_port
    assert any(line.startswith("forwarding request for user alice 127.0.0.1 port ") for line in rec.log)
    back = [e for e in rec.events if e.kind == "channel_open" and e.channel_type == "forwarded-tcpip"]
    assert back and back[0].detail["direction"] == "to-client" and back[0].detail["host"] == "127.0.0.1"
    assert any(e.kind == "channel_close" and e.channel == back[0].channel
               and e.channel_type == "forwarded-tcpip" for e in rec.events)


def test_refused_at_accept_is_audited(keys):
    host_key, _ = keys
    rec = Recorder()

    async def main():
        async with await sshcore.listen("127.0.0.1", 0, server_host_keys=[host_key], audit=rec,
                                        per_source_penalties="noauth:30s") as srv:
            for _ in range(2):
                reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
                await reader.read(10)
                writer.close()
                await asyncio.sleep(0.1)

    run(main())
    refused = [e for e in rec.events if e.kind == "refused"]
    assert [e.reason for e in refused] == ["penalty: connections without attempting authentication"]
    assert any(line.startswith("drop connection from [127.0.0.1]:") for line in rec.log)


def test_sanitize_and_key_type_names():
    assert sanitize("a b\\c\x1b[31m\u00e9") == "a b\\\\c\\033[31m\\303\\251"
    assert sanitize("x" * 300).endswith("...") and len(sanitize("x" * 300)) == 259
    assert sshd_key_type(generate_private_key("ssh-ed25519")) == "ED25519"
    assert sshd_key_type(generate_private_key("ecdsa-sha2-nistp256")) == "ECDSA"
