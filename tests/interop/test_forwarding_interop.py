"""Forwarding against real OpenSSH, both ways, bytes verified end to end.

Our client through ``sshd``: direct-tcpip, local, remote (port 0), dynamic SOCKS and
Unix-socket forwarding.  Real ``ssh -L``, ``-R``, ``-D``, ``-W`` and Unix ``-L`` through
our server.  The far end is a small upper-casing echo server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import socketserver
import struct
import subprocess
import tempfile
import threading
import time

import pytest

import sshcore

pytestmark = pytest.mark.interop


class _Upper(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data.upper())
        self.request.shutdown(socket.SHUT_WR)


class _TCP(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _Unix(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    request_queue_size = 128


@pytest.fixture
def echo():
    """(port, unix socket path) of an upper-casing echo server, TCP and Unix."""
    tcp = _TCP(("127.0.0.1", 0), _Upper)
    path = os.path.join(tempfile.mkdtemp(prefix="sshcore-echo-"), "echo.sock")
    unix = _Unix(path, _Upper)
    for server in (tcp, unix):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield tcp.server_address[1], path
    for server in (tcp, unix):
        server.shutdown()
        server.server_close()


def go(coro, timeout=90):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def exchange(payload: bytes, port: int | None = None, path: str | None = None,
             preamble: bytes = b"", reply_len: int = 0) -> bytes:
    """Blocking client: optional SOCKS preamble, then payload + EOF, read to the end."""
    if path is not None:
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(path)
    else:
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.settimeout(30)
    with sock:
        if preamble:
            sock.sendall(preamble)
            got = b""
            while len(got) < reply_len:
                chunk = sock.recv(reply_len - len(got))
                assert chunk, "SOCKS reply cut short"
                got += chunk
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out


def socks5(host: str, port: int) -> bytes:
    return (b"\x05\x01\x00\x05\x01\x00\x03" + bytes([len(host)]) + host.encode()
            + struct.pack(">H", port))


async def aexchange(payload: bytes, port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    writer.write_eof()
    data = await reader.read()
    writer.close()
    return data


# --------------------------------------------------------------------------- our client, sshd

def connect(sshd, keys):
    return sshcore.connect("127.0.0.1", sshd.port, client_keys=[keys.user["ed25519"]],
                           known_hosts=str(sshd.known_hosts))


def test_direct_and_local_forwarding_through_sshd(start_sshd, keys, echo):
    port, _ = echo
    sshd = start_sshd()
    big = os.urandom(4 * 1024 * 1024)

    async def main():
        async with connect(sshd, keys) as conn:
            reader, writer = await conn.open_connection("127.0.0.1", port)
            writer.write(b"direct")
            writer.write_eof()
            direct = await reader.read()
            async with await conn.forward_local_port("127.0.0.1", 0, "127.0.0.1", port) as fwd:
                many = await asyncio.gather(*(aexchange(b"local %d" % i, fwd.get_port())
                                              for i in range(40)))
                large = await aexchange(big, fwd.get_port())
            with pytest.raises(sshcore.ChannelOpenError) as info:
                await conn.open_connection("127.0.0.1", 1)  # nothing listens there
            return direct, many, large, info.value.code
    direct, many, large, code = go(main())
    assert direct == b"DIRECT"
    assert many == [b"LOCAL %d" % i for i in range(40)]
    assert large == big.upper()
    assert code == 2  # SSH_OPEN_CONNECT_FAILED from sshd


def test_remote_forwarding_through_sshd(start_sshd, keys, echo):
    port, _ = echo
    sshd = start_sshd()

    async def main():
        async with connect(sshd, keys) as conn:
            listener = await conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", port)
            rport = listener.get_port()
            got = await asyncio.gather(*(aexchange(b"remote %d" % i, rport) for i in range(30)))
            listener.close()
            await asyncio.sleep(0.3)
            try:
                await aexchange(b"after cancel", rport)
                cancelled = False
            except OSError:
                cancelled = True
            return rport, got, cancelled
    rport, got, cancelled = go(main())
    assert rport > 0
    assert got == [b"REMOTE %d" % i for i in range(30)]
    assert cancelled  # cancel-tcpip-forward reached sshd


def test_socks_and_unix_forwarding_through_sshd(start_sshd, keys, echo, tmp_path):
    port, path = echo
    sshd = start_sshd()

    async def main():
        async with connect(sshd, keys) as conn:
            socks = await conn.forward_socks("127.0.0.1", 0)
            loop = asyncio.get_running_loop()
            via_socks = await loop.run_in_executor(None, lambda: exchange(
                b"socks", socks.get_port(), preamble=socks5("127.0.0.1", port), reply_len=12))
            reader, writer = await conn.open_unix_connection(path)
            writer.write(b"unix direct")
            writer.write_eof()
            unix_direct = await reader.read()
            local = await conn.forward_local_path(str(tmp_path / "l.sock"), path)
            unix_local = await loop.run_in_executor(None, lambda: exchange(b"unix local", path=local.path))
            remote_path = os.path.join(tempfile.mkdtemp(prefix="sshcore-r-"), "r.sock")
            await conn.forward_remote_path(remote_path, path)
            unix_remote = await loop.run_in_executor(None, lambda: exchange(b"unix remote", path=remote_path))
            return via_socks, unix_direct, unix_local, unix_remote
    assert go(main()) == (b"SOCKS", b"UNIX DIRECT", b"UNIX LOCAL", b"UNIX REMOTE")


# --------------------------------------------------------------------------- real ssh, our server

def ssh_background(port, keys, *forward_args, extra=()):
    args = ["ssh", "-F", "/dev/null", "-p", str(port), "-i", str(keys.user["ed25519"]),
            "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ExitOnForwardFailure=yes",
            "-o", "LogLevel=INFO", *extra, "-N", *forward_args, "127.0.0.1"]
    return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def wait_listening(port=None, path=None, proc=None, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode(errors="replace"))
        try:
            if path is not None:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(path)
            else:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("forward did not come up")


def stop(proc):
    proc.terminate()
    try:
        proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def forwarding_server(keys, helpers):
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              authorized_client_keys=str(keys.authorized_keys),
                              allow_forwarding=True) as srv:
        yield srv


def test_ssh_L_and_D_through_our_server(forwarding_server, keys, helpers, echo):
    port, _ = echo
    lport, dport = helpers.free_port(), helpers.free_port()
    proc = ssh_background(forwarding_server.port, keys, "-L", f"{lport}:127.0.0.1:{port}",
                          "-D", f"127.0.0.1:{dport}")
    try:
        wait_listening(lport, proc=proc)
        wait_listening(dport, proc=proc)
        results = []
        threads = [threading.Thread(target=lambda i=i: results.append(
            (i, exchange(b"ssh -L %d" % i, lport)))) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        big = os.urandom(2 * 1024 * 1024)
        large = exchange(big, lport)
        socks = exchange(b"ssh -D", dport, preamble=socks5("127.0.0.1", port), reply_len=12)
    finally:
        stop(proc)
    assert sorted(results) == [(i, b"SSH -L %d" % i) for i in range(20)]
    assert large == big.upper()
    assert socks == b"SSH -D"


def test_ssh_R_port_zero_through_our_server(forwarding_server, keys, echo):
    port, _ = echo
    proc = ssh_background(forwarding_server.port, keys, "-R", f"127.0.0.1:0:127.0.0.1:{port}")
    try:
        # ssh prints the port the server chose: "Allocated port N for remote forward to ..."
        line = b""
        deadline = time.monotonic() + 20
        while b"Allocated port" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
        m = re.search(rb"Allocated port (\d+)", line)
        assert m, line
        rport = int(m.group(1))
        got = [exchange(b"ssh -R %d" % i, rport) for i in range(10)]
    finally:
        stop(proc)
    assert got == [b"SSH -R %d" % i for i in range(10)]


def test_ssh_W_and_unix_L_through_our_server(forwarding_server, keys, echo, tmp_path):
    port, path = echo
    base = ["ssh", "-F", "/dev/null", "-p", str(forwarding_server.port), "-i", str(keys.user["ed25519"]),
            "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR"]
    w = subprocess.run(base + ["-W", f"127.0.0.1:{port}", "127.0.0.1"], input=b"stdio forward",
                       capture_output=True, timeout=30)
    assert w.returncode == 0, w.stderr
    assert w.stdout == b"STDIO FORWARD"
    local = str(tmp_path / "fwd.sock")
    proc = ssh_background(forwarding_server.port, keys, "-L", f"{local}:{path}")
    try:
        wait_listening(path=local, proc=proc)
        got = exchange(b"unix via ssh", path=local)
    finally:
        stop(proc)
    assert got == b"UNIX VIA SSH"


def test_ssh_forwarding_refused_without_allow_forwarding(keys, helpers, echo):
    port, _ = echo
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              authorized_client_keys=str(keys.authorized_keys)) as srv:
        r = subprocess.run(["ssh", "-F", "/dev/null", "-p", str(srv.port), "-i", str(keys.user["ed25519"]),
                            "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
                            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
                            "-W", f"127.0.0.1:{port}", "127.0.0.1"],
                           input=b"x", capture_output=True, timeout=30)
    assert r.returncode != 0
    assert b"administratively prohibited" in r.stderr
