"""Loading and using an Ed25519 key imports what Ed25519 needs: not RSA, DSA, bcrypt or
argon2 (the start-up cost of ``sshcore run -i KEY``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

#: Loads the key in a fresh interpreter, signs and verifies with it, then prints which of
#: the modules Ed25519 does not need were imported along the way.
USE_ED25519 = """
import sys
from sshcore.keys import read_private_key
key = read_private_key(sys.argv[1])
assert key.key_type == "ssh-ed25519", key.key_type
sig = key.sign(b"data")
assert key.public_key().verify(b"data", sig)
unneeded = ("Crypto.PublicKey.RSA", "Crypto.PublicKey.DSA", "Crypto.Signature.pkcs1_15",
            "Crypto.IO.PEM", "bcrypt", "argon2")
print(sorted(m for m in unneeded if m in sys.modules))
"""

#: The same for an encrypted key: bcrypt is needed then, RSA and DSA still are not.
USE_ENCRYPTED = USE_ED25519.replace("read_private_key(sys.argv[1])",
                                    "read_private_key(sys.argv[1], 'sesame')")


def _keygen(path: Path, passphrase: str) -> None:
    keygen = shutil.which("ssh-keygen")
    assert keygen, "ssh-keygen is needed for this test"
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", passphrase, "-C", "", "-f", str(path)],
                   check=True, timeout=30, capture_output=True)


def _imported(code: str, path: Path) -> str:
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_unencrypted_ed25519_key_imports_only_what_ed25519_needs(tmp_path: Path) -> None:
    path = tmp_path / "id_ed25519"
    _keygen(path, "")
    assert _imported(USE_ED25519, path) == "[]"


def test_encrypted_ed25519_key_loads_bcrypt_not_other_key_types(tmp_path: Path) -> None:
    path = tmp_path / "id_ed25519"
    _keygen(path, "sesame")
    assert _imported(USE_ENCRYPTED, path) == "['bcrypt']"
