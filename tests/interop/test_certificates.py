"""OpenSSH certificates made by ``ssh-keygen -s``, both ways with OpenSSH: user
certificates (our client to sshd's TrustedUserCAKeys; ssh to our authorized_keys
cert-authority) and host certificates (sshd's HostCertificate to our @cert-authority
known_hosts; our server_host_certs to ssh)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest

import sshcore
from sshcore.keys import read_certificate

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def ca(tmp_path_factory, helpers):
    d = tmp_path_factory.mktemp("ca")
    return {"dir": d, "user_ca": helpers.keygen(d / "user_ca", "ed25519"),
            "host_ca": helpers.keygen(d / "host_ca", "ecdsa"),
            "other_ca": helpers.keygen(d / "other_ca", "ed25519")}


def sign(ca_key, pub, identity, principals, *extra, host=False):
    args = ["ssh-keygen", "-q", "-s", str(ca_key), "-I", identity, "-n", ",".join(principals)]
    args += ["-h"] if host else []
    subprocess.run(args + list(extra) + [str(pub)], check=True, timeout=60, capture_output=True)
    return Path(str(pub).removesuffix(".pub") + "-cert.pub")


def user_key(tmp_path, helpers, name="id", kind="ed25519"):
    return helpers.keygen(tmp_path / name, kind)


def go(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


# ------------------------------------------------------------------ user certificates

@pytest.mark.parametrize("kind", ["ed25519", "ecdsa", "rsa"])
def test_our_user_certificate_to_sshd(start_sshd, ca, tmp_path, helpers, kind):
    key = user_key(tmp_path, helpers, kind=kind)
    cert = sign(ca["user_ca"], f"{key}.pub", "alice@example", [helpers.USER], "-V", "-5m:+1h")
    parsed = read_certificate(cert)
    assert (parsed.key_id, parsed.principals) == ("alice@example", [helpers.USER])
    empty = tmp_path / "no_authorized_keys"
    empty.write_text("")
    sshd = start_sshd(TrustedUserCAKeys=f"{ca['user_ca']}.pub", AuthorizedKeysFile=str(empty))

    async def main():
        # the key file with id-cert.pub beside it: the certificate is offered first
        async with sshcore.connect("127.0.0.1", sshd.port, client_keys=[str(key)],
                                   known_hosts=str(sshd.known_hosts)) as conn:
            return (await conn.run("echo cert-login")).stdout

    assert go(main()) == "cert-login\n"
    assert "Accepted publickey for" in sshd.log.read_text() and "ID alice@example" in sshd.log.read_text()


def test_expired_or_wrong_principal_certificate_is_refused_by_sshd(start_sshd, ca, tmp_path, helpers):
    empty = tmp_path / "no_authorized_keys"
    empty.write_text("")
    sshd = start_sshd(TrustedUserCAKeys=f"{ca['user_ca']}.pub", AuthorizedKeysFile=str(empty))
    for name, principals, validity in (("expired", [helpers.USER], "20200101:20200102"),
                                       ("wrongname", ["somebody-else"], "-5m:+1h")):
        key = user_key(tmp_path, helpers, name)
        sign(ca["user_ca"], f"{key}.pub", name, principals, "-V", validity)

        async def main():
            await sshcore.connect("127.0.0.1", sshd.port, client_keys=[str(key)],
                                  known_hosts=str(sshd.known_hosts))
        with pytest.raises(sshcore.PermissionDeniedError):
            go(main())


@pytest.fixture
def cert_server(ca, keys, helpers, tmp_path):
    """Our server trusting the user CA through authorized_keys cert-authority lines."""
    ak = tmp_path / "authorized_keys"
    ak.write_text(f'cert-authority,principals="admins,{helpers.USER}" '
                  f"{Path(str(ca['user_ca']) + '.pub').read_text()}")
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              authorized_client_keys=str(ak)) as srv:
        yield srv


def ssh_with(helpers, port, key, command, *extra):
    return subprocess.run(
        ["ssh", "-F", "/dev/null", *extra, "-p", str(port), "-o", "UserKnownHostsFile=/dev/null",
         "-o", "StrictHostKeyChecking=no", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
         "-o", "LogLevel=ERROR", "-i", str(key), f"{helpers.USER}@127.0.0.1", command],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


def test_ssh_user_certificate_to_our_server(cert_server, ca, tmp_path, helpers):
    good = user_key(tmp_path, helpers, "good")
    sign(ca["user_ca"], f"{good}.pub", "good-id", ["admins"], "-V", "-5m:+1h")
    r = ssh_with(helpers, cert_server.port, good, "echo ok")
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr
    forced = user_key(tmp_path, helpers, "forced")
    sign(ca["user_ca"], f"{forced}.pub", "forced-id", [helpers.USER], "-V", "-5m:+1h",
         "-O", "force-command=echo forced:$SSH_ORIGINAL_COMMAND")
    r = ssh_with(helpers, cert_server.port, forced, "whoami")
    assert (r.returncode, r.stdout) == (0, "forced:whoami\n"), r.stderr
    nopty = user_key(tmp_path, helpers, "nopty")
    sign(ca["user_ca"], f"{nopty}.pub", "nopty-id", [helpers.USER], "-O", "no-pty")
    r = ssh_with(helpers, cert_server.port, nopty, "tty", "-tt")
    assert r.returncode == 255 and "PTY allocation request failed" in r.stderr


@pytest.mark.parametrize("case", ["expired", "principal", "source", "other_ca", "host_cert"])
def test_bad_user_certificates_refused_by_our_server(cert_server, ca, tmp_path, helpers, case):
    key = user_key(tmp_path, helpers, case)
    signer, principals, extra, host = ca["user_ca"], [helpers.USER], ["-V", "-5m:+1h"], False
    if case == "expired":
        extra = ["-V", "20200101:20200102"]
    elif case == "principal":
        principals = ["nobody"]
    elif case == "source":
        extra += ["-O", "source-address=192.0.2.0/24"]
    elif case == "other_ca":
        signer = ca["other_ca"]
    else:
        host = True
    sign(signer, f"{key}.pub", case, principals, *extra, host=host)
    r = ssh_with(helpers, cert_server.port, key, "echo should-not-run")
    assert r.returncode == 255 and "Permission denied" in r.stderr and r.stdout == ""


# ------------------------------------------------------------------ host certificates

def test_sshd_host_certificate_trusted_through_cert_authority(start_sshd, ca, keys, tmp_path):
    host_key = tmp_path / "sshd_host"
    shutil.copy(keys.host["ed25519"], host_key)
    shutil.copy(f"{keys.host['ed25519']}.pub", f"{host_key}.pub")
    cert = sign(ca["host_ca"], f"{host_key}.pub", "sshd-host", ["127.0.0.1", "localhost"], host=True)
    sshd = start_sshd(HostCertificate=str(cert), HostKey=str(host_key))
    kh = tmp_path / "known_hosts"
    ca_line = Path(f"{ca['host_ca']}.pub").read_text().split()
    kh.write_text(f"@cert-authority [127.0.0.1]:{sshd.port} {ca_line[0]} {ca_line[1]}\n")

    async def main(known):
        async with sshcore.connect("127.0.0.1", sshd.port, client_keys=[keys.user["ed25519"]],
                                   known_hosts=str(known)) as conn:
            return conn.get_extra_info("algorithms")["host_key"], (await conn.run("echo hi")).stdout

    alg, out = go(main(kh))
    assert (alg, out) == ("ssh-ed25519-cert-v01@openssh.com", "hi\n")
    # a CA trusted only for other hosts does not vouch for this one
    kh.write_text(f"@cert-authority other.example {ca_line[0]} {ca_line[1]}\n")
    with pytest.raises(sshcore.HostKeyNotVerifiableError):
        go(main(kh))
    # the CA itself revoked
    kh.write_text(f"@cert-authority * {ca_line[0]} {ca_line[1]}\n@revoked * {ca_line[0]} {ca_line[1]}\n")
    with pytest.raises(sshcore.HostKeyNotVerifiableError, match="CA key is marked @revoked"):
        go(main(kh))


def test_sshd_host_certificate_for_another_name_is_refused(start_sshd, ca, keys, tmp_path):
    host_key = tmp_path / "sshd_host"
    shutil.copy(keys.host["ed25519"], host_key)
    shutil.copy(f"{keys.host['ed25519']}.pub", f"{host_key}.pub")
    cert = sign(ca["host_ca"], f"{host_key}.pub", "elsewhere", ["db.example"], host=True)
    sshd = start_sshd(HostCertificate=str(cert), HostKey=str(host_key))
    kh = tmp_path / "known_hosts"
    ca_line = Path(f"{ca['host_ca']}.pub").read_text().split()
    kh.write_text(f"@cert-authority * {ca_line[0]} {ca_line[1]}\n")

    async def main():
        await sshcore.connect("127.0.0.1", sshd.port, client_keys=[keys.user["ed25519"]],
                              known_hosts=str(kh))
    with pytest.raises(sshcore.HostKeyNotVerifiableError, match="not valid for '127.0.0.1'"):
        go(main())


def test_our_host_certificate_trusted_by_ssh(ca, keys, helpers, tmp_path):
    host_key = tmp_path / "our_host"
    shutil.copy(keys.host["ed25519"], host_key)
    shutil.copy(f"{keys.host['ed25519']}.pub", f"{host_key}.pub")
    cert = sign(ca["host_ca"], f"{host_key}.pub", "our-host", ["127.0.0.1"], host=True)
    with helpers.ServerThread(server_host_keys=[str(host_key)], server_host_certs=[str(cert)],
                              authorized_client_keys=str(keys.authorized_keys)) as srv:
        kh = tmp_path / "known_hosts"
        kh.write_text(f"@cert-authority * {Path(str(ca['host_ca']) + '.pub').read_text()}")
        r = subprocess.run(
            ["ssh", "-F", "/dev/null", "-o", "LogLevel=DEBUG1", "-p", str(srv.port),
             "-o", f"UserKnownHostsFile={kh}", "-o", "StrictHostKeyChecking=yes",
             "-o", "BatchMode=yes", "-i", str(keys.user["ed25519"]), f"{helpers.USER}@127.0.0.1",
             "echo certified"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert (r.returncode, r.stdout) == (0, "certified\n"), r.stderr[-2000:]
    assert "Server host certificate: ssh-ed25519-cert-v01@openssh.com" in r.stderr
