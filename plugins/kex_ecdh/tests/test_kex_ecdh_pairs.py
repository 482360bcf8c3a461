"""Every ECDH kex: client and server agree; hostile public values end the exchange."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sshcore.wire import SSHReader, byte, mpint, string
from sshcore.errors import KeyExchangeError
from sshcore.interfaces import KexContext
from sshcore_kex_ecdh import hooks

DESCS = {d.name: d for d in hooks.sshcore_kex_algorithms()}


def ctx(role):
    return KexContext(role, b"SSH-2.0-c", b"SSH-2.0-s", b"\x14ci", b"\x14si",
                      host_key_blob=b"HOSTKEY" if role == "server" else b"",
                      sign=(lambda h: b"SIG" + h) if role == "server" else None)


@pytest.mark.parametrize("name", sorted(DESCS))
def test_client_and_server_agree(name):
    d = DESCS[name]
    client, server = d.factory(ctx("client")), d.factory(ctx("server"))
    init = client.start().send[0]
    assert server.start().send == [] and init[0] == 30
    step = server.receive(init)
    reply = step.send[0]
    r = SSHReader(reply, 1)
    assert reply[0] == 31 and r.string() == b"HOSTKEY"
    r.string()
    assert r.string() == b"SIG" + step.result.exchange_hash
    done = client.receive(reply).result
    assert done.shared_secret == step.result.shared_secret
    assert done.exchange_hash == step.result.exchange_hash
    assert len(done.exchange_hash) == hashlib.new(d.hash_name).digest_size
    assert done.host_key_blob == b"HOSTKEY" and done.signature == b"SIG" + done.exchange_hash


def test_curve25519_secret_encoding_rfc8731():
    # RFC 8731 3.1: K is the X25519 output read as a big-endian unsigned integer (mpint).
    server = DESCS["curve25519-sha256"].factory(ctx("server"))
    peer = X25519PrivateKey.generate()
    q_c = peer.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    step = server.receive(byte(30) + string(q_c))
    q_s = SSHReader(step.send[0], 1)
    q_s.string()
    secret = peer.exchange(X25519PublicKey.from_public_bytes(q_s.string()))
    assert step.result.shared_secret == mpint(int.from_bytes(secret, "big"))


@pytest.mark.parametrize("value", [bytes(32), b"\x01" + bytes(31), b"short", bytes(33)])
def test_bad_x25519_values(value):
    server = DESCS["curve25519-sha256"].factory(ctx("server"))
    with pytest.raises(KeyExchangeError):
        server.receive(byte(30) + string(value))


def test_point_not_on_curve():
    server = DESCS["ecdh-sha2-nistp256"].factory(ctx("server"))
    with pytest.raises(KeyExchangeError):
        server.receive(byte(30) + string(b"\x04" + b"\x01" * 64))


def test_unexpected_message_and_trailing_bytes():
    server = DESCS["curve25519-sha256"].factory(ctx("server"))
    with pytest.raises(KeyExchangeError):
        server.receive(byte(31) + string(b"x"))
    q = X25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    with pytest.raises(KeyExchangeError):
        server.receive(byte(30) + string(q) + b"extra")
