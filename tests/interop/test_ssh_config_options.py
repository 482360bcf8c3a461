"""More ssh_config options against real sshd: CertificateFile, Compression, RekeyLimit,
LocalForward/DynamicForward, SendEnv/SetEnv and RequestTTY through `sshcore run`, and the
MaxSessions refusal explained."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import subprocess
import sys
import threading

import pytest

import sshcore

pytestmark = pytest.mark.interop


def go(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_certificate_file_compression_and_rekey_limit(start_sshd, keys, helpers, tmp_path):
    ca = helpers.keygen(tmp_path / "ca", "ed25519")
    key = helpers.keygen(tmp_path / "id", "ecdsa")
    subprocess.run(["ssh-keygen", "-q", "-s", str(ca), "-I", "cfg", "-n", helpers.USER,
                    "-V", "-5m:+1h", "-O", "clear", f"{key}.pub"], check=True, capture_output=True)
    cert = tmp_path / "elsewhere-cert.pub"
    os.rename(f"{key}-cert.pub", cert)  # not next to the key: only CertificateFile finds it
    empty = tmp_path / "empty"
    empty.write_text("")
    sshd = start_sshd(TrustedUserCAKeys=f"{ca}.pub", AuthorizedKeysFile=str(empty))
    cfg = tmp_path / "config"
    cfg.write_text(f"Host cert-host\n  HostName 127.0.0.1\n  Port {sshd.port}\n"
                   f"  IdentityFile {key}\n  CertificateFile {cert}\n"
                   f"  UserKnownHostsFile {sshd.known_hosts}\n  Compression yes\n"
                   f"  RekeyLimit 64K\n")

    async def main():
        async with sshcore.connect("cert-host", config=str(cfg)) as conn:
            r = await conn.run("head -c 300000 /dev/urandom", encoding=None)
            return (len(r.stdout), conn.get_extra_info("algorithms")["comp_cs"],
                    conn.statistics()["key_exchanges"])

    out, comp, kexes = go(main())
    assert out == 300000 and comp == "zlib@openssh.com" and kexes >= 2
    assert "Accepted publickey" in sshd.log.read_text() and "ID cfg" in sshd.log.read_text()


@pytest.fixture
def echo_server():
    srv = socket.create_server(("127.0.0.1", 0))

    def run():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            with c:
                while data := c.recv(4096):
                    c.sendall(data[::-1])
    threading.Thread(target=run, daemon=True).start()
    yield srv.getsockname()[1]
    srv.close()


def test_cli_forwards_env_and_tty_from_the_config(start_sshd, keys, helpers, tmp_path, echo_server):
    sshd = start_sshd()  # AcceptEnv LANG LC_* SSHCORE_*
    lport, dport = helpers.free_port(), helpers.free_port()
    cfg = tmp_path / "config"
    cfg.write_text(f"Host fw\n  HostName 127.0.0.1\n  Port {sshd.port}\n  IdentityFile {keys.user['ed25519']}\n"
                   f"  UserKnownHostsFile {sshd.known_hosts}\n"
                   f"  LocalForward 127.0.0.1:{lport} 127.0.0.1:{echo_server}\n"
                   f"  DynamicForward 127.0.0.1:{dport}\n"
                   f"  SendEnv SSHCORE_FROM_*\n  SetEnv SSHCORE_SET=configured\n  RequestTTY no\n")
    env = dict(os.environ, SSHCORE_FROM_CFG="sent")
    proc = subprocess.Popen([sys.executable, "-m", "sshcore", "run", "-F", str(cfg), "fw",
                             "echo $SSHCORE_FROM_CFG $SSHCORE_SET; tty; sleep 3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        helpers.wait_port(lport, timeout=20)
        with socket.create_connection(("127.0.0.1", lport), timeout=10) as s:
            s.sendall(b"local")
            assert s.recv(100) == b"lacol"
        with socket.create_connection(("127.0.0.1", dport), timeout=10) as s:
            s.sendall(b"\x05\x01\x00")
            assert s.recv(2) == b"\x05\x00"
            s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", echo_server))
            assert s.recv(10)[:2] == b"\x05\x00"
            s.sendall(b"socks")
            assert s.recv(100) == b"skcos"
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.splitlines()[:2] == ["sent configured", "not a tty"]


def test_max_sessions_refusal_is_explained(start_sshd, keys):
    sshd = start_sshd(MaxSessions="2")

    async def main():
        async with sshcore.connect("127.0.0.1", sshd.port, config=None,
                                   client_keys=[str(keys.user["ed25519"])],
                                   known_hosts=str(sshd.known_hosts)) as conn:
            held = [await conn.create_process("sleep 5") for _ in range(2)]
            with pytest.raises(sshcore.TooManySessionsError, match="MaxSessions"):
                await conn.create_process("true")
            for p in held:
                p.close()

    go(main())


def test_more_options_through_a_proxy_command(start_sshd, keys, tmp_path):
    jump, target = start_sshd(), start_sshd(MaxAuthTries="5")
    empty = tmp_path / "user_known_hosts"
    empty.write_text("")
    cfg = tmp_path / "config"
    cfg.write_text(f"""
