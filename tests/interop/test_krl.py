"""Key Revocation Lists made by the real `ssh-keygen -k`: our server's
`listen(revoked_keys=)` (sshd's RevokedKeys) refuses what they revoke to the real ssh,
and our client's `revoked_host_keys=` (ssh's RevokedHostKeys) refuses the real sshd's
revoked host keys and host certificates."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sshcore
from sshcore.krl import RevocationList
from sshcore.keys import read_public_key

from .conftest import USER, ServerThread, free_port, keygen, need

pytestmark = pytest.mark.interop


def ssh_keygen(*args: str | Path) -> None:
    r = subprocess.run([need("ssh-keygen"), *map(str, args)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr


def certify(ca: Path, key: Path, key_id: str, serial: int, *extra: str) -> Path:
    ssh_keygen("-q", "-s", ca, "-I", key_id, "-n", USER, "-z", str(serial), *extra, f"{key}.pub")
    return Path(f"{key}-cert.pub")


def fingerprint_of(pub: Path) -> str:
    out = subprocess.run([need("ssh-keygen"), "-l", "-f", str(pub)], capture_output=True,
                         text=True, timeout=30, check=True).stdout
    return out.split()[1]


def ssh(port: int, key: Path, command: str = "echo in") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [need("ssh"), "-F", "/dev/null", "-p", str(port), "-o", "UserKnownHostsFile=/dev/null",
         "-o", "StrictHostKeyChecking=no", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
         "-o", "LogLevel=ERROR", "-i", str(key), f"{USER}@127.0.0.1", command],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def users(tmp_path_factory):
    d = tmp_path_factory.mktemp("krl-users")
    ca = keygen(d / "user_ca", "ed25519")
    k = {name: keygen(d / name, "ed25519" if i % 2 else "ecdsa")
         for i, name in enumerate(["by_hash", "by_key", "by_serial", "by_range", "by_id",
                                   "plain_ok", "cert_ok", "by_sha1"])}
    certify(ca, k["by_serial"], "serial-cert", 100)
    certify(ca, k["by_range"], "range-cert", 250)
    certify(ca, k["by_id"], "revoked-id", 0)   # serial 0: only its key id can revoke it
    certify(ca, k["cert_ok"], "fine-cert", 101)
    authorized = d / "authorized_keys"
    authorized.write_text(
        "".join(Path(f"{k[n]}.pub").read_text() for n in ("by_hash", "by_key", "plain_ok", "by_sha1"))
        + f"cert-authority {Path(f'{ca}.pub').read_text()}")
    spec = d / "spec"
    hashed = fingerprint_of(Path(f"{k['by_hash']}.pub"))
    spec.write_text(f"serial: 100\nserial: 200-300\nserial: 1000\nserial: 1003\n"
                    f"id: revoked-id\nhash: {hashed}\n")
    krl = d / "krl"
    ssh_keygen("-k", "-f", krl, "-s", f"{ca}.pub", spec)
    ssh_keygen("-k", "-u", "-f", krl, f"{k['by_key']}.pub")         # explicit key
    sha1 = d / "spec-sha1"  # "sha1: PUBLIC KEY": revoked by the SHA-1 hash of its blob
    sha1.write_text("sha1: " + Path(f"{k['by_sha1']}.pub").read_text())
    ssh_keygen("-k", "-u", "-f", krl, sha1)
    return {"dir": d, "ca": ca, "keys": k, "authorized": authorized, "krl": krl}


def test_ssh_keygen_krl_agrees_with_ssh_keygen_Q(users):
    """Our reading of the KRL gives ssh-keygen -Q's verdict for every key and certificate."""
    table = RevocationList.read(users["krl"])
    for name, key in users["keys"].items():
        for pub in (Path(f"{key}.pub"), Path(f"{key}-cert.pub")):
            if not pub.exists():
                continue
            q = subprocess.run([need("ssh-keygen"), "-Q", "-f", str(users["krl"]), str(pub)],
                               capture_output=True, text=True, timeout=30)
            theirs = "REVOKED" in q.stdout
            ours = table.revoked(read_public_key(pub)) is not None
            assert ours == theirs, (pub.name, q.stdout, table.revoked(read_public_key(pub)))


