"""PuTTY ``.ppk`` key files (versions 2 and 3, plain and encrypted, every key type PuTTY
has) in both directions against the real ``puttygen``, and a ``.ppk`` identity logging in
to the real sshd."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

import sshcore
from sshcore.errors import KeyPassphraseError
from sshcore.keys import (export_private_key, generate_private_key, import_public_key,
                          read_key_pair, read_private_key)
from sshcore_keys._formats import _private_fields, adopt

from .conftest import USER, need, run_ssh

PASS = "putty pass phrase"
#: puttygen -t/-b for each key type PuTTY has (DSA: 1024 bits, the size ssh-dss keys have)
TYPES = {"ssh-ed25519": ["-t", "ed25519"], "ssh-ed448": ["-t", "ed448"],
         "ecdsa-sha2-nistp256": ["-t", "ecdsa", "-b", "256"],
         "ecdsa-sha2-nistp384": ["-t", "ecdsa", "-b", "384"],
         "ecdsa-sha2-nistp521": ["-t", "ecdsa", "-b", "521"],
         "ssh-rsa": ["-t", "rsa", "-b", "2048"], "ssh-dss": ["-t", "dsa", "-b", "1024"]}
#: fast Argon2 for the tests (puttygen otherwise calibrates the passes to 100 ms)
ARGON = "memory=1024,passes=2,parallelism=1"


def puttygen(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([need("puttygen"), *map(str, args)], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("putty")
    (d / "pass").write_text(PASS)
    (d / "empty").write_text("")
    return d


@pytest.fixture(scope="module")
def putty_keys(secrets_dir):
    """One puttygen-generated unencrypted key per type (re-saved per variant below)."""
    made = {}
    for key_type, args in TYPES.items():
        path = secrets_dir / f"{key_type}.ppk"
        r = puttygen(*args, "-q", "-C", f"made by puttygen {key_type}", "-o", path,
                     "--new-passphrase", secrets_dir / "empty")
        assert r.returncode == 0, r.stderr
        made[key_type] = path
    return made


def same_private(a, b) -> bool:
    """The same private key (RSA: the same primes, in either order, and an equivalent d)."""
    a, b = adopt(a), adopt(b)  # sshcore-keys' objects, whichever plugin read the files
    if a.key_type != "ssh-rsa":
        return _private_fields(a) == _private_fields(b)
    ka, kb = a._key, b._key
    return (a.public_blob == b.public_blob and {ka.p, ka.q} == {kb.p, kb.q}
            and ka.d % (ka.p - 1) == kb.d % (ka.p - 1) and ka.d % (ka.q - 1) == kb.d % (ka.q - 1))


def private_openssh(path: Path, secrets_dir: Path, out: Path) -> Path:
    """puttygen's own OpenSSH export of a .ppk (unencrypted)."""
    r = puttygen(path, "--old-passphrase", secrets_dir / "pass", "-O", "private-openssh-new",
                 "--new-passphrase", secrets_dir / "empty", "-o", out)
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.parametrize("key_type", list(TYPES))
@pytest.mark.parametrize("version", [2, 3])
@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_puttygen_keys_load_and_sign(putty_keys, secrets_dir, tmp_path, key_type, version,
                                     encrypted):
    path = tmp_path / "k.ppk"
    r = puttygen(putty_keys[key_type], "-P", "-O", "private", "-o", path, "--ppk-param", f"version={version},{ARGON}",
                 "--new-passphrase", secrets_dir / ("pass" if encrypted else "empty"))
    assert r.returncode == 0, r.stderr
    text = path.read_text()
    assert text.startswith(f"PuTTY-User-Key-File-{version}: {key_type}\n")
    assert ("Encryption: aes256-cbc" in text) == encrypted
    assert ("Key-Derivation: Argon2id" in text) == (encrypted and version == 3)

    key = read_private_key(path, PASS if encrypted else None)
    assert key.key_type == key_type and key.comment == f"made by puttygen {key_type}"
    # the same key as puttygen's own OpenSSH export of it, private half included
    theirs = read_private_key(private_openssh(path, secrets_dir, tmp_path / "openssh"))
    assert same_private(key, theirs)
    public_line = puttygen(path, "-O", "public-openssh").stdout
    assert public_line.split()[:2] == [key_type, public_line.split()[1]]
    public = import_public_key(public_line)
    assert public.public_blob == key.public_blob
    data = b"signed by a key that puttygen made"
    for alg in key.sig_algorithms():
        assert public.verify(data, key.sign(data, alg), alg), alg
    if encrypted:
        with pytest.raises(KeyPassphraseError, match="wrong passphrase"):
            read_private_key(path, "not the passphrase")
        with pytest.raises(KeyPassphraseError, match="no passphrase"):
            read_private_key(path)


