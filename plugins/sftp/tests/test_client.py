"""sshcore's SFTP client against sshcore's SFTP server (stand-in algorithms, one process),
against servers that misbehave, and the client's pure helpers (progress meter, scp
operands)."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import io
import os
import stat
import struct

import pytest

import sshcore
import sshcore_auth.hooks as auth_hooks
import sshcore_sftp.hooks as sftp_hooks
from sshcore.aio.server import SSHServer
from sshcore.registry import build_registry
from sshcore.testing import TestKey
from sshcore.testing import plugin as testing_plugin
from sshcore_sftp import _transfer
from sshcore_sftp._cli import Remote, parse_remote
from sshcore_sftp._client import (SFTPClient, SFTPConnectionLostError, SFTPNoSuchFileError,
                                  SFTPPermissionError)
from sshcore_sftp._progress import ProgressMeter, format_eta, format_size
from sshcore_sftp._protocol import (FXP, MAX_DATA, SFTPAttrs, SFTPProtocolError, encode_packet,
                                    extension_pairs, u32)

REG = build_registry(plugins=[testing_plugin, auth_hooks, sftp_hooks])
HOST_KEY, USER_KEY = TestKey(), TestKey()


class KeyServer(SSHServer):
    def public_key_auth_supported(self):
        return True

    def validate_public_key(self, username, key):
        return key.public_blob == USER_KEY.public_blob


def run(coro, timeout=60):
    async def bounded():
        async with asyncio.timeout(timeout):
            return await coro
    return asyncio.run(bounded())


async def with_client(body, client_options=None, **listen_kw):
    srv = await sshcore.listen("127.0.0.1", 0, server_host_keys=[HOST_KEY], registry=REG,
                               server_factory=KeyServer, **listen_kw)
    async with srv, sshcore.connect("127.0.0.1", srv.port, username="u", client_keys=[USER_KEY],
                                    known_hosts=None, registry=REG) as conn:
        async with conn.start_sftp_client(**(client_options or {})) as sftp:
            result = await body(sftp)
        assert not conn.is_closed  # the SFTP session ends, the connection stays
        return result


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    return r


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_transfers_against_our_server_use_its_limits_and_pipeline(root, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(5 * MAX_DATA + 999))
    peaks = []

    async def body(sftp: SFTPClient):
        assert sftp.version == 3
        assert sftp.limits.max_read_length == MAX_DATA
        assert sftp.block_size == MAX_DATA and sftp.max_requests == 4
        send = sftp._send

        def counting(*args):
            rid = send(*args)
            peaks.append(len(sftp._pending))
            return rid
        sftp._send = counting
        await sftp.put(str(src), "/up.bin")
        up_peak = max(peaks)
        peaks.clear()
        await sftp.get("/up.bin", str(tmp_path / "down.bin"))
        return up_peak, max(peaks)

    up_peak, down_peak = run(with_client(body, {"max_requests": 4}, sftp_root=root))
    assert (up_peak, down_peak) == (4, 4)  # requests kept outstanding, never more
    assert digest(root / "up.bin") == digest(src) == digest(tmp_path / "down.bin")


def test_copy_is_server_side_with_copy_data(root, monkeypatch):
    (root / "d").mkdir()
    (root / "d" / "a").write_bytes(os.urandom(1_000_000))
    (root / "d" / "b").write_text("bee")

    def no_streaming(*args, **kwargs):
        raise AssertionError("data went through the client")
    monkeypatch.setattr(_transfer, "_stream", no_streaming)
    seen = []

    async def body(sftp: SFTPClient):
        assert sftp.supports("copy-data")
        await sftp.copy("/d", "/e", recurse=True, preserve=True,
                        progress=lambda s, d, done, total: seen.append((s, done, total)))
        await sftp.mcopy("/d/[a]", "/e/b")

    run(with_client(body, sftp_root=root))
    assert (root / "e" / "a").read_bytes() == (root / "d" / "a").read_bytes()
    assert (root / "e" / "b").read_bytes() == (root / "d" / "a").read_bytes()
    assert ("/d/a", 1_000_000, 1_000_000) in seen


def test_operations_and_errors(root):
    (root / "f").write_bytes(b"0123456789")

    async def body(sftp: SFTPClient):
        with pytest.raises(SFTPNoSuchFileError) as info:
            await sftp.stat("/missing")
        exc = info.value
        assert isinstance(exc, FileNotFoundError) and exc.errno == errno.ENOENT
        assert "/missing" in str(exc)
        await sftp.makedirs("/a/b/c")
        assert await sftp.listdir("/a") == ["b"]
        await sftp.rename("/f", "/a/g")
        (root / "a" / "h").write_text("replace me")
        await sftp.rename("/a/g", "/a/h")            # posix-rename: replaces
        async with await sftp.open("/a/h", "r+") as f:
            assert await f.read(4, offset=3) == b"3456"
            f.seek(8)
            await f.write(b"XYZ")
            assert (await f.stat()).size == 11
        assert (root / "a" / "h").read_bytes() == b"01234567XYZ"
        async with await sftp.open("/a/h", block_size=4) as f:
            assert [chunk async for chunk in f] == [b"0123", b"4567", b"XYZ"]
        await sftp.symlink("h", "/a/l")
        assert await sftp.readlink("/a/l") == "h"
        await sftp.chdir("/a")
        assert sftp.getcwd() == "/a"
        assert await sftp.glob("*") == ["b", "h", "l"]     # relative, as glob.glob
        assert await sftp.glob("/a/?") == ["/a/b", "/a/h", "/a/l"]
        assert (await sftp.statvfs("/")).bsize > 0
        await sftp.rmtree("/a")
        assert await sftp.listdir("/") == []

    run(with_client(body, sftp_root=root))


def test_read_only_server_refuses_put(root, tmp_path):
    (tmp_path / "x").write_text("x")

    async def body(sftp: SFTPClient):
        with pytest.raises(SFTPPermissionError):
            await sftp.put(str(tmp_path / "x"), "/x")
        return await sftp.listdir("/")

    assert run(with_client(body, subsystem_options={"sftp": {"root": str(root),
                                                             "read_only": True}})) == []


# --------------------------------------------------------------------------- bad servers


async def with_bad_server(serve, body):
    """A server whose sftp subsystem is ``serve(process)``: raw bytes, no real SFTP."""
    srv = await sshcore.listen("127.0.0.1", 0, server_host_keys=[HOST_KEY], registry=REG,
                               server_factory=KeyServer, process_factory=serve,
                               subsystems=["sftp"])
    async with srv, sshcore.connect("127.0.0.1", srv.port, username="u", client_keys=[USER_KEY],
                                    known_hosts=None, registry=REG) as conn:
        await body(conn)
        assert not conn.is_closed


def version_packet():
    return encode_packet(FXP.VERSION, None, u32(3) + extension_pairs([("copy-data", b"1")]))


async def read_request(process):
    head = await process.stdin.readexactly(4)
    return await process.stdin.readexactly(struct.unpack(">I", head)[0])


@pytest.mark.parametrize("garbage", [
    struct.pack(">I", 64 * 1024 * 1024) + b"\x65",          # a 64 MiB packet announced
    encode_packet(FXP.STATUS, 12345, u32(0) + u32(0) + u32(0)),  # a reply to no request
    encode_packet(FXP.ATTRS, 0, b"\xff\xff\xff\xff"),          # truncated attributes
], ids=["oversized", "unknown-id", "truncated"])
def test_malformed_replies_close_the_session_not_the_connection(garbage):
    async def serve(process):
        await read_request(process)                  # INIT
        process.stdout.write(version_packet())
        await read_request(process)                  # the client's request
        process.stdout.write(garbage)
        await process.stdin.read()                   # until the client goes
        return 0

    async def body(conn):
        sftp = await conn.start_sftp_client()
        assert sftp.supports("copy-data") and sftp.limits is None
        assert sftp.block_size == 32768 and sftp.max_requests == 128
        with pytest.raises((SFTPProtocolError, SFTPConnectionLostError)):
            await sftp.stat("/x")
        with pytest.raises((SFTPProtocolError, SFTPConnectionLostError)):
            await sftp.stat("/y")
        await sftp.aclose()

    run(with_bad_server(serve, body), timeout=30)


def test_server_vanishing_mid_transfer_fails_the_transfer(tmp_path):
    async def serve(process):
        await read_request(process)
        process.stdout.write(version_packet())
        payload = await read_request(process)        # STAT
        attrs = SFTPAttrs(size=10 ** 9, permissions=0o100644).encode()
        process.stdout.write(encode_packet(FXP.ATTRS, int.from_bytes(payload[1:5], "big"), attrs))
        payload = await read_request(process)        # OPEN
        process.stdout.write(encode_packet(FXP.HANDLE, int.from_bytes(payload[1:5], "big"),
                                           u32(1) + b"h"))
        await read_request(process)                  # the first READ ...
        return 0                                     # ... and the server exits

    async def body(conn):
        async with conn.start_sftp_client() as sftp:
            with pytest.raises(SFTPConnectionLostError):
                await sftp.get("/big", str(tmp_path / "out"))

    run(with_bad_server(serve, body), timeout=30)


def test_version_other_than_3_is_refused():
    async def serve(process):
        await read_request(process)
        process.stdout.write(encode_packet(FXP.VERSION, None, u32(6)))
        await process.stdin.read()
        return 0

    async def body(conn):
        with pytest.raises(SFTPProtocolError, match="version 6"):
            await conn.start_sftp_client()

    run(with_bad_server(serve, body), timeout=30)


# --------------------------------------------------------------------------- helpers


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_meter_draws_rate_and_eta_on_a_terminal_only():
    now = [0.0]
    out = FakeTTY()
    meter = ProgressMeter(out, clock=lambda: now[0], width=60)
    assert meter.enabled
    meter("dir/file.bin", "x", 0, 10 * 1024 * 1024)
    now[0] = 1.0
    meter("dir/file.bin", "x", 2 * 1024 * 1024, 10 * 1024 * 1024)
    line = out.getvalue().rsplit("\r", 1)[-1]
    assert line.startswith("file.bin") and "20%" in line and "2.0MB" in line
    assert "2.0MB/s" in line and "00:04 ETA" in line and len(line) == 59  # no wrap
    now[0] = 5.0
    meter("dir/file.bin", "x", 10 * 1024 * 1024, 10 * 1024 * 1024)
    meter.finish()
    assert out.getvalue().endswith("\n") and "100%" in out.getvalue().rsplit("\r", 1)[-1]
    assert "00:05" in out.getvalue().rsplit("\r", 1)[-1]

    quiet = io.StringIO()                           # not a terminal: nothing at all
    meter = ProgressMeter(quiet, clock=lambda: now[0])
    meter("f", "g", 0, 10)
    meter("f", "g", 10, 10)
    meter.finish()
    assert not meter.enabled and quiet.getvalue() == ""


def test_size_and_eta_formats():
    assert (format_size(0), format_size(1536), format_size(5 * 1024 ** 3)) == ("0B", "1.5KB", "5.0GB")
    assert (format_eta(75), format_eta(3725), format_eta(None)) == ("01:15", "1:02:05", "--:--")


@pytest.mark.parametrize("arg, want", [
    ("host:path", Remote(None, "host", None, "path")),
    ("me@host:", Remote("me", "host", None, "")),
    ("me@host:/a:b", Remote("me", "host", None, "/a:b")),
    ("[::1]:/tmp", Remote(None, "::1", None, "/tmp")),
    ("scp://me@h:2222/x/y", Remote("me", "h", 2222, "x/y")),
    ("local", None), ("./a:b", None), ("/abs:x", None), ("dir/f:x", None), ("a@b", None),
])
def test_scp_operands(arg, want):
    assert parse_remote(arg) == want


def test_scp_operand_bad_port():
    with pytest.raises(ValueError):
        parse_remote("scp://h:99999/x")


def test_local_glob_matches_or_fails(tmp_path):
    (tmp_path / "a1").write_text("")
    (tmp_path / "a2").write_text("")
    assert _transfer.local_glob(str(tmp_path / "a*")) == [str(tmp_path / "a1"), str(tmp_path / "a2")]
    with pytest.raises(FileNotFoundError):
        _transfer.local_glob(str(tmp_path / "b*"))
    assert stat.S_ISREG(os.stat(tmp_path / "a1").st_mode)
