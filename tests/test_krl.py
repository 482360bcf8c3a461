"""sshcore.krl: malformed and hostile KRLs give clear errors; the text form of a revoked
keys file (KRLs from the real ssh-keygen are in tests/interop/test_krl.py)."""

from __future__ import annotations

import pytest

from sshcore._wire import boolean, byte, mpint, string, uint32, uint64
from sshcore.errors import KeyImportError
from sshcore.keys import generate_private_key, public_key_line, sign_certificate
from sshcore.krl import KRL_MAGIC, RevocationList, key_revoked


def krl(*sections: bytes, version: int = 1) -> bytes:
    return (KRL_MAGIC + uint32(version) + uint64(1) + uint64(0) + uint64(0) + string(b"")
            + string(b"a comment") + b"".join(sections))


def section(kind: int, body: bytes) -> bytes:
    return byte(kind) + string(body)


@pytest.fixture(scope="module")
def material():
    ca = generate_private_key("ssh-ed25519")
    key = generate_private_key("ssh-ed25519").public_key()
    cert = sign_certificate(ca, key, key_id="someone", principals=["u"], serial=1 << 40)
    return ca, key, cert


def test_bitmap_and_any_ca_sections(material):
    ca, key, cert = material
    certs = string(b"") + string(b"") + section(0x22, uint64((1 << 40) - 3) + mpint(0b1000))
    table = RevocationList.parse(krl(section(1, certs)))
    assert table.comment == "a comment"
    assert "serial 1099511627776" in table.revoked(cert)
    assert table.revoked(key) is None  # the plain key itself is not revoked
    by_id = string(ca.public_blob) + string(b"") + section(0x23, string("someone"))
    assert "key ID 'someone'" in RevocationList.parse(krl(section(1, by_id))).revoked(cert)
    by_ca = RevocationList.parse(krl(section(2, string(ca.public_blob))))
    assert "CA key" in by_ca.revoked(cert)


@pytest.mark.parametrize("data,message", [
    (krl(version=2), "format version 2"),
    (krl(section(4, string(b"k")) + string(b"sig")), "signed KRLs"),
    (krl(section(255, string("x@y") + boolean(True) + string(b""))), "critical KRL extension"),
    (krl(section(9, b"")), "unknown KRL section type 9"),
    (krl(section(3, string(b"short"))), "hash length"),
    (krl(section(1, string(b"") + string(b"") + section(0x21, uint64(5) + uint64(4)))),
     "inverted"),
    (krl(section(1, string(b"") + string(b"") + section(0x22, uint64(0) + mpint(1 << (1 << 25))))),
     "bitmap too large"),
    (krl(section(1, string(b"") + string(b"") + section(0x30, b""))), "certificate section type"),
    (krl()[:-3], "malformed KRL"),
    (krl(section(2, b"\0\0\0\xff")), "malformed KRL"),
])
def test_bad_krls_are_refused(data, message):
    with pytest.raises(KeyImportError, match=message):
        RevocationList.parse(data, "test.krl")


def test_non_critical_extensions_are_ignored(material):
    _, key, _ = material
    data = krl(section(255, string("bloom@x") + boolean(False) + string(b"...")),
               section(2, string(key.public_blob)))
    assert RevocationList.parse(data).revoked(key)


def test_text_list_and_unreadable_file(material, tmp_path):
    ca, key, cert = material
    other = generate_private_key("ecdsa-sha2-nistp256").public_key()
    cert_line = public_key_line(cert)
    path = tmp_path / "revoked"
    path.write_text(f"# revoked\n{public_key_line(other)} gone\n\nnot a key line\n")
    assert key_revoked(str(path), other) is not None
    assert key_revoked(str(path), key) is None
    path.write_text(cert_line + "\n")  # a certificate line revokes its key
    assert key_revoked(str(path), key) is not None and key_revoked(str(path), cert) is not None
    assert "refusing every key" in key_revoked(str(tmp_path / "missing"), key)
    assert key_revoked(None, key) is None
