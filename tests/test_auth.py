"""User authentication through the asyncio API, our client against our server:
keyboard-interactive rounds, password change, partial success, banners, limits."""

from __future__ import annotations

import asyncio

import pytest

import sshcore
from sshcore.aio.server import SSHServer
from sshcore.testing import TestKey


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


async def echo(proc):
    proc.stdout.write(f"hello {proc.get_extra_info('username')}")
    return 0


async def serve(reg, server_cls, **kw):
    return await sshcore.listen("127.0.0.1", 0, server_host_keys=[TestKey()], registry=reg,
                                server_factory=server_cls, process_factory=echo, **kw)


class KbdServer(SSHServer):
    """Two rounds of questions, then an empty final round (RFC 4256 allows it)."""
    rounds: list = []

    def kbdint_auth_supported(self):
        return True

    def get_kbdint_challenge(self, username, lang, submethods):
        self.step = 0
        return ("Login", "Answer please", "", [("Name of your cat: ", True), ("PIN: ", False)])

    def validate_kbdint_response(self, username, responses):
        KbdServer.rounds.append(responses)
        self.step += 1
        if self.step == 1:
            if responses != ["Tom", "1234"]:
                return False
            return ("Second factor", "", "", [("Code: ", False)])
        if self.step == 2:
            return ("", "", "", []) if responses == ["999"] else False
        return responses == []


def test_keyboard_interactive_rounds_echo_flags_and_empty_round(test_registry):
    seen = []

    async def answer(name, instruction, prompts):
        seen.append((name, instruction, prompts))
        return {"Name of your cat: ": ["Tom", "1234"], "Code: ": ["999"]}[prompts[0][0]] \
            if prompts[0][0] == "Name of your cat: " else ["999"]

    async def main():
        KbdServer.rounds = []
        srv = await serve(test_registry, KbdServer)
        async with srv, sshcore.connect("127.0.0.1", srv.port, username="kb", client_keys=[],
                                        known_hosts=None, registry=test_registry,
                                        kbdint_handler=answer) as conn:
            assert (await conn.run("x")).stdout == "hello kb"
    run(main())
    assert seen[0] == ("Login", "Answer please", [("Name of your cat: ", True), ("PIN: ", False)])
    assert seen[1][2] == [("Code: ", False)]
    assert KbdServer.rounds == [["Tom", "1234"], ["999"], []]  # the empty round answered unasked


def test_keyboard_interactive_wrong_answer_is_denied(test_registry):
    async def main():
        srv = await serve(test_registry, KbdServer)
        async with srv:
            with pytest.raises(sshcore.PermissionDeniedError):
                await sshcore.connect("127.0.0.1", srv.port, username="kb", client_keys=[],
                                      known_hosts=None, registry=test_registry,
                                      kbdint_handler=lambda n, i, p: ["Felix", "0000"])
    run(main())


class ExpiringServer(SSHServer):
    changed = []

    def password_auth_supported(self):
        return True

    def validate_password(self, username, password):
        return "change" if password == "old" else False

    def change_password(self, username, old, new):
        ExpiringServer.changed.append((old, new))
        return old == "old" and new == "new"


def test_password_change_request(test_registry):
    async def main():
        srv = await serve(test_registry, ExpiringServer)
        async with srv, sshcore.connect("127.0.0.1", srv.port, username="pc", password="old",
                                        client_keys=[], known_hosts=None, registry=test_registry,
                                        password_change=lambda prompt: ("old", "new")) as conn:
            assert (await conn.run("x")).stdout == "hello pc"
    run(main())
    assert ExpiringServer.changed == [("old", "new")]


class TwoFactorServer(SSHServer):
    key_blob = b""

    def public_key_auth_supported(self):
        return True

    def validate_public_key(self, username, key):
        return key.public_blob == self.key_blob

    def password_auth_supported(self):
        return True

    def validate_password(self, username, password):
        return password == "pw"


def test_partial_success_requires_both_methods(test_registry):
    key = TestKey()
    TwoFactorServer.key_blob = key.public_blob

    async def main():
        srv = await serve(test_registry, TwoFactorServer, auth_methods_required=[["publickey", "password"]])
        async with srv:
            async with sshcore.connect("127.0.0.1", srv.port, username="tf", password="pw",
                                       client_keys=[key], known_hosts=None,
                                       registry=test_registry) as conn:
                assert (await conn.run("x")).stdout == "hello tf"
            with pytest.raises(sshcore.PermissionDeniedError):  # the key alone is not enough
                await sshcore.connect("127.0.0.1", srv.port, username="tf", client_keys=[key],
                                      known_hosts=None, registry=test_registry)
            with pytest.raises(sshcore.PermissionDeniedError):  # nor the password alone
                await sshcore.connect("127.0.0.1", srv.port, username="tf", password="pw",
                                      client_keys=[], known_hosts=None, registry=test_registry)
    run(main())


