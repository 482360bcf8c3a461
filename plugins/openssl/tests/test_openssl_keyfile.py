"""Unencrypted OpenSSH private key files read by sshcore-openssl (before sshcore-keys):
files made by ``ssh-keygen``, cross-checked field by field against sshcore-keys' reading
of the same file; what it does not take (encrypted, DSA, corrupt) still reaches
sshcore-keys and its errors; and a client authenticating to sshd with such a key imports
no pycryptodome."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sshcore.errors import KeyImportError
from sshcore.keys import export_private_key, import_private_key, private_key_fields
from sshcore_keys import hooks as keys_hooks
from sshcore_openssl import hooks
from sshcore_openssl._keys import OpenSSLKey

KINDS = [("ed25519", []), ("ecdsa", ["-b", "256"]), ("ecdsa", ["-b", "384"]),
         ("ecdsa", ["-b", "521"]), ("rsa", ["-b", "2048"])]


def _keygen(path: Path, kind: str, bits: list[str], passphrase: str = "") -> bytes:
    subprocess.run(["ssh-keygen", "-q", "-t", kind, *bits, "-N", passphrase, "-C",
                    f"comment for {path.name} é", "-f", str(path)], check=True, timeout=60)
    return path.read_bytes()


@pytest.mark.parametrize("kind,bits", KINDS, ids=[f"{k}{''.join(b[1:])}" for k, b in KINDS])
def test_ssh_keygen_files_agree_with_sshcore_keys(tmp_path, kind, bits):
    data = _keygen(tmp_path / "id", kind, bits)
    ours = import_private_key(data)
    theirs = keys_hooks.sshcore_load_private_key(data, None, None)
    assert isinstance(ours, OpenSSLKey) and not isinstance(theirs, OpenSSLKey)
    assert ours.public_blob == theirs.public_blob
    assert ours.comment == theirs.comment == "comment for id é"
    assert ours.private_fields() == theirs.private_fields()
    pub_line = (tmp_path / "id.pub").read_text().split()
    assert ours.key_type == pub_line[0]
    for alg in ours.sig_algorithms():
        assert theirs.verify(b"data", ours.sign(b"data", alg), alg)
        assert ours.verify(b"data", theirs.sign(b"data", alg), alg)
    # written back by sshcore-keys (which owns the formats), read again: the same key
    for fmt in ("openssh", "pkcs8", "ppk"):
        again = import_private_key(export_private_key(ours, fmt))
        assert again.public_blob == ours.public_blob
    assert private_key_fields(ours) == private_key_fields(theirs)  # what ssh-add sends


def test_what_it_does_not_read_goes_to_sshcore_keys(tmp_path):
    dsa = _keygen(tmp_path / "dsa", "dsa", [])
    assert hooks.sshcore_load_private_key(dsa, None, None) is None
    assert import_private_key(dsa).key_type == "ssh-dss"
    encrypted = _keygen(tmp_path / "enc", "ed25519", [], passphrase="secret")
    assert hooks.sshcore_load_private_key(encrypted, b"secret", None) is None
    key = import_private_key(encrypted, "secret")
    assert not isinstance(key, OpenSSLKey)
    with pytest.raises(KeyImportError, match="passphrase"):
        import_private_key(encrypted, "wrong")
    plain = _keygen(tmp_path / "plain", "ed25519", [])
    lines = plain.splitlines()
    body = bytearray(b"".join(lines[1:-1]))
    body[40] = ord("A") if body[40] != ord("A") else ord("B")  # corrupt the base64 body
    corrupt = b"\n".join([lines[0], bytes(body), lines[-1]]) + b"\n"
    assert hooks.sshcore_load_private_key(corrupt, None, None) is None
    for bad in (plain.replace(b"OPENSSH PRIVATE KEY-----\n", b"OPENSSH PRIVATE KEY-----\n!", 1),
                plain[: len(plain) // 2] + b"-----END OPENSSH PRIVATE KEY-----\n"):
        assert hooks.sshcore_load_private_key(bad, None, None) is None
        with pytest.raises(KeyImportError):
            import_private_key(bad)


CLIENT = """
import sys
from sshcore.cli import main
code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.startswith(("Crypto.", "cffi", "numpy")))
print("LOADED", loaded)
sys.exit(code)
"""


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa", "rsa"])
def test_client_auth_with_a_key_file_needs_no_pycryptodome(keys, start_sshd, kind):
    sshd = start_sshd()
    args = ["run", "-F", "none", "-p", str(sshd.port), "-i", str(keys.user[kind]),
            "--known-hosts", str(sshd.known_hosts), "-o", "BatchMode=yes",
            "-o", "KexAlgorithms=curve25519-sha256", "-n", "root@127.0.0.1", "echo", "hello"]
    r = subprocess.run([sys.executable, "-c", CLIENT, *args], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr + sshd.log_tail()
    assert r.stdout.splitlines()[0] == "hello"
    assert r.stdout.splitlines()[-1] == "LOADED []"
