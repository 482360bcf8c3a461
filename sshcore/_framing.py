"""RFC 4253 section 6 binary packet protocol: framing, padding, encryption, MAC, compression.

One :class:`PacketWriter` and one :class:`PacketReader` per direction.  They know
algorithms only through the descriptor objects of :mod:`sshcore.interfaces`; the
"none" cipher, MAC and compression are simply the absence of an object.
"""

from __future__ import annotations

import os
from typing import Any

from ._wire import pack_u32, unpack_u32_from
from .errors import CompressionError, MACError, RemoteProtocolError

#: Largest packet_length we accept (OpenSSH uses 256 KiB; RFC 4253 demands >= 35000).
MAX_PACKET_LENGTH = 256 * 1024
#: Largest uncompressed payload we accept.
MAX_PAYLOAD = 256 * 1024
_SEQ_MASK = 0xFFFFFFFF


class PacketWriter:
    """Turns payloads into wire bytes."""

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

    def pack(self, payload: bytes) -> bytes:
        if self.compressor is not None:
            payload = self.compressor.compress(payload)
        block = self.block
        # The length field is excluded from the alignment when it travels in clear / as AAD.
        skip_len = self.aead or self.etm
        base = 1 + len(payload) + (0 if skip_len else 4)
        padlen = block - (base % block)
        if padlen < 4:
            padlen += block
        packet_length = 1 + len(payload) + padlen
        packet = b"".join((pack_u32(packet_length), bytes((padlen,)), payload,
                           self._random(padlen)))
        seq = self.seq
        cipher = self.cipher
        if cipher is None:
            wire = packet
            if self.mac is not None:  # pragma: no cover - MAC without cipher never negotiated
                wire += self.mac.sign(seq, packet)
        elif self.aead:
            wire = cipher.encrypt_packet(seq, packet)
        elif self.etm:
            wire = packet[:4] + cipher.encrypt(packet[4:])
            wire += self.mac.sign(seq, wire)
        else:
            wire = cipher.encrypt(packet) + self.mac.sign(seq, packet)
        self.seq = (seq + 1) & _SEQ_MASK
        self.bytes_sent += len(wire)
        self.packets_sent += 1
        return wire


class PacketReader:
    """Reassembles packets from received bytes; ``next_payload()`` returns one or None."""

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
        self.buffer = bytearray()
        self.bytes_received = 0
        self.packets_received = 0
        #: Limits (the transport sets them from its configuration).
        self.max_length = MAX_PACKET_LENGTH
        self.max_payload = MAX_PAYLOAD
        # State of a packet whose first block is already decrypted (non-etm ciphers).
        self._first: bytes | None = None
        self._length = 0

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

    def feed(self, data: bytes) -> None:
        self.buffer += data

    def _check_length(self, length: int, aligned: int) -> None:
        if length < 5 or length > self.max_length:
            raise RemoteProtocolError(f"invalid packet length {length}")
        if aligned % self.block:
            raise RemoteProtocolError(f"packet length {length} is not a multiple of the block size")

    def next_payload(self) -> bytes | None:
        buf = self.buffer
        cipher = self.cipher
        seq = self.seq
        if cipher is None or self.aead or self.etm:
            if len(buf) < 4:
                return None
            header = bytes(buf[:4])
            if self.aead:
                length = cipher.decrypt_length(seq, header)
                tail = self.mac_size
            else:
                (length,) = unpack_u32_from(header)
                tail = self.mac_size if self.mac is not None else 0
            self._check_length(length, length if cipher is not None else length + 4)
            total = 4 + length + tail
            if len(buf) < total:
                return None
            body = bytes(buf[4:4 + length + tail])
            del buf[:total]
            if cipher is None:
                if self.mac is not None and not self.mac.verify(seq, header + body[:length], body[length:]):
                    raise MACError("MAC verification failed")
                packet = body[:length]
            elif self.aead:
                packet = cipher.decrypt_packet(seq, header, body)
                if packet is None:
                    raise MACError("message authentication failed")
            else:
                ciphertext = body[:length]
                if not self.mac.verify(seq, header + ciphertext, body[length:]):
                    raise MACError("MAC verification failed")
                packet = cipher.decrypt(ciphertext)
        else:
            block = self.block
            if self._first is None:
                if len(buf) < block:
                    return None
                first = cipher.decrypt(bytes(buf[:block]))
                (length,) = unpack_u32_from(first)
                self._check_length(length, length + 4)
                del buf[:block]
                self._first, self._length = first, length
            length = self._length
            need = length + 4 - block + self.mac_size
            if len(buf) < need:
                return None
            rest_len = length + 4 - block
            rest = cipher.decrypt(bytes(buf[:rest_len])) if rest_len else b""
            mac = bytes(buf[rest_len:need])
            del buf[:need]
            whole = self._first + rest
            self._first = None
            if not self.mac.verify(seq, whole, mac):
                raise MACError("MAC verification failed")
            packet = whole[4:]
        self.seq = (seq + 1) & _SEQ_MASK
        self.packets_received += 1
        self.bytes_received += 4 + len(packet) + self.mac_size
        padlen = packet[0]
        if padlen < 4 or padlen >= len(packet):
            raise RemoteProtocolError(f"invalid padding length {padlen}")
        payload = packet[1:len(packet) - padlen]
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
