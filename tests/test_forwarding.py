"""TCP/IP and Unix-socket forwarding, our client against our server (real ed25519 keys,
real sockets on 127.0.0.1): direct channels, local/remote/dynamic forwarding, policies."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import tempfile

import pytest

import sshcore
from sshcore.keys import generate_private_key


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def echo_server(path=None):
    """A local upper-casing echo server; returns (server, port or path)."""
    async def handle(reader, writer):
        while data := await reader.read(65536):
            writer.write(data.upper())
            await writer.drain()
        writer.close()
    if path is not None:
        server = await asyncio.start_unix_server(handle, path)
        return server, path
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


class Server(sshcore.SSHServer):
    """Allows everything except destination port 9 and listening on port 1."""
    seen: list = []

    def begin_auth(self, username):
        return False

    def connection_requested(self, dest_host, dest_port, orig_host, orig_port):
        Server.seen.append(("direct", dest_host, dest_port, orig_host, orig_port))
        if dest_port == 9:
            return False
        if dest_host == "echo.internal":
            async def handler(reader, writer):  # handled inside the server (the seed's echo port)
                data = await reader.read()
                writer.write(b"in-server:" + data)
            return handler
        return True

    def server_requested(self, listen_host, listen_port):
        Server.seen.append(("listen", listen_host, listen_port))
        return listen_port != 1

    def unix_connection_requested(self, dest_path):
        return True

    def unix_server_requested(self, listen_path):
        return True


async def pair():
    host_key = generate_private_key("ssh-ed25519")
    srv = await sshcore.listen("127.0.0.1", 0, server_host_keys=[host_key], server_factory=Server)
    conn = await sshcore.connect("127.0.0.1", srv.port, username="u", known_hosts=None, client_keys=[])
    return srv, conn


async def roundtrip(port, payload, host="127.0.0.1"):
    """Send payload and EOF, return all that comes back (b"" if the peer hangs up on us:
    a reset is how a refused connection with unread data ends)."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(payload)
    writer.write_eof()
    try:
        data = await reader.read()
    except ConnectionResetError:
        data = b""
    writer.close()
    return data


def test_open_connection_direct_tcpip_and_refusal():
    async def main():
        echo, port = await echo_server()
        srv, conn = await pair()
        async with srv, conn, echo:
            reader, writer = await conn.open_connection("127.0.0.1", port)
            writer.write(b"hello ")
            writer.write(b"world")
            writer.write_eof()
            assert await reader.read() == b"HELLO WORLD"
            # half-close: we sent EOF, the echo answered, then closed
            reader, writer = await conn.open_connection("echo.internal", 7)
            writer.write(b"abc")
            writer.write_eof()
            assert await reader.read() == b"in-server:abc"
            with pytest.raises(sshcore.ChannelOpenError) as info:
                await conn.open_connection("127.0.0.1", 9)
            assert info.value.code == 1  # administratively prohibited
            # nothing listens on the echo port once closed: connect failed (code 2)
            echo.close()
            await echo.wait_closed()
            with pytest.raises(sshcore.ChannelOpenError) as info:
                await conn.open_connection("127.0.0.1", port)
            assert info.value.code == 2
    run(main())


def test_local_forward_many_connections_and_large_data():
    payload = os.urandom(3 * 1024 * 1024)

    async def main():
        echo, port = await echo_server()
        srv, conn = await pair()
        async with srv, conn, echo:
            async with await conn.forward_local_port("127.0.0.1", 0, "127.0.0.1", port) as listener:
                assert listener.get_port() > 0
                results = await asyncio.gather(*(roundtrip(listener.get_port(), payload if i == 0
                                                           else f"conn {i}".encode())
                                                 for i in range(30)))
        assert results[0] == payload.upper()
        assert results[1:] == [f"CONN {i}".encode() for i in range(1, 30)]
    run(main())


def test_local_forward_accept_handler_refuses_by_peer():
    async def main():
        echo, port = await echo_server()
        srv, conn = await pair()
        async with srv, conn, echo:
            seen = []

            def accept(orig_host, orig_port):
                seen.append(orig_host)
                return False
            listener = await conn.forward_local_port("127.0.0.1", 0, "127.0.0.1", port,
                                                     accept_handler=accept)
            assert await roundtrip(listener.get_port(), b"x") == b""
            listener.close()
            return seen
    assert run(main()) == ["127.0.0.1"]


def test_remote_forward_port_zero_and_cancel():
    async def main():
        echo, port = await echo_server()
        srv, conn = await pair()
        async with srv, conn, echo:
            listener = await conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", port)
            rport = listener.get_port()
            assert rport > 0
            got = await asyncio.gather(*(roundtrip(rport, b"remote %d" % i) for i in range(20)))
            assert got == [b"REMOTE %d" % i for i in range(20)]
            listener.close()
            await asyncio.sleep(0.2)
            with pytest.raises(OSError):
                await roundtrip(rport, b"gone")
            with pytest.raises(sshcore.ChannelListenError):
                await conn.forward_remote_port("127.0.0.1", 1, "127.0.0.1", port)
    run(main())


