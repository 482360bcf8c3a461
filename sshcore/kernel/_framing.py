"""RFC 4253 section 6 binary packet protocol: framing, padding, encryption, MAC, compression.

One :class:`PacketWriter` and one :class:`PacketReader` per direction.  They know
algorithms only through the descriptor objects of :mod:`sshcore.interfaces`; the
"none" cipher, MAC and compression are simply the absence of an object.
"""

from __future__ import annotations

import os
import struct
from typing import Any

from .._wire import pack_u32, unpack_u32_from
from ..errors import CompressionError, MACError, RemoteProtocolError

#: Largest packet_length we accept (OpenSSH uses 256 KiB; RFC 4253 demands >= 35000).
MAX_PACKET_LENGTH = 256 * 1024
#: Largest uncompressed payload we accept.
MAX_PAYLOAD = 256 * 1024
_SEQ_MASK = 0xFFFFFFFF
_LEN_PAD = struct.Struct(">IB")
#: Receive buffer of a connection with little traffic, and the most a bulk transfer
#: grows it to.
_SMALL_BUFFER = 4096
_BULK_BUFFER = 1024 * 1024
#: Random bytes drawn at a time for padding (a packet takes 4 to 19 of them).
_PADDING_POOL = 256
#: Small receive buffers not in use, shared by every reader: an idle connection holds
#: none (a reader gives its buffer back once it is empty after a small read, and takes
#: one again for the next read).  A list's pop and append are atomic, so readers in
#: other threads may share it.  (bytearray, its memoryview) pairs.
_SPARE: list[tuple[bytearray, memoryview]] = []
_SPARE_MAX = 16
_NO_BUFFER = bytearray()  # never written to: a reader's buffer while it has none


def _take_small() -> tuple[bytearray, memoryview]:
    try:
        return _SPARE.pop()
    except IndexError:
        buf = bytearray(_SMALL_BUFFER)
        return buf, memoryview(buf)


def _give_back(buf: bytearray, view: memoryview | None) -> None:
    if view is None:
        return
    if len(buf) == _SMALL_BUFFER and len(_SPARE) < _SPARE_MAX:
        _SPARE.append((buf, view))
    else:
        view.release()


class PacketWriter:
    """Turns payloads into wire bytes."""

    __slots__ = ("seq", "cipher", "aead", "mac", "etm", "block", "compressor",
                 "delayed_compressor", "bytes_sent", "packets_sent", "_random", "_pool",
                 "_pool_pos")

    def __init__(self, random: Any = os.urandom) -> None:
        self.seq = 0
        self.cipher: Any = None
        self.aead = False
        self.mac: Any = None
        self.etm = False
        self.block = 8
        self.compressor: Any = None
        self.delayed_compressor: Any = None
        self.bytes_sent = 0
        self.packets_sent = 0
        self._random = random
        self._pool = b""
        self._pool_pos = 0

    def set_keys(self, cipher: Any, aead: bool, block: int, mac: Any, etm: bool,
                 compressor: Any, delayed: bool) -> None:
        self.cipher, self.aead, self.mac, self.etm = cipher, aead, mac, etm
        self.block = max(block, 8)
        if delayed:
            self.compressor, self.delayed_compressor = None, compressor
        else:
            self.compressor, self.delayed_compressor = compressor, None

    def start_delayed_compression(self) -> None:
        if self.delayed_compressor is not None:
            self.compressor, self.delayed_compressor = self.delayed_compressor, None

    def _padding(self, n: int) -> bytes:
        """``n`` random bytes, drawn from the injected source a few hundred at a time."""
        pos = self._pool_pos
        if pos + n > len(self._pool):
            self._pool, pos = self._random(max(n, _PADDING_POOL)), 0
        self._pool_pos = pos + n
        return self._pool[pos:pos + n]

    def pack(self, payload: bytes | tuple[Any, ...]) -> bytes:
        """The wire bytes of one packet."""
        return b"".join(self.pack_parts(payload))

    def pack_parts(self, payload: bytes | tuple[Any, ...]) -> tuple[Any, ...]:
        """The wire bytes of one packet as a few pieces, for the caller to join with the
        rest of its output.  ``payload`` is bytes or a tuple of bytes-like parts (a
        message header and the data it carries), joined here once."""
        parts = payload if type(payload) is tuple else (payload,)
        if self.compressor is not None:
            parts = (self.compressor.compress(b"".join(parts)),)
        plen = sum(map(len, parts)) if len(parts) > 1 else len(parts[0])
        block = self.block
        # The length field is excluded from the alignment when it travels in clear / as AAD.
        base = 1 + plen + (0 if self.aead or self.etm else 4)
        padlen = block - (base % block)
        if padlen < 4:
            padlen += block
        packet = b"".join((_LEN_PAD.pack(1 + plen + padlen, padlen), *parts, self._padding(padlen)))
        seq = self.seq
        cipher = self.cipher
        if cipher is None:
            wire: tuple[Any, ...] = (packet,)
            if self.mac is not None:  # pragma: no cover - MAC without cipher never negotiated
                wire = (packet, self.mac.sign(seq, packet))
        elif self.aead:
            wire = (cipher.encrypt_packet(seq, packet),)
        elif self.etm:
            sealed = packet[:4] + cipher.encrypt(memoryview(packet)[4:])
            wire = (sealed, self.mac.sign(seq, sealed))
        else:
            wire = (cipher.encrypt(packet), self.mac.sign(seq, packet))
        self.seq = (seq + 1) & _SEQ_MASK
        self.bytes_sent += sum(map(len, wire))
        self.packets_sent += 1
        return wire


