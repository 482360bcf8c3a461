"""A minimal hostile SSH peer for tests: it speaks the transport layer and nothing else.

It does what a real implementation does up to a point (version line, KEXINIT, a real key
exchange through the registry's kex plugins, NEWKEYS, the keys derived as RFC 4253
section 7.2 says), and from then on sends whatever the test tells it to, encrypted or in
clear, legal or not, without any state machine of its own.  That is the point: the
kernel under test must refuse what this peer sends, so the peer may not share the
kernel's rules.  It shares only its codec and framing: :class:`~sshcore.kernel._framing.PacketWriter`
and :class:`~sshcore.kernel._framing.PacketReader`, :class:`~sshcore.kernel._kexinit.KexInit`,
:func:`~sshcore.kernel._kexinit.negotiate` and :func:`~sshcore.kernel._kexinit.derive_key`.

Both directions:

- ``await RawPeer.connect(port, registry)``: a hostile *client* against our server;
- ``async with hostile_server(handler, registry) as port``: a hostile *server* our
  client connects to; ``handler(peer)`` runs once per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from sshcore.kernel._framing import PacketReader, PacketWriter
from sshcore.kernel._kexinit import (EXT_INFO_CLIENT, STRICT_CLIENT, STRICT_SERVER, KexInit,
                                     derive_key, negotiate)
from sshcore._wire import SSHReader, boolean, byte, string, uint32
from sshcore.interfaces import KexContext
from sshcore.messages import MessageType as M

#: Default per-read timeout: a test that waits for a reaction never hangs.
TIMEOUT = 10.0


class PeerClosed(Exception):
    """The other side closed the TCP connection."""


class RawPeer:
    """One end of an SSH connection driven packet by packet from a test."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, role: str,
                 registry: Any, *, host_key: Any = None, kex: Sequence[str] | None = None,
                 host_key_algs: Sequence[str] | None = None,
                 ciphers: Sequence[str] | None = None, macs: Sequence[str] | None = None,
                 compression: Sequence[str] = ("none",), strict: bool = True,
                 ext_info: bool = False, version: str = "SSH-2.0-rawpeer_0.1",
                 preface: Sequence[bytes] = ()) -> None:
        self.reader, self.writer = reader, writer
        self.role = role
        self.registry = registry
        self.host_key = host_key
        self.kex_names = list(kex) if kex is not None else _preferred(registry, "kex",
                                                                      "curve25519-sha256")
        if host_key_algs is not None:
            self.host_key_algs = list(host_key_algs)
        elif host_key is not None:
            self.host_key_algs = list(host_key.sig_algorithms())
        else:
            self.host_key_algs = registry.expand("signature", None)
        self.ciphers = list(ciphers) if ciphers is not None else _preferred(registry, "cipher",
                                                                            "aes128-ctr")
        self.macs = list(macs) if macs is not None else _preferred(registry, "mac", "hmac-sha2-256")
        self.compression = list(compression)
        self.strict = strict
        self.ext_info = ext_info
        self.version = version
        self.preface = list(preface)  # lines a server sends before its version line
        self.peer_version = ""
        self.w = PacketWriter()
        self.r = PacketReader()
        self.r.max_length = 1 << 20  # we are the test: let the other side send big packets
        self.our_kexinit = b""
        self.peer_kexinit = b""
        self.peer_init: KexInit | None = None
        self.strict_kex = False
        self.session_id: bytes | None = None
        self.negotiated: Any = None
        #: every payload received, in order (for assertions)
        self.received: list[bytes] = []

    # ------------------------------------------------------------------ opening

    @classmethod
    async def connect(cls, port: int, registry: Any, host: str = "127.0.0.1",
                      **options: Any) -> RawPeer:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), TIMEOUT)
        return cls(reader, writer, "client", registry, **options)

    @property
    def is_client(self) -> bool:
        return self.role == "client"

    def close(self) -> None:
        self.writer.close()

    async def aclose(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await self.writer.wait_closed()

    # ------------------------------------------------------------------ bytes and packets

    def send_bytes(self, data: bytes) -> None:
        self.writer.write(data)

    def send(self, payload: bytes) -> None:
        """One packet with the current outgoing keys (none before NEWKEYS)."""
        self.writer.write(self.w.pack(payload))

    def send_packet(self, packet: bytes) -> None:
        """A hand-made plaintext packet (``uint32 length || byte padlen || payload ||
        padding``, however wrong), encrypted and MACed with the current keys as
        RFC 4253 section 6 says (stream ciphers with encrypt-and-MAC, or no keys)."""
        w = self.w
        assert not (w.aead or w.etm), "send_packet: only for encrypt-and-MAC or no keys"
        wire = packet if w.cipher is None else w.cipher.encrypt(packet)
        if w.mac is not None:
            wire += w.mac.sign(w.seq, packet)
        w.seq = (w.seq + 1) & 0xFFFFFFFF
        self.writer.write(wire)

    async def _read_more(self, timeout: float) -> None:
        data = await asyncio.wait_for(self.reader.read(65536), timeout)
        if not data:
            raise PeerClosed("connection closed by peer")
        self.r.feed(data)

    async def recv(self, timeout: float = TIMEOUT) -> bytes:
        """The next payload; raises :class:`PeerClosed` at EOF, TimeoutError if none comes."""
        while True:
            payload = self.r.next_payload()
            if payload is not None:
                payload = bytes(payload)  # the kernel's reader hands out views
                self.received.append(payload)
                return payload
            await self._read_more(timeout)

    async def recv_type(self, *types: int, skip: Sequence[int] = (M.IGNORE, M.DEBUG, M.EXT_INFO),
                        timeout: float = TIMEOUT) -> bytes:
        """The next payload of one of ``types``, skipping ``skip``; anything else fails."""
        while True:
            payload = await self.recv(timeout)
            if payload[0] in types:
                return payload
            if payload[0] == M.DISCONNECT and M.DISCONNECT not in types:
                code, text = parse_disconnect(payload)
                raise AssertionError(f"disconnected ({code}: {text}) while waiting for {types}")
            if payload[0] not in skip:
                raise AssertionError(f"expected message {types}, got {payload[0]}")

    async def expect_disconnect(self, timeout: float = TIMEOUT) -> int:
        """Read until the peer's DISCONNECT (returning its reason code); the TCP connection
        must close right after it.  Fails if the peer closes without one."""
        while True:
            try:
                payload = await self.recv(timeout)
            except PeerClosed:
                raise AssertionError("peer closed the connection without a DISCONNECT") from None
            if payload[0] == M.DISCONNECT:
                code, _ = parse_disconnect(payload)
                await self.expect_eof(timeout)
                return code

    async def expect_eof(self, timeout: float = TIMEOUT) -> None:
        """The peer closes the TCP connection (without sending more packets)."""
        while True:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                return
            self.r.feed(data)
            payload = self.r.next_payload()
            if payload is not None:
                raise AssertionError(f"expected EOF, got message {payload[0]}")

    async def expect_silence(self, seconds: float = 0.3,
                             skip: Sequence[int] = (M.IGNORE, M.DEBUG, M.GLOBAL_REQUEST)) -> None:
        """Nothing but ``skip`` (noise such as the server's hostkeys-00 announcement)
        arrives for ``seconds``: a message was ignored, and the link stays up."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while True:
            left = end - loop.time()
            if left <= 0:
                return
            try:
                payload = await self.recv(left)
            except TimeoutError:
                return
            if payload[0] not in skip:
                raise AssertionError(f"expected no answer, got message {payload[0]}")

    # ------------------------------------------------------------------ version exchange

    async def send_version(self, preface: Sequence[bytes] | None = None) -> None:
        for line in self.preface if preface is None else preface:
            self.writer.write(line + b"\r\n")
        self.writer.write(self.version.encode() + b"\r\n")

    async def read_version(self, timeout: float = TIMEOUT) -> str:
        while True:
            line = await asyncio.wait_for(self.reader.readline(), timeout)
            if not line:
                raise PeerClosed("connection closed before the version line")
            if line.startswith(b"SSH-"):
                self.peer_version = line.rstrip(b"\r\n").decode()
                return self.peer_version

    async def hello(self) -> str:
        await self.send_version()
        return await self.read_version()

    # ------------------------------------------------------------------ key exchange

    def kexinit(self, first: bool = True) -> bytes:
        kex = list(self.kex_names)
        if first and self.strict:
            kex.append(STRICT_CLIENT if self.is_client else STRICT_SERVER)
        if first and self.ext_info and self.is_client:
            kex.append(EXT_INFO_CLIENT)
        init = KexInit(kex, self.host_key_algs, self.ciphers, self.ciphers, self.macs,
                       self.macs, self.compression, self.compression, [], [], False)
        return init.encode(b"\x42" * 16)

    def send_kexinit(self, first: bool = True) -> None:
        self.our_kexinit = self.kexinit(first)
        self.send(self.our_kexinit)

    async def key_exchange(self, *, send_kexinit: bool = True, first: bool = True,
                           peer_kexinit: bytes | None = None,
                           before_newkeys: Callable[[], Any] | None = None,
                           newkeys: bool = True) -> None:
        """A whole key exchange: KEXINIT both ways, the method's messages, NEWKEYS both ways.

        ``before_newkeys`` runs after the exchange hash is known and before our NEWKEYS
        (to inject something); ``newkeys=False`` stops there, keys not installed."""
        if send_kexinit:
            self.send_kexinit(first)
        if peer_kexinit is None:
            peer_kexinit = await self.recv_type(M.KEXINIT, skip=())
        self.peer_kexinit = peer_kexinit
        peer = KexInit.decode(peer_kexinit)
        self.peer_init = peer
        ours = KexInit.decode(self.our_kexinit)
        client, server = (ours, peer) if self.is_client else (peer, ours)
        if first:
            self.strict_kex = self.strict and (STRICT_SERVER if self.is_client
                                               else STRICT_CLIENT) in peer.kex
        aead = {c.name for c in self.registry.all("cipher") if c.aead}
        alg = self.negotiated = negotiate(client, server, aead)
        desc = self.registry.get("kex", alg.kex)
        if self.is_client:
            ctx = KexContext("client", self.version.encode(), self.peer_version.encode(),
                             self.our_kexinit, peer_kexinit)
        else:
            key, host_alg = self.host_key, alg.host_key
            ctx = KexContext("server", self.peer_version.encode(), self.version.encode(),
                             peer_kexinit, self.our_kexinit, host_key_blob=key.public_blob,
                             sign=lambda data: key.sign(data, host_alg))
        kex = desc.factory(ctx)
        step = kex.start()
        while True:
            for msg in step.send:
                self.send(msg)
            if step.result is not None:
                break
            step = kex.receive(await self.recv_type(*range(30, 50), skip=()))
        result = step.result
        if self.session_id is None:
            self.session_id = result.exchange_hash
        self._result, self._hash_name = result, desc.hash_name
        if before_newkeys is not None:
            before_newkeys()
        if not newkeys:
            return
        self.send(byte(M.NEWKEYS))
        self.install_keys(outgoing=True)
        await self.recv_type(M.NEWKEYS, skip=())
        self.install_keys(outgoing=False)

    def install_keys(self, outgoing: bool) -> None:
        """Derive and install one direction's keys, as RFC 4253 section 7.2 says."""
        alg, result, sid = self.negotiated, self._result, self.session_id
        k, h, hn = result.shared_secret, result.exchange_hash, self._hash_name
        cs = outgoing == self.is_client
        enc = alg.enc_cs if cs else alg.enc_sc
        mac_name = alg.mac_cs if cs else alg.mac_sc
        comp_name = alg.comp_cs if cs else alg.comp_sc
        iv_l, key_l, mac_l = (b"A", b"C", b"E") if cs else (b"B", b"D", b"F")
        cdesc = self.registry.get("cipher", enc)
        cipher = cdesc.factory(key=derive_key(hn, k, h, key_l, sid, cdesc.key_size),
                               iv=derive_key(hn, k, h, iv_l, sid, cdesc.iv_size), encrypt=outgoing)
        mac, mac_size, etm = None, cdesc.tag_size if cdesc.aead else 0, False
        if not cdesc.aead:
            mdesc = self.registry.get("mac", mac_name)
            mac = mdesc.factory(key=derive_key(hn, k, h, mac_l, sid, mdesc.key_size))
            mac_size, etm = mdesc.digest_size, mdesc.etm
        comp = self.registry.get("compression", comp_name)
        if outgoing:
            self.w.set_keys(cipher, cdesc.aead, cdesc.block_size, mac, etm, comp.compressor(),
                            False)
            if self.strict_kex:
                self.w.seq = 0
        else:
            self.r.set_keys(cipher, cdesc.aead, cdesc.block_size, mac, mac_size, etm,
                            comp.decompressor(), False)
            if self.strict_kex:
                self.r.seq = 0

    # ------------------------------------------------------------------ client helpers

    async def handshake(self) -> None:
        """Version lines and the first key exchange."""
        await self.hello()
        await self.key_exchange()

    async def service_request(self, name: str = "ssh-userauth") -> None:
        self.send(byte(M.SERVICE_REQUEST) + string(name))
        await self.recv_type(M.SERVICE_ACCEPT)

    def userauth_request(self, user: str, method: str, body: bytes = b"") -> None:
        self.send(byte(M.USERAUTH_REQUEST) + string(user) + string("ssh-connection")
                  + string(method) + body)

    async def password_auth(self, user: str, password: str) -> bytes:
        """One password attempt; returns the server's USERAUTH_SUCCESS or _FAILURE."""
        self.userauth_request(user, "password", boolean(False) + string(password))
        return await self.recv_type(M.USERAUTH_SUCCESS, M.USERAUTH_FAILURE,
                                    skip=(M.IGNORE, M.DEBUG, M.EXT_INFO, M.USERAUTH_BANNER))

    async def login(self, user: str, password: str) -> None:
        """Handshake, ssh-userauth and a successful password login."""
        await self.handshake()
        await self.service_request()
        reply = await self.password_auth(user, password)
        assert reply[0] == M.USERAUTH_SUCCESS, f"login failed: {reply[0]}"

    def channel_open(self, local_id: int, channel_type: str = "session", window: int = 1 << 20,
                     max_packet: int = 32768, extra: bytes = b"") -> None:
        self.send(byte(M.CHANNEL_OPEN) + string(channel_type) + uint32(local_id) + uint32(window)
                  + uint32(max_packet) + extra)

    async def open_session(self, local_id: int = 0, window: int = 1 << 20,
                           max_packet: int = 32768) -> tuple[int, int, int]:
        """Open a session; returns (the server's channel id, its window, its max packet)."""
        self.channel_open(local_id, window=window, max_packet=max_packet)
        reply = await self.recv_type(M.CHANNEL_OPEN_CONFIRMATION, skip=(
            M.IGNORE, M.DEBUG, M.GLOBAL_REQUEST))
        r = SSHReader(reply, 1)
        assert r.uint32() == local_id
        return r.uint32(), r.uint32(), r.uint32()

    def channel_request(self, remote_id: int, request: str, want_reply: bool,
                        data: bytes = b"") -> None:
        self.send(byte(M.CHANNEL_REQUEST) + uint32(remote_id) + string(request)
                  + boolean(want_reply) + data)

    def channel_data(self, remote_id: int, data: bytes) -> None:
        self.send(byte(M.CHANNEL_DATA) + uint32(remote_id) + string(data))


    # ------------------------------------------------------------------ server helpers

    async def accept_service(self) -> None:
        """Server role: answer the client's SERVICE_REQUEST for ssh-userauth."""
        await self.recv_type(M.SERVICE_REQUEST)
        self.send(byte(M.SERVICE_ACCEPT) + string("ssh-userauth"))

    async def accept_login(self) -> None:
        """Server role: ssh-userauth, then let the client's first request in."""
        await self.accept_service()
        await self.recv_type(M.USERAUTH_REQUEST)
        self.send(byte(M.USERAUTH_SUCCESS))


def ext_info(**extensions: bytes) -> bytes:
    """An SSH_MSG_EXT_INFO payload (RFC 8308)."""
    return (byte(M.EXT_INFO) + uint32(len(extensions))
            + b"".join(string(k.replace("_", "-")) + string(v) for k, v in extensions.items()))


def parse_disconnect(payload: bytes) -> tuple[int, str]:
    r = SSHReader(payload, 1)
    return r.uint32(), r.string().decode("utf-8", "replace")


def _preferred(registry: Any, family: str, name: str) -> list[str]:
    """``name`` when the registry has it (a real plugin), else its whole default list."""
    names = registry.expand(family, None)
    return [name] if name in registry.names(family) else names


@contextlib.asynccontextmanager
async def hostile_server(handler: Callable[[RawPeer], Awaitable[Any]], registry: Any,
                         host_key: Any, **options: Any) -> AsyncIterator[Any]:
    """Listen on 127.0.0.1; each connection gets a server-role :class:`RawPeer` that has
    already exchanged version lines, handed to ``handler``.  Yields an object with
    ``port`` and ``errors`` (exceptions the handlers raised, re-raised at exit)."""
    state = _ServerState()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        state.tasks.append(task)
        peer = RawPeer(reader, writer, "server", registry, host_key=host_key, **options)
        try:
            await peer.hello()
            await handler(peer)
        except PeerClosed:
            pass
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            state.errors.append(exc)
        finally:
            writer.close()

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        async with server:
            yield state
            # the handlers finish what they were doing (they time out on their own)
            pending = [t for t in state.tasks if not t.done()]
            if pending:
                await asyncio.wait(pending, timeout=2 * TIMEOUT)
    finally:
        server.close()
    if state.errors:
        raise state.errors[0]


class _ServerState:
    def __init__(self) -> None:
        self.port = 0
        self.errors: list[BaseException] = []
        self.tasks: list[asyncio.Task[Any]] = []