Host t
    HostName 127.0.0.1
    Port {target.port}
    ProxyCommand ssh -F /dev/null -p {jump.port} -i {keys.user['ed25519']} -o BatchMode=yes -o UserKnownHostsFile={jump.known_hosts} -W %h:%p 127.0.0.1
    UserKnownHostsFile {empty}
    GlobalKnownHostsFile {target.known_hosts}
    KexAlgorithms curve25519-sha256
    Ciphers aes128-ctr
    MACs hmac-sha2-512
    HostKeyAlgorithms ecdsa-sha2-nistp256
    IdentityFile {keys.user['rsa']}
    PubkeyAcceptedAlgorithms rsa-sha2-256
    PreferredAuthentications publickey
    ServerAliveCountMax 5
    ConnectTimeout 7
""")

    async def main():
        async with sshcore.connect("t", config=str(cfg)) as conn:
            await conn.run("true")
            return conn.get_extra_info("algorithms"), conn._conn.config.keepalive_count_max

    algs, count_max = go(main())
    assert (algs["kex"], algs["enc_cs"], algs["mac_cs"], algs["host_key"]) == (
        "curve25519-sha256", "aes128-ctr", "hmac-sha2-512", "ecdsa-sha2-nistp256")
    assert count_max == 5
    assert f"target 127.0.0.1 port {target.port}" in jump.log.read_text()  # the ProxyCommand
    accepted = target.log.read_text().split("Accepted publickey")[-1].splitlines()[0]
    assert "RSA SHA256:" in accepted


def test_accept_new_and_hashed_from_the_config(start_sshd, keys, tmp_path):
    sshd = start_sshd()
    kh = tmp_path / "kh"
    cfg = tmp_path / "config"
    cfg.write_text(f"Host n\n  HostName 127.0.0.1\n  Port {sshd.port}\n  IdentityFile {keys.user['ed25519']}\n"
                   f"  UserKnownHostsFile {kh}\n  StrictHostKeyChecking accept-new\n  HashKnownHosts yes\n")

    async def main():
        async with sshcore.connect("n", config=str(cfg)) as conn:
            return (await conn.run("echo new")).stdout

    assert go(main()) == "new\n"
    assert kh.read_text().startswith("|1|")


def test_cli_remote_forward_and_password_authentication_from_the_config(start_sshd, keys, helpers,
                                                                         tmp_path, echo_server):
    sshd = start_sshd()
    rport = helpers.free_port()
    cfg = tmp_path / "config"
    cfg.write_text(f"Host r\n  HostName 127.0.0.1\n  Port {sshd.port}\n  IdentityFile {keys.user['ed25519']}\n"
                   f"  UserKnownHostsFile {sshd.known_hosts}\n"
                   f"  RemoteForward 127.0.0.1:{rport} 127.0.0.1:{echo_server}\n"
                   f"  PasswordAuthentication no\n  KbdInteractiveAuthentication no\n")
    proc = subprocess.Popen([sys.executable, "-m", "sshcore", "run", "-F", str(cfg), "-N", "r"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        helpers.wait_port(rport, timeout=20)  # sshd listens for us
        with socket.create_connection(("127.0.0.1", rport), timeout=10) as s:
            s.sendall(b"remote")
            assert s.recv(100) == b"etomer"
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    # with publickey off by config as well, nothing is left to try
    cfg.write_text(cfg.read_text() + "  PubkeyAuthentication no\n")
    r = subprocess.run([sys.executable, "-m", "sshcore", "run", "-F", str(cfg), "r", "true"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 255 and "no authentication method is left to try" in r.stderr
