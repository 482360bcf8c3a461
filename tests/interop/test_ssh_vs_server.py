"""The real OpenSSH client against our server, each algorithm forced alone on both sides."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.interop

SCRIPT = "echo out; echo err >&2; wc -c; exit 3"

KEX = ["curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256",
       "ecdh-sha2-nistp384", "ecdh-sha2-nistp521", "diffie-hellman-group14-sha256",
       "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512"]
CIPHERS = ["aes128-ctr", "aes192-ctr", "aes256-ctr", "aes128-gcm@openssh.com",
           "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"]
MACS = ["hmac-sha2-256", "hmac-sha2-512", "hmac-sha2-256-etm@openssh.com",
        "hmac-sha2-512-etm@openssh.com", "hmac-sha1", "hmac-sha1-etm@openssh.com"]
HOST_KEYS = {"ssh-ed25519": "ed25519", "rsa-sha2-256": "rsa", "rsa-sha2-512": "rsa",
             "ecdsa-sha2-nistp256": "ecdsa"}


def serve(keys, helpers, host_keys=("ed25519",), **kwargs):
    return helpers.ServerThread(server_host_keys=[keys.host[k] for k in host_keys],
                                authorized_client_keys=str(keys.authorized_keys), **kwargs)


def ssh(helpers, srv, keys, identity="ed25519", options=None, **kw):
    return helpers.run_ssh(srv.port, SCRIPT, identity=keys.user[identity], input=b"x" * 100_000,
                           options={"LogLevel": "DEBUG1", **(options or {})}, **kw)


def check(r):
    assert r.returncode == 3, r.stderr.decode(errors="replace")[-3000:]
    assert r.stdout == b"out\n100000\n"
    assert b"err\n" in r.stderr


@pytest.mark.parametrize("kex", KEX)
def test_kex(keys, helpers, kex):
    with serve(keys, helpers, kex_algs=[kex]) as srv:
        r = ssh(helpers, srv, keys, options={"KexAlgorithms": kex})
    check(r)
    assert f"kex: algorithm: {kex}".encode() in r.stderr


@pytest.mark.parametrize("cipher", CIPHERS)
def test_cipher(keys, helpers, cipher):
    with serve(keys, helpers, encryption_algs=[cipher]) as srv:
        r = ssh(helpers, srv, keys, options={"Ciphers": cipher})
    check(r)
    assert f"server->client cipher: {cipher}".encode() in r.stderr


@pytest.mark.parametrize("mac", MACS)
def test_mac(keys, helpers, mac):
    with serve(keys, helpers, encryption_algs=["aes128-ctr"], mac_algs=[mac]) as srv:
        r = ssh(helpers, srv, keys, options={"Ciphers": "aes128-ctr", "MACs": mac})
    check(r)
    assert f"MAC: {mac}".encode() in r.stderr


@pytest.mark.parametrize("alg", sorted(HOST_KEYS))
def test_host_key(keys, helpers, alg, tmp_path):
    key_file = keys.host[HOST_KEYS[alg]]
    with serve(keys, helpers, host_keys=(HOST_KEYS[alg],), server_host_key_algs=[alg]) as srv:
        kh = tmp_path / "known_hosts"
        kh.write_text(f"[127.0.0.1]:{srv.port} {Path(f'{key_file}.pub').read_text()}")
        r = ssh(helpers, srv, keys, options={"HostKeyAlgorithms": alg}, known_hosts=kh)
    check(r)
    assert f"kex: host key algorithm: {alg}".encode() in r.stderr


@pytest.mark.parametrize("identity,alg", [("ed25519", "ssh-ed25519"), ("rsa", "rsa-sha2-256"),
                                          ("rsa", "rsa-sha2-512"), ("ecdsa", "ecdsa-sha2-nistp256")])
def test_user_key(keys, helpers, identity, alg):
    with serve(keys, helpers, signature_algs=[alg]) as srv:
        r = ssh(helpers, srv, keys, identity=identity, options={"PubkeyAcceptedAlgorithms": alg})
    check(r)
    assert b"Authenticated to 127.0.0.1" in r.stderr


def test_compression(keys, helpers):
    with serve(keys, helpers, compression_algs=["zlib@openssh.com"]) as srv:
        r = ssh(helpers, srv, keys, options={"Compression": "yes"})
    check(r)


def test_password_auth(keys, helpers, tmp_path):
    with serve(keys, helpers, passwords={helpers.USER: "open sesame"}) as srv:
        ok = helpers.run_ssh(srv.port, "echo in", password="open sesame", tmp=tmp_path)
        bad = helpers.run_ssh(srv.port, "echo in", password="wrong", tmp=tmp_path)
    assert ok.returncode == 0 and ok.stdout == b"in\n", ok.stderr
    assert bad.returncode == 255 and bad.stdout == b""
    assert b"Permission denied" in bad.stderr


def test_unknown_key_refused(keys, helpers, tmp_path):
    stranger = helpers.keygen(tmp_path / "stranger", "ed25519")
    with serve(keys, helpers) as srv:
        r = helpers.run_ssh(srv.port, "echo in", identity=stranger)
    assert r.returncode == 255 and b"Permission denied" in r.stderr


# Without TERM, ssh -tt still sends a pty-req, with an empty terminal type: sshd gives
# a pty all the same (and TERM=""), and so must we.
@pytest.mark.parametrize("term", ["xterm-256color", None], ids=["TERM", "no-TERM"])
def test_pty_shell(keys, helpers, term):
    with serve(keys, helpers) as srv:
        r = helpers.run_ssh(srv.port, "tty; echo TERM=$TERM.; exit 4", identity=keys.user["ed25519"],
                            tty=True, env_overrides={"TERM": term})
    assert r.returncode == 4, r.stderr
    assert b"/dev/pts/" in r.stdout, r.stdout
    assert f"TERM={term or ''}.".encode() in r.stdout, r.stdout


def test_exit_signal(keys, helpers):
    with serve(keys, helpers) as srv:
        r = helpers.run_ssh(srv.port, "kill -TERM $$", identity=keys.user["ed25519"])
    # ssh exits with 255 when the remote command dies of a signal (exit-signal, not exit-status)
    assert r.returncode == 255 and r.stdout == b""
