"""What the adapters read from a TCP socket for the kernel."""

from __future__ import annotations

import socket
import struct
from typing import Any

__all__ = ["round_trip"]

_TCP_INFO: int | None = getattr(socket, "TCP_INFO", None)
#: Linux's struct tcp_info: eight one-byte fields, then u32s; tcpi_rtt (microseconds,
#: the smoothed round trip) is the 16th of those, at byte 68.
_RTT = struct.Struct("=I")
_RTT_OFFSET = 68


def round_trip(sock: Any) -> float | None:
    """The kernel's smoothed round-trip estimate of a connected TCP socket, in seconds
    (right after the connect, from its handshake); None where the platform does not say
    (not Linux, not TCP) or the socket is gone."""
    if _TCP_INFO is None or sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _RTT_OFFSET + _RTT.size)
    except OSError:
        return None
    if len(info) < _RTT_OFFSET + _RTT.size:
        return None
    rtt = _RTT.unpack_from(info, _RTT_OFFSET)[0]
    return rtt / 1e6 if rtt else None
