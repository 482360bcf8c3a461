"""Signatures of sshcore-openssl against sshcore-keys (pycryptodome): the same key in both
(written by ``cryptography``, read back by sshcore-keys), signed with one and verified
with the other; RFC 8032's Ed25519 vectors; malformed keys and signatures refused."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (Encoding, NoEncryption,
                                                          PrivateFormat)

from sshcore.keys import import_private_key
from sshcore.registry import default_registry
from sshcore.wire import SSHReader, mpint, string
from sshcore_keys import hooks as pycryptodome_hooks
import sshcore_openssl
from sshcore_openssl import hooks
from sshcore_openssl._keys import decode_public_blob, from_cryptography

OURS = {d.name: d for d in hooks.sshcore_signature_algorithms()}
THEIRS = {d.name: d for d in pycryptodome_hooks.sshcore_signature_algorithms()}
DATA = b"exchange hash or userauth request"

_GENERATORS = {
    "ed25519": lambda: ed25519.Ed25519PrivateKey.generate(),
    "nistp256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "nistp384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "nistp521": lambda: ec.generate_private_key(ec.SECP521R1()),
    "rsa": lambda: rsa.generate_private_key(65537, 2048),
}
#: signature algorithm -> the key kind it needs
ALGS = {"ssh-ed25519": "ed25519", "ecdsa-sha2-nistp256": "nistp256",
        "ecdsa-sha2-nistp384": "nistp384", "ecdsa-sha2-nistp521": "nistp521",
        "rsa-sha2-256": "rsa", "rsa-sha2-512": "rsa", "ssh-rsa": "rsa"}


@pytest.fixture(scope="module")
def key_pairs():
    """kind -> (our key object, sshcore-keys' object) for one private key."""
    out = {}
    for kind, gen in _GENERATORS.items():
        priv = gen()
        pem = priv.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption())
        out[kind] = (from_cryptography(priv), import_private_key(pem))
    return out


