"""Security keys (FIDO, OpenSSH's PROTOCOL.u2f): ``sk-ssh-ed25519@openssh.com`` and
``sk-ecdsa-sha2-nistp256@openssh.com`` keys and certificates.

No token is plugged in here: a software token made in this file with ``cryptography``
(not sshcore's code) signs exactly as a token does, ``SHA256(application) || flags ||
counter || SHA256(message)``, and lays the signature out as PROTOCOL.u2f says.  The real
sshd accepting those signatures shows the layout is OpenSSH's; our server must then
verify them the same way, flags and application included."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import sshcore
from sshcore.keys import (CertifiedKey, KnownHosts, import_public_key, read_certificate,
                          sign_certificate)

from .conftest import USER, ServerThread, keygen, need

pytestmark = pytest.mark.interop


def _string(b: bytes | str) -> bytes:
    b = b.encode() if isinstance(b, str) else b
    return struct.pack(">I", len(b)) + b


def _mpint(n: int) -> bytes:
    raw = n.to_bytes((n.bit_length() + 8) // 8, "big") if n else b""
    return _string(raw)


class SoftToken:
    """A FIDO authenticator in software: its key never leaves it, it signs the token
    message with the flags and counter it is told to use (and, to test refusals, maybe
    for another application than the key's)."""

    def __init__(self, kind: str, application: str = "ssh:", flags: int = 0x01) -> None:
        self.kind, self.application, self.flags = kind, application, flags
        self.sign_application = application
        self.counter = 0
        self.comment = f"soft {kind} token"
        if kind == "ed25519":
            self.key_type = "sk-ssh-ed25519@openssh.com"
            self._priv: object = ed25519.Ed25519PrivateKey.generate()
            pub = self._priv.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            self.public_blob = _string(self.key_type) + _string(pub) + _string(application)
        else:
            self.key_type = "sk-ecdsa-sha2-nistp256@openssh.com"
            self._priv = ec.generate_private_key(ec.SECP256R1())
            point = self._priv.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
            self.public_blob = (_string(self.key_type) + _string("nistp256") + _string(point)
                                + _string(application))

    has_private = True

    def sig_algorithms(self) -> list[str]:
        return [self.key_type]

    def line(self, options: str = "") -> str:
        text = f"{self.key_type} {base64.b64encode(self.public_blob).decode()} {self.comment}"
        return f"{options} {text}".strip() + "\n"

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        self.counter += 1
        signed = (hashlib.sha256(self.sign_application.encode()).digest() + bytes([self.flags])
                  + struct.pack(">I", self.counter) + hashlib.sha256(data).digest())
        if self.kind == "ed25519":
            token_sig = self._priv.sign(signed)
        else:
            r, s = decode_dss_signature(self._priv.sign(signed, ec.ECDSA(hashes.SHA256())))
            token_sig = _mpint(r) + _mpint(s)
        return (_string(self.key_type) + _string(token_sig) + bytes([self.flags])
                + struct.pack(">I", self.counter))


def go(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def login(port: int, key, known_hosts=None, **options):
    async with sshcore.connect("127.0.0.1", port, client_keys=[key], known_hosts=known_hosts,
                               agent_path=None, config=None, **options) as conn:
        return (await conn.run("echo sk-ok")).stdout


def refused(port: int, key) -> bool:
    try:
        go(login(port, key))
    except sshcore.PermissionDeniedError:
        return True
    return False


KINDS = ["ed25519", "ecdsa"]


@pytest.mark.parametrize("kind", KINDS)
def test_real_sshd_accepts_the_software_token_layout(start_sshd, tmp_path, kind):
    """Our client's security-key signatures (made as a token makes them) satisfy sshd,
    with sshd's own flag rules: presence required unless no-touch-required."""
    token = SoftToken(kind)
    pub = tmp_path / "sk.pub"
    pub.write_text(token.line())
    listed = subprocess.run([need("ssh-keygen"), "-l", "-f", str(pub)], capture_output=True,
                            text=True, timeout=30)
    assert listed.returncode == 0 and listed.stdout.rstrip().endswith(
        "(ED25519-SK)" if kind == "ed25519" else "(ECDSA-SK)"), listed.stderr
    assert import_public_key(token.line()).public_blob == token.public_blob
    auth = tmp_path / "authorized_keys"
    auth.write_text(token.line())
    sshd = start_sshd(AuthorizedKeysFile=str(auth))
    assert go(login(sshd.port, token)) == "sk-ok\n", sshd.log_tail()
    token.flags = 0  # not touched: sshd refuses...
    assert refused(sshd.port, token)
    assert "user presence" in sshd.log.read_text()
    auth.write_text(token.line("no-touch-required"))  # ...unless the line waives it
    assert go(login(sshd.port, token)) == "sk-ok\n", sshd.log_tail()


@pytest.mark.parametrize("kind", KINDS)
def test_our_server_checks_flags_and_application(keys, tmp_path, kind):
    token = SoftToken(kind)
    auth = tmp_path / "authorized_keys"
    with ServerThread(server_host_keys=[keys.host["ed25519"]],
                      authorized_client_keys=str(auth)) as srv:
        auth.write_text(token.line())
        assert go(login(srv.port, token)) == "sk-ok\n"
        token.flags = 0x00                           # no user presence
        assert refused(srv.port, token)
        auth.write_text(token.line("no-touch-required"))
        assert go(login(srv.port, token)) == "sk-ok\n"
        auth.write_text(token.line("verify-required"))
        token.flags = 0x01                           # present, not verified
        assert refused(srv.port, token)
        token.flags = 0x05                           # present and verified (PIN)
        assert go(login(srv.port, token)) == "sk-ok\n"
        auth.write_text(token.line())
        token.sign_application = "ssh:elsewhere"     # signed for another application
        assert refused(srv.port, token)
        token.sign_application = token.application
        token.flags = 0x01
        assert go(login(srv.port, token)) == "sk-ok\n"


def test_security_key_certificates(keys, tmp_path):
    """An sk key's OpenSSH certificate (made by the real ssh-keygen -s) logs in to our
    server through a cert-authority line; no-touch-required must be granted by both the
    certificate (extension) and the line, and verify-required (critical option) demands
    the verified flag."""
    ca = keygen(tmp_path / "ca", "ed25519")
    token = SoftToken("ed25519")
    pub = tmp_path / "sk.pub"

    def certified(*extra: str) -> CertifiedKey:
        pub.write_text(token.line())
        subprocess.run([need("ssh-keygen"), "-q", "-s", str(ca), "-I", "token-cert", "-n", USER,
                        *extra, str(pub)], check=True, timeout=60, capture_output=True)
        cert = read_certificate(tmp_path / "sk-cert.pub")
        assert cert.key_type == "sk-ssh-ed25519-cert-v01@openssh.com"
        return CertifiedKey(token, cert)

    auth = tmp_path / "authorized_keys"
    ca_line = Path(f"{ca}.pub").read_text()
    with ServerThread(server_host_keys=[keys.host["ed25519"]],
                      authorized_client_keys=str(auth)) as srv:
        auth.write_text(f"cert-authority {ca_line}")
        assert go(login(srv.port, certified())) == "sk-ok\n"
        token.flags = 0
        assert refused(srv.port, certified("-O", "no-touch-required"))  # the line does not waive
        auth.write_text(f"cert-authority,no-touch-required {ca_line}")
        assert refused(srv.port, certified())                          # the cert does not
        assert go(login(srv.port, certified("-O", "no-touch-required"))) == "sk-ok\n"
        token.flags = 0x01
        assert refused(srv.port, certified("-O", "verify-required"))
        token.flags = 0x05
        assert go(login(srv.port, certified("-O", "verify-required"))) == "sk-ok\n"


def test_security_key_ca_in_known_hosts(start_sshd, keys, tmp_path):
    """A host certificate signed by a security-key CA (our sign_certificate with the
    software token), trusted through an @cert-authority line: sshd serves it, our client
    checks the token-format CA signature."""
    token = SoftToken("ecdsa", flags=0x01)
    host_pub = import_public_key(Path(f"{keys.host['ed25519']}.pub").read_text())
    cert = sign_certificate(token, host_pub, key_id="sk-signed host", principals=["127.0.0.1"],
                            cert_type=2)
    assert cert.ca_signature_valid()
    cert_file = tmp_path / "host-cert.pub"
    cert_file.write_text(f"{cert.key_type} {base64.b64encode(cert.public_blob).decode()}\n")
    sshd = start_sshd(HostCertificate=str(cert_file))
    kh = tmp_path / "known_hosts"
    kh.write_text(f"@cert-authority * {token.line()}")
    table = KnownHosts.read(kh)
    assert table.trusts_ca("127.0.0.1", sshd.port, token.public_blob) is not None
    assert go(login(sshd.port, str(keys.user["ed25519"]), known_hosts=str(kh),
                    server_host_key_algs=["ssh-ed25519-cert-v01@openssh.com"])) == "sk-ok\n"
