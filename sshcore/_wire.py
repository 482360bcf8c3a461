"""RFC 4251 section 5 data types: encoders and a bounds-checked reader."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from .errors import RemoteProtocolError

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
pack_u32 = _U32.pack
unpack_u32_from = _U32.unpack_from

__all__ = [
    "DecodeError", "SSHReader", "byte", "boolean", "uint32", "uint64", "string",
    "mpint", "name_list", "pack_u32",
]


class DecodeError(RemoteProtocolError):
    """Bytes from the peer do not decode as the expected SSH data types."""


def byte(value: int) -> bytes:
    return bytes((value,))


def boolean(value: bool) -> bytes:
    return b"\x01" if value else b"\x00"


def uint32(value: int) -> bytes:
    return _U32.pack(value)


def uint64(value: int) -> bytes:
    return _U64.pack(value)


def string(value: bytes | str) -> bytes:
    if isinstance(value, str):
        value = value.encode("utf-8")
    return _U32.pack(len(value)) + value


def mpint(value: int) -> bytes:
    """Two's-complement, minimal-length, big-endian multiple precision integer."""
    if value == 0:
        return b"\0\0\0\0"
    length = (value.bit_length() + 8) // 8 if value > 0 else ((~value).bit_length() + 8) // 8
    data = value.to_bytes(length, "big", signed=True)
    return _U32.pack(len(data)) + data


def name_list(names: Iterable[str]) -> bytes:
    return string(",".join(names).encode("ascii"))


class SSHReader:
    """Reads SSH data types from a buffer; any overrun raises :class:`DecodeError`."""

    __slots__ = ("_data", "_pos", "_end")

    def __init__(self, data: bytes | memoryview, pos: int = 0) -> None:
        self._data = bytes(data)
        self._pos = pos
        self._end = len(self._data)

    @property
    def remaining(self) -> int:
        return self._end - self._pos

    def _take(self, n: int) -> bytes:
        pos = self._pos
        end = pos + n
        if n < 0 or end > self._end:
            raise DecodeError("truncated message")
        self._pos = end
        return self._data[pos:end]

    def byte(self) -> int:
        if self._pos >= self._end:
            raise DecodeError("truncated message")
        value = self._data[self._pos]
        self._pos += 1
        return value

    def boolean(self) -> bool:
        return self.byte() != 0

    def uint32(self) -> int:
        if self._pos + 4 > self._end:
            raise DecodeError("truncated message")
        (value,) = _U32.unpack_from(self._data, self._pos)
        self._pos += 4
        return int(value)

    def uint64(self) -> int:
        if self._pos + 8 > self._end:
            raise DecodeError("truncated message")
        (value,) = _U64.unpack_from(self._data, self._pos)
        self._pos += 8
        return int(value)

    def string(self) -> bytes:
        return self._take(self.uint32())

    def text(self, encoding: str = "utf-8") -> str:
        try:
            return self.string().decode(encoding)
        except UnicodeDecodeError:
            raise DecodeError(f"string is not valid {encoding}") from None

    def mpint(self) -> int:
        data = self.string()
        return int.from_bytes(data, "big", signed=True) if data else 0

    def name_list(self) -> list[str]:
        data = self.string()
        if not data:
            return []
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            raise DecodeError("name-list is not ASCII") from None
        names = text.split(",")
        if any(not name for name in names):
            raise DecodeError("name-list has an empty name")
        return names

    def rest(self) -> bytes:
        data = self._data[self._pos:self._end]
        self._pos = self._end
        return data

    def finish(self) -> None:
        """Raise unless the whole buffer was consumed."""
        if self._pos != self._end:
            raise DecodeError("unexpected trailing data in message")


def encode(*parts: bytes) -> bytes:
    return b"".join(parts)


def split_names(value: str | Sequence[str]) -> list[str]:
    if isinstance(value, str):
        return [name for name in value.split(",") if name]
    return list(value)
