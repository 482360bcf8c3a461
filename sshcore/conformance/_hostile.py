"""Hostile peers for the kit's failure paths: a key exchange whose messages are broken.

A :class:`HostilePeer` speaks just enough of the transport (version line, KEXINIT, the
key exchange through the registry's own descriptors) to run a *real* exchange of the
method under test, and changes one thing on the way: ``mutate(payload)`` rewrites the
last message it sends in the exchange (a malformed reply or init), or ``bad_signer``
signs something other than the exchange hash.  It then reads until the peer under test
disconnects and records the reason code.  Without a mutation it runs the exchange to
NEWKEYS: the kit's control that the hostile peer itself is sound.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from ..kernel._framing import PacketReader, PacketWriter
from ..kernel._kexinit import KexInit, negotiate
from .._wire import SSHReader
from ..errors import SSHError
from ..interfaces import KexContext, KexStep
from ..kernel.messages import MessageType as M

TIMEOUT = 20.0
VERSION = "SSH-2.0-sshcore_conformance_hostile"


class PeerGone(Exception):
    """The peer closed the TCP connection."""


class HostilePeer:
    """One end of a connection, driven by the kit (``role``: the side it plays)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, role: str,
                 registry: Any, kex: str, *, host_key: Any = None,
                 host_key_alg: str | None = None,
                 mutate: Callable[[bytes], bytes] | None = None,
                 bad_signer: bool = False) -> None:
        self.reader, self.writer, self.role = reader, writer, role
        self.registry, self.kex_name = registry, kex
        self.host_key, self.host_key_alg = host_key, host_key_alg
        self.mutate, self.bad_signer = mutate, bad_signer
        self.w, self.r = PacketWriter(), PacketReader()
        self.r.max_length = 1 << 20
        self.peer_version = b""
        #: what happened, for the kit's assertions
        self.sent_mutated = False
        self.reached_newkeys = False
        self.disconnect_code: int | None = None

    def send(self, payload: bytes) -> None:
        self.writer.write(self.w.pack(payload))

    async def recv(self) -> bytes:
        while True:
            payload = self.r.next_payload()
            if payload is not None:
                payload = bytes(payload)
                if payload[0] in (M.IGNORE, M.DEBUG):
                    continue
                if payload[0] == M.DISCONNECT:
                    self.disconnect_code = SSHReader(payload, 1).uint32()
                    raise PeerGone("DISCONNECT")
                return payload
            data = await asyncio.wait_for(self.reader.read(65536), TIMEOUT)
            if not data:
                raise PeerGone("EOF")
            self.r.feed(data)

    async def run(self) -> None:
        """The version exchange and one key exchange, broken as configured."""
        self.writer.write(VERSION.encode() + b"\r\n")
        while True:
            line = await asyncio.wait_for(self.reader.readline(), TIMEOUT)
            if not line:
                raise PeerGone("EOF before version")
            if line.startswith(b"SSH-"):
                self.peer_version = line.rstrip(b"\r\n")
                break
        reg = self.registry
        macs = reg.expand("mac", None)
        ciphers = reg.expand("cipher", None)
        if self.host_key_alg:
            hk = [self.host_key_alg]
        elif self.host_key is not None:
            hk = list(self.host_key.sig_algorithms())
        else:
            hk = reg.expand("signature", None)
        ours = KexInit([self.kex_name], hk, ciphers, ciphers, macs, macs, ["none"], ["none"],
                       [], [], False)
        our_payload = ours.encode(b"\x17" * 16)
        self.send(our_payload)
        peer_payload = await self.recv()
        if peer_payload[0] != M.KEXINIT:
            raise AssertionError(f"hostile peer: expected KEXINIT, got message {peer_payload[0]}")
        peer = KexInit.decode(peer_payload)
        client, server = (ours, peer) if self.role == "client" else (peer, ours)
        aead = {c.name for c in reg.all("cipher") if c.aead}
        alg = negotiate(client, server, aead)
        desc = reg.get("kex", alg.kex)
        me = VERSION.encode()
        if self.role == "client":
            ctx = KexContext("client", me, self.peer_version, our_payload, peer_payload)
        else:
            key, host_alg = self.host_key, alg.host_key

            def sign(data: bytes) -> bytes:
                if self.bad_signer:  # a real signature by the right key, over the wrong data
                    data = b"not the exchange hash" + data
                return key.sign(data, host_alg)

            ctx = KexContext("server", self.peer_version, me, peer_payload, our_payload,
                             host_key_blob=key.public_blob, sign=sign)
        kex = desc.factory(ctx)
        step = kex.start()
        first = True
        while True:
            while step.compute is not None:
                step = step.compute.resume(step.compute.fn(*step.compute.args))
            self._send_step(step, first)
            first = False
            if step.result is not None:
                break
            payload = await self.recv()
            step = kex.receive(payload)
        self.send(bytes([M.NEWKEYS]))
        while True:
            payload = await self.recv()
            if payload[0] == M.NEWKEYS:
                self.reached_newkeys = True
                return

    def _send_step(self, step: KexStep, first: bool) -> None:
        msgs = list(step.send)
        # Client role: break our first message (the INIT); server role: our final one.
        target = (len(msgs) - 1 if step.result is not None else -1) if self.role == "server" \
            else (0 if first else -1)
        for i, msg in enumerate(msgs):
            if self.mutate is not None and i == target and msgs:
                msg = self.mutate(msg)
                self.sent_mutated = True
            self.send(msg)

    async def finish(self) -> None:
        """Read until the peer disconnects or closes (recording its reason code); after
        NEWKEYS the peer's packets are encrypted with keys not installed here: stop."""
        if self.reached_newkeys:
            return
        with contextlib.suppress(PeerGone, TimeoutError, ConnectionError, OSError, SSHError):
            while True:
                await self.recv()


@contextlib.asynccontextmanager
async def hostile_server(registry: Any, kex: str, host_key: Any, host_key_alg: str | None,
                         **options: Any) -> Any:
    """Listen on 127.0.0.1; yields ``(port, peers)``: one :class:`HostilePeer` per client."""
    peers: list[HostilePeer] = []
    errors: list[BaseException] = []
    tasks: list[asyncio.Task[Any]] = []

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = HostilePeer(reader, writer, "server", registry, kex, host_key=host_key,
                           host_key_alg=host_key_alg, **options)
        peers.append(peer)
        task = asyncio.current_task()
        if task is not None:
            tasks.append(task)
        try:
            await peer.run()
        except PeerGone:
            pass
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test below
            errors.append(exc)
        finally:
            await peer.finish()
            writer.close()

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], peers
        pending = [t for t in tasks if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=TIMEOUT)
    finally:
        server.close()
        await server.wait_closed()
    if errors:
        raise AssertionError(f"conformance kit: the hostile peer failed: {errors[0]!r}") \
            from errors[0]


async def hostile_client(port: int, registry: Any, kex: str, **options: Any) -> HostilePeer:
    """Connect to 127.0.0.1:``port`` and run a (broken) key exchange as the client."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), TIMEOUT)
    peer = HostilePeer(reader, writer, "client", registry, kex, **options)
    try:
        with contextlib.suppress(PeerGone):
            await peer.run()
        await peer.finish()
    finally:
        writer.close()
    return peer
