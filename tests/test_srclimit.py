"""The per-source penalty table (sshcore.srclimit), with an explicit clock."""

from __future__ import annotations

import pytest

from sshcore.errors import ConfigurationError
from sshcore.srclimit import (PenaltyConfig, SourceLimiter, parse_exempt_list, parse_interval,
                              parse_net_block_size, parse_penalties)


def test_defaults_are_openssh_98s() -> None:
    cfg = PenaltyConfig()
    assert cfg.enabled
    assert (cfg.crash, cfg.authfail, cfg.noauth, cfg.grace_exceeded) == (90, 5, 1, 10)
    assert (cfg.min, cfg.max, cfg.max_sources4, cfg.max_sources6) == (15, 600, 65536, 65536)
    assert cfg.overflow_mode(4) == cfg.overflow_mode(6) == "permissive"


def test_parse_penalties_keywords() -> None:
    cfg = parse_penalties("authfail:1m30s min:2 max:1h max-sources4:10 overflow:deny-all "
                          "overflow6:permissive grace-exceeded:0")
    assert cfg.authfail == 90 and cfg.min == 2 and cfg.max == 3600
    assert cfg.max_sources4 == 10 and cfg.overflow_mode(4) == "deny-all"
    assert cfg.overflow_mode(6) == "permissive" and cfg.grace_exceeded == 0
    assert cfg.crash == 90  # untouched keywords keep the defaults
    assert not parse_penalties("no").enabled and parse_penalties("yes") == PenaltyConfig()
    assert "authfail:90s" in cfg.describe()
    for bad in ("bogus:1", "authfail", "authfail:x", "overflow:maybe", "max-sources6:0"):
        with pytest.raises(ConfigurationError):
            parse_penalties(bad)


def test_parse_helpers() -> None:
    assert parse_interval("1h30m") == 5400 and parse_interval("45") == 45
    with pytest.raises(ConfigurationError):
        parse_interval("10x")
    assert parse_net_block_size("24") == (24, 128)
    assert parse_net_block_size("24:56") == (24, 56)
    with pytest.raises(ConfigurationError):
        parse_net_block_size("33:128")
    with pytest.raises(ConfigurationError):
        parse_exempt_list("10.0.0.0/8,not-an-address")


def test_penalties_accumulate_activate_and_expire() -> None:
    lim = SourceLimiter()  # authfail 5 s, min 15 s
    addr = "192.0.2.7"
    for i in range(3):
        assert lim.penalise(addr, "authfail", 100.0) == pytest.approx(5.0 * (i + 1))
        assert lim.check(addr, 100.0) is None  # 15 s outstanding is not *more* than min
    assert lim.penalise(addr, "authfail", 100.0) == pytest.approx(20.0)
    assert lim.check(addr, 100.0) == "penalty: failed authentication"
    assert lim.check("192.0.2.8", 100.0) is None  # another address: its own source
    assert lim.check(addr, 119.0) is not None     # runs down in real time...
    assert lim.check(addr, 120.5) is None         # ...and expires
    assert len(lim) == 0


def test_penalty_is_capped_at_max_and_crash_activates_at_once() -> None:
    lim = SourceLimiter("max:100s")
    assert lim.penalise("2001:db8::1", "crash", 0.0) == 90.0
    assert lim.check("2001:db8::1", 0.0) == "penalty: caused crash"
    assert lim.penalise("2001:db8::1", "crash", 1.0) == pytest.approx(100.0)


def test_net_block_groups_sources_and_mapped_addresses() -> None:
    lim = SourceLimiter("crash:30s", net_block_size="24:64")
    lim.penalise("198.51.100.1", "crash", 0.0)
    assert lim.check("198.51.100.200", 1.0) is not None
    assert lim.check("::ffff:198.51.100.9", 1.0) is not None
    assert lim.check("198.51.101.1", 1.0) is None
    lim.penalise("2001:db8:0:1::1", "crash", 0.0)
    assert lim.check("2001:db8:0:1:ffff::2", 1.0) is not None
    assert lim.check("2001:db8:0:2::1", 1.0) is None


def test_exempt_list_and_negation() -> None:
    lim = SourceLimiter(exempt="10.0.0.0/8,!10.0.0.66")
    for addr in ("10.1.2.3", "10.0.0.66"):
        lim.penalise(addr, "crash", 0.0)
    assert lim.check("10.1.2.3", 1.0) is None        # exempt: never penalised
    assert lim.check("10.0.0.66", 1.0) is not None   # negated: not exempt
    assert lim.penalty("10.1.2.3", 1.0) is None


def test_disabled_records_nothing() -> None:
    lim = SourceLimiter(False)
    assert lim.penalise("192.0.2.1", "crash", 0.0) == 0.0
    assert lim.check("192.0.2.1", 0.0) is None


def test_table_is_bounded_permissive_overflow_drops_soonest_expiry() -> None:
    lim = SourceLimiter("max-sources4:100 authfail:20s crash:90s")
    lim.penalise("192.0.2.1", "crash", 0.0)  # the longest penalty: survives the flood
    for i in range(10_000):
        lim.penalise(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", "authfail", i * 0.001)
    assert len(lim) == 100
    assert len(lim._heap[4]) <= 2 * 100 + 64
    assert lim.check("192.0.2.1", 10.0) == "penalty: caused crash"
    assert lim.check("203.0.113.1", 10.0) is None  # permissive: others still get in


def test_deny_all_overflow_refuses_the_family_while_full() -> None:
    lim = SourceLimiter("max-sources4:3 overflow:deny-all")
    for i in range(5):
        lim.penalise(f"192.0.2.{i}", "noauth", 0.0)
    assert len(lim) == 3  # the sources beyond the cap went unrecorded
    assert lim.check("203.0.113.1", 0.5) == "too many penalised addresses"
    assert lim.check("2001:db8::1", 0.5) is None  # overflow6 has its own table
    assert lim.check("203.0.113.1", 1.5) is None  # entries expired: room again


def test_per_source_max_startups() -> None:
    lim = SourceLimiter(max_startups=2, net_block_size="24")
    assert lim.startup_begin("192.0.2.1") and lim.startup_begin("192.0.2.2")
    assert not lim.startup_begin("192.0.2.3")       # same /24
    assert lim.startup_begin("198.51.100.1")        # another source
    lim.startup_end("192.0.2.1")
    assert lim.startup_begin("192.0.2.3")
    assert lim.refused == {"PerSourceMaxStartups": 1}
    for a in ("192.0.2.2", "192.0.2.3", "198.51.100.1"):
        lim.startup_end(a)
    assert lim._startups == {}
    with pytest.raises(ConfigurationError):
        SourceLimiter(max_startups=0)
