"""sshcore's SFTP client against OpenSSH's sshd, with internal-sftp and with sftp-server.

Every client operation, on real files: large transfers checked by sha256, directory
trees compared file by file (content, mode and mtime with ``preserve=True``).
"""

from __future__ import annotations

import asyncio
import filecmp
import hashlib
import os
import stat
from pathlib import Path

import pytest

import sshcore
from sshcore_sftp._client import (SFTPFailureError, SFTPNoSuchFileError, SFTPOpUnsupportedError,
                                  SFTPClient)
from sshcore_sftp._protocol import SFTPAttrs, SFTPError, Status

pytestmark = pytest.mark.interop

SERVERS = {"internal-sftp": "internal-sftp", "sftp-server": "/usr/lib/openssh/sftp-server"}


@pytest.fixture(params=list(SERVERS))
def sshd(request, start_sshd):
    return start_sshd(Subsystem=f"sftp {SERVERS[request.param]}")


def run(sshd, keys, body, timeout=120, **options):
    async def main():
        async with asyncio.timeout(timeout):
            async with sshcore.connect("127.0.0.1", sshd.port, client_keys=[keys.user["ed25519"]],
                                       known_hosts=str(sshd.known_hosts), config=None,
                                       kex_algs=["curve25519-sha256"]) as conn:
                async with conn.start_sftp_client(**options) as sftp:
                    return await body(sftp)
    return asyncio.run(main())


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def make_file(path: Path, size: int) -> str:
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 20)
            f.write(os.urandom(n))
            left -= n
    return sha256(path)


def make_tree(root: Path) -> None:
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "top.txt").write_text("top\n")
    (root / "a" / "one.bin").write_bytes(os.urandom(70_000))
    (root / "a" / "b" / "two.bin").write_bytes(os.urandom(300_001))
    (root / "a" / "b" / "c" / "three.txt").write_text("three\n" * 1000)
    (root / "a" / "b" / "c" / "zero").write_bytes(b"")
    os.chmod(root / "a" / "one.bin", 0o640)
    os.chmod(root / "a" / "b", 0o750)
    os.utime(root / "top.txt", (1_600_000_000, 1_600_000_000))
    os.utime(root / "a" / "b" / "two.bin", (1_500_000_000, 1_500_000_123))


def assert_same_tree(left: Path, right: Path, preserved: bool) -> None:
    lnames = sorted(p.relative_to(left) for p in left.rglob("*"))
    rnames = sorted(p.relative_to(right) for p in right.rglob("*"))
    assert lnames == rnames
    for rel in lnames:
        a, b = left / rel, right / rel
        assert a.is_dir() == b.is_dir(), rel
        if a.is_file():
            assert filecmp.cmp(a, b, shallow=False), rel
        if preserved:
            assert stat.S_IMODE(a.stat().st_mode) == stat.S_IMODE(b.stat().st_mode), rel
            if a.is_file():
                assert int(a.stat().st_mtime) == int(b.stat().st_mtime), rel


