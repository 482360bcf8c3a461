"""ECDH key exchanges of sshcore-openssl against sshcore-kex-ecdh (pycryptodome): our
client with their server and the reverse agree on K and H, hostile public values end
the exchange; whole in-memory connections whose two ends use different implementations
(kex, host key signature and cipher) complete and carry encrypted packets."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from sshcore import events as ev
from sshcore.config import ConnectionConfig
from sshcore.errors import KeyExchangeError
from sshcore.interfaces import KexContext
from sshcore.keys import generate_private_key
from sshcore.registry import default_registry
from sshcore.testing import ConnectionPair
from sshcore.wire import byte, string
from sshcore_kex_ecdh import hooks as pycryptodome_hooks
from sshcore_openssl import hooks
from sshcore_openssl._keys import from_cryptography

OURS = {d.name: d for d in hooks.sshcore_kex_algorithms()}
THEIRS = {d.name: d for d in pycryptodome_hooks.sshcore_kex_algorithms()}
OPENSSL, PYCRYPTODOME = "sshcore-openssl", "sshcore-kex-ecdh"


def ctx(role):
    return KexContext(role, b"SSH-2.0-c", b"SSH-2.0-s", b"\x14ci", b"\x14si",
                      host_key_blob=b"HOSTKEY" if role == "server" else b"",
                      sign=(lambda h: b"SIG" + h) if role == "server" else None)


def test_same_names_and_negotiation_priorities():
    assert set(OURS) == {"curve25519-sha256", "curve25519-sha256@libssh.org",
                         "ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521"}
    for name, d in OURS.items():
        t = THEIRS[name]
        assert (d.hash_name, d.priority, d.enabled_by_default) == \
            (t.hash_name, t.priority, t.enabled_by_default)
        assert d.implementation_priority > t.implementation_priority


@pytest.mark.parametrize("client_side", ["openssl", "pycryptodome"])
@pytest.mark.parametrize("name", sorted(OURS))
def test_cross_implementation_exchange_agrees(name, client_side):
    c_desc, s_desc = (OURS, THEIRS) if client_side == "openssl" else (THEIRS, OURS)
    client, server = c_desc[name].factory(ctx("client")), s_desc[name].factory(ctx("server"))
    init = client.start().send[0]
    step = server.receive(init)
    done = client.receive(step.send[0]).result
    assert done.shared_secret == step.result.shared_secret
    assert done.exchange_hash == step.result.exchange_hash
    assert done.host_key_blob == b"HOSTKEY" and done.signature == b"SIG" + done.exchange_hash


@pytest.mark.parametrize("value", [bytes(32), b"\x01" + bytes(31), b"short", bytes(33)])
def test_bad_x25519_values(value):
    server = OURS["curve25519-sha256"].factory(ctx("server"))
    with pytest.raises(KeyExchangeError):
        server.receive(byte(30) + string(value))
    client = OURS["curve25519-sha256"].factory(ctx("client"))
    client.start()
    with pytest.raises(KeyExchangeError):
        client.receive(byte(31) + string(b"K") + string(value) + string(b"sig"))


@pytest.mark.parametrize("name,size", [("ecdh-sha2-nistp256", 65), ("ecdh-sha2-nistp384", 97),
                                       ("ecdh-sha2-nistp521", 133)])
def test_nist_point_not_on_curve_or_compressed(name, size):
    for bad in (b"\x04" + b"\x01" * (size - 1), b"\x02" + b"\x01" * (size - 1), bytes(size)):
        with pytest.raises(KeyExchangeError):
            OURS[name].factory(ctx("server")).receive(byte(30) + string(bad))


def test_trailing_bytes_and_unexpected_message():
    server = OURS["curve25519-sha256"].factory(ctx("server"))
    with pytest.raises(KeyExchangeError):
        server.receive(byte(31) + string(b"x"))
    q = OURS["curve25519-sha256"].factory(ctx("client")).start().send[0]
    with pytest.raises(KeyExchangeError):
        server.receive(q + b"extra")


# ------------------------------------------------------------------ whole connections


def run_pair(client_reg, server_reg, host_key, **algs):
    client = ConnectionConfig("client", registry=client_reg, **algs)
    server = ConnectionConfig("server", registry=server_reg, server_host_keys=[host_key], **algs)
    p = ConnectionPair(client, server)
    p.pump()
    assert any(isinstance(e, ev.HostKeyReceived) for e in p.client_events), p.client_events
    p.client.accept_host_key()
    p.pump()
    return p


def served(reg, family, name):
    return reg.get(family, name).factory if family != "signature" else reg.get(family, name).decode


@pytest.mark.parametrize("client_side", ["openssl", "pycryptodome"])
@pytest.mark.parametrize("kex", sorted(OURS))
def test_connection_with_one_implementation_at_each_end(kex, client_side):
    base = default_registry()
    assert base.provider("kex", kex).startswith(OPENSSL)  # installed, it serves
    theirs = base.choose({kex: PYCRYPTODOME})
    client_reg, server_reg = (base, theirs) if client_side == "openssl" else (theirs, base)
    assert served(client_reg, "kex", kex).target.startswith(
        "sshcore_openssl" if client_side == "openssl" else "sshcore_kex_ecdh")
    assert served(server_reg, "kex", kex).target.startswith(
        "sshcore_kex_ecdh" if client_side == "openssl" else "sshcore_openssl")
    p = run_pair(client_reg, server_reg, generate_private_key("ssh-ed25519"), kex_algs=[kex])
    done = [e for e in p.client_events + p.server_events if isinstance(e, ev.KexCompleted)]
    assert len(done) == 2 and all(e.algorithms["kex"] == kex for e in done)
    assert p.client.session_id == p.server.session_id
    # the server's EXT_INFO came through the new keys
    assert any(isinstance(e, ev.ExtInfoReceived) for e in p.client_events)
    assert not p.client.closed and not p.server.closed


@pytest.mark.parametrize("cipher", sorted(n for n in default_registry().names("cipher")
                                          if default_registry().provider("cipher", n)
                                          .startswith(OPENSSL)))
def test_connection_cipher_openssl_client_pycryptodome_server(cipher):
    base = default_registry()
    theirs = base.choose({cipher: "sshcore-ciphers"})
    assert served(theirs, "cipher", cipher).target.startswith("sshcore_ciphers")
    for client_reg, server_reg in ((base, theirs), (theirs, base)):
        p = run_pair(client_reg, server_reg, generate_private_key("ssh-ed25519"),
                     encryption_algs=[cipher])
        done = [e for e in p.client_events if isinstance(e, ev.KexCompleted)]
        assert done and done[0].algorithms["enc_cs"] == cipher == done[0].algorithms["enc_sc"]
        assert any(isinstance(e, ev.ExtInfoReceived) for e in p.client_events)
        assert not p.client.closed and not p.server.closed


def test_host_key_signed_through_openssl_verified_by_pycryptodome():
    base = default_registry()
    theirs = base.choose({"ssh-ed25519": "sshcore-keys"})
    host_key = from_cryptography(ed25519.Ed25519PrivateKey.generate())
    p = run_pair(theirs, base, host_key, server_host_key_algs=["ssh-ed25519"])
    (received,) = [e for e in p.client_events if isinstance(e, ev.HostKeyReceived)]
    assert received.key.public_blob == host_key.public_blob
    assert type(received.key).__module__.startswith("sshcore_keys")
    assert any(isinstance(e, ev.ExtInfoReceived) for e in p.client_events)



# X25519 public values whose shared secret is all zeros (low-order points, RFC 7748 6.1)
X25519_LOW_ORDER = [bytes(32), (1).to_bytes(32, "little"),
                    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
                    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
                    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")]


@pytest.mark.parametrize("value", X25519_LOW_ORDER)
def test_low_order_x25519_values_are_refused(value):
    with pytest.raises(KeyExchangeError):
        OURS["curve25519-sha256"].factory(ctx("server")).receive(byte(30) + string(value))


def test_all_zero_x25519_result_is_refused_even_if_openssl_let_it_through(monkeypatch):
    """OpenSSL refuses low-order points itself; the plugin's check of the result stands
    behind it."""
    from sshcore_openssl import _kex

    server = OURS["curve25519-sha256"].factory(ctx("server"))
    client = OURS["curve25519-sha256"].factory(ctx("client"))
    monkeypatch.setattr(type(server.key), "exchange", lambda self, peer: bytes(32))
    with pytest.raises(KeyExchangeError, match="all-zero"):
        server.receive(client.start().send[0])
    assert _kex.ECDHExchange is type(server)
