"""sign_certificate, ssh-keygen -V validity and -O options (the real ssh-keygen/sshd/ssh
checks of issued certificates are in tests/interop/test_cert_authority.py)."""

from __future__ import annotations

import calendar

import pytest

from sshcore.errors import ConfigurationError, KeyImportError
from sshcore.keys import (HOST_CERT, USER_CERT, generate_private_key, parse_cert_options,
                          parse_validity, sign_certificate)

NOW = 1_800_000_000


def test_validity_forms():
    assert parse_validity("always:forever", NOW) == (0, (1 << 64) - 1)
    assert parse_validity("+52w", NOW) == (NOW, NOW + 52 * 604800)
    assert parse_validity("-5m:+1w2d3h", NOW) == (NOW - 300, NOW + 604800 + 2 * 86400 + 3 * 3600)
    start = calendar.timegm((2030, 1, 2, 3, 4, 5, 0, 0, -1))
    assert parse_validity("20300102030405Z:forever", NOW) == (start, (1 << 64) - 1)
    assert parse_validity("-1d:20300102Z", NOW)[1] == calendar.timegm((2030, 1, 2, 0, 0, 0, 0, 0, -1))
    for bad in ("soon", "+", "+5y", "2030:forever", "always", "forever:always"):
        with pytest.raises(ConfigurationError):
            parse_validity(bad, NOW)


def test_cert_options():
    critical, ext = parse_cert_options(["no-pty", "force-command=ls", "verify-required"])
    assert critical == {"force-command": "ls", "verify-required": ""}
    assert "permit-pty" not in ext and "permit-agent-forwarding" in ext
    critical, ext = parse_cert_options(["clear", "permit-pty", "extension:x@y=v", "critical:c=d"])
    assert ext == {"permit-pty": "", "x@y": "v"} and critical == {"c": "d"}
    assert parse_cert_options([], HOST_CERT) == ({}, {})
    for bad in (["nonsense"], ["no-pty=1"], ["force-command=a", "force-command=b"]):
        with pytest.raises(ConfigurationError):
            parse_cert_options(bad)
    with pytest.raises(ConfigurationError, match="host certificates"):
        parse_cert_options(["force-command=x"], HOST_CERT)


@pytest.mark.parametrize("ca_type,key_type", [("ssh-ed25519", "ssh-rsa"),
                                              ("ssh-rsa", "ecdsa-sha2-nistp521"),
                                              ("ecdsa-sha2-nistp256", "ssh-dss"),
                                              ("ssh-dss", "ssh-ed25519")])
def test_issued_certificates_check_out(ca_type, key_type):
    ca = generate_private_key(ca_type, **({"bits": 1024} if ca_type == "ssh-dss" else {}))
    key = generate_private_key(key_type, **({"bits": 2048} if key_type == "ssh-rsa" else {}))
    cert = sign_certificate(ca, key.public_key(), key_id="k", principals=["u"], serial=9,
                            valid_after=NOW - 10, valid_before=NOW + 10,
                            critical_options={"source-address": "127.0.0.1"})
    assert cert.key_type == f"{key_type}-cert-v01@openssh.com"
    assert cert.key.public_blob == key.public_blob and cert.ca.public_blob == ca.public_blob
    assert (cert.serial, cert.key_id, cert.principals) == (9, "k", ["u"])
    assert cert.critical_options == {"source-address": "127.0.0.1"}
    assert "permit-pty" in cert.extensions
    if ca_type == "ssh-dss":  # a DSA signature is SHA-1: refused as OpenSSH refuses it
        assert not cert.ca_signature_valid()
        return
    assert cert.problem(USER_CERT, "u", now=NOW) is None
    assert "expired" in cert.problem(USER_CERT, "u", now=NOW + 10)
    assert "host certificate" in cert.problem(HOST_CERT, "u", now=NOW)
    if ca_type == "ssh-rsa":
        assert cert.signature[4:16] == b"rsa-sha2-512"


def test_sign_certificate_refuses():
    ca = generate_private_key("ssh-ed25519")
    key = generate_private_key("ssh-ed25519")
    with pytest.raises(KeyImportError, match="private key"):
        sign_certificate(ca.public_key(), key, key_id="x")
    with pytest.raises(ConfigurationError, match="never be valid"):
        sign_certificate(ca, key, key_id="x", valid_after=5, valid_before=5)
    with pytest.raises(ConfigurationError, match="cannot sign with"):
        sign_certificate(ca, key, key_id="x", signature_algorithm="rsa-sha2-256")
    cert = sign_certificate(ca, key, key_id="x", cert_type=HOST_CERT, principals=["h"])
    assert cert.extensions == {}
    with pytest.raises(KeyImportError, match="cannot certify a certificate"):
        sign_certificate(ca, cert, key_id="x")
    # OpenSSH defines no Ed448 certificate type
    with pytest.raises(KeyImportError, match="unknown public key type 'ssh-ed448-cert"):
        sign_certificate(ca, generate_private_key("ssh-ed448"), key_id="x")
