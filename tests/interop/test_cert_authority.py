"""`sshcore keys sign` (ssh-keygen -s): certificates we issue are read back by the real
`ssh-keygen -L`, user certificates accepted by the real sshd (TrustedUserCAKeys), host
certificates by the real ssh (@cert-authority)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sshcore.keys import export_private_key, export_public_key, generate_private_key

from .conftest import USER, keygen, need, run_ssh


def sshcore_keys(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sshcore", "keys", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def make_ca(path: Path, key_type: str) -> Path:
    """A CA key made by sshcore, written in OpenSSH format (and its .pub)."""
    options = {"bits": 2048} if key_type == "ssh-rsa" else {}
    ca = generate_private_key(key_type, **options)
    ca.comment = "test CA"
    path.write_bytes(export_private_key(ca, "openssh"))
    path.chmod(0o600)
    Path(f"{path}.pub").write_bytes(export_public_key(ca, "openssh"))
    return path


def sign(ca: Path, pub: Path, *args: str) -> Path:
    r = sshcore_keys("sign", "-s", ca, *args, pub)
    assert r.returncode == 0, r.stderr
    cert = pub.with_name(pub.name.removesuffix(".pub") + "-cert.pub")
    assert cert.exists()
    return cert


def listing(cert: Path) -> str:
    r = subprocess.run([need("ssh-keygen"), "-L", "-f", str(cert)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_ssh_keygen_lists_the_fields_we_set(tmp_path):
    ca = make_ca(tmp_path / "ca", "ssh-ed25519")
    user = keygen(tmp_path / "user", "ecdsa")
    cert = sign(ca, Path(f"{user}.pub"), "-I", "alice@example", "-n", "alice,bob",
                "-V", "20300102:20310203", "-z", "4711", "-O", "clear",
                "-O", "force-command=uptime -p", "-O", "source-address=127.0.0.1/32,::1",
                "-O", "permit-pty", "-O", "extension:login@example.com=alice")
    text = listing(cert)
    assert "Type: ecdsa-sha2-nistp256-cert-v01@openssh.com user certificate" in text
    assert re.search(r"Signing CA: ED25519 SHA256:\S+ \(using ssh-ed25519\)", text)
    assert 'Key ID: "alice@example"' in text
    assert "Serial: 4711" in text
    assert "Valid: from 2030-01-02T00:00:00 to 2031-02-03T00:00:00" in text
    assert re.search(r"Principals: \n\s+alice\n\s+bob\n", text)
    assert re.search(r"Critical Options: \n\s+force-command uptime -p\n"
                     r"\s+source-address 127.0.0.1/32,::1\n", text)
    # ssh-keygen -L prints the extensions by name, then a value it cannot show as text
    assert re.search(r"Extensions: \n\s+login@example.com UNKNOWN OPTION.*\n\s+permit-pty\n", text)
    host = keygen(tmp_path / "host", "rsa")
    hcert = sign(ca, Path(f"{host}.pub"), "-h", "-I", "web", "-n", "web.example,10.0.0.1",
                 "-V=-1h:+52w")
    htext = listing(hcert)
    assert "Type: ssh-rsa-cert-v01@openssh.com host certificate" in htext
    assert re.search(r"Principals: \n\s+web.example\n\s+10.0.0.1\n", htext)
    assert "Critical Options: (none)" in htext and "Extensions: (none)" in htext


@pytest.mark.parametrize("ca_type", ["ssh-ed25519", "ecdsa-sha2-nistp384", "ssh-rsa"])
def test_user_certificate_accepted_by_sshd(start_sshd, tmp_path, ca_type):
    ca = make_ca(tmp_path / "ca", ca_type)
    sshd = start_sshd(TrustedUserCAKeys=f"{ca}.pub",
                      AuthorizedKeysFile=str(tmp_path / "no_authorized_keys"))
    user = keygen(tmp_path / "id", "ed25519")
    pub = Path(f"{user}.pub")
    sign(ca, pub, "-I", f"cert-for-{ca_type}", "-n", USER, "-z", "77", "-V=-5m:+1h")
    r = run_ssh(sshd.port, "echo cert-ok", identity=user, known_hosts=sshd.known_hosts)
    assert r.returncode == 0 and r.stdout == b"cert-ok\n", (r.stderr, sshd.log_tail())
    assert re.search(rf'Accepted publickey for {USER} .* ED25519-CERT SHA256:\S+ ID '
                     rf'cert-for-{ca_type} \(serial 77\) CA ', sshd.log.read_text())
    # the force-command critical option is obeyed by sshd
    sign(ca, pub, "-I", "forced", "-n", USER, "-O", "force-command=echo forced-by-cert")
    r = run_ssh(sshd.port, "echo not-this", identity=user, known_hosts=sshd.known_hosts)
    assert r.returncode == 0 and r.stdout == b"forced-by-cert\n", r.stderr
    # refused: another principal, an expired certificate
    for args in (["-n", "somebody-else"], ["-n", USER, "-V=-2h:-1h"]):
        sign(ca, pub, "-I", "refused", *args)
        r = run_ssh(sshd.port, "echo no", identity=user, known_hosts=sshd.known_hosts)
        assert r.returncode == 255 and b"no" not in r.stdout, args


def test_host_certificate_accepted_by_ssh(start_sshd, keys, tmp_path):
    ca = make_ca(tmp_path / "hostca", "ssh-ed25519")
    ca_line = Path(f"{ca}.pub").read_text()
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"@cert-authority 127.0.0.1 {ca_line}")
    options = {"HostKeyAlgorithms": "ssh-ed25519-cert-v01@openssh.com"}

    def cert_for(principals: str) -> Path:
        pub = tmp_path / f"host-{principals}.pub"
        pub.write_text(Path(f"{keys.host['ed25519']}.pub").read_text())
        return sign(ca, pub, "-h", "-I", f"host {principals}", "-n", principals)

    sshd = start_sshd(HostCertificate=str(cert_for("127.0.0.1")))
    r = run_ssh(sshd.port, "echo host-cert-ok", identity=keys.user["ed25519"],
                known_hosts=known_hosts, options=options)
    assert r.returncode == 0 and r.stdout == b"host-cert-ok\n", (r.stderr, sshd.log_tail())
    wrong = start_sshd(HostCertificate=str(cert_for("otherhost")))
    r = run_ssh(wrong.port, "echo no", identity=keys.user["ed25519"], known_hosts=known_hosts,
                options=options)
    assert r.returncode == 255 and r.stdout == b""
