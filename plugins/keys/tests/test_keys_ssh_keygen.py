"""Keys and key files against the real ssh-keygen, and signatures checked independently."""

from __future__ import annotations

import subprocess

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from sshcore.wire import SSHReader
from sshcore.errors import KeyImportError
from sshcore.keys import (export_private_key, export_public_key, generate_private_key,
                          import_private_key, import_public_key, read_private_key, read_public_key)
from sshcore_keys import fingerprint
from sshcore_keys._formats import export_rfc4716

TYPES = [("ed25519", []), ("ecdsa", ["-b", "256"]), ("ecdsa", ["-b", "384"]), ("ecdsa", ["-b", "521"]),
         ("rsa", ["-b", "2048"]), ("dsa", [])]
FORMATS = [("openssh", []), ("PEM", ["-m", "PEM"]), ("PKCS8", ["-m", "PKCS8"])]


def keygen(path, key_type, extra, passphrase=""):
    subprocess.run(["ssh-keygen", "-q", "-t", key_type, *extra, "-N", passphrase, "-C", "a comment",
                    "-f", str(path)], check=True, timeout=60)
    return path


def verify_independently(pub_line: bytes, data: bytes, sig_blob: bytes) -> None:
    """Check an SSH signature with `cryptography`, not with our own code."""
    key = serialization.load_ssh_public_key(pub_line)
    r = SSHReader(sig_blob)
    alg, sig = r.text("ascii"), r.string()
    if isinstance(key, ed25519.Ed25519PublicKey):
        key.verify(sig, data)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        rs = SSHReader(sig)
        der = encode_dss_signature(rs.mpint(), rs.mpint())
        h = {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}[key.curve.key_size]
        key.verify(der, data, ec.ECDSA(h))
    elif isinstance(key, rsa.RSAPublicKey):
        h = {"rsa-sha2-256": hashes.SHA256(), "rsa-sha2-512": hashes.SHA512(), "ssh-rsa": hashes.SHA1()}[alg]
        key.verify(sig, data, padding.PKCS1v15(), h)
    elif isinstance(key, dsa.DSAPublicKey):
        der = encode_dss_signature(int.from_bytes(sig[:20], "big"), int.from_bytes(sig[20:], "big"))
        key.verify(der, data, hashes.SHA1())
    else:  # pragma: no cover
        raise AssertionError(type(key))


# ssh-keygen writes Ed25519 keys only in the OpenSSH format.
MATRIX = [pytest.param(t, e, f, fa, id=f"{t}{''.join(e)}-{f}") for t, e in TYPES for f, fa in FORMATS
          if t != "ed25519" or f == "openssh"]


@pytest.mark.parametrize("key_type,extra,fmt,fmt_args", MATRIX)
@pytest.mark.parametrize("passphrase", ["", "correct horse"], ids=["plain", "encrypted"])
def test_ssh_keygen_keys_load_and_sign(tmp_path, key_type, extra, fmt, fmt_args, passphrase):
    path = keygen(tmp_path / "k", key_type, extra + fmt_args, passphrase)
    key = read_private_key(path, passphrase or None)
    pub_line = (tmp_path / "k.pub").read_bytes()
    assert key.public_blob == read_public_key(tmp_path / "k.pub").public_blob
    printed = subprocess.run(["ssh-keygen", "-l", "-f", str(path) + ".pub"], capture_output=True,
                             text=True, check=True).stdout.split()
    assert fingerprint(key) == printed[1]
    for alg in key.sig_algorithms():
        sig = key.sign(b"data to sign", alg)
        verify_independently(pub_line, b"data to sign", sig)
        assert key.verify(b"data to sign", sig, alg)
        assert not key.verify(b"other data", sig, alg)


@pytest.mark.parametrize("key_type", ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp521",
                                      "ssh-rsa"])
