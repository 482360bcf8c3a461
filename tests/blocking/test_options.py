"""ClientOptions: one frozen object from connect()'s keywords and ssh_config, shared by
the asyncio and blocking front-ends."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess

import pytest

import sshcore
from sshcore import blocking
from sshcore.options import ClientOptions, client_options


@pytest.fixture
def user_key(tmp_path):
    path = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True,
                   timeout=30)
    return path


def test_frozen_and_resolved(user_key, tmp_path):
    opts = ClientOptions.create("h", 2222, client_keys=[user_key], username="bob", agent_path=None,
                                known_hosts=str(tmp_path / "kh"), encryption_algs="aes256-ctr")
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.username = "eve"  # type: ignore[misc]
    assert (opts.host, opts.port, opts.username) == ("h", 2222, "bob")
    assert [k.public_blob for k in opts.client_keys] == [
        sshcore.read_private_key(user_key).public_blob]
    assert opts.known_hosts == str(tmp_path / "kh") and opts.agent_path is None
    cfg1, cfg2 = opts.connection_config(), opts.connection_config()
    assert cfg1 is not cfg2 and cfg1.algs("cipher") == ["aes256-ctr"]
    assert cfg1.credentials["client_keys"] == list(opts.client_keys)


def test_ssh_config_fills_what_the_caller_left(user_key, tmp_path):
    cfg = tmp_path / "config"
    cfg.write_text(f"Host web\n  HostName 10.1.2.3\n  Port 2200\n  User deploy\n"
                   f"  IdentityFile {user_key}\n  IdentitiesOnly yes\n  Ciphers aes128-ctr\n"
                   "  ServerAliveInterval 5\n  ConnectTimeout 7\n")
    opts = client_options("web", config=str(cfg))
    assert (opts.host, opts.port, opts.username) == ("10.1.2.3", 2200, "deploy")
    assert opts.agent_path is None and len(opts.client_keys) == 1
    assert opts.connect_timeout == 7 and opts.keepalive_interval == 5
    assert opts.algorithms["encryption_algs"] == "aes128-ctr"
    over = client_options("web", 22, config=str(cfg), username="root", encryption_algs="aes256-ctr")
    assert (over.port, over.username, over.algorithms["encryption_algs"]) == (22, "root", "aes256-ctr")


def test_bad_options_fail_the_same_way_in_both_front_ends():
    with pytest.raises(TypeError):
        sshcore.connect("h", config=None, no_such_option=1)  # at the call, as before
    with pytest.raises(TypeError):
        blocking.connect("h", config=None, no_such_option=1)
    with pytest.raises(sshcore.ConfigurationError):
        blocking.connect("h", config=None, client_keys=[], agent_path=None, kex_algs="nope")
    with pytest.raises(sshcore.ConfigurationError):
        client_options("h", config=None, client_keys=[], max_channels=-1)


def test_the_keywords_are_one_list():
    """connect()'s keywords are ClientOptions.create's (nothing copied per front-end)."""
    params = inspect.signature(ClientOptions.create).parameters
    for name in ("username", "known_hosts", "tunnel", "kex_executor", "family", "local_addr",
                 "max_pre_banner_lines", "implementations"):
        assert name in params
    from sshcore.aio import api

    assert api._CREATE_SIGNATURE.parameters.keys() == params.keys()


def test_server_options_shared_by_listen_and_serve(user_key):
    from sshcore.options import ServerOptions

    srv = ServerOptions.create(server_host_keys=[user_key], kex_algs="curve25519-sha256",
                               max_channels=5, login_timeout=7)
    with pytest.raises(dataclasses.FrozenInstanceError):
        srv.banner = "x"  # type: ignore[misc]
    cfg = srv.connection_config()
    assert cfg is not srv.connection_config()
    assert (cfg.role, cfg.max_channels, cfg.login_timeout) == ("server", 5, 7)
    assert [k.public_blob for k in cfg.server_host_keys] == [
        sshcore.read_private_key(user_key).public_blob]
    with pytest.raises(sshcore.SSHError, match="at least one server host key"):
        ServerOptions.create(server_host_keys=[])
    with pytest.raises(sshcore.ConfigurationError):
        ServerOptions.create(server_host_keys=[user_key], max_channels=-1)
    with pytest.raises(sshcore.ConfigurationError):  # blocking.serve validates the same way
        blocking.serve(server_host_keys=[user_key], handler=print, max_channels=-1)
    with pytest.raises(TypeError):
        blocking.serve(server_host_keys=[user_key], handler=print, no_such_option=1)


def test_sshcore_blocking_is_loaded_lazily():
    code = ("import sys, sshcore; before = 'sshcore.blocking' in sys.modules or 'socket' in sys.modules;"
            " sshcore.blocking.connect; print(before, 'sshcore.blocking' in sys.modules,"
            " 'asyncio' in sys.modules)")
    out = subprocess.run([__import__("sys").executable, "-c", code], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True", "False"]
