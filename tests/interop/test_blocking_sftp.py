"""Blocking SFTP (sshcore.blocking.sftp) against OpenSSH's sftp-server, through sshd."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest

from sshcore import blocking
from sshcore_sftp import SFTPError

T = 30


@pytest.fixture(scope="module")
def sshd(start_sshd):
    return start_sshd(Subsystem="sftp internal-sftp")


@pytest.fixture
def conn(sshd, keys):
    with blocking.connect("127.0.0.1", sshd.port, config=None, agent_path=None,
                          client_keys=[keys.user["ed25519"]], known_hosts=str(sshd.known_hosts),
                          connect_timeout=T) as c:
        c.timeout = T
        yield c


def test_put_get_listdir_stat_rename_remove(conn, tmp_path):
    src = tmp_path / "src.bin"
    payload = os.urandom(3 * 1024 * 1024 + 17)
    src.write_bytes(payload)
    os.chmod(src, 0o640)
    remote = tmp_path / "remote"
    with conn.start_sftp_client() as sftp:
        sftp.makedirs(str(remote / "a" / "b"))
        sftp.makedirs(str(remote / "a" / "b"), exist_ok=True)
        attrs = sftp.put(str(src), str(remote / "a" / "f.bin"))
        assert attrs.size == len(payload) and attrs.permissions & 0o777 == 0o640
        assert (remote / "a" / "f.bin").read_bytes() == payload
        assert sftp.listdir(str(remote / "a")) == ["b", "f.bin"]
        assert sftp.stat(str(remote / "a" / "f.bin")).size == len(payload)
        sftp.rename(str(remote / "a" / "f.bin"), str(remote / "a" / "g.bin"))
        got = tmp_path / "got.bin"
        assert sftp.get(str(remote / "a" / "g.bin"), str(got)) == len(payload)
        assert got.read_bytes() == payload
        with pytest.raises(FileNotFoundError):
            sftp.stat(str(remote / "nope"))
        with pytest.raises(SFTPError):
            sftp.remove(str(remote / "nope"))
        sftp.remove(str(remote / "a" / "g.bin"))
        sftp.rmtree(str(remote))
        assert not remote.exists()


def test_open_as_file_object(conn, tmp_path):
    path = str(tmp_path / "text.txt")
    with conn.start_sftp_client() as sftp:
        with sftp.open(path, "w") as f:
            f.write(b"one\ntwo\n")
            f.write(b"three\n" * 20000)
        with sftp.open(path, "a") as f:
            f.write(b"last")
        with sftp.open(path) as f:
            assert f.readline() == b"one\n"
            assert f.read(4) == b"two\n"
            assert f.tell() == 8
            lines = list(f)
            assert lines[0] == b"three\n" and lines[-1] == b"last" and len(lines) == 20001
            f.seek(0)
            assert hashlib.sha256(f.read()).digest() == hashlib.sha256(open(path, "rb").read()).digest()


def test_threads_share_one_sftp_client(conn, tmp_path):
    errors = []
    with conn.start_sftp_client() as sftp:
        def work(n):
            try:
                blob = os.urandom(200_000 + n)
                local = tmp_path / f"l{n}"
                local.write_bytes(blob)
                sftp.put(str(local), str(tmp_path / f"r{n}"))
                sftp.get(str(tmp_path / f"r{n}"), str(tmp_path / f"g{n}"))
                assert (tmp_path / f"g{n}").read_bytes() == blob
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
        threads = [threading.Thread(target=work, args=(n,)) for n in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert errors == []