def test_remote_start_server_handler_and_listen_refusal():
    async def main():
        srv, conn = await pair()
        async with srv, conn:
            async def handler(reader, writer):
                line = await reader.readline()
                writer.write(b"client side got " + line)

            def factory(orig_host, orig_port):
                return handler if orig_host == "127.0.0.1" else None
            listener = await conn.start_server(factory, "127.0.0.1", 0)
            return await roundtrip(listener.get_port(), b"ping\n")
    assert run(main()) == b"client side got ping\n"


def socks5_request(host, port):
    return b"\x05\x01\x00" + b"\x05\x01\x00\x03" + bytes([len(host)]) + host.encode() + struct.pack(">H", port)


def socks4a_request(host, port):
    return b"\x04\x01" + struct.pack(">H", port) + b"\x00\x00\x00\x01" + b"user\x00" + host.encode() + b"\x00"


def test_dynamic_socks4_socks4a_socks5():
    async def main():
        echo, port = await echo_server()
        srv, conn = await pair()
        async with srv, conn, echo:
            listener = await conn.forward_socks("127.0.0.1", 0)
            out = []
            for request, reply_len in [(socks5_request("127.0.0.1", port), 2 + 10),
                                       (socks4a_request("localhost", port), 8),
                                       (b"\x04\x01" + struct.pack(">H", port) + socket.inet_aton("127.0.0.1")
                                        + b"\x00", 8)]:
                reader, writer = await asyncio.open_connection("127.0.0.1", listener.get_port())
                writer.write(request)
                reply = await reader.readexactly(reply_len)
                writer.write(b"through socks")
                writer.write_eof()
                status = reply[2:4] if reply_len == 12 else reply[:2]  # SOCKS5: after the method reply
                out.append((status, await reader.read()))
                writer.close()
            # refused destination (port 9): SOCKS5 reply code 5
            reader, writer = await asyncio.open_connection("127.0.0.1", listener.get_port())
            writer.write(socks5_request("127.0.0.1", 9))
            out.append(((await reader.readexactly(12))[2:4], await reader.read()))
            return out
    assert run(main()) == [(b"\x05\x00", b"THROUGH SOCKS"), (b"\x00\x5a", b"THROUGH SOCKS"),
                           (b"\x00\x5a", b"THROUGH SOCKS"), (b"\x05\x05", b"")]


def test_unix_socket_forwarding_both_ways():
    async def main():
        d = tempfile.mkdtemp(prefix="sshcore-fwd-")
        echo, path = await echo_server(os.path.join(d, "echo.sock"))
        srv, conn = await pair()
        async with srv, conn, echo:
            reader, writer = await conn.open_unix_connection(path)
            writer.write(b"unix direct")
            writer.write_eof()
            a = await reader.read()
            local = await conn.forward_local_path(os.path.join(d, "local.sock"), path)
            r, w = await asyncio.open_unix_connection(local.path)
            w.write(b"unix local")
            w.write_eof()
            b = await r.read()
            remote = await conn.forward_remote_path(os.path.join(d, "remote.sock"), path)
            r, w = await asyncio.open_unix_connection(os.path.join(d, "remote.sock"))
            w.write(b"unix remote")
            w.write_eof()
            c = await r.read()
            tcp = await conn.forward_local_port_to_path("127.0.0.1", 0, path)
            e = await roundtrip(tcp.get_port(), b"tcp to unix")
            return a, b, c, e
    assert run(main()) == (b"UNIX DIRECT", b"UNIX LOCAL", b"UNIX REMOTE", b"TCP TO UNIX")


def test_forwarding_refused_by_default_listen_options():
    async def main():
        echo, port = await echo_server()
        host_key = generate_private_key("ssh-ed25519")
        user_key = generate_private_key("ssh-ed25519")
        ak = tempfile.NamedTemporaryFile("w", suffix="ak", delete=False)
        ak.write(sshcore.keys.public_key_line(user_key) + "\n")
        ak.close()
        async with echo:
            for allow in (False, True):
                srv = await sshcore.listen("127.0.0.1", 0, server_host_keys=[host_key],
                                           authorized_client_keys=ak.name, allow_forwarding=allow)
                async with srv, sshcore.connect("127.0.0.1", srv.port, known_hosts=None,
                                                client_keys=[user_key]) as conn:
                    if allow:
                        r, w = await conn.open_connection("127.0.0.1", port)
                        w.write(b"ok")
                        w.write_eof()
                        assert await r.read() == b"OK"
                        listener = await conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", port)
                        assert await roundtrip(listener.get_port(), b"back") == b"BACK"
                    else:
                        with pytest.raises(sshcore.ChannelOpenError):
                            await conn.open_connection("127.0.0.1", port)
                        with pytest.raises(sshcore.ChannelListenError):
                            await conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", port)
    run(main())
