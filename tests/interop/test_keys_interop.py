"""Key files against OpenSSH: every ssh-keygen type x format x encryption signs in to sshd,
``sshcore keys`` output matches ssh-keygen, and ``sshcore run -i`` asks for passphrases."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

import sshcore

pytestmark = pytest.mark.interop

TYPES = [("ed25519", []), ("ecdsa", ["-b", "256"]), ("ecdsa", ["-b", "384"]),
         ("ecdsa", ["-b", "521"]), ("rsa", ["-b", "2048"]), ("dsa", [])]
FORMATS = [("openssh", []), ("PEM", ["-m", "PEM"]), ("PKCS8", ["-m", "PKCS8"])]
# ssh-keygen writes Ed25519 in the OpenSSH format whatever -m says; DSA is off in sshd
# by default (PubkeyAcceptedAlgorithms below turns it on)
COMBOS = [(t, e, f, fa, pw) for t, e in TYPES for f, fa in FORMATS for pw in ("", "pass phrase")
          if t != "ed25519" or f == "openssh"]


@pytest.fixture(scope="module")
def keygen_keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keygen")
    made = {}
    for key_type, extra, fmt, fmt_args, pw in COMBOS:
        name = f"{key_type}{''.join(extra)}-{fmt}-{'enc' if pw else 'plain'}"
        subprocess.run(["ssh-keygen", "-q", "-t", key_type, *extra, *fmt_args, "-N", pw, "-C", name,
                        "-f", str(d / name)], check=True, timeout=60)
        made[name] = (d / name, pw)
    auth = d / "authorized_keys"
    auth.write_text("".join(Path(f"{p}.pub").read_text() for p, _ in made.values()))
    return made, auth


def test_every_ssh_keygen_key_signs_in_to_sshd(start_sshd, keygen_keys):
    made, auth = keygen_keys
    sshd = start_sshd(AuthorizedKeysFile=str(auth),
                      PubkeyAcceptedAlgorithms="+ssh-dss", HostKeyAlgorithms="+ssh-dss")

    async def main():
        results = {}
        for name, (path, pw) in made.items():
            key = sshcore.read_private_key(path, pw or None)
            async with sshcore.connect("127.0.0.1", sshd.port, client_keys=[key], password=None,
                                       known_hosts=str(sshd.known_hosts),
                                       signature_algs=key.sig_algorithms()) as conn:
                results[name] = (await conn.run("echo $SSH_CONNECTION | wc -w")).stdout.strip()
        return results

    results = asyncio.run(asyncio.wait_for(main(), 120))
    assert results == {name: "4" for name in made}
    log = sshd.log.read_text(errors="replace")
    accepted = [line for line in log.splitlines() if "Accepted publickey for" in line]
    assert len(accepted) == len(made)
    for label in ("ED25519", "ECDSA", "RSA", "DSA"):
        assert any(f"ssh2: {label} SHA256:" in line for line in accepted), label


def sshcore_cli(*args, env=None, input=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "sshcore", *map(str, args)], capture_output=True,
                          text=True, env=env, input=input, timeout=timeout)


GENERATE = [("ed25519", None, "openssh"), ("ecdsa", 256, "pkcs1"), ("ecdsa", 521, "pkcs8"),
            ("rsa", 2048, "openssh"), ("rsa", 2048, "pkcs1"), ("dsa", None, "pkcs8"),
            ("ecdsa", 384, "openssh")]


@pytest.mark.parametrize("key_type,bits,fmt", GENERATE)
@pytest.mark.parametrize("passphrase", ["", "pw 1"], ids=["plain", "encrypted"])
def test_keys_generate_and_info_match_ssh_keygen(tmp_path, key_type, bits, fmt, passphrase):
    path = tmp_path / "key"
    args = ["keys", "generate", "-t", key_type, "-f", path, "-m", fmt, "-N", passphrase,
            "-C", "cli comment"] + (["-b", bits] if bits else [])
    r = sshcore_cli(*args)
    assert r.returncode == 0, r.stderr
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    theirs = subprocess.run(["ssh-keygen", "-l", "-f", f"{path}.pub"], capture_output=True,
                            text=True, check=True).stdout
    ours = sshcore_cli("keys", "info", path)
    assert ours.returncode == 0 and ours.stdout == theirs, (ours.stdout, ours.stderr, theirs)
    md5 = sshcore_cli("keys", "info", "-E", "md5", path).stdout
    assert md5 == subprocess.run(["ssh-keygen", "-l", "-E", "md5", "-f", f"{path}.pub"],
                                 capture_output=True, text=True, check=True).stdout
    pub = subprocess.run(["ssh-keygen", "-y", "-P", passphrase, "-f", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert pub.returncode == 0, pub.stderr
    assert pub.stdout.split()[:2] == Path(f"{path}.pub").read_text().split()[:2]
    # again without the .pub file: info reads the private key (with its passphrase)
    os.unlink(f"{path}.pub")
    again = sshcore_cli("keys", "info", path, *(["--passphrase", passphrase] if passphrase else []))
    assert again.returncode == 0 and again.stdout.split()[:2] == theirs.split()[:2], again.stderr
    if passphrase:
        denied = sshcore_cli("keys", "info", path, "--passphrase", "wrong")
        assert denied.returncode == 255 and "wrong passphrase" in denied.stderr


def test_keys_generate_refuses_to_overwrite(tmp_path):
    path = tmp_path / "k"
    assert sshcore_cli("keys", "generate", "-f", path, "-C", "x").returncode == 0
    before = path.read_bytes()
    r = sshcore_cli("keys", "generate", "-f", path)
    assert r.returncode == 255 and "already exists" in r.stderr and path.read_bytes() == before
    assert sshcore_cli("keys", "generate", "-f", path, "--force").returncode == 0
    assert path.read_bytes() != before


def test_keys_convert_both_ways_with_ssh_keygen(tmp_path):
    src = tmp_path / "src"
    subprocess.run(["ssh-keygen", "-q", "-t", "ecdsa", "-N", "old pw", "-C", "conv", "-f", str(src)],
                   check=True, timeout=60)
    want = Path(f"{src}.pub").read_text().split()[:2]
    for fmt, marker in (("pkcs8", "BEGIN ENCRYPTED PRIVATE KEY"), ("pkcs1", "Proc-Type: 4,ENCRYPTED"),
                        ("openssh", "BEGIN OPENSSH PRIVATE KEY")):
        out = tmp_path / f"as-{fmt}"
        r = sshcore_cli("keys", "convert", src, "--to", fmt, "--passphrase", "old pw",
                        "--new-passphrase", "new pw", "-o", out)
        assert r.returncode == 0, r.stderr
        assert marker in out.read_text()
        y = subprocess.run(["ssh-keygen", "-y", "-P", "new pw", "-f", str(out)], capture_output=True,
                           text=True, timeout=60)
        assert y.returncode == 0 and y.stdout.split()[:2] == want, (fmt, y.stderr)
    rfc = sshcore_cli("keys", "convert", src, "--to", "rfc4716", "--public")
    assert rfc.returncode == 0 and rfc.stdout.startswith("---- BEGIN SSH2 PUBLIC KEY ----")
    (tmp_path / "rfc").write_text(rfc.stdout)
    imported = subprocess.run(["ssh-keygen", "-i", "-f", str(tmp_path / "rfc")], capture_output=True,
                              text=True, check=True).stdout
    assert imported.split()[:2] == want
    refused = sshcore_cli("keys", "convert", src, "--to", "rfc4716")
    assert refused.returncode == 255 and "--public" in refused.stderr


@pytest.mark.parametrize("fmt_args", [[], ["-m", "PKCS8"], ["-m", "PEM"]], ids=["openssh", "pkcs8", "pem"])
def test_run_i_asks_for_the_passphrase(start_sshd, keys, tmp_path, fmt_args):
    """sshcore run -i with an encrypted key: the passphrase comes from SSH_ASKPASS, as with
    ssh; a wrong one is asked again, then the run fails."""
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", *fmt_args, "-N", "open sesame",
                    "-C", "enc", "-f", str(key)], check=True, timeout=60)
    auth = tmp_path / "authorized_keys"
    auth.write_text(Path(f"{key}.pub").read_text())
    sshd = start_sshd(AuthorizedKeysFile=str(auth))
    log = tmp_path / "asked"

    def askpass(answer):
        script = tmp_path / "askpass.sh"
        script.write_text(f"#!/bin/sh\necho \"$1\" >> {log}\necho '{answer}'\n")
        script.chmod(0o700)
        return dict(os.environ, SSH_ASKPASS=str(script), SSH_ASKPASS_REQUIRE="force")

    base = ["run", "-p", sshd.port, "-i", key, "--known-hosts", sshd.known_hosts, "127.0.0.1"]
    ok = sshcore_cli(*base, "echo key-ok", env=askpass("open sesame"))
    assert ok.returncode == 0 and ok.stdout == "key-ok\n", ok.stderr
    assert log.read_text() == f"Enter passphrase for key '{key}': \n"
    log.unlink()
    bad = sshcore_cli(*base, "echo no", env=askpass("wrong"))
    assert bad.returncode == 255 and "wrong passphrase" in bad.stderr, bad.stderr
    assert log.read_text().count("Enter passphrase") == 3
