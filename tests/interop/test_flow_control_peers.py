"""Channel flow control against real peers' window policies, over loopback (a short path).

On a short path our sender keeps at most half of the peer's window plus one packet in
flight (``ChannelLayer._flush``), and our receiver re-opens its window every four
packets' worth read (``ChannelLayer.consume``).  The kernel tests check both against our
own kernel only; here each direction runs against other implementations' receivers and
senders, whose policies differ:

* asyncssh (``SSHChannel._deliver_data``) re-opens its window, to the full size, only
  when a packet is delivered while less than half of it remains: strictly more than half
  must be in flight, so a sender that stopped at exactly half would wait forever;
* paramiko (``Channel._check_add_window``) re-opens by what the application read once
  that is over a tenth of its window (``default_window_size``, also run small here);
* OpenSSH (``channel_check_window``) re-opens after three packets' worth is consumed, or
  when less than half the window is left.

Each test moves a pseudo-random payload of over 8 MiB (more than four 2 MiB windows, not a
whole number of packets) and checks its length and sha256 on the far side, and that our
side of the connection was on the short path with a window large enough for the
half-window limit to bind.  Every step is time-bound: a stall fails the test.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import paramiko
import pytest

import sshcore
from sshcore import blocking

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

T = 60  # seconds: the limit of each transfer, and of each blocking call in it
SIZE = 8 * 1024 * 1024 + 12345
CHUNK = 100_000  # what the writers write at a time: no multiple of a packet
PAYLOAD = random.Random(20261205).randbytes(SIZE)
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()
REPLY = f"{SIZE} {DIGEST}\n".encode()  # what every "upload" command answers


def go(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, T))


def summary(data: bytes) -> bytes:
    """What an "upload" command answers for ``data``: its length and sha256."""
    return f"{len(data)} {hashlib.sha256(data).hexdigest()}\n".encode()


class Digest:
    """A running length and sha256 of what was received, as "upload" answers."""

    def __init__(self) -> None:
        self.h = hashlib.sha256()
        self.n = 0

    def update(self, data: bytes) -> None:
        self.h.update(data)
        self.n += len(data)

    def line(self) -> bytes:
        return f"{self.n} {self.h.hexdigest()}\n".encode()


def check_our_side(channels: Any, channel: Any) -> None:
    """Our kernel took the path as short, and (but with paramiko's 64 KiB window, two
    packets) the peer's window is large enough that half of it plus a packet is less than
    all of it: the limit is in effect."""
    assert channels.short_path, (channels.host._tcp_round_trip, channels.host._ssh_round_trip)
    assert channel.peer_window > 2 * channel.remote_max_packet or channel.peer_window == 64 * 1024, (
        channel.peer_window, channel.remote_max_packet)


def known_hosts_line(tmp_path: Path, port: int, public_key: str) -> Path:
    kh = tmp_path / f"known_hosts_{port}"
    kh.write_text(f"[127.0.0.1]:{port} {public_key.strip()}\n")
    return kh


# ----------------------------------------------------------- our asyncio client's side

async def upload_from_client(conn: Any, command: str) -> tuple[bytes, int, int]:
    """Write the payload to ``command``'s stdin: (its output, its exit status, the window
    the peer gave the channel)."""
    proc = await conn.create_process(command, encoding=None)
    channel = conn._conn.channels.channels[proc.channel._id]
    check_our_side(conn._conn.channels, channel)
    for i in range(0, SIZE, CHUNK):
        proc.stdin.write(PAYLOAD[i:i + CHUNK])
        await proc.stdin.drain()
    proc.stdin.write_eof()
    r = await proc.wait()
    return r.stdout, r.exit_status, channel.peer_window


async def download_to_client(conn: Any, command: str) -> tuple[bytes, int]:
    """Read ``command``'s stdout, a chunk at a time: (its length and sha256, exit status)."""
    proc = await conn.create_process(command, encoding=None)
    proc.stdin.write_eof()
    got = Digest()
    while chunk := await proc.stdout.read(CHUNK):
        got.update(chunk)
    # the far side sends: the short path is checked on our side as sender in the uploads;
    # here the window is ours, re-opened as we read
    assert conn._conn.channels.short_path
    r = await proc.wait()
    return got.line(), r.exit_status


# ------------------------------------------------------------------- asyncssh server