@pytest.mark.parametrize("key_type", list(TYPES))
@pytest.mark.parametrize("fmt", ["ppk", "ppk2"])
@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_our_ppk_files_load_in_puttygen(secrets_dir, tmp_path, key_type, fmt, encrypted):
    bits = {"ssh-rsa": {"bits": 2048}, "ssh-dss": {"bits": 1024}}.get(key_type, {})
    key = generate_private_key(key_type, **bits)
    key.comment = "written by sshcore"
    path = tmp_path / "ours.ppk"
    path.write_bytes(export_private_key(key, fmt, passphrase=PASS if encrypted else None))
    version = 3 if fmt == "ppk" else 2
    assert path.read_text().startswith(f"PuTTY-User-Key-File-{version}: {key_type}\n")
    # puttygen decrypts it, checks its MAC, and writes the key as OpenSSH
    theirs = read_private_key(private_openssh(path, secrets_dir, tmp_path / "openssh"))
    assert same_private(theirs, key)
    assert theirs.comment == "written by sshcore"
    pub = puttygen(path, "-O", "public-openssh")
    assert pub.returncode == 0 and import_public_key(pub.stdout).public_blob == key.public_blob
    if encrypted:  # and puttygen refuses it with another passphrase
        (tmp_path / "wrong").write_text("wrong")
        bad = puttygen(path, "--old-passphrase", tmp_path / "wrong", "-O", "private-openssh-new",
                       "--new-passphrase", secrets_dir / "empty", "-o", tmp_path / "x")
        assert bad.returncode != 0 and "passphrase" in (bad.stderr + bad.stdout).lower()


def sshcore_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sshcore", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def test_cli_generate_convert_and_info_ppk(secrets_dir, tmp_path):
    path = tmp_path / "cli.ppk"
    r = sshcore_cli("keys", "generate", "-t", "ecdsa", "-b", "384", "-m", "ppk", "-N", PASS,
                    "-C", "cli ppk", "-f", path)
    assert r.returncode == 0, r.stderr
    assert path.read_text().startswith("PuTTY-User-Key-File-3: ecdsa-sha2-nistp384\n")
    fp = puttygen(path, "-l", "-E", "sha256").stdout.split()[1:3]  # "TYPE BITS SHA256:..."
    # info reads the public half of the .ppk without its passphrase
    Path(f"{path}.pub").unlink()
    info = sshcore_cli("keys", "info", path)
    assert info.returncode == 0 and info.stdout.split()[:2] == fp and "cli ppk" in info.stdout
    v2 = tmp_path / "v2.ppk"
    conv = sshcore_cli("keys", "convert", path, "--to", "ppk2", "--passphrase", PASS, "-o", v2)
    assert conv.returncode == 0, conv.stderr
    assert v2.read_text().startswith("PuTTY-User-Key-File-2: ecdsa-sha2-nistp384\nEncryption: none")
    assert puttygen(v2, "-l", "-E", "sha256").stdout.split()[1:3] == fp
    back = sshcore_cli("keys", "convert", v2, "--to", "openssh", "-o", tmp_path / "openssh")
    assert back.returncode == 0, back.stderr
    y = subprocess.run(["ssh-keygen", "-y", "-f", str(tmp_path / "openssh")], capture_output=True,
                       text=True, timeout=60)
    assert y.returncode == 0 and y.stdout.split()[:2] == puttygen(path, "-L").stdout.split()[:2]


