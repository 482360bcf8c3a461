"""ssh-ed448 (RFC 8709), which OpenSSH does not implement, against the asyncssh package:
host key and user key both ways, with key files written by each side read by the other."""

from __future__ import annotations

import asyncio
import threading

import asyncssh
import pytest

import sshcore
from sshcore.keys import export_private_key, export_public_key, generate_private_key

pytestmark = pytest.mark.interop


def go(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def handler(process):
    process.stdout.write(f"hello {process.command}")
    process.exit(0)


def test_our_client_with_ed448_to_asyncssh_server(tmp_path):
    # asyncssh's keys, in its OpenSSH-format files, read by us
    host = asyncssh.generate_private_key("ssh-ed448")
    user = asyncssh.generate_private_key("ssh-ed448")
    user.write_private_key(str(tmp_path / "user"), passphrase="pw")
    (tmp_path / "authorized_keys").write_bytes(user.export_public_key())
    (tmp_path / "known_hosts").write_text("[127.0.0.1]:{port} " + host.export_public_key().decode())
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    async def start():
        return await asyncssh.create_server(
            None, "127.0.0.1", 0, server_host_keys=[host], process_factory=handler,
            authorized_client_keys=str(tmp_path / "authorized_keys"))

    server = asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    try:
        port = server.sockets[0].getsockname()[1]
        kh = tmp_path / "known_hosts"
        kh.write_text(kh.read_text().format(port=port))

        async def main():
            key = sshcore.read_private_key(tmp_path / "user", "pw")
            assert key.key_type == "ssh-ed448"
            async with sshcore.connect("127.0.0.1", port, client_keys=[key], known_hosts=str(kh),
                                       server_host_key_algs=["ssh-ed448"],
                                       signature_algs=["ssh-ed448"]) as conn:
                r = await conn.run("ed448")
                return r.stdout, conn.get_extra_info("algorithms")

        out, algs = go(main())
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    assert out == "hello ed448"
    assert algs["host_key"] == "ssh-ed448"


def test_asyncssh_client_with_ed448_to_our_server(tmp_path, helpers):
    # our keys, in files we wrote, read by asyncssh
    host = generate_private_key("ssh-ed448")
    user = generate_private_key("ssh-ed448")
    (tmp_path / "user").write_bytes(export_private_key(user, "openssh", passphrase="pw2"))
    (tmp_path / "user.pkcs8").write_bytes(export_private_key(user, "pkcs8"))
    (tmp_path / "authorized_keys").write_bytes(export_public_key(user, "openssh"))
    assert asyncssh.import_private_key((tmp_path / "user.pkcs8").read_bytes()).get_algorithm() == "ssh-ed448"
    with helpers.ServerThread(server_host_keys=[host], process_factory=handler,
                              authorized_client_keys=str(tmp_path / "authorized_keys")) as srv:
        async def main():
            theirs = asyncssh.read_private_key(str(tmp_path / "user"), passphrase="pw2")
            async with asyncssh.connect(
                    "127.0.0.1", srv.port, username=helpers.USER, client_keys=[theirs],
                    known_hosts=([asyncssh.import_public_key(export_public_key(host, "openssh"))], [], []),
                    server_host_key_algs=["ssh-ed448"], signature_algs=["ssh-ed448"]) as conn:
                return (await conn.run("from asyncssh")).stdout

        assert go(main()) == "hello from asyncssh"
