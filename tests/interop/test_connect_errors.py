"""Connection failures a user can act on, each its own exception with the facts as
attributes, and one line from `sshcore run`."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading

import pytest

import sshcore

pytestmark = pytest.mark.interop


def attempt(host, port, **kw):
    kw.setdefault("client_keys", [])

    async def main():
        async with sshcore.connect(host, port, config=None, known_hosts=None, **kw):
            pass
    return asyncio.run(asyncio.wait_for(main(), 30))


def test_refused_and_unreachable(helpers):
    port = helpers.free_port()
    with pytest.raises(sshcore.ConnectRefusedError, match="connection refused") as info:
        attempt("127.0.0.1", port)
    assert (info.value.host, info.value.port) == ("127.0.0.1", port)
    assert isinstance(info.value, OSError)
    with pytest.raises(sshcore.HostUnreachableError) as info:
        attempt("no-such-host.invalid", 22)
    assert info.value.host == "no-such-host.invalid"


def _server(behaviour):
    srv = socket.create_server(("127.0.0.1", 0))
    held = []

    def run():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            if behaviour == "close":
                conn.close()
            else:
                held.append(conn)  # silent: accepts, never speaks
    threading.Thread(target=run, daemon=True).start()
    return srv, held


def test_silent_server_times_out_and_closing_server_is_named():
    silent, held = _server("silent")
    try:
        with pytest.raises(sshcore.ConnectTimeoutError, match="timed out after 0.5 s") as info:
            attempt("127.0.0.1", silent.getsockname()[1], connect_timeout=0.5)
        assert info.value.timeout == 0.5
    finally:
        silent.close()
        for c in held:
            c.close()
    closing, _ = _server("close")
    try:
        with pytest.raises(sshcore.ClosedBeforeBannerError, match="before its banner"):
            attempt("127.0.0.1", closing.getsockname()[1])
    finally:
        closing.close()


def test_no_common_cipher_and_auth_failure_against_sshd(start_sshd, keys, tmp_path):
    sshd = start_sshd()
    with pytest.raises(sshcore.NoCommonAlgorithmError) as info:
        attempt("127.0.0.1", sshd.port, encryption_algs=["aes128-cbc"])
    e = info.value
    assert e.family == "client->server cipher" and e.client_offer == ("aes128-cbc",)
    assert "aes256-gcm@openssh.com" in e.server_offer
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    with pytest.raises(sshcore.PermissionDeniedError, match="we tried: publickey") as info:
        attempt("127.0.0.1", sshd.port, client_keys=[str(stranger)])
    assert info.value.allowed == ("publickey",) and info.value.tried == ("publickey",)


def test_cli_prints_one_line(helpers):
    port = helpers.free_port()
    r = subprocess.run([sys.executable, "-m", "sshcore", "run", "-F", "none", "-p", str(port),
                        "127.0.0.1", "true"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 255
    assert r.stderr == f"sshcore: error: 127.0.0.1:{port}: connection refused\n"
