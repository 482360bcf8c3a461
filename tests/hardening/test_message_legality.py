"""Every message is legal only in its state: a hostile client against our server, and a
hostile server against our client.  Each test asserts the exact reaction (the DISCONNECT
reason code, or the answer) and that the server still serves a well-behaved client."""

from __future__ import annotations

import pytest
from conftest import PASSWORD, USER, assert_serves, client, run, serve
from rawpeer import RawPeer, hostile_server

from sshcore._wire import boolean, byte, string, uint32
from sshcore.errors import DisconnectReason as R
from sshcore.errors import ProtocolError
from sshcore.messages import MessageType as M
from sshcore.testing import TestKey

SESSION_OPEN = byte(M.CHANNEL_OPEN) + string("session") + uint32(0) + uint32(65536) + uint32(32768)
EXEC = byte(M.CHANNEL_REQUEST) + uint32(0) + string("exec") + boolean(True) + string("id")
GLOBAL = byte(M.GLOBAL_REQUEST) + string("tcpip-forward") + boolean(True) + string("") + uint32(0)
DATA = byte(M.CHANNEL_DATA) + uint32(0) + string(b"x")


async def _attack_server(reg, attack, stage="service"):
    """Connect a raw client, bring it to ``stage``, run ``attack(peer)``, return the
    server's DISCONNECT reason; then check the server still serves."""
    async with await serve(reg, TestKey()) as srv:
        peer = await RawPeer.connect(srv.port, reg)
        await peer.hello()
        if stage in ("kex", "service", "auth-failed"):
            await peer.key_exchange()
        if stage in ("service", "auth-failed"):
            await peer.service_request()
        if stage == "auth-failed":
            reply = await peer.password_auth(USER, "wrong")
            assert reply[0] == M.USERAUTH_FAILURE
        attack(peer)
        code = await peer.expect_disconnect()
        await peer.aclose()
        await assert_serves(srv.port, reg)
        return code


# --------------------------------------------------------------------------- before auth

@pytest.mark.parametrize("stage", ["clear", "kex", "service", "auth-failed"])
def test_channel_open_and_exec_before_auth_is_refused(test_registry, stage):
    """Erlang/OTP CVE-2025-32433: a CHANNEL_OPEN and an exec request before the client
    authenticated.  Nothing but transport and userauth messages is accepted: the
    server disconnects (PROTOCOL_ERROR) at the CHANNEL_OPEN and runs nothing."""
    ran = []

    async def process(proc):
        ran.append(proc.command)
        proc.stdout.write(f"ran {proc.command}")
        return 0

    def attack(peer):
        if stage == "clear":  # in clear, where the KEXINIT belongs
            peer.send_kexinit()
        peer.send(SESSION_OPEN)
        peer.send(EXEC)

    async def main():
        async with await serve(test_registry, TestKey(), process_factory=process) as srv:
            peer = await RawPeer.connect(srv.port, test_registry)
            await peer.hello()
            if stage != "clear":
                await peer.key_exchange()
            if stage in ("service", "auth-failed"):
                await peer.service_request()
            if stage == "auth-failed":
                assert (await peer.password_auth(USER, "wrong"))[0] == M.USERAUTH_FAILURE
            attack(peer)
            if stage == "clear":
                await peer.recv_type(M.KEXINIT, skip=())
            code = await peer.expect_disconnect()
            await peer.aclose()
            await assert_serves(srv.port, test_registry)
            return code

    assert run(main()) == R.PROTOCOL_ERROR
    assert ran == ["still-here"]  # only the well-behaved client's command ever ran


@pytest.mark.parametrize("message", [GLOBAL, DATA, EXEC,
                                     byte(M.CHANNEL_WINDOW_ADJUST) + uint32(0) + uint32(5),
                                     byte(M.REQUEST_SUCCESS)],
                         ids=["global-request", "channel-data", "channel-request",
                              "window-adjust", "request-success"])
def test_connection_messages_before_auth_are_refused(test_registry, message):
    assert run(_attack_server(test_registry, lambda p: p.send(message))) == R.PROTOCOL_ERROR


@pytest.mark.parametrize("mtype", [M.USERAUTH_SUCCESS, M.USERAUTH_FAILURE, M.USERAUTH_BANNER])
def test_client_sent_server_userauth_messages_are_refused(test_registry, mtype):
    """libssh CVE-2018-10933 / paramiko CVE-2018-1000805: a client that sends
    USERAUTH_SUCCESS is not let in; it is disconnected, and never authenticated."""
    body = {M.USERAUTH_SUCCESS: b"", M.USERAUTH_FAILURE: string("password") + boolean(False),
            M.USERAUTH_BANNER: string("hi") + string("")}[mtype]

    def attack(peer):
        peer.send(byte(mtype) + body)
        peer.send(SESSION_OPEN)  # had it worked, this would open a session

    for stage in ("service", "auth-failed"):
        assert run(_attack_server(test_registry, attack, stage)) == R.PROTOCOL_ERROR


def test_userauth_before_service_request_is_refused(test_registry):
    def attack(peer):
        peer.userauth_request(USER, "password", boolean(False) + string(PASSWORD))

    assert run(_attack_server(test_registry, attack, "kex")) == R.PROTOCOL_ERROR


def test_userauth_method_message_without_a_method_is_refused(test_registry):
    # 61 = USERAUTH_INFO_RESPONSE with no keyboard-interactive exchange going on
    assert run(_attack_server(test_registry, lambda p: p.send(byte(61) + uint32(0)))) == R.PROTOCOL_ERROR


