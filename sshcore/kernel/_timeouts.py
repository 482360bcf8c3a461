"""Idle timeouts, sans-I/O: sshd's ChannelTimeout and UnusedConnectionTimeout.

Theory of operation.  ``ChannelTimeout`` gives channel types (``session``,
``direct-tcpip``, ``forwarded-tcpip``, ``direct-streamlocal@openssh.com``, ...; ``*``
and ``?`` wildcards, the first matching pattern wins) an idle interval: a channel with
no data in either direction for that long is closed.  Data received is stamped with
the time the driver passed in; data we send carries no time, so it only marks the
channel as used, and the next sweep (at the earliest deadline) restarts its interval
from then: a channel that only sends may live up to one extra interval.  The kernel
arms one timer, the earliest deadline, so idle channels cost nothing in between.

``UnusedConnectionTimeout``: an authenticated connection with no open channel for that
long is disconnected (forwarding listeners do not count, as in sshd).  The interval
starts at authentication or when the last channel closes.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from ._channels import Channel, ChannelLayer

__all__ = ["parse_channel_timeout", "ChannelTimeouts"]


def parse_channel_timeout(spec: str | Mapping[str, float] | None) -> dict[str, float]:
    """sshd's ``ChannelTimeout type=interval [type=interval ...]`` (or ``none``), or a
    mapping, as ``{pattern: seconds}`` in order; 0 means no timeout for that type."""
    from ..srclimit import parse_interval

    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        items = [(str(k), v) for k, v in spec.items()]
    else:
        if spec.strip().lower() == "none":
            return {}
        items = []
        for word in spec.split():
            name, sep, value = word.partition("=")
            if not sep or not name or not value:
                raise ConfigurationError(f"ChannelTimeout {word!r}: expected type=interval")
            items.append((name, value))
    out: dict[str, float] = {}
    for name, value in items:
        secs = parse_interval(value) if isinstance(value, str) else float(value)
        if secs < 0:
            raise ConfigurationError(f"ChannelTimeout {name}: negative interval")
        out.setdefault(name, secs)
    return out


class ChannelTimeouts:
    """The idle-channel and unused-connection deadlines of one connection."""

    def __init__(self, patterns: Mapping[str, float], unused: float | None) -> None:
        self.patterns = dict(patterns)
        self.unused = unused or None
        self.next_sweep: float | None = None
        self.unused_since: float | None = None

    def timeout_for(self, channel_type: str) -> float | None:
        for pattern, secs in self.patterns.items():
            if fnmatch.fnmatchcase(channel_type, pattern):
                return secs or None
        return None

    def opened(self, ch: Channel, now: float) -> None:
        """``ch`` is open: start its idle interval."""
        secs = self.timeout_for(ch.channel_type)
        if secs is None:
            return
        ch.idle_timeout = secs
        ch.idle_deadline = now + secs
        if self.next_sweep is None or ch.idle_deadline < self.next_sweep:
            self.next_sweep = ch.idle_deadline

    def deadline(self, layer: ChannelLayer, authenticated: bool, now: float) -> float | None:
        """The earliest time :meth:`expire` has something to do (None: nothing)."""
        unused_at = None
        if self.unused is not None and authenticated:
            if layer.channels:
                self.unused_since = None
            else:
                if self.unused_since is None:
                    self.unused_since = now
                unused_at = self.unused_since + self.unused
        times = [t for t in (self.next_sweep, unused_at) if t is not None]
        return min(times) if times else None

    def expire(self, layer: ChannelLayer, authenticated: bool, now: float) -> tuple[list[int], bool]:
        """Channels idle past their interval (to close) and whether the connection has
        been unused past ``UnusedConnectionTimeout`` (to disconnect)."""
        idle: list[int] = []
        if self.next_sweep is not None and now >= self.next_sweep:
            nxt = None
            for ch in layer.channels.values():
                if ch.idle_deadline is None or ch.close_sent:
                    continue
                if ch.touched:
                    ch.touched = False
                    ch.idle_deadline = max(ch.idle_deadline, now + ch.idle_timeout)
                elif now >= ch.idle_deadline:
                    idle.append(ch.local_id)
                    ch.idle_deadline = None
                    continue
                if nxt is None or ch.idle_deadline < nxt:
                    nxt = ch.idle_deadline
            self.next_sweep = nxt
        unused = (self.unused is not None and authenticated and not layer.channels
                  and self.unused_since is not None and now >= self.unused_since + self.unused)
        return idle, unused