def test_ppk_identity_logs_in_to_sshd(start_sshd, keys, putty_keys, secrets_dir, tmp_path):
    """`sshcore run -i key.ppk` (encrypted, version 3) authenticates to the real sshd."""
    path = tmp_path / "id.ppk"
    r = puttygen(putty_keys["ssh-ed25519"], "-P", "-O", "private", "-o", path, "--ppk-param", f"version=3,{ARGON}",
                 "--new-passphrase", secrets_dir / "pass")
    assert r.returncode == 0, r.stderr
    auth = tmp_path / "authorized_keys"
    auth.write_text(puttygen(path, "-L").stdout)
    sshd = start_sshd(AuthorizedKeysFile=str(auth))
    askpass = tmp_path / "askpass.sh"  # the passphrase is asked for as for OpenSSH keys
    askpass.write_text(f"#!/bin/sh\necho '{PASS}'\n")
    askpass.chmod(0o700)
    run = subprocess.run([sys.executable, "-m", "sshcore", "run", "-p", str(sshd.port), "-i", str(path),
                          "--known-hosts", str(sshd.known_hosts), f"{USER}@127.0.0.1",
                          "echo ppk-login-ok"], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force"))
    assert run.returncode == 0 and run.stdout == "ppk-login-ok\n", (run.stderr, sshd.log_tail())
    # and OpenSSH's own client with the key puttygen exported logs in the same way
    openssh = private_openssh(path, secrets_dir, tmp_path / "id_openssh")
    openssh.chmod(0o600)
    assert run_ssh(sshd.port, "true", identity=openssh).returncode == 0


def test_ppk_with_embedded_certificate(start_sshd, putty_keys, secrets_dir, tmp_path):
    """PuTTY 0.78+ keeps a certificate inside the .ppk (puttygen --certificate): read, it
    logs in to sshd (TrustedUserCAKeys) as the certificate; written, puttygen reads it."""
    ca = tmp_path / "ca"
    subprocess.run([need("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-f", str(ca)],
                   check=True, timeout=60)
    pub = tmp_path / "user.pub"
    pub.write_text(puttygen(putty_keys["ssh-ed25519"], "-L").stdout)
    subprocess.run([need("ssh-keygen"), "-q", "-s", str(ca), "-I", "ppk-cert", "-n", USER,
                    str(pub)], check=True, timeout=60)
    path = tmp_path / "with-cert.ppk"
    r = puttygen(putty_keys["ssh-ed25519"], "--certificate", tmp_path / "user-cert.pub",
                 "-O", "private", "-o", path, "--ppk-param", f"version=3,{ARGON}",
                 "--new-passphrase", secrets_dir / "pass")
    assert r.returncode == 0, r.stderr
    assert path.read_text().startswith("PuTTY-User-Key-File-3: ssh-ed25519-cert-v01@openssh.com")
    pair = read_key_pair(path, PASS)
    assert pair.cert.key_id == "ppk-cert" and pair.cert.principals == [USER]
    assert import_public_key(path.read_bytes()).key_type == "ssh-ed25519-cert-v01@openssh.com"
    empty = tmp_path / "no_authorized_keys"
    empty.write_text("")
    sshd = start_sshd(TrustedUserCAKeys=f"{ca}.pub", AuthorizedKeysFile=str(empty))

    async def main():
        async with sshcore.connect("127.0.0.1", sshd.port, client_keys=[pair], agent_path=None,
                                   known_hosts=str(sshd.known_hosts), config=None) as conn:
            return (await conn.run("echo cert-ppk")).stdout

    assert asyncio.run(asyncio.wait_for(main(), 60)) == "cert-ppk\n", sshd.log_tail()
    assert "ID ppk-cert" in sshd.log.read_text()
    ours = tmp_path / "ours-with-cert.ppk"
    ours.write_bytes(export_private_key(pair, "ppk2", passphrase=PASS))
    info = puttygen(ours, "--old-passphrase", secrets_dir / "pass", "-O", "cert-info")
    assert info.returncode == 0 and "Certificate ID string: ppk-cert" in info.stdout, info.stderr