@pytest.mark.parametrize("payload, reason", [
    (byte(M.SERVICE_REQUEST) + string("ssh-userauth"), R.PROTOCOL_ERROR),  # a second time
    (byte(M.SERVICE_ACCEPT) + string("ssh-userauth"), R.PROTOCOL_ERROR),   # server-only
    (byte(M.NEWKEYS), R.PROTOCOL_ERROR),                                   # outside a kex
    (byte(30) + string(b"x" * 32), R.PROTOCOL_ERROR),                      # kex method, no kex
], ids=["second-service-request", "service-accept", "newkeys", "kex-method-message"])
def test_transport_messages_out_of_state_are_refused(test_registry, payload, reason):
    assert run(_attack_server(test_registry, lambda p: p.send(payload))) == reason


def test_unknown_service_is_service_not_available(test_registry):
    def attack(peer):
        peer.send(byte(M.SERVICE_REQUEST) + string("ssh-connection"))

    assert run(_attack_server(test_registry, attack, "kex")) == R.SERVICE_NOT_AVAILABLE


# --------------------------------------------------------------------------- UNIMPLEMENTED

@pytest.mark.parametrize("mtype", [8, 19, 55, 101, 127, 128, 200, 255])
@pytest.mark.parametrize("authenticated", [False, True])
def test_unrecognised_message_gets_unimplemented(test_registry, mtype, authenticated):
    """RFC 4253 section 11.4: an unrecognised message number is answered with
    SSH_MSG_UNIMPLEMENTED carrying its sequence number, and the connection goes on."""
    async def main():
        async with await serve(test_registry, TestKey()) as srv:
            peer = await RawPeer.connect(srv.port, test_registry)
            if authenticated:
                await peer.login(USER, PASSWORD)
            else:
                await peer.handshake()
            seq = peer.w.seq
            peer.send(byte(mtype) + b"whatever")
            reply = await peer.recv_type(M.UNIMPLEMENTED, skip=(M.IGNORE, M.DEBUG, M.GLOBAL_REQUEST))
            assert reply == byte(M.UNIMPLEMENTED) + uint32(seq)
            # still usable: log in (or open a session) afterwards
            if authenticated:
                await peer.open_session()
            else:
                await peer.service_request()
                assert (await peer.password_auth(USER, PASSWORD))[0] == M.USERAUTH_SUCCESS
            await peer.aclose()
            await assert_serves(srv.port, test_registry)
    run(main())


def test_our_client_answers_unrecognised_message_with_unimplemented(test_registry):
    got = []

    async def handler(peer):
        await peer.key_exchange()
        seq = peer.w.seq
        peer.send(byte(150) + b"?")
        reply = await peer.recv_type(M.UNIMPLEMENTED, skip=(M.IGNORE, M.SERVICE_REQUEST))
        got.append(reply == byte(M.UNIMPLEMENTED) + uint32(seq))
        peer.send(byte(M.SERVICE_ACCEPT) + string("ssh-userauth"))
        await peer.recv_type(M.USERAUTH_REQUEST)
        peer.send(byte(M.USERAUTH_SUCCESS))
        await peer.recv_type(M.DISCONNECT, skip=(M.IGNORE, M.GLOBAL_REQUEST, M.CHANNEL_OPEN))

    async def main():
        async with hostile_server(handler, test_registry, TestKey()) as hs:
            conn = await client(hs.port, test_registry)
            await conn.aclose()
    run(main())
    assert got == [True]


# --------------------------------------------------------------------------- our client

async def _attack_client(reg, handler):
    """Our client against a hostile server; returns (exception raised by connect(),
    the DISCONNECT reason our client sent)."""
    codes = []

    async def run_handler(peer):
        await handler(peer)
        codes.append(await peer.expect_disconnect())

    async with hostile_server(run_handler, reg, TestKey()) as hs:
        with pytest.raises(ProtocolError) as info:
            await client(hs.port, reg)
    return info.value, codes[0]


@pytest.mark.parametrize("payload", [
    byte(M.USERAUTH_SUCCESS),                       # before even SERVICE_ACCEPT
    SESSION_OPEN,                                   # connection protocol before auth
    GLOBAL,
    byte(M.USERAUTH_REQUEST) + string("u") + string("ssh-connection") + string("none"),
    byte(M.SERVICE_REQUEST) + string("ssh-userauth"),
], ids=["userauth-success", "channel-open", "global-request", "userauth-request",
        "service-request"])
def test_hostile_server_messages_out_of_state(test_registry, payload):
    """AsyncSSH CVE-2023-46446 (rogue session): a server that skips steps or sends a
    client's messages is disconnected with PROTOCOL_ERROR, and connect() fails."""
    async def handler(peer):
        await peer.key_exchange()
        await peer.recv_type(M.SERVICE_REQUEST)
        peer.send(payload)

    exc, code = run(_attack_client(test_registry, handler))
    assert code == R.PROTOCOL_ERROR and exc.reason == R.PROTOCOL_ERROR


def test_hostile_server_userauth_success_before_request(test_registry):
    """USERAUTH_SUCCESS right after SERVICE_ACCEPT, with no USERAUTH_REQUEST read yet
    by the server, is accepted only as the answer to our "none" request (which we sent
    at once): it must not skip our request, and channel messages before it fail."""
    async def handler(peer):
        await peer.key_exchange()
        await peer.recv_type(M.SERVICE_REQUEST)
        peer.send(byte(M.SERVICE_ACCEPT) + string("ssh-userauth"))
        peer.send(SESSION_OPEN)  # before USERAUTH_SUCCESS

    exc, code = run(_attack_client(test_registry, handler))
    assert code == R.PROTOCOL_ERROR