def test_banner_reaches_the_client(test_registry):
    got = []

    class Client(sshcore.SSHClient):
        def auth_banner_received(self, msg, lang):
            got.append(msg)

    async def main():
        srv = await serve(test_registry, TwoFactorServer, banner="Authorized use only\n")
        async with srv, sshcore.connect("127.0.0.1", srv.port, username="b", password="pw",
                                        client_keys=[], known_hosts=None, registry=test_registry,
                                        client_factory=Client):
            pass
    run(main())
    assert got == ["Authorized use only\n"]


def test_attempt_limit_disconnects(test_registry):
    keys = [TestKey() for _ in range(10)]
    TwoFactorServer.key_blob = b"none of them"

    async def main():
        srv = await serve(test_registry, TwoFactorServer, max_auth_tries=3)
        async with srv:
            with pytest.raises(sshcore.SSHError) as info:
                await sshcore.connect("127.0.0.1", srv.port, username="x", client_keys=keys,
                                      known_hosts=None, registry=test_registry)
            assert "too many authentication failures" in str(info.value)
    run(main())


def test_preferred_auth_order_is_honoured(test_registry):
    async def main():
        srv = await serve(test_registry, TwoFactorServer)
        async with srv:
            # publickey is not allowed by the client: only the password is tried
            async with sshcore.connect("127.0.0.1", srv.port, username="o", password="pw",
                                       client_keys=[TestKey()], preferred_auth=["password"],
                                       known_hosts=None, registry=test_registry) as conn:
                assert conn.get_extra_info("username") == "o"
    run(main())


# --------------------------------------------------------------------------- hostbased

class _Impostor:
    """Claims one host key's public blob but signs with another key."""

    def __init__(self, claimed, signer):
        self.public_blob = claimed.public_blob
        self._signer = signer

    def sig_algorithms(self):
        return self._signer.sig_algorithms()

    def sign(self, data, alg):
        return self._signer.sign(data, alg)


def test_hostbased_auth_with_known_client_hosts(tmp_path):
    from sshcore.keys import generate_private_key, public_key_line

    host_key = generate_private_key("ssh-ed25519")
    other_key = generate_private_key("ssh-ed25519")
    kch = tmp_path / "known_client_hosts"
    kch.write_text(f"trusted.example.org {public_key_line(host_key)}\n")

    async def attempt(srv, **kw):
        opts = dict(username="alice", client_username="alice", client_host="trusted.example.org",
                    client_host_keys=[host_key], client_keys=[], known_hosts=None,
                    preferred_auth=["hostbased"])
        opts.update(kw)
        try:
            async with sshcore.connect("127.0.0.1", srv.port, **opts) as conn:
                return (await conn.run("x")).stdout
        except sshcore.PermissionDeniedError:
            return "denied"

    async def main():
        srv = await sshcore.listen("127.0.0.1", 0, server_host_keys=[generate_private_key("ssh-ed25519")],
                                   known_client_hosts=str(kch), process_factory=echo)
        async with srv:
            return [await attempt(srv),
                    # a trailing dot (as OpenSSH's ssh sends the name) is the same host
                    await attempt(srv, client_host="trusted.example.org."),
                    await attempt(srv, client_username="mallory"),
                    await attempt(srv, client_host="other.example.org"),
                    await attempt(srv, client_host_keys=[other_key]),
                    await attempt(srv, client_host_keys=[_Impostor(host_key, other_key)])]
    assert run(main()) == ["hello alice", "hello alice", "denied", "denied", "denied", "denied"]


def test_hostbased_callbacks_see_claimed_host_and_user():
    from sshcore.keys import generate_private_key

    host_key = generate_private_key("ssh-ed25519")
    seen = []

    class Server(SSHServer):
        def host_based_auth_supported(self):
            return True

        async def validate_host_public_key(self, client_host, client_addr, client_port, key):
            seen.append(("host", client_host, client_addr, key.public_blob == host_key.public_blob))
            return True

        def validate_host_based_user(self, username, client_host, client_username):
            seen.append(("user", username, client_host, client_username))
            return client_username == "root" and username == "svc"

    async def main():
        srv = await sshcore.listen("127.0.0.1", 0, server_host_keys=[generate_private_key("ssh-ed25519")],
                                   server_factory=Server, process_factory=echo)
        async with srv:
            async with sshcore.connect("127.0.0.1", srv.port, username="svc", client_username="root",
                                       client_host="build01", client_host_keys=[host_key],
                                       client_keys=[], known_hosts=None) as conn:
                return (await conn.run("x")).stdout
    assert run(main()) == "hello svc"
    assert seen == [("host", "build01", "127.0.0.1", True), ("user", "svc", "build01", "root")]
