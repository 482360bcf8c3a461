"""Inputs the fuzzers found that raised something other than the decoder's own error;
each now gets the documented reaction (the line is skipped, or KeyImportError)."""

from __future__ import annotations

import base64

import pytest

from sshcore._wire import mpint, string, uint32
from sshcore.errors import KeyImportError
from sshcore.keys import AuthorizedKeys, KeyOptions, KnownHosts, import_private_key

GOOD = base64.b64encode(string("ssh-ed25519") + string(bytes(32))).decode()


def test_authorized_keys_line_with_non_ascii_key_data_is_skipped():
    ak = AuthorizedKeys.parse(f"ssh-ed25519 AAAA\u00e9\nssh-ed25519 {GOOD} ok\n")
    assert len(ak.blobs) == 1  # the good line still counts


def test_known_hosts_line_with_non_ascii_key_data_is_skipped():
    kh = KnownHosts.parse(f"host ssh-ed25519 AAAA\u00e9\nhost ssh-ed25519 {GOOD}\n")
    assert len(kh.entries) == 1


@pytest.mark.parametrize("value", ["31372040Z", "20301301", "20300132", "202001012500", "99999999"])
def test_out_of_range_expiry_time_is_a_key_import_error(value):
    with pytest.raises(KeyImportError, match="expiry-time"):
        KeyOptions.parse(f'expiry-time="{value}"')
    ak = AuthorizedKeys.parse(f'expiry-time="{value}" ssh-ed25519 {GOOD}\nssh-ed25519 {GOOD} ok\n')
    assert len(ak.blobs) == 1  # as sshd: the bad line allows nothing, the rest is read


def openssh_private(fields: bytes) -> bytes:
    section = uint32(7) + uint32(7) + fields + string("comment")
    section += bytes(range(1, 1 + (-len(section)) % 8))
    raw = (b"openssh-key-v1\0" + string("none") + string("none") + string("") + uint32(1)
           + string(b"pub") + string(section))
    b64 = base64.b64encode(raw).decode()
    return ("-----BEGIN OPENSSH PRIVATE KEY-----\n" + b64 + "\n-----END OPENSSH PRIVATE KEY-----\n").encode()


@pytest.mark.parametrize("fields", [
    string("ecdsa-sha2-nistp256") + string("nkstp256") + string(b"\x04" + bytes(64)) + mpint(5),
    string("ssh-rsa") + b"".join(mpint(0) for _ in range(6)),
], ids=["unknown-ecdsa-curve", "zero-rsa-modulus"])
def test_malformed_openssh_private_key_is_a_key_import_error(fields):
    with pytest.raises(KeyImportError):
        import_private_key(openssh_private(fields))


def test_rsa_signature_under_a_huge_public_exponent_is_refused():
    """A peer's RSA key may carry a public exponent as long as its modulus: with 16384
    bits each, one verification cost ~15 s of CPU.  As OpenSSL does, exponents above 64
    bits are refused, even when the signature is genuine."""
    from Crypto.PublicKey import RSA
    from sshcore_keys._keys import RSAKey

    for e, expected in ((65537, True), ((1 << 64) - 59, True), ((1 << 65) + 1, False)):
        key = RSAKey(RSA.generate(2048, e=e))
        sig = key.sign(b"data", "rsa-sha2-256")
        assert key.verify(b"data", sig, "rsa-sha2-256") is expected, e


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@given(st.text("ab*?.", max_size=12), st.text("ab.", max_size=12))
def test_host_glob_agrees_with_its_definition(pattern, name):
    """``*`` any run, ``?`` one character, everything else literal, case-insensitive."""
    import re

    from sshcore.keys import _glob

    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    assert _glob(pattern, name.upper()) == (re.fullmatch(regex, name, re.S) is not None)


def test_host_glob_with_many_stars_does_not_backtrack_exponentially():
    """The known_hosts fuzzer hung (> 300 s) on a pattern with many stars: the regular
    expression ``_glob`` used to build tried every way of splitting the name."""
    from sshcore.keys import KnownHosts, _glob

    assert _glob("*a" * 30 + "b", "a" * 60) is False
    kh = KnownHosts.parse(f"{'*a' * 30}b ssh-ed25519 {GOOD}\n")
    assert kh.check("a" * 60, 22, b"blob").status == "unknown"