def test_same_names_and_negotiation_priorities():
    assert set(OURS) == {"ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                         "ecdsa-sha2-nistp521", "rsa-sha2-256", "rsa-sha2-512"}
    for name, d in OURS.items():
        t = THEIRS[name]
        assert (d.key_type, d.priority, d.enabled_by_default) == \
            (t.key_type, t.priority, t.enabled_by_default)
        assert d.implementation_priority > t.implementation_priority


def test_the_registry_decodes_peer_keys_with_openssl(key_pairs):
    reg = default_registry()
    for name in OURS:
        ours, _ = key_pairs[ALGS[name]]
        key = reg.get("signature", name).decode(ours.public_blob)
        assert type(key).__module__ == "sshcore_openssl._keys"


def test_rfc8032_ed25519_vectors():
    # RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte)
    vectors = [
        ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
         "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
        ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
         "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ]
    for sk, pk, msg, sig in vectors:
        key = from_cryptography(ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(sk)))
        blob = string("ssh-ed25519") + string(bytes.fromhex(pk))
        assert key.public_blob == blob
        wire = string("ssh-ed25519") + string(bytes.fromhex(sig))
        assert key.sign(bytes.fromhex(msg)) == wire
        assert decode_public_blob(blob).verify(bytes.fromhex(msg), wire, "ssh-ed25519")
        assert not decode_public_blob(blob).verify(bytes.fromhex(msg) + b"x", wire)


@pytest.mark.parametrize("alg", sorted(ALGS))
def test_sign_with_one_verify_with_the_other(key_pairs, alg):
    ours, theirs = key_pairs[ALGS[alg]]
    assert ours.public_blob == theirs.public_blob
    assert ours == theirs and hash(ours) == hash(ours.public_key())
    assert ours.bits == theirs.bits
    assert list(ours.sig_algorithms()) == list(theirs.sig_algorithms())
    our_public = decode_public_blob(theirs.public_blob)
    assert not our_public.has_private and our_public.public_blob == theirs.public_blob
    their_public = THEIRS[alg].decode(ours.public_blob)
    sig_ours, sig_theirs = ours.sign(DATA, alg), theirs.sign(DATA, alg)
    assert SSHReader(sig_ours).text() == alg
    if alg == "ssh-ed25519" or alg.startswith("rsa") or alg == "ssh-rsa":
        assert sig_ours == sig_theirs  # deterministic signatures: the very same bytes
    for verifier in (our_public, their_public, ours, theirs):
        assert verifier.verify(DATA, sig_ours, alg)
        assert verifier.verify(DATA, sig_theirs, alg)
        assert not verifier.verify(DATA + b"!", sig_ours, alg)
        assert not verifier.verify(DATA + b"!", sig_theirs, alg)
    tampered = bytearray(sig_theirs)
    tampered[-3] ^= 0x10
    assert not our_public.verify(DATA, bytes(tampered), alg)
    other = next(a for a in ("rsa-sha2-512", "ssh-ed25519") if a != alg)
    assert not our_public.verify(DATA, sig_theirs, other)  # the caller's algorithm rules
    assert not our_public.verify(DATA, sig_theirs + b"\0", alg)  # trailing bytes
    with pytest.raises(ValueError):
        our_public.sign(DATA)  # public only


def test_rsa_signature_algorithms_are_not_interchangeable(key_pairs):
    ours, theirs = key_pairs["rsa"]
    sig = ours.sign(DATA, "rsa-sha2-256")
    relabelled = string("rsa-sha2-512") + _second_string(sig)
    assert ours.verify(DATA, sig) and theirs.verify(DATA, sig)
    assert not ours.verify(DATA, relabelled) and not theirs.verify(DATA, relabelled)


def _second_string(blob: bytes) -> bytes:
    r = SSHReader(blob)
    r.string()
    return r.string()


def test_short_rsa_signature_is_accepted_as_openssh_does(key_pairs):
    ours, theirs = key_pairs["rsa"]
    for i in range(3000):  # ~1 signature in 256 starts with a zero byte
        data = DATA + i.to_bytes(2, "big")
        raw = _second_string(theirs.sign(data, "rsa-sha2-256"))
        if raw[0] == 0:
            break
    else:
        pytest.fail("no RSA signature with a leading zero byte found")
    short = string("rsa-sha2-256") + string(raw.lstrip(b"\0"))
    assert decode_public_blob(ours.public_blob).verify(data, short)
    assert theirs.verify(data, short)


def test_ecdsa_non_canonical_encoding_is_refused(key_pairs):
    ours, theirs = key_pairs["nistp256"]
    sig = theirs.sign(DATA, "ecdsa-sha2-nistp256")
    inner = SSHReader(_second_string(sig))
    r, s = inner.mpint(), inner.mpint()
    padded = string(b"\0\0" + r.to_bytes(32, "big")) + mpint(s)  # a needless leading zero
    bad = string("ecdsa-sha2-nistp256") + string(padded)
    good = string("ecdsa-sha2-nistp256") + string(mpint(r) + mpint(s))
    public = decode_public_blob(ours.public_blob)
    assert public.verify(DATA, good)
    assert not public.verify(DATA, bad) and not theirs.verify(DATA, bad)


@pytest.mark.parametrize("blob", [
    string("ssh-ed25519") + string(bytes(31)),
    string("ssh-ed25519") + string(bytes(32)) + b"trailing",
    string("ecdsa-sha2-nistp256") + string("nistp384") + string(b"\x04" + bytes(96)),
    string("ecdsa-sha2-nistp256") + string("nistp256") + string(b"\x04" + b"\x01" * 64),
    string("ecdsa-sha2-nistp256") + string("nistp256") + string(b""),
    string("ecdsa-sha2-nistp999") + string("nistp999") + string(b"\x04"),
    string("ssh-rsa") + mpint(65537) + mpint((1 << 1023) - 1),  # 1023 bits: too small
    string("ssh-rsa") + mpint(1) + mpint((1 << 2047) + 1),
    string("ssh-dss") + mpint(1),
    string("ssh-rsa") + b"\0\0",
    b"",
])
def test_malformed_blobs_are_value_errors(blob):
    with pytest.raises(ValueError):
        decode_public_blob(blob)


@pytest.mark.parametrize("sig", [b"", b"\0\0\0\x0bssh-ed25519", string("ssh-ed25519") + string(bytes(63)),
                                 string("ssh-ed25519") + string(bytes(64))])
def test_malformed_signatures_are_false(key_pairs, sig):
    ours, _ = key_pairs["ed25519"]
    assert ours.verify(DATA, sig) is False


def test_from_cryptography_is_public_and_refuses_other_keys():
    from cryptography.hazmat.primitives.asymmetric import ed448

    assert sshcore_openssl.from_cryptography is from_cryptography
    with pytest.raises(ValueError, match="unsupported"):
        from_cryptography(ed448.Ed448PrivateKey.generate())
    with pytest.raises(ValueError, match="unsupported curve"):
        from_cryptography(ec.generate_private_key(ec.SECP256K1()))
    with pytest.raises(AttributeError):
        sshcore_openssl.no_such_name  # noqa: B018


@pytest.mark.parametrize("alg", ["ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-256"])
def test_signature_encodings_are_strict(key_pairs, alg):
    ours, _ = key_pairs[ALGS[alg]]
    pub = decode_public_blob(ours.public_blob)
    sig = ours.sign(DATA, alg)
    name, raw = SSHReader(sig).text(), _second_string(sig)
    assert pub.verify(DATA, sig, alg)
    bad = {
        "trailing data in the blob": sig + b"\0",
        "trailing data in the signature": string(name) + string(raw + b"\0"),
        "algorithm name mismatch": string("ssh-ed448") + string(raw),
        "empty signature": string(name) + string(b""),
        "truncated blob": sig[:-1],
    }
    if alg == "ssh-ed25519":
        bad["short signature"] = string(name) + string(raw[:-1])
    if alg == "ecdsa-sha2-nistp256":
        rd = SSHReader(raw)
        r_val, s_val = rd.mpint(), rd.mpint()
        bad["s = 0"] = string(name) + string(mpint(r_val) + mpint(0))
        bad["negative s"] = string(name) + string(mpint(r_val) + mpint(-s_val))
        bad["r too large"] = string(name) + string(mpint(1 << 256) + mpint(s_val))
    if alg == "rsa-sha2-256":
        bad["longer than the modulus"] = string(name) + string(b"\0" + raw)
        bad["SHA-1 ssh-rsa name"] = string("ssh-rsa") + string(raw)
    for why, blob in bad.items():
        assert not pub.verify(DATA, blob, alg), why
        assert not pub.verify(DATA, blob), why