def test_version_extensions_and_limits(sshd, keys):
    async def body(sftp: SFTPClient):
        return sftp.version, dict(sftp.extensions), sftp.limits, sftp.block_size, sftp.max_requests

    version, ext, limits, block, requests = run(sshd, keys, body)
    assert version == 3
    for name in ("posix-rename@openssh.com", "statvfs@openssh.com", "fstatvfs@openssh.com",
                 "hardlink@openssh.com", "fsync@openssh.com", "lsetstat@openssh.com",
                 "limits@openssh.com", "expand-path@openssh.com"):
        assert name in ext
    assert limits is not None and limits.max_read_length >= 32768
    assert block == min(limits.max_read_length, limits.max_write_length, 255 * 1024)
    assert requests == max(16, min(128, 4 * 1024 * 1024 // block))  # 4 MiB in flight


def test_large_get_and_put_sha256(sshd, keys, tmp_path):
    src = tmp_path / "big.bin"
    digest = make_file(src, 24 * 1024 * 1024 + 12345)  # not a multiple of the block size
    seen = []

    async def body(sftp: SFTPClient):
        await sftp.put(str(src), str(tmp_path / "up.bin"),
                       progress=lambda s, d, done, total: seen.append(("put", done, total)))
        await sftp.get(str(tmp_path / "up.bin"), str(tmp_path / "down.bin"),
                       progress=lambda s, d, done, total: seen.append(("get", done, total)))

    run(sshd, keys, body)
    assert sha256(tmp_path / "up.bin") == digest
    assert sha256(tmp_path / "down.bin") == digest
    size = src.stat().st_size
    for kind in ("put", "get"):
        dones = [d for k, d, t in seen if k == kind]
        assert dones[0] == 0 and dones[-1] == size and dones == sorted(dones)
        assert {t for k, d, t in seen if k == kind} == {size}


def test_small_blocks_few_requests(sshd, keys, tmp_path):
    """Transfers with the 32 KiB blocks every server takes, and one request at a time."""
    src = tmp_path / "f.bin"
    digest = make_file(src, 3 * 1024 * 1024 + 7)

    async def body(sftp: SFTPClient):
        await sftp.put(str(src), str(tmp_path / "u1"), block_size=32768, max_requests=1)
        await sftp.get(str(tmp_path / "u1"), str(tmp_path / "d1"), block_size=10000,
                       max_requests=3)

    run(sshd, keys, body, block_size=32768)
    assert sha256(tmp_path / "u1") == digest == sha256(tmp_path / "d1")


def test_recursive_put_get_preserve(sshd, keys, tmp_path):
    src = tmp_path / "tree"
    make_tree(src)

    async def body(sftp: SFTPClient):
        await sftp.put(str(src), str(tmp_path / "remote"), recurse=True, preserve=True)
        await sftp.get(str(tmp_path / "remote"), str(tmp_path / "back"), recurse=True,
                       preserve=True)
        # into an existing directory: a subdirectory named after the source
        (tmp_path / "into").mkdir()
        await sftp.get(str(tmp_path / "remote"), str(tmp_path / "into"), recurse=True)
        with pytest.raises(SFTPFailureError, match="Is a directory"):
            await sftp.get(str(tmp_path / "remote"), str(tmp_path / "x"))

    run(sshd, keys, body)
    assert_same_tree(src, tmp_path / "remote", preserved=True)
    assert_same_tree(src, tmp_path / "back", preserved=True)
    assert_same_tree(src, tmp_path / "into" / "remote", preserved=False)


def test_mget_mput_globs(sshd, keys, tmp_path):
    (tmp_path / "src").mkdir()
    for name in ("a1.txt", "a2.txt", "b1.txt", "a3.bin"):
        (tmp_path / "src" / name).write_text(name)
    for d in ("up", "down"):
        (tmp_path / d).mkdir()

    async def body(sftp: SFTPClient):
        await sftp.mput(str(tmp_path / "src" / "a*.txt"), str(tmp_path / "up"))
        assert await sftp.glob(str(tmp_path / "up" / "*")) == [
            str(tmp_path / "up" / "a1.txt"), str(tmp_path / "up" / "a2.txt")]
        await sftp.mget([str(tmp_path / "src" / "?1.txt"), str(tmp_path / "src" / "*.bin")],
                        str(tmp_path / "down"))
        assert await sftp.glob(str(tmp_path / "s?c" / "[ab]1.*")) == [
            str(tmp_path / "src" / "a1.txt"), str(tmp_path / "src" / "b1.txt")]
        with pytest.raises(SFTPNoSuchFileError):
            await sftp.mget(str(tmp_path / "src" / "nothing*"), str(tmp_path / "down"))

    run(sshd, keys, body)
    assert sorted(os.listdir(tmp_path / "down")) == ["a1.txt", "a3.bin", "b1.txt"]
    assert (tmp_path / "down" / "a3.bin").read_text() == "a3.bin"


def test_directories_and_names(sshd, keys, tmp_path):
    base = str(tmp_path)

    async def body(sftp: SFTPClient):
        await sftp.makedirs(f"{base}/x/y/z", mode=0o755)
        await sftp.makedirs(f"{base}/x/y/z", exist_ok=True)
        with pytest.raises(SFTPFailureError):
            await sftp.makedirs(f"{base}/x/y/z")
        await sftp.mkdir(f"{base}/x/m", mode=0o700)
        assert await sftp.listdir(f"{base}/x") == ["m", "y"]
        names = {n.filename: n for n in await sftp.readdir(f"{base}/x")}
        assert {".", "..", "m", "y"} <= set(names)
        assert names["m"].attrs.is_dir() and names["m"].longname.startswith("drwx------")
        with pytest.raises(SFTPFailureError):
            await sftp.rmdir(f"{base}/x")          # not empty
        await sftp.rmdir(f"{base}/x/m")
        assert not await sftp.exists(f"{base}/x/m")
        assert await sftp.isdir(f"{base}/x/y") and not await sftp.isfile(f"{base}/x/y")
        await sftp.chdir(f"{base}/x")
        assert sftp.getcwd() == os.path.realpath(f"{base}/x")
        assert await sftp.realpath("y/../y/z") == os.path.realpath(f"{base}/x/y/z")
        await sftp.rmtree("y")
        assert await sftp.listdir(".") == []
        assert await sftp.realpath("/") == "/"
        assert await sftp.expand_path("~") == os.path.expanduser("~")
        with pytest.raises(SFTPNoSuchFileError) as info:
            await sftp.listdir(f"{base}/nope")
        assert info.value.code == Status.NO_SUCH_FILE and isinstance(info.value, FileNotFoundError)
        assert f"{base}/nope" in str(info.value)

    run(sshd, keys, body)
    assert os.listdir(tmp_path / "x") == []


def test_files_links_attributes(sshd, keys, tmp_path):
    base = str(tmp_path)

    async def body(sftp: SFTPClient):
        async with await sftp.open(f"{base}/f", "w") as f:
            assert await f.write(b"hello world") == 11
            f.seek(6)
            await f.write(b"WORLD")
            await f.fsync()
            assert (await f.statvfs()).bsize > 0
        async with await sftp.open(f"{base}/f", "r+") as f:
            assert await f.read() == b"hello WORLD"
            f.seek(0)
            assert await f.read(5) == b"hello"
            assert f.tell() == 5
            assert await f.read(3, offset=9) == b"LD"
            assert await f.read(100) == b" WORLD"
            assert await f.read(100) == b""
            await f.truncate(5)
            assert (await f.stat()).size == 5
        async with await sftp.open(f"{base}/f", "a") as f:
            await f.write(b"!")
        with pytest.raises(SFTPFailureError):
            await sftp.open(f"{base}/f", "x")
        big = os.urandom(2_000_000)
        async with await sftp.open(f"{base}/big", "wb") as f:
            await f.write(big)                       # pipelined: larger than a block
        async with await sftp.open(f"{base}/big", "rb") as f:
            assert await f.read() == big
            assert await f.read(1_500_000, offset=100) == big[100:1_500_100]
        await sftp.chmod(f"{base}/f", 0o604)
        await sftp.utime(f"{base}/f", (1_234_567_890, 1_234_567_891))
        a = await sftp.stat(f"{base}/f")
        assert (a.size, stat.S_IMODE(a.permissions), a.mtime) == (6, 0o604, 1_234_567_891)
        await sftp.setstat(f"{base}/f", SFTPAttrs(size=2))
        await sftp.symlink("f", f"{base}/link")
        assert await sftp.readlink(f"{base}/link") == "f"
        assert await sftp.islink(f"{base}/link")
        assert (await sftp.lstat(f"{base}/link")).is_link()
        assert (await sftp.stat(f"{base}/link")).size == 2
        target_mtime = (await sftp.stat(f"{base}/f")).mtime
        await sftp.utime(f"{base}/link", (1_000_000_000, 1_000_000_001),
                         follow_symlinks=False)                  # lsetstat
        assert (await sftp.lstat(f"{base}/link")).mtime == 1_000_000_001
        assert (await sftp.stat(f"{base}/link")).mtime == target_mtime
        await sftp.link(f"{base}/f", f"{base}/hard")
        assert (await sftp.stat(f"{base}/hard")).size == 2
        await sftp.rename(f"{base}/f", f"{base}/hard")          # same file: both stay
        async with await sftp.open(f"{base}/g", "w") as f:
            await f.write(b"he")
        await sftp.rename(f"{base}/g", f"{base}/hard")          # posix-rename replaces
        await sftp.remove(f"{base}/hard")
        with pytest.raises(SFTPFailureError):
            await sftp.rename(f"{base}/link", f"{base}/f", overwrite=False)
        await sftp.rename(f"{base}/link", f"{base}/link2", overwrite=False)
        await sftp.remove(f"{base}/link2")
        with pytest.raises(SFTPNoSuchFileError):
            await sftp.remove(f"{base}/link2")
        vfs = await sftp.statvfs(base)
        assert vfs.bsize > 0 and vfs.blocks > 0 and vfs.namemax > 0
        await sftp.copy(f"{base}/big", f"{base}/big2")         # through the client here
        return big

    big = run(sshd, keys, body)
    assert (tmp_path / "f").read_bytes() == b"he"
    assert (tmp_path / "big2").read_bytes() == big
    assert sorted(os.listdir(tmp_path)) == ["big", "big2", "f"]
    assert os.stat(tmp_path / "f").st_nlink == 1  # the hard link is gone


def test_unsupported_extension_is_reported(sshd, keys):
    async def body(sftp: SFTPClient):
        sftp.extensions.pop("statvfs@openssh.com")
        with pytest.raises(SFTPOpUnsupportedError, match="statvfs@openssh.com"):
            await sftp.statvfs("/")

    run(sshd, keys, body)


def test_session_end_fails_outstanding_requests(sshd, keys, tmp_path):
    src = tmp_path / "f.bin"
    make_file(src, 8 * 1024 * 1024)

    async def body(sftp: SFTPClient):
        task = asyncio.ensure_future(sftp.get(str(src), str(tmp_path / "out")))
        await asyncio.sleep(0)
        sftp.exit()
        with pytest.raises((SFTPError, ConnectionError)):
            await task
        with pytest.raises(SFTPError):
            await sftp.stat("/")

    run(sshd, keys, body)
