"""Per-source limits and penalties, as OpenSSH 9.8's sshd (``srclimit.c``).

Owns the bookkeeping only, with no I/O and no clock (every method takes ``now``): the
adapter asks :meth:`SourceLimiter.check` right after accepting a socket, and reports
how each connection ended with :meth:`SourceLimiter.penalise`.

Semantics (sshd_config(5) ``PerSourcePenalties``, ``PerSourcePenaltyExemptList``,
``PerSourceMaxStartups``, ``PerSourceNetBlockSize``):

* A *source* is the peer address masked to ``PerSourceNetBlockSize`` bits (32:128 by
  default: each address on its own).
* Each connection that ends badly adds its penalty (``crash`` 90 s, ``authfail`` 5 s,
  ``noauth`` 1 s, ``grace-exceeded`` 10 s) to the source's outstanding penalty, which
  runs down in real time and is capped at ``max`` (600 s).  Once more than ``min``
  (15 s) is outstanding the penalty is *active*: the source's new connections are
  refused until it has run down.
* Sources in the exempt list (CIDR patterns, ``!`` negates) are never penalised.
* The table holds at most ``max-sources4`` IPv4 and ``max-sources6`` IPv6 sources.
  When full, ``overflow permissive`` drops the entries closest to expiry to make room;
  ``deny-all`` refuses every new connection of that address family until entries
  expire.
* ``PerSourceMaxStartups`` caps the unauthenticated connections from one source.
"""

from __future__ import annotations

import heapq
import ipaddress
import re
from dataclasses import dataclass, fields, replace
from typing import Union

from .errors import ConfigurationError

__all__ = ["PenaltyConfig", "SourceLimiter", "parse_interval", "parse_penalties",
           "parse_net_block_size", "parse_exempt_list", "PENALTY_KINDS"]

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

#: What a connection can be penalised for, with sshd's log reason.
PENALTY_KINDS = {
    "crash": "penalty: caused crash",
    "authfail": "penalty: failed authentication",
    "noauth": "penalty: connections without attempting authentication",
    "grace-exceeded": "penalty: exceeded LoginGraceTime",
}

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_interval(text: str) -> float:
    """sshd's TIME FORMATS: ``90``, ``90s``, ``10m``, ``1h30m`` (seconds)."""
    s = text.strip().lower()
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhdw]?)", s)
    if not s or "".join(n + u for n, u in parts) != s:
        raise ConfigurationError(f"bad time value {text!r} (expected e.g. 30, 30s, 10m, 1h30m)")
    return float(sum(float(n) * _UNITS[u] for n, u in parts))


@dataclass(frozen=True)
class PenaltyConfig:
    """``PerSourcePenalties``, with OpenSSH 9.8's defaults (seconds)."""

    enabled: bool = True
    crash: float = 90.0
    authfail: float = 5.0
    noauth: float = 1.0
    grace_exceeded: float = 10.0
    max: float = 600.0
    min: float = 15.0
    max_sources4: int = 65536
    max_sources6: int = 65536
    overflow: str = "permissive"
    overflow6: str | None = None  # None: as ``overflow``

    def seconds(self, kind: str) -> float:
        if kind not in PENALTY_KINDS:
            raise ValueError(f"unknown penalty kind {kind!r}")
        return float(getattr(self, kind.replace("-", "_")))

    def overflow_mode(self, version: int) -> str:
        return self.overflow6 or self.overflow if version == 6 else self.overflow

    def describe(self) -> str:
        """The value as ``sshd -T`` prints it."""
        if not self.enabled:
            return "no"
        t = lambda v: f"{v:g}s"  # noqa: E731
        return (f"crash:{t(self.crash)} authfail:{t(self.authfail)} noauth:{t(self.noauth)} "
                f"grace-exceeded:{t(self.grace_exceeded)} max:{t(self.max)} min:{t(self.min)} "
                f"max-sources4:{self.max_sources4} max-sources6:{self.max_sources6} "
                f"overflow:{self.overflow} overflow6:{self.overflow_mode(6)}")


