"""How ``sshcore run`` reads -L/-R/-D specs and -o SendEnv/SetEnv (as ssh does)."""

from __future__ import annotations

import pytest

from sshcore.cli import _parse_options
from sshcore.sessionconfig import SessionConfig, parse_forward
from sshcore.errors import ConfigurationError


@pytest.mark.parametrize("kind, spec, expected", [
    ("L", "8080:web:80", dict(listen_host=None, listen_port=8080, dest_host="web", dest_port=80)),
    ("L", "0.0.0.0:8080:web:80", dict(listen_host="0.0.0.0", listen_port=8080, dest_host="web")),
    ("L", "[::1]:8080:[2001:db8::1]:80", dict(listen_host="::1", dest_host="2001:db8::1", dest_port=80)),
    ("L", "8080:/run/app.sock", dict(listen_port=8080, dest_path="/run/app.sock", dest_host=None)),
    ("L", "127.0.0.1:8080:/run/app.sock", dict(listen_host="127.0.0.1", dest_path="/run/app.sock")),
    ("L", "/tmp/here.sock:/run/app.sock", dict(listen_path="/tmp/here.sock", dest_path="/run/app.sock")),
    ("R", "0:localhost:22", dict(listen_port=0, dest_host="localhost", dest_port=22)),
    ("D", "1080", dict(listen_host=None, listen_port=1080)),
    ("D", "127.0.0.1:1080", dict(listen_host="127.0.0.1", listen_port=1080)),
])
def test_forward_specs(kind, spec, expected):
    got = parse_forward(spec, kind)
    for key, value in expected.items():
        assert got[key] == value, key


@pytest.mark.parametrize("kind, spec", [("L", "8080"), ("L", "x:web:80"), ("L", "1:2:3:4:5"),
                                        ("D", "a:b:c"), ("L", "8080:web:99999")])
def test_bad_specs_are_configuration_errors(kind, spec):
    with pytest.raises(ConfigurationError, match="spec|port"):
        parse_forward(spec, kind)


def test_sendenv_and_setenv_accumulate(monkeypatch):
    monkeypatch.setenv("LC_TEST_ONE", "1")
    monkeypatch.setenv("OTHER_VAR", "no")
    opts = _parse_options(["SendEnv=LC_TEST_*", "SetEnv=A=1 B=two", "SetEnv=C=3", "User=me", "User=you"])
    assert opts["user"] == "me"  # ordinary options: the first value wins
    env = SessionConfig.create(opts["sendenv"], opts["setenv"]).env()
    assert env == {"LC_TEST_ONE": "1", "A": "1", "B": "two", "C": "3"}