async def answer(process: Any, command: str) -> None:
    """A server process (asyncssh's or ours: the same stream API): "upload" reads
    stdin and answers its length and sha256, "download" writes the payload."""
    if command == "upload":
        got = Digest()
        while chunk := await process.stdin.read(CHUNK):
            got.update(chunk)
        process.stdout.write(got.line())
    else:  # download
        for i in range(0, SIZE, CHUNK):
            process.stdout.write(PAYLOAD[i:i + CHUNK])
            await process.stdout.drain()


async def asyncssh_process(process: Any) -> None:
    await answer(process, process.command.split()[0])
    process.exit(0)


@pytest.fixture(scope="module")
def asyncssh_server(keys: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Factory: ``asyncssh_server(**options)`` -> (port, known_hosts file) of an asyncssh
    server, on its own loop in a thread, whose channels take ``options`` (``window``,
    ``max_pktsize``; asyncssh's defaults are 2 MiB and 32 KiB)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    servers: dict[tuple[tuple[str, int], ...], tuple[Any, int, Path]] = {}
    pub = Path(f"{keys.host['ed25519']}.pub").read_text()

    def start(**options: int) -> tuple[int, Path]:
        key = tuple(sorted(options.items()))
        if key not in servers:
            async def create() -> Any:
                return await asyncssh.create_server(
                    None, "127.0.0.1", 0, server_host_keys=[str(keys.host["ed25519"])],
                    authorized_client_keys=str(keys.authorized_keys),
                    process_factory=asyncssh_process, encoding=None, **options)

            server = asyncio.run_coroutine_threadsafe(create(), loop).result(30)
            port = server.sockets[0].getsockname()[1]
            kh = known_hosts_line(tmp_path_factory.mktemp("asyncssh"), port, pub)
            servers[key] = (server, port, kh)
        return servers[key][1:]

    try:
        yield start
    finally:
        async def stop() -> None:
            for server, _, _ in servers.values():
                server.close()
                await asyncio.wait_for(server.wait_closed(), 10)

        asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.mark.parametrize("options", [{}, {"window": 200_001, "max_pktsize": 1000}],
                         ids=["default-window", "odd-window-small-packets"])
def test_asyncio_client_to_asyncssh_server(asyncssh_server, keys, options):
    """asyncssh re-opens only once less than half its window is left: our sender must
    keep more than half in flight (half plus a packet: here, with 1000-byte packets and
    an odd window, just over half)."""
    port, kh = asyncssh_server(**options)

    async def main() -> tuple[Any, Any]:
        async with sshcore.connect("127.0.0.1", port, client_keys=[keys.user["ed25519"]],
                                   known_hosts=str(kh), config=None) as conn:
            return (await upload_from_client(conn, "upload"),
                    await download_to_client(conn, "download"))

    up, down = go(main())
    assert up == (REPLY, 0, options.get("window", 2 * 1024 * 1024))
    assert down == (REPLY, 0)


# ------------------------------------------------------------------- paramiko server

def paramiko_session(chan: paramiko.Channel, command: str) -> None:
    """One exec channel of the paramiko server: "upload" or "download"."""
    chan.settimeout(T)
    try:
        if command == "upload":
            got = Digest()
            while chunk := chan.recv(CHUNK):
                got.update(chunk)
            chan.sendall(got.line())
        else:  # download, once the client's EOF says the exec reply has reached it
            assert chan.recv(1) == b""
            chan.sendall(PAYLOAD)
        chan.send_exit_status(0)
    finally:
        chan.close()


class ParamikoInterface(paramiko.ServerInterface):
    def __init__(self, user_key: str) -> None:
        self.user_key = user_key

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        ok = f"{key.get_name()} {key.get_base64()}" == self.user_key
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        threading.Thread(target=paramiko_session, args=(channel, command.decode()),
                         daemon=True).start()
        return True


class ParamikoServer:
    """paramiko.Transport in server mode, one per accepted connection, each giving its
    channels a window of ``window`` bytes (None: paramiko's default, 2 MiB)."""

    def __init__(self, keys: Any, window: int | None) -> None:
        self.host_key = paramiko.Ed25519Key(filename=str(keys.host["ed25519"]))
        self.user_key = " ".join(Path(f"{keys.user['ed25519']}.pub").read_text().split()[:2])
        self.window = window
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.transports: list[paramiko.Transport] = []
        self.thread = threading.Thread(target=self.accept, daemon=True)
        self.thread.start()

    def accept(self) -> None:
        while True:
            try:
                sock, _ = self.sock.accept()
            except OSError:
                return
            kw = {} if self.window is None else {"default_window_size": self.window}
            t = paramiko.Transport(sock, **kw)
            t.add_server_key(self.host_key)
            self.transports.append(t)
            t.start_server(event=threading.Event(), server=ParamikoInterface(self.user_key))

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept()
        self.sock.close()
        for t in self.transports:
            t.close()
        self.thread.join(10)


@pytest.mark.parametrize("window", [None, 200 * 1024, 64 * 1024],
                         ids=["default-window", "window-200KiB", "window-64KiB"])
def test_asyncio_client_to_paramiko_server(keys, tmp_path, window):
    server = ParamikoServer(keys, window)
    try:
        kh = known_hosts_line(tmp_path, server.port,
                              Path(f"{keys.host['ed25519']}.pub").read_text())

        async def main() -> tuple[Any, Any]:
            async with sshcore.connect("127.0.0.1", server.port,
                                       client_keys=[keys.user["ed25519"]],
                                       known_hosts=str(kh), config=None) as conn:
                return (await upload_from_client(conn, "upload"),
                        await download_to_client(conn, "download"))

        up, down = go(main())
    finally:
        server.close()
    assert up == (REPLY, 0, window or 2 * 1024 * 1024)
    assert down == (REPLY, 0)


# ------------------------------------------------------------------------- sshd

@pytest.fixture(scope="module")
def sshd(start_sshd):
    return start_sshd()


@pytest.fixture(scope="module")
def payload_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("payload") / "payload"
    path.write_bytes(PAYLOAD)
    return path


def sshd_commands(tmp_path: Path, payload_file: Path) -> tuple[str, str, Path]:
    """sshd's "upload" (store stdin, then print its length and sha256 in the form of
    :func:`summary`) and "download" commands, and where the upload is stored."""
    stored = tmp_path / "uploaded"
    upload = (f"cat > {stored} && printf '%s %s\\n' \"$(wc -c < {stored})\" "
              f"\"$(sha256sum < {stored} | cut -d' ' -f1)\"")
    return upload, f"cat {payload_file}", stored


def test_asyncio_client_to_sshd(sshd, keys, tmp_path, payload_file):
    upload, download, stored = sshd_commands(tmp_path, payload_file)

    async def main() -> tuple[Any, Any]:
        async with sshcore.connect("127.0.0.1", sshd.port, client_keys=[keys.user["ed25519"]],
                                   known_hosts=str(sshd.known_hosts), config=None) as conn:
            return (await upload_from_client(conn, upload),
                    await download_to_client(conn, download))

    up, down = go(main())
    assert up == (REPLY, 0, 2 * 1024 * 1024)  # sshd's session window
    assert stored.read_bytes() == PAYLOAD
    assert down == (REPLY, 0)


# ---------------------------------------------------------------------- our server

class OurServer:
    """Our asyncio server (in a thread) running "upload" and "download" itself; each
    session's view of its channel is kept in ``seen``: (short path, the channel)."""

    def __init__(self, keys: Any, helpers: Any) -> None:
        self.seen: list[tuple[bool, Any]] = []
        self.thread = helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                                           authorized_client_keys=str(keys.authorized_keys),
                                           process_factory=self.process)

    async def process(self, process: Any) -> int:
        chan = process.channel
        channels = chan._conn._conn.channels
        self.seen.append((channels.short_path, channels.channels[chan._id]))
        await answer(process, process.command)
        return 0

    def check(self, sessions: int) -> None:
        """Each session ran on the short path; as sender, with the limit in effect."""
        assert len(self.seen) == sessions
        for short, channel in self.seen:
            assert short
            assert channel.peer_window > 2 * channel.remote_max_packet


@pytest.fixture()
def our_server(keys: Any, helpers: Any, tmp_path: Path) -> Iterator[tuple[OurServer, Path]]:
    server = OurServer(keys, helpers)
    with server.thread as srv:
        pub = Path(f"{keys.host['ed25519']}.pub").read_text()
        yield server, known_hosts_line(tmp_path, srv.port, pub)


def test_asyncssh_client_to_our_server(our_server, keys, helpers):
    server, kh = our_server

    async def main() -> tuple[Any, Any]:
        async with asyncssh.connect("127.0.0.1", server.thread.port, username=helpers.USER,
                                    client_keys=[str(keys.user["ed25519"])],
                                    known_hosts=str(kh)) as conn:
            proc = await conn.create_process("upload", encoding=None)
            for i in range(0, SIZE, CHUNK):
                proc.stdin.write(PAYLOAD[i:i + CHUNK])
                await proc.stdin.drain()
            proc.stdin.write_eof()
            up = await proc.wait()
            proc = await conn.create_process("download", encoding=None)
            proc.stdin.write_eof()
            got = Digest()
            while chunk := await proc.stdout.read(CHUNK):
                got.update(chunk)
            down = await proc.wait()
            return (up.stdout, up.exit_status), (got.line(), down.exit_status)

    up, down = go(main())
    assert up == (REPLY, 0)
    assert down == (REPLY, 0)
    server.check(2)


def paramiko_client(port: int, keys: Any, user: str, command: str,
                    data: bytes | None) -> tuple[bytes, int | None]:
    """paramiko's client runs ``command`` on our server, writing ``data`` (if any) to its
    stdin: (its output if ``data`` was given, else the output's length and sha256; its
    exit status)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=T)
    t = paramiko.Transport(sock)
    try:
        t.start_client(timeout=T)
        host = paramiko.Ed25519Key(filename=str(keys.host["ed25519"]))
        assert t.get_remote_server_key() == host
        t.auth_publickey(user, paramiko.Ed25519Key(filename=str(keys.user["ed25519"])))
        chan = t.open_session(timeout=T)
        chan.settimeout(T)
        chan.exec_command(command)
        if data is not None:
            chan.sendall(data)
        chan.shutdown_write()
        got, out = Digest(), []
        while chunk := chan.recv(CHUNK):
            got.update(chunk)
            if data is not None:
                out.append(chunk)
        assert chan.status_event.wait(T)
        return b"".join(out) if data is not None else got.line(), chan.exit_status
    finally:
        t.close()


def test_paramiko_client_to_our_server(our_server, keys, helpers):
    server, _ = our_server
    up = paramiko_client(server.thread.port, keys, helpers.USER, "upload", PAYLOAD)
    down = paramiko_client(server.thread.port, keys, helpers.USER, "download", None)
    assert up == (REPLY, 0)
    assert down == (REPLY, 0)
    server.check(2)


def test_openssh_client_to_our_server(our_server, keys, helpers):
    server, kh = our_server
    up = helpers.run_ssh(server.thread.port, "upload", identity=keys.user["ed25519"],
                         known_hosts=kh, input=PAYLOAD, timeout=T)
    assert (up.stdout, up.returncode) == (REPLY, 0), up.stderr[-2000:]
    down = helpers.run_ssh(server.thread.port, "download", identity=keys.user["ed25519"],
                           known_hosts=kh, timeout=T)
    assert down.returncode == 0, down.stderr[-2000:]
    assert summary(down.stdout) == REPLY
    server.check(2)


# ------------------------------------------------------------------ blocking client

def blocking_transfers(conn: Any, upload: str, download: str) -> tuple[Any, Any]:
    """The blocking client's upload to ``upload`` and download from ``download``."""
    kernel = conn._drv.kernel
    proc = conn.exec(upload, timeout=T)
    with conn._drv.lock:
        check_our_side(kernel.channels, kernel.channels.channels[proc._state.id])
    proc.stdin.write(PAYLOAD, timeout=T)
    proc.stdin.close()
    up = (proc.stdout.read(timeout=T), proc.wait(timeout=T))
    proc = conn.exec(download, timeout=T)
    proc.stdin.close()
    got = Digest()
    while chunk := proc.stdout.read(CHUNK, timeout=T):
        got.update(chunk)
    assert kernel.channels.short_path
    return up, (got.line(), proc.wait(timeout=T))


def test_blocking_client_to_sshd(sshd, keys, tmp_path, payload_file):
    upload, download, stored = sshd_commands(tmp_path, payload_file)
    with blocking.connect("127.0.0.1", sshd.port, config=None, agent_path=None,
                          client_keys=[keys.user["ed25519"]], known_hosts=str(sshd.known_hosts),
                          connect_timeout=T) as conn:
        up, down = blocking_transfers(conn, upload, download)
    assert up == (REPLY, 0)
    assert stored.read_bytes() == PAYLOAD
    assert down == (REPLY, 0)


def test_blocking_client_to_asyncssh_server(asyncssh_server, keys):
    port, kh = asyncssh_server()
    with blocking.connect("127.0.0.1", port, config=None, agent_path=None,
                          client_keys=[keys.user["ed25519"]], known_hosts=str(kh),
                          connect_timeout=T) as conn:
        up, down = blocking_transfers(conn, "upload", "download")
    assert up == (REPLY, 0)
    assert down == (REPLY, 0)
