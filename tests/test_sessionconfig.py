"""Session defaults and forward specs from ssh_config (sshcore.sessionconfig), decided as
OpenSSH decides them."""

from __future__ import annotations

import pytest

from sshcore.errors import ConfigurationError
from sshcore.sessionconfig import SessionConfig, forward_specs, session_keywords, tty_wanted


@pytest.mark.parametrize("mode, has_command, stdin_tty, wanted", [
    ("force", True, False, True), ("yes", True, True, True), ("yes", False, False, False),
    ("auto", False, True, True), ("auto", True, True, False), ("auto", False, False, False),
    ("no", False, True, False),
])
def test_request_tty_as_ssh(mode, has_command, stdin_tty, wanted):
    assert tty_wanted(mode, has_command, stdin_tty) is wanted


def test_env_precedence_remote_command_and_subsystems():
    cfg = SessionConfig.create(send_env="LC_* SSHCORE_A", set_env="SSHCORE_A=set X=1\nX=2",
                               request_tty="force", remote_command="uptime")
    environ = {"LC_ALL": "C", "SSHCORE_A": "local", "HOME": "/h"}
    # SendEnv, then SetEnv over it (its first value for a name), then the session's own
    assert cfg.env({"X": "mine"}, environ) == {"LC_ALL": "C", "SSHCORE_A": "set", "X": "mine"}
    cmd, _, term = cfg.apply(None, None, None, None, stdin_tty=False)
    assert cmd == "uptime" and term  # RemoteCommand, on a pty (force)
    assert cfg.apply("ls", None, None, None, stdin_tty=False)[0] == "ls"  # explicit wins
    assert cfg.apply(None, "sftp", None, None, stdin_tty=True)[::2] == (None, None)  # subsystem
    assert SessionConfig.create(remote_command="none").remote_command is None
    with pytest.raises(ConfigurationError, match="RequestTTY"):
        SessionConfig.create(request_tty="sometimes")
    with pytest.raises(ConfigurationError, match="NAME=VALUE"):
        SessionConfig.create(set_env="JUSTANAME")


def test_config_forwards_add_to_the_callers_and_clear_all_drops_them():
    options = {"local_forwards": ["9000:web:80"]}
    session_keywords({"localforward": ["127.0.0.1:8080 db:5432"], "dynamicforward": ["1080"],
                      "exitonforwardfailure": "yes"}, options)
    specs = forward_specs(options["local_forwards"], None, options["dynamic_forwards"])
    assert [(s.kind, s.listen_port, s.dest_host) for s in specs] == [
        ("L", 9000, "web"), ("L", 8080, "db"), ("D", 1080, None)]
    assert options["exit_on_forward_failure"] is True
    assert forward_specs(options["local_forwards"], clear=True) == ()
    with pytest.raises(ConfigurationError, match="socket to a TCP port"):
        forward_specs(["/tmp/here.sock:web:80"])


def test_set_env_values_with_spaces_from_each_form():
    options = {"set_env": {"MINE": "a b"}}
    session_keywords({"setenv": ['CFG="c d" MINE=ignored']}, options)
    assert SessionConfig.create(set_env=options["set_env"]).set_env == (
        ("MINE", "a b"), ("CFG", "c d"))
    assert SessionConfig.create(set_env=["ONE=x y"]).set_env == (("ONE", "x y"),)