@pytest.mark.parametrize("passphrase", [None, "pw"])
def test_our_keys_load_in_ssh_keygen(tmp_path, key_type, passphrase):
    key = generate_private_key(key_type, bits=2048) if key_type == "ssh-rsa" else generate_private_key(key_type)
    path = tmp_path / "ours"
    path.write_bytes(export_private_key(key, "openssh", passphrase=passphrase))
    path.chmod(0o600)
    out = subprocess.run(["ssh-keygen", "-y", "-P", passphrase or "", "-f", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert import_public_key(out.stdout).public_blob == key.public_blob
    (tmp_path / "ours.pub").write_text(out.stdout)
    for hash_name, flag in (("sha256", "sha256"), ("md5", "md5")):
        printed = subprocess.run(["ssh-keygen", "-l", "-E", flag, "-f", str(tmp_path / "ours.pub")],
                                 capture_output=True, text=True, check=True).stdout.split()
        assert fingerprint(key, hash_name) == printed[1]
    assert read_private_key(path, passphrase).public_blob == key.public_blob


def test_rfc4716_round_trip_with_ssh_keygen(tmp_path):
    key = generate_private_key("ssh-ed25519")
    (tmp_path / "k.rfc").write_bytes(export_rfc4716(key, "my comment"))
    out = subprocess.run(["ssh-keygen", "-i", "-f", str(tmp_path / "k.rfc")], capture_output=True,
                         text=True, check=True).stdout
    assert import_public_key(out).public_blob == key.public_blob
    path = keygen(tmp_path / "e", "ed25519", [])
    rfc = subprocess.run(["ssh-keygen", "-e", "-m", "RFC4716", "-f", str(path) + ".pub"],
                         capture_output=True, check=True).stdout
    assert import_public_key(rfc).public_blob == read_public_key(str(path) + ".pub").public_blob


def test_errors_name_the_file_and_the_reason(tmp_path):
    path = keygen(tmp_path / "enc", "ed25519", [], "right")
    with pytest.raises(KeyImportError, match=r"enc: wrong passphrase"):
        read_private_key(path, "wrong")
    with pytest.raises(KeyImportError, match=r"enc: key is encrypted"):
        read_private_key(path)
    text = path.read_bytes()
    (tmp_path / "trunc").write_bytes(text[: len(text) // 2])
    with pytest.raises(KeyImportError, match="trunc"):
        read_private_key(tmp_path / "trunc", "right")
    (tmp_path / "notakey").write_text("hello world\n")
    with pytest.raises(KeyImportError, match="notakey"):
        read_private_key(tmp_path / "notakey")
    with pytest.raises(KeyImportError, match="missing"):
        read_private_key(tmp_path / "missing")


def test_malformed_signatures_rejected():
    key = generate_private_key("ssh-ed25519")
    good = key.sign(b"m")
    r = SSHReader(good)
    alg, raw = r.text("ascii"), r.string()
    from sshcore.wire import string
    assert key.verify(b"m", good)
    assert not key.verify(b"m", good + b"\x00")                          # trailing bytes
    assert not key.verify(b"m", string(alg) + string(raw[:-1]))           # wrong length
    assert not key.verify(b"m", string("ssh-rsa") + string(raw))          # wrong algorithm
    assert not key.verify(b"m", good, "rsa-sha2-256")
    tampered = bytearray(good)
    tampered[-1] ^= 1
    assert not key.verify(b"m", bytes(tampered))


@pytest.mark.parametrize("cipher", ["aes256-ctr", "aes256-cbc", "aes256-gcm@openssh.com",
                                    "chacha20-poly1305@openssh.com"])
def test_ssh_keygen_key_ciphers_both_ways(tmp_path, cipher):
    """ssh-keygen -Z CIPHER keys load here; ours written with CIPHER load in ssh-keygen."""
    path = keygen(tmp_path / "theirs", "ed25519", ["-Z", cipher], "pass phrase")
    assert f"b'{cipher}'" in repr(_cipher_of(path))
    key = read_private_key(path, "pass phrase")
    assert key.public_blob == read_public_key(str(path) + ".pub").public_blob
    with pytest.raises(KeyImportError, match="wrong passphrase"):
        read_private_key(path, "other")
    ours = tmp_path / "ours"
    ours.write_bytes(export_private_key(key, "openssh", passphrase="pw2", cipher=cipher))
    ours.chmod(0o600)
    assert _cipher_of(ours) == cipher.encode()
    out = subprocess.run(["ssh-keygen", "-y", "-P", "pw2", "-f", str(ours)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert import_public_key(out.stdout).public_blob == key.public_blob


def _cipher_of(path):
    import base64

    text = path.read_text().splitlines()
    raw = base64.b64decode("".join(text[1:-1]))
    return SSHReader(raw, len(b"openssh-key-v1\0")).string()


OUR_TYPES = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
             "ssh-rsa", "ssh-dss"]


# Ed25519 has no PKCS#1 form (the refusal is tested below)
@pytest.mark.parametrize("key_type,fmt", [(t, f) for t in OUR_TYPES for f in ("openssh", "pkcs1", "pkcs8")
                                          if (t, f) != ("ssh-ed25519", "pkcs1")])
@pytest.mark.parametrize("passphrase", [None, "s3cret"], ids=["plain", "encrypted"])
def test_our_pem_keys_load_in_ssh_keygen(tmp_path, key_type, fmt, passphrase):
    key = generate_private_key(key_type, bits=2048) if key_type == "ssh-rsa" else generate_private_key(key_type)
    path = tmp_path / "ours"
    data = export_private_key(key, fmt, passphrase=passphrase)
    if fmt == "pkcs1" and passphrase:
        assert b"Proc-Type: 4,ENCRYPTED" in data
    if fmt == "pkcs8" and passphrase:
        assert b"BEGIN ENCRYPTED PRIVATE KEY" in data
    path.write_bytes(data)
    path.chmod(0o600)
    assert read_private_key(path, passphrase).public_blob == key.public_blob
    if key_type == "ssh-ed25519" and fmt == "pkcs8":
        # OpenSSH 9.2's ssh-keygen reads no PEM Ed25519 keys (9.6 does): check with OpenSSL's
        theirs = serialization.load_pem_private_key(data, passphrase.encode() if passphrase else None)
        line = theirs.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                                serialization.PublicFormat.OpenSSH)
        assert import_public_key(line).public_blob == key.public_blob
        return
    out = subprocess.run(["ssh-keygen", "-y", "-P", passphrase or "", "-f", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert import_public_key(out.stdout).public_blob == key.public_blob


@pytest.mark.parametrize("key_type", OUR_TYPES)
@pytest.mark.parametrize("passphrase", [None, "s3cret"], ids=["plain", "encrypted"])
def test_our_der_keys_load_in_cryptography(key_type, passphrase):
    key = generate_private_key(key_type, bits=2048) if key_type == "ssh-rsa" else generate_private_key(key_type)
    fmts = ["pkcs8-der"] + (["pkcs1-der"] if key_type != "ssh-ed25519" and not passphrase else [])
    for fmt in fmts:
        data = export_private_key(key, fmt, passphrase=passphrase)
        theirs = serialization.load_der_private_key(data, passphrase.encode() if passphrase else None)
        line = theirs.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                                serialization.PublicFormat.OpenSSH)
        assert import_public_key(line).public_blob == key.public_blob
        assert import_private_key(data, passphrase).public_blob == key.public_blob


def test_pkcs1_refusals_are_precise():
    ed = generate_private_key("ssh-ed25519")
    with pytest.raises(KeyImportError, match="no PKCS#1 form"):
        export_private_key(ed, "pkcs1")
    ec = generate_private_key("ecdsa-sha2-nistp256")
    with pytest.raises(KeyImportError, match="cannot be encrypted"):
        export_private_key(ec, "pkcs1-der", passphrase="x")
    with pytest.raises(KeyImportError, match="available: .*pkcs8"):
        export_private_key(ec, "jks")


@pytest.mark.parametrize("key_type", ["ssh-rsa", "ecdsa-sha2-nistp384", "ssh-ed25519", "ssh-dss"])
def test_public_pem_both_ways_with_ssh_keygen(tmp_path, key_type):
    key = generate_private_key(key_type, bits=2048) if key_type == "ssh-rsa" else generate_private_key(key_type)
    # ssh-keygen -m PEM is RSA's PKCS#1 only; -m PKCS8 is RSA, DSA and ECDSA
    forms = [("pkcs8", "PKCS8")] if key_type != "ssh-ed25519" else []
    if key_type == "ssh-rsa":
        forms.append(("pkcs1", "PEM"))
        assert export_public_key(key, "pkcs1").startswith(b"-----BEGIN RSA PUBLIC KEY-----")
    for fmt, m in forms:
        (tmp_path / fmt).write_bytes(export_public_key(key, fmt))
        out = subprocess.run(["ssh-keygen", "-i", "-m", m, "-f", str(tmp_path / fmt)],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, (fmt, out.stderr)
        assert import_public_key(out.stdout).public_blob == key.public_blob
        (tmp_path / "k.pub").write_bytes(export_public_key(key, "openssh"))
        exported = subprocess.run(["ssh-keygen", "-e", "-m", m, "-f", str(tmp_path / "k.pub")],
                                  capture_output=True, check=True, timeout=60).stdout
        assert import_public_key(exported).public_blob == key.public_blob
    der = export_public_key(key, "pkcs8-der")
    assert import_public_key(der).public_blob == key.public_blob
    theirs = serialization.load_der_public_key(der)
    line = theirs.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    assert import_public_key(line).public_blob == key.public_blob


def test_malformed_ecdsa_and_rsa_signatures_rejected():
    from sshcore.wire import mpint, string

    key = generate_private_key("ecdsa-sha2-nistp256")
    good = key.sign(b"m")
    r = SSHReader(good)
    alg, inner = r.text("ascii"), r.string()
    ir = SSHReader(inner)
    rr, ss = ir.mpint(), ir.mpint()
    assert key.verify(b"m", good)
    padded = string(alg) + string(string(b"\0\0" + rr.to_bytes(33, "big").lstrip(b"\0").rjust(33, b"\0"))
                                  + mpint(ss))
    assert not key.verify(b"m", padded)                                     # non-minimal mpint
    assert not key.verify(b"m", string(alg) + string(inner + b"\0"))        # trailing bytes
    assert not key.verify(b"m", string(alg) + string(mpint(-rr) + mpint(ss)))  # negative r
    rsa = generate_private_key("ssh-rsa", bits=2048)
    sig = rsa.sign(b"m", "rsa-sha2-256")
    r = SSHReader(sig)
    alg, raw = r.text("ascii"), r.string()
    assert not rsa.verify(b"m", string(alg) + string(b"\0" + raw))          # longer than modulus
    assert not rsa.verify(b"m", sig, "rsa-sha2-512")                        # other algorithm


def test_certificate_parsing_and_tampering(tmp_path):
    import base64
    import time

    from sshcore_keys._certs import HOST_CERT, USER_CERT, CertificateError, SSHCertificate

    ca = keygen(tmp_path / "ca", "ed25519", [])
    user = keygen(tmp_path / "u", "ecdsa", ["-b", "384"])
    subprocess.run(["ssh-keygen", "-q", "-s", str(ca), "-I", "key-id-1", "-n", "alice,bob",
                    "-V", "20200101:20991231", "-O", "force-command=/bin/true", "-z", "42",
                    str(user) + ".pub"], check=True, timeout=60)
    line = (tmp_path / "u-cert.pub").read_text().split()
    cert = read_public_key(tmp_path / "u-cert.pub")
    assert isinstance(cert, SSHCertificate)
    assert (cert.key_type, cert.serial, cert.key_id, cert.principals) == (
        "ecdsa-sha2-nistp384-cert-v01@openssh.com", 42, "key-id-1", ["alice", "bob"])
    assert cert.critical_options == {"force-command": "/bin/true"}
    assert "permit-pty" in cert.extensions
    assert cert.key.public_blob == read_public_key(str(user) + ".pub").public_blob
    assert cert.ca.public_blob == read_public_key(str(ca) + ".pub").public_blob
    assert cert.problem(USER_CERT, "alice") is None
    assert "not valid for 'carol'" in cert.problem(USER_CERT, "carol")
    assert "not a host certificate" in cert.problem(HOST_CERT, None)
    assert "expired" in cert.problem(USER_CERT, None, now=time.mktime((2100, 1, 1, 0, 0, 0, 0, 0, -1)))
    blob = bytearray(base64.b64decode(line[1]))
    i = blob.index(b"key-id-1")
    blob[i] ^= 1  # "jey-id-1": the CA signature no longer matches
    assert "signature" in SSHCertificate(bytes(blob)).problem(USER_CERT, None)
    with pytest.raises(CertificateError):
        SSHCertificate(bytes(blob[:-10]))
