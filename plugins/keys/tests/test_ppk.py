"""PuTTY .ppk files: bad and hostile files give clear errors (the puttygen interop tests
are in tests/interop/test_putty_keys.py)."""

from __future__ import annotations

import pytest

from sshcore.errors import KeyImportError, KeyPassphraseError
from sshcore.keys import (export_private_key, generate_private_key, import_private_key,
                          import_public_key)


@pytest.fixture(scope="module")
def key():
    k = generate_private_key("ssh-ed25519")
    k.comment = "unit"
    return k


def replace_line(data: bytes, name: str, value: str) -> bytes:
    lines = data.decode().splitlines()
    out = [f"{name}: {value}" if line.startswith(name + ": ") else line for line in lines]
    return ("\n".join(out) + "\n").encode()


@pytest.mark.parametrize("fmt", ["ppk", "ppk2"])
def test_round_trip_and_crlf(key, fmt):
    data = export_private_key(key, fmt, passphrase="pw", passes=1, memory=64) if fmt == "ppk" \
        else export_private_key(key, fmt, passphrase="pw")
    loaded = import_private_key(data.replace(b"\n", b"\r\n"), "pw")
    assert loaded.public_blob == key.public_blob and loaded.comment == "unit"
    public = import_public_key(data)  # the public half needs no passphrase
    assert public.public_blob == key.public_blob and not public.has_private


@pytest.mark.parametrize("fmt", ["ppk", "ppk2"])
def test_tampering_is_detected(key, fmt):
    data = export_private_key(key, fmt)
    with pytest.raises(KeyImportError, match="MAC mismatch"):
        import_private_key(replace_line(data, "Comment", "changed"))
    encrypted = export_private_key(key, fmt, passphrase="pw")
    with pytest.raises(KeyPassphraseError, match="wrong passphrase"):
        import_private_key(replace_line(encrypted, "Comment", "changed"), "pw")
    with pytest.raises(KeyPassphraseError, match="wrong passphrase"):
        import_private_key(encrypted, "other")


@pytest.mark.parametrize("field,value,message", [
    ("Argon2-Memory", str(1 << 30), "bad Argon2-Memory"),
    ("Argon2-Passes", "0", "bad Argon2-Passes"),
    ("Argon2-Salt", "zz", "not hexadecimal"),
    ("Argon2-Salt", "00", "out of range"),
    ("Key-Derivation", "scrypt", "unknown key derivation"),
    ("Encryption", "3des-cbc", "unsupported encryption"),
    ("Public-Lines", "999", "truncated PuTTY key file"),
    ("Private-Lines", "-1", "bad Private-Lines"),
    ("Private-MAC", "xyz", "not hexadecimal"),
])
def test_bad_headers_are_refused(key, field, value, message):
    data = export_private_key(key, "ppk", passphrase="pw", passes=1, memory=64)
    with pytest.raises(KeyImportError, match=message):
        import_private_key(replace_line(data, field, value), "pw")


def test_argon2_cost_is_bounded(key):
    """A file asking for 1 GiB x 100 passes is refused at once, not computed."""
    data = export_private_key(key, "ppk", passphrase="pw", passes=1, memory=64)
    data = replace_line(replace_line(data, "Argon2-Memory", str(1 << 20)), "Argon2-Passes", "100")
    with pytest.raises(KeyImportError, match="out of range"):
        import_private_key(data, "pw")


def test_other_bad_files(key):
    data = export_private_key(key, "ppk")
    with pytest.raises(KeyImportError, match="version 1"):
        import_private_key(data.replace(b"File-3", b"File-1"))
    with pytest.raises(KeyImportError, match="version 2 or 3"):
        import_private_key(data.replace(b"File-3", b"File-9"))
    with pytest.raises(KeyImportError, match="expected 'Comment'"):
        import_private_key(data.replace(b"Comment:", b"Remark:"))
    with pytest.raises(KeyImportError, match="no Private-MAC"):
        import_private_key(data[:data.index(b"Private-MAC")])
    with pytest.raises(KeyImportError, match="not UTF-8"):
        import_private_key(data.replace(b"unit", b"\xff\xfe"))
    swapped = data.replace(b": ssh-ed25519", b": ssh-ed448", 1)
    with pytest.raises(KeyImportError, match="MAC mismatch"):  # the MAC covers the type
        import_private_key(swapped)
    with pytest.raises(KeyImportError, match="disagree"):
        import_public_key(swapped)
    with pytest.raises(KeyPassphraseError, match="no passphrase"):
        import_private_key(export_private_key(key, "ppk2", passphrase="pw"))


def test_export_refuses_what_ppk_cannot_hold(key):
    with pytest.raises(KeyImportError, match="public key"):
        export_private_key(key.public_key(), "ppk")
    with pytest.raises(KeyImportError, match="line break"):
        export_private_key(key, "ppk", comment="two\nlines")
    with pytest.raises(KeyImportError, match="Argon2 variant"):
        export_private_key(key, "ppk", passphrase="pw", kdf="scrypt")
    for kdf in ("argon2i", "Argon2d"):
        data = export_private_key(key, "ppk", passphrase="pw", kdf=kdf, passes=1, memory=64)
        assert b"Key-Derivation: Argon2" + kdf[-1:].encode() in data
        assert import_private_key(data, "pw").public_blob == key.public_blob