def parse_penalties(value: str | bool | PenaltyConfig | None) -> PenaltyConfig:
    """``PerSourcePenalties``: ``yes`` (the defaults), ``no``, or keywords such as
    ``authfail:30s min:10s max-sources4:1024 overflow:deny-all`` overriding them."""
    if isinstance(value, PenaltyConfig):
        return value
    if value is None or value is True:
        return PenaltyConfig()
    if value is False:
        return PenaltyConfig(enabled=False)
    words = str(value).split()
    if words and words[0].lower() in ("yes", "no", "off") and len(words) == 1:
        return PenaltyConfig(enabled=words[0].lower() == "yes")
    changes: dict[str, object] = {}
    names = {f.name.replace("_", "-") for f in fields(PenaltyConfig)} - {"enabled"}
    for word in words:
        key, sep, arg = word.partition(":")
        key = key.lower()
        if not sep or key not in names or not arg:
            raise ConfigurationError(f"PerSourcePenalties: bad keyword {word!r}")
        if key in ("overflow", "overflow6"):
            if arg not in ("permissive", "deny-all"):
                raise ConfigurationError(f"PerSourcePenalties {word!r}: expected permissive "
                                         "or deny-all")
            changes[key] = arg
        elif key.startswith("max-sources"):
            if not arg.isdigit() or int(arg) < 1:
                raise ConfigurationError(f"PerSourcePenalties {word!r}: expected a count")
            changes[key.replace("-", "_")] = int(arg)
        else:
            changes[key.replace("-", "_")] = parse_interval(arg)
    return replace(PenaltyConfig(), **changes)  # type: ignore[arg-type]


def parse_net_block_size(value: str | tuple[int, int] | None) -> tuple[int, int]:
    """``PerSourceNetBlockSize``: ``"32:128"`` (default), ``"24"`` or ``(24, 56)``."""
    if value is None:
        return 32, 128
    try:
        if isinstance(value, str):
            v4, _, v6 = value.partition(":")
            bits = (int(v4), int(v6) if v6 else 128)
        else:
            bits = (int(value[0]), int(value[1]))
    except (TypeError, ValueError, IndexError):
        raise ConfigurationError(f"PerSourceNetBlockSize {value!r}: expected BITS4[:BITS6]") from None
    if not (0 <= bits[0] <= 32 and 0 <= bits[1] <= 128):
        raise ConfigurationError(f"PerSourceNetBlockSize {value!r}: out of range (32:128 max)")
    return bits


