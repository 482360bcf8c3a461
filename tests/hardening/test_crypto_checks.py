"""Cryptographic checks against hostile peers, with the real plugins: invalid DH / ECDH /
X25519 public values, small RSA keys, strict signature encodings, MAC and AEAD tag
failures (compared in constant time), padding rules."""

from __future__ import annotations

import inspect

import pytest
from conftest import PASSWORD, USER, assert_serves, client, run, serve
from rawpeer import RawPeer, hostile_server

import sshcore
from sshcore._wire import byte, mpint, string, uint32
from sshcore.errors import DisconnectReason as R
from sshcore.errors import KeyExchangeError, PermissionDeniedError
from sshcore.keys import generate_private_key
from sshcore.messages import MessageType as M

P14 = __import__("sshcore_kex_dh._groups", fromlist=["GROUPS"]).GROUPS["group14"][2]
# X25519 public values whose shared secret is all zeros (low-order points, RFC 7748 s6.1)
X25519_LOW_ORDER = [bytes(32), (1).to_bytes(32, "little"),
                    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
                    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
                    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")]
# a P-256 point that is not on the curve (the generator with y + 1)
P256_G = bytes.fromhex("046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
                       "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5")
P256_OFF_CURVE = P256_G[:-1] + bytes([P256_G[-1] ^ 1])

BAD_VALUES = [
    *(("curve25519-sha256", string(v), f"x25519-low-order-{i}") for i, v in enumerate(X25519_LOW_ORDER)),
    ("curve25519-sha256", string(bytes(31)), "x25519-short"),
    ("ecdh-sha2-nistp256", string(P256_OFF_CURVE), "p256-off-curve"),
    ("ecdh-sha2-nistp256", string(P256_G[:33]), "p256-truncated"),
    ("ecdh-sha2-nistp256", string(b"\x02" + P256_G[1:33] + bytes(32)), "p256-not-uncompressed"),
    ("ecdh-sha2-nistp256", string(b"\x04" + bytes(64)), "p256-zero-point"),
    *(("diffie-hellman-group14-sha256", mpint(e), f"dh-{name}")
      for e, name in ((0, "0"), (1, "1"), (P14 - 1, "p-1"), (P14, "p"), (P14 + 1, "p+1"), (-2, "negative"))),
]


@pytest.mark.parametrize("kex, value", [(k, v) for k, v, _ in BAD_VALUES],
                         ids=[i for _, _, i in BAD_VALUES])
def test_server_refuses_invalid_client_public_value(real_registry, ed25519_key, kex, value):
    async def main():
        async with await serve(real_registry, ed25519_key) as srv:
            peer = await RawPeer.connect(srv.port, real_registry, kex=[kex])
            await peer.hello()
            peer.send_kexinit()
            await peer.recv_type(M.KEXINIT, skip=())
            peer.send(byte(30) + value)
            code = await peer.expect_disconnect()
            await peer.aclose()
            await assert_serves(srv.port, real_registry)
            return code
    assert run(main()) == R.KEY_EXCHANGE_FAILED


CLIENT_BAD = [(k, v, i) for k, v, i in BAD_VALUES if "x25519" in i] + [
    # f values whose shared secret the hostile server can compute without the client's
    # exponent, so it signs a correct exchange hash: only the range check stops them
    ("diffie-hellman-group14-sha256", f, f"dh-{name}")
    for f, name in ((0, "0"), (1, "1"), (P14, "p"), (P14 + 1, "p+1"))]


@pytest.mark.parametrize("kex, value", [(k, v) for k, v, _ in CLIENT_BAD],
                         ids=[i for _, _, i in CLIENT_BAD])
def test_client_refuses_invalid_server_public_value(real_registry, ed25519_key, kex, value):
    """The server's half (Q_S / f) is checked as strictly, even under a valid signature."""
    from sshcore._wire import SSHReader
    from sshcore.interfaces import KexContext
    from sshcore.kexhelpers import exchange_hash

    codes = []

    async def handler(peer):
        peer.send_kexinit()
        await peer.recv_type(M.KEXINIT, skip=())
        init = await peer.recv_type(30, skip=())
        k_s = ed25519_key.public_blob
        if isinstance(value, int):  # DH: f, K = f^x mod p known without x, a true signature
            e = SSHReader(init, 1).mpint()
            ctx = KexContext("server", peer.peer_version.encode(), peer.version.encode(),
                             peer.peer_kexinit, peer.our_kexinit)
            k = mpint(pow(value, 3, P14))  # 0 or 1 whatever the exponent
            sig = ed25519_key.sign(exchange_hash(ctx, "sha256", k_s, mpint(e), mpint(value), k),
                                   "ssh-ed25519")
            peer.send(byte(31) + string(k_s) + mpint(value) + string(sig))
        else:
            sig = ed25519_key.sign(b"whatever")
            peer.send(byte(31) + string(k_s) + value + string(sig))
        codes.append(await peer.expect_disconnect())

    async def main():
        async with hostile_server(handler, real_registry, ed25519_key, kex=[kex]) as hs:
            with pytest.raises(KeyExchangeError, match="range|invalid|Invalid|wrong length"):
                await client(hs.port, real_registry)
    run(main())
    assert codes == [R.KEY_EXCHANGE_FAILED]


def test_real_key_exchange_works_with_the_raw_peer(real_registry, ed25519_key):
    """The contrast for the tests above: valid values from the same peer succeed."""
    async def main():
        # ecdh-sha2-nistp* is off by default (ssh-audit): enabled here by name
        async with await serve(real_registry, ed25519_key, kex_algs="+ecdh-sha2-nistp256") as srv:
            for kex in ("curve25519-sha256", "ecdh-sha2-nistp256", "diffie-hellman-group14-sha256"):
                peer = await RawPeer.connect(srv.port, real_registry, kex=[kex])
                await peer.login(USER, PASSWORD)
                await peer.aclose()
    run(main())


# --------------------------------------------------------------------------- RSA key sizes

@pytest.fixture(scope="module")
def rsa_keys():
    return {bits: generate_private_key("ssh-rsa", bits=bits) for bits in (1024, 2048)}


@pytest.mark.parametrize("bits, min_bits, ok", [(1024, None, False), (2048, None, True),
                                                 (1024, 1024, True)])
def test_server_refuses_small_rsa_user_keys(real_registry, ed25519_key, rsa_keys, tmp_path,
                                            bits, min_bits, ok):
    key = rsa_keys[bits]
    ak = tmp_path / "authorized_keys"
    ak.write_text(sshcore.keys.public_key_line(key.public_key()) + "\n")

    async def main():
        async with await sshcore.listen("127.0.0.1", 0, server_host_keys=[ed25519_key],
                                        registry=real_registry, authorized_client_keys=str(ak),
                                        process_factory=lambda p: 0,
                                        min_rsa_bits=min_bits) as srv:
            conn = await sshcore.connect("127.0.0.1", srv.port, username=USER, client_keys=[key],
                                         known_hosts=None, registry=real_registry, config=None,
                                         agent_path=None)
            await conn.aclose()
    if ok:
        run(main())
    else:
        with pytest.raises(PermissionDeniedError):
            run(main())


@pytest.mark.parametrize("bits, min_bits, ok", [(1024, None, False), (2048, None, True),
                                                 (1024, 1024, True)])
def test_client_refuses_small_rsa_host_keys(real_registry, rsa_keys, bits, min_bits, ok):
    async def main():
        async with await serve(real_registry, rsa_keys[bits]) as srv:
            conn = await client(srv.port, real_registry, min_rsa_bits=min_bits)
            await conn.aclose()
    if ok:
        run(main())
    else:
        with pytest.raises(KeyExchangeError, match="too small"):
            run(main())


# --------------------------------------------------------------------------- signatures

@pytest.fixture(scope="module")
def signing_keys(rsa_keys):
    return {"ssh-ed25519": generate_private_key("ssh-ed25519"),
            "ecdsa-sha2-nistp256": generate_private_key("ecdsa-sha2-nistp256"),
            "rsa-sha2-256": rsa_keys[2048]}


def _sig_parts(sig):
    from sshcore._wire import SSHReader

    r = SSHReader(sig)
    return r.string(), r.string()


@pytest.mark.parametrize("alg", ["ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-256"])
def test_signature_encodings_are_strict(signing_keys, alg):
    key = signing_keys[alg]
    pub = key.public_key()
    data = b"exchange hash"
    sig = key.sign(data, alg)
    name, raw = _sig_parts(sig)
    assert pub.verify(data, sig, alg)  # the well-formed one verifies
    bad = {
        "trailing data in the blob": sig + b"\0",
        "trailing data in the signature": string(name) + string(raw + b"\0"),
        "algorithm name mismatch": string(b"ssh-ed448" if alg != "ssh-ed448" else b"x") + string(raw),
        "empty signature": string(name) + string(b""),
        "truncated blob": sig[:-1],
    }
    if alg == "ssh-ed25519":
        bad["short signature"] = string(name) + string(raw[:-1])
    if alg == "ecdsa-sha2-nistp256":
        from sshcore._wire import SSHReader

        rd = SSHReader(raw)
        r_val, s_val = rd.mpint(), rd.mpint()
        bad["non-minimal mpint"] = string(name) + string(string(b"\0" + mpint(r_val)[4:])
                                                         + mpint(s_val))
        bad["s = 0"] = string(name) + string(mpint(r_val) + mpint(0))
        bad["negative s"] = string(name) + string(mpint(r_val) + mpint(-s_val))
    if alg == "rsa-sha2-256":
        bad["longer than the modulus"] = string(name) + string(b"\0" + raw)
        bad["other hash's algorithm name"] = string(b"rsa-sha2-512") + string(raw)
        bad["SHA-1 ssh-rsa name"] = string(b"ssh-rsa") + string(raw)
    for why, blob in bad.items():
        assert not pub.verify(data, blob, alg), why


# --------------------------------------------------------------------------- MACs

@pytest.mark.parametrize("cipher, mac", [("aes128-ctr", "hmac-sha2-256"),
                                         ("aes128-ctr", "hmac-sha2-256-etm@openssh.com"),
                                         ("aes256-ctr", "hmac-sha2-512"),
                                         ("aes128-gcm@openssh.com", "hmac-sha2-256"),
                                         ("chacha20-poly1305@openssh.com", "hmac-sha2-256")])
@pytest.mark.parametrize("where", ["tag", "ciphertext"])
def test_mac_failure_is_mac_error(real_registry, ed25519_key, cipher, mac, where):
    async def main():
        async with await serve(real_registry, ed25519_key) as srv:
            peer = await RawPeer.connect(srv.port, real_registry, ciphers=[cipher], macs=[mac])
            await peer.handshake()
            wire = bytearray(peer.w.pack(byte(M.SERVICE_REQUEST) + string("ssh-userauth")))
            wire[-1 if where == "tag" else -40] ^= 0x01
            peer.send_bytes(bytes(wire))
            code = await peer.expect_disconnect()
            await peer.aclose()
            await assert_serves(srv.port, real_registry)
            return code
    assert run(main()) == R.MAC_ERROR


def test_macs_and_tags_are_compared_in_constant_time():
    """Every MAC and AEAD tag check goes through hmac.compare_digest (or the library's
    own verify); none compares with ==."""
    from sshcore_ciphers import _modern, _primitives
    from sshcore_macs import _hmac

    import sshcore.testing

    for fn in (_hmac.HMAC.verify, _modern._ChaChaPoly.decrypt_packet, _primitives.GCMKey.open,
               _primitives.RawChaChaPoly.open, _primitives.RawGCM.open, sshcore.testing._Mac.verify):
        src = inspect.getsource(fn)
        assert "compare_digest(" in src, fn.__qualname__
        assert " == " not in src and "!=" not in src, fn.__qualname__


# --------------------------------------------------------------------------- padding

def _packet(payload: bytes, padlen: int) -> bytes:
    length = 1 + len(payload) + padlen
    return uint32(length) + bytes([padlen]) + payload + bytes(padlen)


# An 8-byte payload: with the 5-byte header, padding of 11 (clear, 8-byte blocks) or 19
# (AES, 16-byte blocks) is right.
PAYLOAD = byte(M.IGNORE) + string(b"abc")


@pytest.mark.parametrize("keyed, padlen", [
    (False, 3), (False, 5), (False, 0),   # in clear: short, misaligned, none
    (True, 3), (True, 11), (True, 5),     # AES-CTR: short, 8- but not 16-aligned, misaligned
], ids=["clear-short", "clear-misaligned", "clear-none", "aes-short", "aes-8-aligned",
        "aes-misaligned"])
def test_bad_padding_is_refused(real_registry, ed25519_key, keyed, padlen):
    """RFC 4253 section 6: at least 4 bytes of padding, and the packet a multiple of
    the cipher block size (8 in clear, 16 for AES)."""
    async def main():
        async with await serve(real_registry, ed25519_key) as srv:
            peer = await RawPeer.connect(srv.port, real_registry, strict=False)
            await peer.hello()
            if keyed:
                await peer.key_exchange()
            peer.send_packet(_packet(PAYLOAD, padlen))
            code = await peer.expect_disconnect()
            await peer.aclose()
            return code
    assert run(main()) == R.PROTOCOL_ERROR


def test_good_hand_made_packets_are_accepted(real_registry, ed25519_key):
    """The contrast: the same hand-made packets with legal padding go through."""
    async def main():
        async with await serve(real_registry, ed25519_key) as srv:
            peer = await RawPeer.connect(srv.port, real_registry, strict=False)
            await peer.hello()
            peer.send_packet(_packet(PAYLOAD, 11))
            await peer.key_exchange()
            peer.send_packet(_packet(PAYLOAD, 19))
            await peer.service_request()
            await peer.aclose()
    run(main())


def test_our_padding_is_at_least_4_bytes_and_block_aligned():
    """What our server sends passes the same checks (the raw peer's reader enforces
    them) for every payload length across a block."""
    from sshcore.kernel._framing import PacketWriter

    w = PacketWriter()
    for n in range(1, 40):
        wire = w.pack(b"\x02" + bytes(n))
        padlen = wire[4]
        assert padlen >= 4 and len(wire) % 8 == 0


def test_all_zero_x25519_result_is_refused_even_if_the_library_let_it_through(monkeypatch):
    """pycryptodome already refuses low-order points at import; the plugin's own check
    of the result stands behind it."""
    from sshcore_kex_ecdh import _ecdh

    from sshcore.interfaces import KexContext

    monkeypatch.setattr(_ecdh, "key_agreement", lambda **kw: bytes(32))
    kex = _ecdh.ECDHExchange(KexContext("client", b"c", b"s", b"ci", b"si"), "curve25519",
                             "sha256")
    other = _ecdh.ECDHExchange(KexContext("server", b"c", b"s", b"ci", b"si"), "curve25519",
                               "sha256")
    with pytest.raises(KeyExchangeError, match="all-zero"):
        kex._shared(other.q)
