"""ssh_config parsing with OpenSSH's rules (first value wins, Host/Match, Include, tokens)."""

from __future__ import annotations

import getpass

import pytest

from sshcore.errors import ConfigurationError
from sshcore.ssh_config import SSHConfig


def test_first_value_wins_across_blocks_and_multi_values_add_up():
    cfg = SSHConfig.parse("""
# comment
Host web*
    HostName %h.example.org
    Port 2222
    IdentityFile ~/.ssh/web_%r
Host *.internal !db.internal
    User deploy
Host *
    Port 22
    User nobody
    IdentityFile ~/.ssh/id_%u
    LocalForward 8080 localhost:80
    ServerAliveInterval=15
""")
    o = cfg.lookup("web1", user="alice")
    assert o["hostname"] == "web1.example.org" and o["port"] == "2222" and o["user"] == "nobody"
    assert o["identityfile"] == ["~/.ssh/web_alice", f"~/.ssh/id_{getpass.getuser()}"]
    assert o["localforward"] == ["8080 localhost:80"] and o["serveraliveinterval"] == "15"
    assert cfg.lookup("app.internal")["user"] == "deploy"
    assert cfg.lookup("db.internal")["user"] == "nobody"   # negated pattern


def test_match_host_user_and_localuser():
    me = getpass.getuser()
    text = f"""
Host alias
    HostName real.example
Match host real.example user admin
    Port 2200
Match originalhost alias localuser {me}
    Compression yes
Match !localuser {me}
    Port 1
Match exec "true"
    Port 2
"""
    cfg = SSHConfig.parse(text)
    o = cfg.lookup("alias", user="admin")
    assert o["port"] == "2200" and o["compression"] == "yes" and o["hostname"] == "real.example"
    assert cfg.lookup("alias", user="bob")["port"] == "2"  # Match exec runs `true`, as ssh does
    # with Match exec turned off, nothing is run and the block does not match
    assert "port" not in SSHConfig.parse(text, match_exec=False).lookup("alias", user="bob")


def test_include_globs_and_malformed_lines(tmp_path):
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "a.conf").write_text("Host inc\n    Port 4444\n")
    main = tmp_path / "config"
    main.write_text(f"Include {tmp_path}/conf.d/*.conf\nHost *\n    Port 22\n")
    assert SSHConfig.load([main]).lookup("inc")["port"] == "4444"
    bad = tmp_path / "bad"
    bad.write_text("Host x\n    Port\n")
    with pytest.raises(ConfigurationError, match=f"{bad} line 2"):
        SSHConfig.load([bad])
    with pytest.raises(ConfigurationError, match="no such ssh_config"):
        SSHConfig.load([tmp_path / "missing"])
