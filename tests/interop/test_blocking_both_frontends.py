"""Behaviour the asyncio and blocking front-ends share, one test over both: they build
the same ClientOptions from the same keywords and ssh_config, and must agree."""

from __future__ import annotations

import asyncio

import pytest

import sshcore
from sshcore import blocking

T = 30


def run_command(frontend: str, host: str, port: int | None, command: str, **kw):
    """(stdout, stderr, exit_status, exit signal name) of ``command`` through one front-end."""
    if frontend == "blocking":
        with blocking.connect(host, port, connect_timeout=T, **kw) as conn:
            r = conn.run(command, timeout=T)
            return r.stdout, r.stderr, r.exit_status, r.exit_signal and r.exit_signal[0]

    async def main():
        async with sshcore.connect(host, port, connect_timeout=T, **kw) as conn:
            r = await asyncio.wait_for(conn.run(command), T)
            return r.stdout, r.stderr, r.exit_status, r.exit_signal and r.exit_signal[0]
    return asyncio.run(main())


both = pytest.mark.parametrize("frontend", ["asyncio", "blocking"])


@pytest.fixture(scope="module")
def sshd(start_sshd):
    return start_sshd()


@both
def test_exit_status_signal_and_streams(frontend, sshd, keys):
    kw = dict(config=None, agent_path=None, client_keys=[keys.user["ed25519"]],
              known_hosts=str(sshd.known_hosts))
    assert run_command(frontend, "127.0.0.1", sshd.port, "echo o; echo e >&2; exit 7", **kw) == (
        "o\n", "e\n", 7, None)
    out = run_command(frontend, "127.0.0.1", sshd.port, "kill -KILL $$", **kw)
    assert out[2] is None and out[3] == "KILL"


@both
def test_ssh_config_applies_the_same(frontend, sshd, keys, tmp_path):
    cfg = tmp_path / "ssh_config"
    cfg.write_text(f"Host box\n  HostName 127.0.0.1\n  Port {sshd.port}\n"
                   f"  IdentityFile {keys.user['ecdsa']}\n  IdentitiesOnly yes\n"
                   f"  UserKnownHostsFile {sshd.known_hosts}\n  Ciphers aes256-ctr\n")
    out = run_command(frontend, "box", None, "echo via-config", config=str(cfg))
    assert out == ("via-config\n", "", 0, None)


@both
def test_unknown_host_and_bad_key_fail_alike(frontend, sshd, keys, tmp_path, helpers):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    kw = dict(config=None, agent_path=None, client_keys=[keys.user["ed25519"]])
    with pytest.raises(sshcore.HostKeyNotVerifiableError, match="not in"):
        run_command(frontend, "127.0.0.1", sshd.port, "true", known_hosts=str(empty), **kw)
    stranger = helpers.keygen(tmp_path / "stranger", "ed25519")
    with pytest.raises(sshcore.PermissionDeniedError, match="publickey"):
        run_command(frontend, "127.0.0.1", sshd.port, "true", config=None, agent_path=None,
                    client_keys=[stranger], known_hosts=str(sshd.known_hosts))
    with pytest.raises(sshcore.ConfigurationError):
        run_command(frontend, "127.0.0.1", sshd.port, "true", encryption_algs="no-such-cipher",
                    known_hosts=str(sshd.known_hosts), **kw)
    with pytest.raises(TypeError):
        run_command(frontend, "127.0.0.1", sshd.port, "true", no_such_keyword=1, **kw)
