"""Registry building, validation, preference order and list editing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sshcore import hookimpl
from sshcore.errors import ConfigurationError
from sshcore.interfaces import MacAlgorithm
from sshcore.negotiate import choose
from sshcore.registry import build_registry, valid_algorithm_name


def mac_plugin(*names_prio, enabled=True):
    class P:
        @hookimpl
        def sshcore_macs(self):
            return [MacAlgorithm(n, 1, 1, lambda key: None, priority=pr, enabled_by_default=enabled)
                    for n, pr in names_prio]
    return P()


def test_order_is_priority_then_name_not_registration_order():
    reg = build_registry(plugins=[mac_plugin(("b", 1), ("a", 1)), mac_plugin(("z", 5))])
    assert reg.names("mac") == ["z", "a", "b"]
    reg2 = build_registry(plugins=[mac_plugin(("z", 5)), mac_plugin(("b", 1), ("a", 1))])
    assert reg2.names("mac") == reg.names("mac")


def test_duplicate_names_are_an_error_naming_both():
    p1, p2 = mac_plugin(("dup", 1)), mac_plugin(("dup", 2))
    with pytest.raises(ConfigurationError, match="registered twice"):
        build_registry(plugins=[p1, p2])


def test_invalid_names_rejected():
    assert not valid_algorithm_name("has,comma")
    assert not valid_algorithm_name("a" * 65)
    assert not valid_algorithm_name("two@at@signs")
    assert valid_algorithm_name("hmac-sha2-256-etm@openssh.com")
    with pytest.raises(ConfigurationError, match="invalid"):
        build_registry(plugins=[mac_plugin(("bad name", 1))])


def test_expand_openssh_syntax():
    reg = build_registry(plugins=[mac_plugin(("m1", 3), ("m2", 2)),
                                  mac_plugin(("old", 0), enabled=False)])
    assert reg.expand("mac", None) == ["m1", "m2"]
    assert reg.expand("mac", "+old") == ["m1", "m2", "old"]
    assert reg.expand("mac", "-m1") == ["m2"]
    assert reg.expand("mac", "^m2") == ["m2", "m1"]
    assert reg.expand("mac", "old,m1") == ["old", "m1"]
    assert reg.expand("mac", "m*") == ["m1", "m2"]
    assert reg.expand("mac", ["m2"]) == ["m2"]
    with pytest.raises(ConfigurationError, match="unknown mac algorithm"):
        reg.expand("mac", "nope")
    with pytest.raises(ConfigurationError, match="nothing"):
        reg.expand("mac", "-m*")


@given(st.lists(st.sampled_from("abcdefgh"), unique=True, min_size=1),
       st.lists(st.sampled_from("abcdefgh"), unique=True, min_size=1))
def test_negotiation_respects_client_order(client, server):
    common = [c for c in client if c in server]
    if common:
        assert choose("x", client, server) == common[0]
    else:
        with pytest.raises(Exception, match="no matching x"):
            choose("x", client, server)


def test_blocked_plugins_are_not_loaded(monkeypatch):
    reg = build_registry(blocked=["auth"])
    assert "password" not in reg.names("auth")