def parse_exempt_list(value: str | list[str] | tuple[str, ...] | None
                      ) -> tuple[tuple[bool, Network], ...]:
    """``PerSourcePenaltyExemptList``: comma-separated addresses or CIDR blocks, ``!``
    negating (a negated match is never exempt, whatever else matches)."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    out = []
    for item in (i.strip() for i in items):
        if not item or item.lower() == "none":
            continue
        neg = item.startswith("!")
        try:
            net = ipaddress.ip_network(item[1:] if neg else item, strict=False)
        except ValueError:
            raise ConfigurationError(f"PerSourcePenaltyExemptList: bad address {item!r}") from None
        out.append((neg, net))
    return tuple(out)


def _address(addr: str | Address) -> Address | None:
    try:
        ip = ipaddress.ip_address(str(addr).split("%", 1)[0])
    except ValueError:
        return None  # a Unix socket or something else without an IP: not limited
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # dual-stack sockets show IPv4 peers as ::ffff:a.b.c.d
    return ip


class _Penalty:
    __slots__ = ("expiry", "active", "reason", "logged_at", "unlogged")

    def __init__(self, expiry: float, active: bool, reason: str) -> None:
        self.expiry = expiry
        self.active = active
        self.reason = reason
        self.logged_at = float("-inf")  # when a refusal of this source was last logged
        self.unlogged = 0               # refusals since, not logged


class SourceLimiter:
    """The per-source table one listener keeps (see the module docstring)."""

    #: Seconds between two logged refusals of one penalised source (:meth:`log_drop`).
    drop_log_interval = 30.0

    def __init__(self, penalties: PenaltyConfig | str | bool | None = None,
                 exempt: str | list[str] | tuple[str, ...] | None = None,
                 net_block_size: str | tuple[int, int] | None = None,
                 max_startups: int | None = None) -> None:
        self.config = parse_penalties(penalties)
        self.exempt = parse_exempt_list(exempt)
        self.net_block_size = parse_net_block_size(net_block_size)
        if max_startups is not None and int(max_startups) < 1:
            raise ConfigurationError(f"PerSourceMaxStartups {max_startups!r}: expected >= 1 or none")
        self.max_startups = None if max_startups is None else int(max_startups)
        self._table: dict[int, dict[Network, _Penalty]] = {4: {}, 6: {}}
        # (expiry, serial, source) per family; stale entries are skipped when popped.
        self._heap: dict[int, list[tuple[float, int, Network]]] = {4: [], 6: []}
        self._serial = 0
        self._startups: dict[Network, int] = {}
        # address -> source block and exempt verdict (parsing addresses is slow: the
        # accept path asks for every connection); cleared when 4096 entries are cached
        self._sources: dict[str | Address, Network | None] = {}
        self._exempt_cache: dict[str | Address, bool] = {}
        # (source, reason) -> [last logged, unlogged since] for refusals without a penalty
        self._quiet: dict[tuple[Network | None, str | None], list[float]] = {}
        #: Connections refused so far, by reason (for logs and load tests).
        self.refused: dict[str, int] = {}

    # ------------------------------------------------------------------ sources

    def source(self, addr: str | Address) -> Network | None:
        """The block ``addr`` counts against (None: not an IP address, never limited)."""
        cached = self._sources.get(addr, False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        ip = _address(addr)
        if ip is None:
            net = None
        else:
            bits = self.net_block_size[0 if ip.version == 4 else 1]
            net = ipaddress.ip_network(f"{ip}/{bits}", strict=False)
        if len(self._sources) >= 4096:  # a flood from many addresses: start again
            self._sources.clear()
            self._exempt_cache.clear()
        self._sources[addr] = net
        return net

    def is_exempt(self, addr: str | Address) -> bool:
        if not self.exempt:
            return self.source(addr) is None  # cached
        cached = self._exempt_cache.get(addr)
        if cached is None:
            cached = self._exempt_cache[addr] = self._is_exempt(addr)
        return cached

    def _is_exempt(self, addr: str | Address) -> bool:
        ip = _address(addr)
        if ip is None:
            return True
        matched = False
        for neg, net in self.exempt:
            if ip.version == net.version and ip in net:
                if neg:
                    return False
                matched = True
        return matched

    def __len__(self) -> int:
        return len(self._table[4]) + len(self._table[6])

    # ------------------------------------------------------------------ penalties

    def _expire(self, version: int, now: float) -> None:
        table, heap = self._table[version], self._heap[version]
        while heap and heap[0][0] < now:
            expiry, _, net = heapq.heappop(heap)
            entry = table.get(net)
            if entry is not None and entry.expiry == expiry:
                del table[net]

    def _push(self, version: int, net: Network, expiry: float) -> None:
        self._serial += 1
        heap = self._heap[version]
        heapq.heappush(heap, (expiry, self._serial, net))
        if len(heap) > 2 * len(self._table[version]) + 64:  # drop stale entries
            table = self._table[version]
            self._heap[version] = heap = [e for e in heap if e[2] in table
                                          and table[e[2]].expiry == e[0]]
            heapq.heapify(heap)

    def _evict_soonest(self, version: int) -> None:
        table, heap = self._table[version], self._heap[version]
        while heap:
            expiry, _, net = heapq.heappop(heap)
            entry = table.get(net)
            if entry is not None and entry.expiry == expiry:
                del table[net]
                return

    def check(self, addr: str | Address, now: float) -> str | None:
        """Why a new connection from ``addr`` must be refused now, or None to accept it."""
        cfg = self.config
        if not cfg.enabled or self.is_exempt(addr):
            return None
        net = self.source(addr)
        assert net is not None  # exempt otherwise
        version = net.version
        self._expire(version, now)
        limit = cfg.max_sources4 if version == 4 else cfg.max_sources6
        if len(self._table[version]) >= limit and cfg.overflow_mode(version) == "deny-all":
            return self._refuse("too many penalised addresses")
        entry = self._table[version].get(net)
        if entry is None or entry.expiry < now or not entry.active:
            return None
        return self._refuse(entry.reason)

    def log_drop(self, addr: str | Address, now: float, reason: str | None = None) -> int | None:
        """Rate-limit the log lines (and audit events) of refused connections, as sshd
        rate-limits its ``drop connection`` lines: the first refusal of a source in a
        penalty (or, with ``reason``, for that reason), then one per
        :attr:`drop_log_interval` seconds.  Returns None when this refusal goes
        unlogged, else how many went unlogged since the last logged one."""
        net = self.source(addr)
        entry = self._table[net.version].get(net) if net is not None else None
        if entry is None or reason is not None:
            # no penalty behind it (PerSourceMaxStartups; a full table): by source and reason
            key = (net, reason)
            slot = self._quiet.get(key)
            if slot is None:
                if len(self._quiet) >= 4096:  # bounded: forget the oldest
                    del self._quiet[next(iter(self._quiet))]
                slot = self._quiet[key] = [float("-inf"), 0]
            if now - slot[0] < self.drop_log_interval:
                slot[1] += 1
                return None
            count, slot[0], slot[1] = slot[1], now, 0
            return int(count)
        if now - entry.logged_at < self.drop_log_interval:
            entry.unlogged += 1
            return None
        count, entry.logged_at, entry.unlogged = entry.unlogged, now, 0
        return count

    def _refuse(self, reason: str) -> str:
        self.refused[reason] = self.refused.get(reason, 0) + 1
        return reason

    def penalise(self, addr: str | Address, kind: str, now: float) -> float:
        """Add a ``kind`` penalty (a key of :data:`PENALTY_KINDS`) to ``addr``'s source;
        returns the seconds now outstanding (0: none recorded)."""
        cfg = self.config
        secs = cfg.seconds(kind)
        if not cfg.enabled or secs <= 0 or self.is_exempt(addr):
            return 0.0
        net = self.source(addr)
        assert net is not None
        version = net.version
        self._expire(version, now)
        table = self._table[version]
        limit = cfg.max_sources4 if version == 4 else cfg.max_sources6
        reason = PENALTY_KINDS[kind]
        entry = table.get(net)
        if entry is None:
            if len(table) >= limit:
                if cfg.overflow_mode(version) == "deny-all":
                    return 0.0  # table full: the new source goes unrecorded
                while len(table) >= limit:
                    self._evict_soonest(version)
            entry = table[net] = _Penalty(now + secs, secs > cfg.min, reason)
        else:
            entry.expiry = min(entry.expiry + secs, now + cfg.max)
            entry.active = entry.active or entry.expiry - now > cfg.min
            entry.reason = reason
        self._push(version, net, entry.expiry)
        return entry.expiry - now

    def penalty(self, addr: str | Address, now: float) -> tuple[float, bool] | None:
        """(seconds outstanding, active) for ``addr``'s source, or None."""
        net = self.source(addr)
        if net is None:
            return None
        self._expire(net.version, now)
        entry = self._table[net.version].get(net)
        return None if entry is None else (entry.expiry - now, entry.active)

    # ------------------------------------------------------------------ startups

    def startup_begin(self, addr: str | Address) -> bool:
        """Count a new unauthenticated connection from ``addr``; False (and not counted)
        when its source already has ``PerSourceMaxStartups`` of them."""
        if self.max_startups is None:
            return True
        net = self.source(addr)
        if net is None:
            return True
        count = self._startups.get(net, 0)
        if count >= self.max_startups:
            self._refuse("PerSourceMaxStartups")
            return False
        self._startups[net] = count + 1
        return True

    def startups_full(self, addr: str | Address) -> bool:
        """Whether ``addr``'s source already has ``PerSourceMaxStartups`` unauthenticated
        connections (then counted as refused; :meth:`startup_begin` does the counting)."""
        if self.max_startups is None:
            return False
        net = self.source(addr)
        if net is None or self._startups.get(net, 0) < self.max_startups:
            return False
        self._refuse("PerSourceMaxStartups")
        return True

    def startup_end(self, addr: str | Address) -> None:
        """The connection counted by :meth:`startup_begin` authenticated or closed."""
        if self.max_startups is None:
            return
        net = self.source(addr)
        if net is None or net not in self._startups:
            return
        left = self._startups[net] - 1
        if left > 0:
            self._startups[net] = left
        else:
            del self._startups[net]