class PacketReader:
    """Reassembles packets from received bytes; ``next_payload()`` returns one or None.

    Bytes arrive by ``feed(data)`` or, without a copy, by writing into ``get_buffer()`` and
    calling ``buffer_updated(n)`` (the shape of :class:`asyncio.BufferedProtocol`).  The
    buffer starts small, grows while reads fill it (bulk transfers) and is given back
    once it is empty after a small read (small buffers to a shared spare list), so an
    idle connection holds no receive buffer at all.

    Ciphers and MACs get memoryviews into the buffer, valid only during the call.  A
    returned payload is a memoryview of the decrypted packet, a fresh object that the
    reader never reuses; before the first key exchange it is a copy.
    """

    __slots__ = ("seq", "cipher", "aead", "mac", "etm", "block", "mac_size", "decompressor",
                 "delayed_decompressor", "bytes_received", "packets_received", "max_length",
                 "max_payload", "_buf", "_view", "_rd", "_wr", "_need", "_last_read",
                 "_offered", "_filled", "_first", "_length")

    def __init__(self) -> None:
        self.seq = 0
        self.cipher: Any = None
        self.aead = False
        self.mac: Any = None
        self.etm = False
        self.block = 8
        self.mac_size = 0
        self.decompressor: Any = None
        self.delayed_decompressor: Any = None
        self.bytes_received = 0
        self.packets_received = 0
        #: Limits (the transport sets them from its configuration).
        self.max_length = MAX_PACKET_LENGTH
        self.max_payload = MAX_PAYLOAD
        #: The receive buffer; empty (and ``_view`` None) while nothing is buffered.
        self._buf = _NO_BUFFER
        self._view: Any = None
        self._rd = 0        # start of unparsed data
        self._wr = 0        # end of received data
        self._need = 0      # total size of the packet in progress, once known
        self._last_read = 0
        self._offered = 0
        self._filled = False
        # A packet whose first block is decrypted already (encrypt-and-MAC ciphers), and
        # a length an AEAD cipher decrypted already: decrypting again would be wasted work
        # (and, for a stateful cipher, wrong).
        self._first: bytes | None = None
        self._length = -1

    def set_keys(self, cipher: Any, aead: bool, block: int, mac: Any, mac_size: int,
                 etm: bool, decompressor: Any, delayed: bool) -> None:
        self.cipher, self.aead, self.mac, self.etm = cipher, aead, mac, etm
        self.block = max(block, 8)
        self.mac_size = mac_size
        if delayed:
            self.decompressor, self.delayed_decompressor = None, decompressor
        else:
            self.decompressor, self.delayed_decompressor = decompressor, None

    def start_delayed_compression(self) -> None:
        if self.delayed_decompressor is not None:
            self.decompressor, self.delayed_decompressor = self.delayed_decompressor, None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as packets."""
        return self._wr - self._rd

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        n = len(data)
        self.get_buffer(n)[:n] = data
        self.buffer_updated(n)

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """Free space to receive into, never empty: at least ``sizehint`` bytes, and room
        for the rest of the packet in progress."""
        rd, wr, size = self._rd, self._wr, len(self._buf)
        if rd == wr:
            self._rd = self._wr = rd = wr = 0
            if not size or (size > _SMALL_BUFFER and self._last_read < _SMALL_BUFFER
                            and sizehint <= _SMALL_BUFFER):
                if size:
                    _give_back(self._buf, self._view)
                self._buf, self._view = _take_small()
                size = _SMALL_BUFFER
        pending = wr - rd
        need = max(sizehint, self._need - pending, 1)
        target = size
        if self._filled and size < _BULK_BUFFER:
            target = min(2 * size, _BULK_BUFFER)  # reads fill what we offer: offer more
        if pending + need > target:
            target = max(pending + need, 2 * size)
        if target > size:
            self._resize(target)
        elif size - wr < max(need, size // 4) and rd:
            self._buf[:pending] = self._view[rd:wr]  # move the partial packet to the front
            self._rd, self._wr = 0, pending
        view = self._view[self._wr:]
        self._offered = len(view)
        return view

    def buffer_updated(self, nbytes: int) -> None:
        self._wr += nbytes
        self._last_read = nbytes
        self._filled = nbytes >= self._offered

    def _resize(self, size: int) -> None:
        rd, wr = self._rd, self._wr
        buf = bytearray(size)
        buf[:wr - rd] = self._view[rd:wr]
        _give_back(self._buf, self._view)
        self._buf, self._view = buf, memoryview(buf)
        self._rd, self._wr = 0, wr - rd

    def _park(self) -> None:
        """Everything received is consumed: after a small read, give the buffer back
        (a bulk transfer keeps its large buffer for the next read)."""
        if self._last_read < _SMALL_BUFFER and self._buf:
            _give_back(self._buf, self._view)
            self._buf, self._view = _NO_BUFFER, None
            self._rd = self._wr = 0

    def _check_length(self, length: int, aligned: int) -> None:
        if length < 5 or length > self.max_length:
            raise RemoteProtocolError(f"invalid packet length {length}")
        if aligned % self.block:
            raise RemoteProtocolError(f"packet length {length} is not a multiple of the block size")

    def next_payload(self) -> bytes | memoryview | None:
        rd = self._rd
        avail = self._wr - rd
        view = self._view
        cipher = self.cipher
        seq = self.seq
        if cipher is None or self.aead or self.etm:
            if avail < 4:
                if not avail:
                    self._park()
                return None
            length = self._length
            if length < 0:
                if self.aead:
                    length = cipher.decrypt_length(seq, view[rd:rd + 4])
                else:
                    (length,) = unpack_u32_from(self._buf, rd)
                self._check_length(length, length if cipher is not None else length + 4)
                self._length = length
            tail = self.mac_size if self.aead or self.mac is not None else 0
            total = 4 + length + tail
            if avail < total:
                self._need = total
                return None
            end = rd + 4 + length
            if cipher is None:
                if self.mac is not None and not self.mac.verify(seq, view[rd:end], view[end:rd + total]):
                    raise MACError("MAC verification failed")  # pragma: no cover - never negotiated
                packet: Any = bytes(view[rd + 4:end])
            elif self.aead:
                packet = cipher.decrypt_packet(seq, view[rd:rd + 4], view[rd + 4:rd + total])
                if packet is None:
                    raise MACError("message authentication failed")
            else:
                if not self.mac.verify(seq, view[rd:end], view[end:rd + total]):
                    raise MACError("MAC verification failed")
                packet = cipher.decrypt(view[rd + 4:end])
        else:
            block = self.block
            first = self._first
            if first is None:
                if avail < block:
                    if not avail:
                        self._park()
                    return None
                first = bytes(cipher.decrypt(view[rd:rd + block]))  # kept across reads
                (length,) = unpack_u32_from(first)
                self._check_length(length, length + 4)
                self._first, self._length = first, length
            length = self._length
            total = 4 + length + self.mac_size
            if avail < total:
                self._need = total
                return None
            end = rd + 4 + length
            whole = b"".join((first, cipher.decrypt(view[rd + block:end]))) if end > rd + block else first
            self._first = None
            if not self.mac.verify(seq, whole, view[end:rd + total]):
                raise MACError("MAC verification failed")
            packet = memoryview(whole)[4:]
        self._rd = rd + total
        self._need = 0
        self._length = -1
        self.seq = (seq + 1) & _SEQ_MASK
        self.packets_received += 1
        self.bytes_received += total
        padlen = packet[0]
        plen = len(packet)
        if padlen < 4 or padlen >= plen:
            raise RemoteProtocolError(f"invalid padding length {padlen}")
        payload = memoryview(packet)[1:plen - padlen]
        if self.decompressor is not None:
            try:
                payload = self.decompressor.decompress(payload, self.max_payload)
            except CompressionError:
                raise
            except Exception as exc:
                raise CompressionError(f"decompression failed: {exc}") from None
        if not payload:
            raise RemoteProtocolError("empty packet payload")
        return payload