def test_our_server_refuses_revoked_keys_to_ssh(users, keys):
    k = users["keys"]
    with ServerThread(server_host_keys=[keys.host["ed25519"]],
                      authorized_client_keys=str(users["authorized"]),
                      revoked_keys=str(users["krl"])) as srv:
        for name in ("plain_ok", "cert_ok"):
            r = ssh(srv.port, k[name])
            assert (r.returncode, r.stdout) == (0, "in\n"), (name, r.stderr)
        for name in ("by_hash", "by_key", "by_sha1", "by_serial", "by_range", "by_id"):
            r = ssh(srv.port, k[name])
            assert r.returncode == 255 and "Permission denied" in r.stderr, name
    # the same keys without the KRL: all of them log in (so the KRL is what refused them)
    with ServerThread(server_host_keys=[keys.host["ed25519"]],
                      authorized_client_keys=str(users["authorized"])) as srv:
        for name in ("by_hash", "by_key", "by_sha1", "by_serial", "by_range", "by_id"):
            assert ssh(srv.port, k[name]).returncode == 0, name
    # an unreadable RevokedKeys file refuses every key, as in sshd
    with ServerThread(server_host_keys=[keys.host["ed25519"]],
                      authorized_client_keys=str(users["authorized"]),
                      revoked_keys=str(users["dir"] / "missing")) as srv:
        assert ssh(srv.port, k["plain_ok"]).returncode == 255


def go(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def login(port: int, user_key: Path, **options):
    async with sshcore.connect("127.0.0.1", port, client_keys=[str(user_key)], config=None,
                               **options) as conn:
        return (await conn.run("echo host-ok")).stdout


def test_our_client_refuses_revoked_host_keys(start_sshd, keys, tmp_path):
    sshd = start_sshd()
    krl = tmp_path / "revoked_hosts"
    ssh_keygen("-k", "-f", krl, f"{keys.host['ed25519']}.pub")
    common = {"known_hosts": str(sshd.known_hosts), "revoked_host_keys": str(krl)}
    with pytest.raises(sshcore.HostKeyNotVerifiableError, match="revoked in"):
        go(login(sshd.port, keys.user["ed25519"], server_host_key_algs=["ssh-ed25519"], **common))
    assert go(login(sshd.port, keys.user["ed25519"], server_host_key_algs=["ecdsa-sha2-nistp256"],
                    **common)) == "host-ok\n"


def test_our_client_refuses_revoked_host_certificates(start_sshd, keys, tmp_path):
    ca = keygen(tmp_path / "host_ca", "ed25519")
    host_key = tmp_path / "host"
    shutil.copy(keys.host["ed25519"], host_key)
    shutil.copy(f"{keys.host['ed25519']}.pub", f"{host_key}.pub")
    ssh_keygen("-q", "-s", ca, "-h", "-I", "web-host", "-n", "127.0.0.1", "-z", "5",
               f"{host_key}.pub")
    sshd = start_sshd(HostKey=str(host_key), HostCertificate=f"{host_key}-cert.pub")
    kh = tmp_path / "known_hosts"
    kh.write_text(f"@cert-authority * {Path(f'{ca}.pub').read_text()}")
    options = {"known_hosts": str(kh), "server_host_key_algs": ["ssh-ed25519-cert-v01@openssh.com"]}
    assert go(login(sshd.port, keys.user["ed25519"], **options)) == "host-ok\n"
    for line in ("serial: 5", "id: web-host"):
        spec = tmp_path / "spec"
        spec.write_text(line + "\n")
        krl = tmp_path / f"krl-{line.split(':')[0]}"
        ssh_keygen("-k", "-f", krl, "-s", f"{ca}.pub", spec)
        with pytest.raises(sshcore.HostKeyNotVerifiableError, match="revoked"):
            go(login(sshd.port, keys.user["ed25519"], revoked_host_keys=str(krl), **options))
    # and through ssh_config's RevokedHostKeys, in the sshcore CLI
    run = subprocess.run([sys.executable, "-m", "sshcore", "run", "-p", str(sshd.port),
                          "-i", str(keys.user["ed25519"]), "--known-hosts", str(kh),
                          "-o", f"RevokedHostKeys={krl}", "127.0.0.1", "echo no"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 255 and "revoked" in run.stderr and run.stdout == "", run.stderr


def test_sshcore_serve_revoked_keys(users, tmp_path):
    """`sshcore serve --revoked-keys KRL`, as sshd's RevokedKeys."""
    port = free_port()
    env = dict(os.environ, HOME=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "sshcore", "serve", "--listen",
                             f"127.0.0.1:{port}", "--authorized-keys", str(users["authorized"]),
                             "--revoked-keys", str(users["krl"])],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        k = users["keys"]
        assert ssh(port, k["plain_ok"]).returncode == 0
        assert ssh(port, k["by_serial"]).returncode == 255
        assert ssh(port, k["by_key"]).returncode == 255
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
