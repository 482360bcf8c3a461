"""authorized_keys option parsing and the checks the server applies (sshd(8) semantics)."""

from __future__ import annotations

import pytest

from sshcore.errors import KeyImportError
from sshcore.keys import AuthorizedKeys, KeyOptions, address_matches


def test_parse_flags_values_quotes_and_restrict():
    o = KeyOptions.parse('restrict,pty,command="echo \\"a,b\\" c",environment="A=1",'
                         'environment="A=2",environment="B=x=y",permitopen="host:80",'
                         'permitopen="*:443",permitlisten="8080",principals="alice,bob"')
    assert o.command == 'echo "a,b" c'
    assert o.environment == {"A": "1", "B": "x=y"}  # the first value of a name wins
    assert o.pty and not o.port_forwarding and not o.agent_forwarding and not o.x11_forwarding
    assert o.permitopen == ["host:80", "*:443"] and o.permitlisten == ["8080"]
    assert o.principals == ["alice", "bob"]


@pytest.mark.parametrize("text,why", [("bogus", "unknown option"), ('command=x', "quoted value"),
                                      ('command="x', "unterminated"), ("no-pty=\"1\"", "bad use"),
                                      ('from', "bad use"), ('environment="NOEQUALS"', "NAME=value"),
                                      ('expiry-time="2020"', "expiry-time")])
def test_bad_options_are_precise(text, why):
    with pytest.raises(KeyImportError, match=why):
        KeyOptions.parse(text, "ak line 3")


def test_bad_line_is_skipped_not_the_file():
    from sshcore.keys import generate_private_key, public_key_line

    good, bad = generate_private_key("ssh-ed25519"), generate_private_key("ssh-ed25519")
    ak = AuthorizedKeys.parse(f"bogus-opt {public_key_line(bad)}\nno-pty {public_key_line(good)}\n")
    assert ak.allows(good) and not ak.allows(bad)
    assert ak.lookup(good).pty is False and ak.lookup(good).source == "authorized_keys line 2"


def test_from_patterns_cidr_and_negation():
    assert address_matches("127.0.0.0/8", "127.1.2.3")
    assert not address_matches("10.0.0.0/8,!10.1.1.1", "10.1.1.1")
    assert address_matches("10.0.0.0/8,!10.1.1.1", "10.1.1.2")
    assert address_matches("*.example.org", "192.0.2.1", "host.example.org")
    assert not address_matches("192.168.?.1", "192.168.10.1")
    assert address_matches("::1,fe80::/10", "fe80::1")


def test_expiry_and_permit_checks():
    o = KeyOptions.parse('expiry-time="20300101Z",from="127.0.0.1",permitopen="db:5432",'
                         'permitlisten="localhost:9000"')
    assert o.refusal("127.0.0.1", now=1.8e9) is None
    assert "expired" in o.refusal("127.0.0.1", now=2.0e9)
    assert "from=" in o.refusal("127.0.0.2", now=1.8e9)
    assert o.allows_open("db", 5432) and not o.allows_open("db", 5433)
    assert o.allows_listen("localhost", 9000) and not o.allows_listen("", 9001)
    assert KeyOptions.parse('permitlisten="9000"').allows_listen("", 9000)
