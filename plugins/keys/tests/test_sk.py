"""Security-key public keys and signatures (PROTOCOL.u2f): malformed input is refused
(the software-token and real sshd tests are in tests/interop/test_security_keys.py)."""

from __future__ import annotations

import pytest

from sshcore.keys import KeyImportError, decode_public_blob
from sshcore.wire import string, uint32
from sshcore_keys._keys import ECDSAKey, Ed25519Key
from sshcore_keys._sk import (SK_ECDSA, SK_ED25519, SKECDSAKey, SKEd25519Key, sk_signature,
                              token_message)


@pytest.fixture
def ed():
    priv = Ed25519Key.generate()
    return priv, SKEd25519Key(priv.public_key(), "ssh:test")


def sign(priv, app, flags, counter, data):
    return sk_signature(SK_ED25519, priv._sign("ssh-ed25519", token_message(app, flags, counter, data)),
                        flags, counter)


def test_round_trip_and_policy(ed):
    priv, sk = ed
    key = decode_public_blob(sk.public_blob)
    assert key == sk and key.application == "ssh:test" and key.bits == 256
    assert key.verify(b"m", sign(priv, "ssh:test", 0x01, 7, b"m")) and key.last_counter == 7
    assert not key.verify(b"m", sign(priv, "ssh:test", 0x00, 8, b"m"))   # not touched
    key.require_user_presence = False
    assert key.verify(b"m", sign(priv, "ssh:test", 0x00, 8, b"m"))
    key.require_user_verification = True
    assert not key.verify(b"m", sign(priv, "ssh:test", 0x01, 9, b"m"))
    assert key.verify(b"m", sign(priv, "ssh:test", 0x05, 9, b"m"))
    assert not key.verify(b"m", sign(priv, "ssh:other", 0x05, 9, b"m"))  # other application
    with pytest.raises(ValueError, match="token"):
        key.sign(b"m")


def test_malformed_signatures_and_blobs(ed):
    priv, sk = ed
    good = sign(priv, "ssh:test", 0x01, 1, b"m")
    assert not sk.verify(b"m", good + b"\0")                      # trailing bytes
    assert not sk.verify(b"m", good[:-1])                         # truncated counter
    assert not sk.verify(b"m", good, "ssh-ed25519")               # another algorithm
    plain = string("ssh-ed25519") + string(priv._sign("ssh-ed25519", b"m"))
    assert not sk.verify(b"m", plain)
    ec = ECDSAKey.generate("nistp384").public_key()
    bad_curve = string(SK_ECDSA) + string("nistp384") + string(ec.q) + string("ssh:")
    with pytest.raises(KeyImportError, match="nistp256"):
        decode_public_blob(bad_curve)
    with pytest.raises(KeyImportError):
        decode_public_blob(sk.public_blob[:-2])
    p256 = ECDSAKey.generate("nistp256")
    sk_ec = SKECDSAKey(p256.public_key(), "ssh:")
    msg = token_message("ssh:", 1, 3, b"x")
    sig = sk_signature(SK_ECDSA, p256._sign("ecdsa-sha2-nistp256", msg), 1, 3)
    assert decode_public_blob(sk_ec.public_blob).verify(b"x", sig)
    assert not decode_public_blob(sk_ec.public_blob).verify(b"y", sig)
    assert not sk_ec.verify(b"x", sig[:-4] + uint32(4))           # counter is signed too
