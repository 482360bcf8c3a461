"""Our SFTP server through a real SSH connection (sshcore client and server, stand-in
algorithms), spoken to packet by packet with the codec: every operation, the status
codes, the root's walls, the policy hook and the limits."""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import struct
from pathlib import Path

import pytest

import sshcore
import sshcore_auth.hooks as auth_hooks
import sshcore_sftp.hooks as sftp_hooks
from sshcore.aio.server import SSHServer
from sshcore.registry import build_registry
from sshcore.testing import TestKey
from sshcore.testing import plugin as testing_plugin
from sshcore_sftp._protocol import (FXF, FXP, MAX_DATA, MAX_PACKET, PacketParser, Reader,
                                    SFTPAttrs, Status, encode_packet, string, u32, u64)
from sshcore_sftp._server import MAX_OUTSTANDING, SFTPServer, status_for_errno

REG = build_registry(plugins=[testing_plugin, auth_hooks, sftp_hooks])
HOST_KEY, USER_KEY = TestKey(), TestKey()


class KeyServer(SSHServer):
    def public_key_auth_supported(self):
        return True

    def validate_public_key(self, username, key):
        return key.public_blob == USER_KEY.public_blob


class Raw:
    """A minimal SFTP client: requests in, (type, Reader) replies out."""

    def __init__(self, proc):
        self.proc = proc
        self.parser = PacketParser(MAX_PACKET + 1024)
        self.replies = []
        self.next_id = 0
        self.version = None
        self.extensions = {}

    async def recv(self):
        while not self.replies:
            data = await self.proc.stdout.read(1 << 20)
            if not data:
                raise EOFError("server closed the channel")
            self.replies += [(t, bytes(p)) for t, p in self.parser.feed(data)]
        t, p = self.replies.pop(0)
        return t, Reader(p)

    async def init(self):
        self.proc.stdin.write(encode_packet(FXP.INIT, None, u32(3)))
        t, r = await self.recv()
        assert t == FXP.VERSION
        self.version = r.uint32()
        while r.remaining:
            name = r.text()
            self.extensions[name] = r.bytes()

    def send(self, ptype, body):
        self.next_id += 1
        self.proc.stdin.write(encode_packet(ptype, self.next_id, body))
        return self.next_id

    async def request(self, ptype, body):
        rid = self.send(ptype, body)
        t, r = await self.recv()
        assert r.uint32() == rid
        return t, r

    async def ext(self, name, body=b""):
        return await self.request(FXP.EXTENDED, string(name) + body)

    async def status(self, ptype, body):
        t, r = await self.request(ptype, body)
        assert t == FXP.STATUS, t
        return Status(r.uint32()), r.text()

    async def ok(self, ptype, body):
        code, msg = await self.status(ptype, body)
        assert code == Status.OK, msg

    async def handle(self, ptype, body):
        t, r = await self.request(ptype, body)
        if t == FXP.STATUS:
            code = Status(r.uint32())
            raise AssertionError(f"{code.name}: {r.text()}")
        assert t == FXP.HANDLE
        return r.bytes()

    async def open(self, path, flags, attrs=SFTPAttrs()):
        return await self.handle(FXP.OPEN, string(path) + u32(flags) + attrs.encode())

    async def attrs(self, ptype, body):
        t, r = await self.request(ptype, body)
        if t == FXP.STATUS:
            return Status(r.uint32())
        assert t == FXP.ATTRS
        return r.attrs()

    async def names(self, ptype, body):
        t, r = await self.request(ptype, body)
        if t == FXP.STATUS:
            return Status(r.uint32())
        assert t == FXP.NAME
        return [(r.bytes(), r.bytes(), r.attrs()) for _ in range(r.uint32())]


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def session(root, body, **listen_kw):
    """Start a server rooted at ``root``, open an sftp channel, run ``body(raw)``."""
    listen_kw.setdefault("sftp_root", root)
    srv = await sshcore.listen("127.0.0.1", 0, server_host_keys=[HOST_KEY], registry=REG,
                               server_factory=KeyServer, **listen_kw)
    async with srv, sshcore.connect("127.0.0.1", srv.port, username="u", client_keys=[USER_KEY],
                                    known_hosts=None, registry=REG) as conn:
        proc = await conn.create_process(subsystem="sftp", encoding=None)
        raw = Raw(proc)
        await raw.init()
        result = await body(raw)
        proc.stdin.write_eof()
        await proc.wait()
        return result, proc


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    (tmp_path / "outside.txt").write_text("secret outside the root")
    return r


def test_version_advertises_every_extension(root):
    async def body(raw):
        return raw.version, raw.extensions

    (version, ext), proc = run(session(root, body))
    assert version == 3
    assert set(ext) == {"posix-rename@openssh.com", "statvfs@openssh.com", "fstatvfs@openssh.com",
                        "hardlink@openssh.com", "fsync@openssh.com", "lsetstat@openssh.com",
                        "limits@openssh.com", "expand-path@openssh.com", "copy-data"}
    assert proc.exit_status == 0


def test_files_read_write_stat_setstat(root):
    data = os.urandom(3 * MAX_DATA + 12345)

    async def body(raw):
        h = await raw.open("f.bin", FXF.WRITE | FXF.CREAT | FXF.TRUNC, SFTPAttrs(permissions=0o640))
        # Pipelined writes, each as big as limits@ allows, answered in order.
        ids = [raw.send(FXP.WRITE, string(h) + u64(off) + string(data[off:off + MAX_DATA]))
               for off in range(0, len(data), MAX_DATA)]
        for rid in ids:
            t, r = await raw.recv()
            assert (t, r.uint32(), r.uint32()) == (FXP.STATUS, rid, Status.OK)
        a = await raw.attrs(FXP.FSTAT, string(h))
        assert a.size == len(data) and stat.S_IMODE(a.permissions) == 0o640
        await raw.ok(FXP.FSETSTAT, string(h) + SFTPAttrs(permissions=0o600).encode())
        await raw.ok(FXP.EXTENDED, string("fsync@openssh.com") + string(h))
        await raw.ok(FXP.CLOSE, string(h))
        # Reading: oversized requests are clamped to MAX_DATA; past the end is EOF.
        h = await raw.open("/f.bin", FXF.READ)
        got = b""
        while True:
            t, r = await raw.request(FXP.READ, string(h) + u64(len(got)) + u32(1 << 20))
            if t == FXP.STATUS:
                assert r.uint32() == Status.EOF
                break
            chunk = r.bytes()
            assert len(chunk) <= MAX_DATA
            got += chunk
        await raw.ok(FXP.CLOSE, string(h))
        assert await raw.status(FXP.CLOSE, string(h)) == (Status.FAILURE, "Invalid handle")
        st = await raw.attrs(FXP.STAT, string("f.bin"))
        await raw.ok(FXP.SETSTAT, string("f.bin") + SFTPAttrs(size=10, atime=1000, mtime=2000).encode())
        st2 = await raw.attrs(FXP.LSTAT, string("f.bin"))
        return got, st, st2

    (got, st, st2), _ = run(session(root, body))
    assert got == data
    assert stat.S_IMODE(st.permissions) == 0o600 and st.size == len(data)
    assert (st2.size, st2.atime, st2.mtime) == (10, 1000, 2000)
    assert os.stat(root / "f.bin").st_mtime == 2000


def test_open_flags_append_excl_and_errors(root):
    (root / "a.txt").write_bytes(b"abc")

    async def body(raw):
        h = await raw.open("a.txt", FXF.WRITE | FXF.APPEND)
        await raw.ok(FXP.WRITE, string(h) + u64(0) + string(b"def"))
        await raw.ok(FXP.CLOSE, string(h))
        excl = await raw.status(FXP.OPEN, string("a.txt") + u32(FXF.WRITE | FXF.CREAT | FXF.EXCL) + u32(0))
        missing = await raw.status(FXP.OPEN, string("nope/x") + u32(FXF.READ) + u32(0))
        wo = await raw.open("a.txt", FXF.WRITE)
        read_wo = await raw.status(FXP.READ, string(wo) + u64(0) + u32(10))
        h = await raw.open("a.txt", FXF.READ)
        write_ro = await raw.status(FXP.WRITE, string(h) + u64(0) + string(b"x"))
        is_dir = await raw.status(FXP.READDIR, string(h))
        unknown = await raw.status(99, b"")
        unknown_ext = await raw.ext("nonsense@example.com")
        bad_handle = await raw.status(FXP.READ, string(b"zzz") + u64(0) + u32(10))
        return excl, missing, write_ro, is_dir, unknown, unknown_ext, bad_handle, read_wo

    (excl, missing, write_ro, is_dir, unknown, (t, r), bad_handle, read_wo), _ = run(session(root, body))
    assert read_wo == (Status.PERMISSION_DENIED, "Handle is not open for reading")
    assert (root / "a.txt").read_bytes() == b"abcdef"
    assert excl == (Status.FAILURE, "File exists")
    assert missing == (Status.NO_SUCH_FILE, "No such file or directory")
    assert write_ro == (Status.PERMISSION_DENIED, "Handle is not open for writing")
    assert is_dir[0] == Status.FAILURE
    assert unknown == (Status.OP_UNSUPPORTED, "Unknown message type 99")
    assert t == FXP.STATUS and r.uint32() == Status.OP_UNSUPPORTED
    assert bad_handle == (Status.FAILURE, "Invalid handle")


def test_directories_links_and_renames(root):
    (root / "d").mkdir()
    for i in range(250):  # more than one READDIR batch
        (root / "d" / f"f{i:03d}").write_bytes(b"x" * i)

    async def body(raw):
        out = {}
        h = await raw.handle(FXP.OPENDIR, string("d"))
        names = []
        while True:
            batch = await raw.names(FXP.READDIR, string(h))
            if batch == Status.EOF:
                break
            names += batch
        await raw.ok(FXP.CLOSE, string(h))
        out["names"] = names
        await raw.ok(FXP.MKDIR, string("new") + SFTPAttrs(permissions=0o750).encode())
        out["mkdir_again"] = await raw.status(FXP.MKDIR, string("new") + u32(0))
        await raw.ok(FXP.RMDIR, string("new"))
        out["rmdir_full"] = await raw.status(FXP.RMDIR, string("d"))
        await raw.ok(FXP.SYMLINK, string("d/f001") + string("link"))  # OpenSSH order: target, link
        out["readlink"] = await raw.names(FXP.READLINK, string("link"))
        out["lstat"] = await raw.attrs(FXP.LSTAT, string("link"))
        out["stat"] = await raw.attrs(FXP.STAT, string("link"))
        await raw.ok(FXP.EXTENDED, string("hardlink@openssh.com") + string("d/f002") + string("hard"))
        out["rename_onto"] = await raw.status(FXP.RENAME, string("hard") + string("d/f003"))
        await raw.ok(FXP.RENAME, string("hard") + string("renamed"))
        await raw.ok(FXP.EXTENDED, string("posix-rename@openssh.com") + string("renamed") + string("d/f003"))
        await raw.ok(FXP.REMOVE, string("link"))
        out["remove_missing"] = await raw.status(FXP.REMOVE, string("link"))
        out["realpath"] = await raw.names(FXP.REALPATH, string("d/../d/./f010"))
        out["realpath_dot"] = await raw.names(FXP.REALPATH, string(""))
        out["expand"] = await raw.names(FXP.EXTENDED, string("expand-path@openssh.com") + string("~/d"))
        out["lsetstat"] = await raw.status(FXP.EXTENDED, string("lsetstat@openssh.com") + string("d/f004")
                                           + SFTPAttrs(atime=5, mtime=6).encode())
        return out

    out, _ = run(session(root, body))
    names = {n for n, _, _ in out["names"]}
    assert names == {b".", b".."} | {f"f{i:03d}".encode() for i in range(250)}
    by_name = {n: (ln, a) for n, ln, a in out["names"]}
    ln, a = by_name[b"f100"]
    assert a.size == 100 and ln.startswith(b"-rw") and ln.endswith(b" f100")
    assert out["mkdir_again"] == (Status.FAILURE, "File exists")
    assert out["rmdir_full"] == (Status.FAILURE, "Directory not empty")
    assert out["readlink"][0][0] == b"d/f001"
    assert out["lstat"].is_link() and out["stat"].size == 1
    assert out["rename_onto"] == (Status.FAILURE, "File exists")
    assert (root / "d" / "f003").read_bytes() == b"x" * 2  # posix-rename overwrote it
    assert os.stat(root / "d" / "f003").st_nlink == 2  # the hard link to f002
    assert out["remove_missing"][0] == Status.NO_SUCH_FILE
    assert out["realpath"][0][0] == b"/d/f010"
    assert out["realpath_dot"][0][0] == b"/"
    assert out["expand"][0][0] == b"/d"
    assert out["lsetstat"] == (Status.OK, "Success")
    assert os.stat(root / "d" / "f004").st_mtime == 6


def test_statvfs_limits_copy_data(root):
    data = os.urandom(1_000_000)
    (root / "src").write_bytes(data)

    async def body(raw):
        t, r = await raw.ext("statvfs@openssh.com", string("/"))
        assert t == FXP.EXTENDED_REPLY
        vfs = struct.unpack(">11Q", bytes(r.rest()))
        t, r = await raw.ext("limits@openssh.com")
        limits = struct.unpack(">4Q", bytes(r.rest()))
        src = await raw.open("src", FXF.READ)
        t, r = await raw.ext("fstatvfs@openssh.com", string(src))
        assert t == FXP.EXTENDED_REPLY and len(r.rest()) == 88
        dst = await raw.open("dst", FXF.WRITE | FXF.CREAT | FXF.TRUNC)
        await raw.ok(FXP.EXTENDED, string("copy-data") + string(src) + u64(0) + u64(0) + string(dst) + u64(0))
        part = await raw.open("part", FXF.WRITE | FXF.CREAT)
        await raw.ok(FXP.EXTENDED, string("copy-data") + string(src) + u64(10) + u64(100) + string(part) + u64(5))
        wrong = await raw.status(FXP.EXTENDED, string("copy-data") + string(dst) + u64(0) + u64(0)
                                 + string(src) + u64(0))
        for h in (src, dst, part):
            await raw.ok(FXP.CLOSE, string(h))
        return vfs, limits, wrong

    (vfs, limits, wrong), _ = run(session(root, body))
    v = os.statvfs(root)
    assert vfs[0] == v.f_bsize and vfs[10] == v.f_namemax
    assert limits == (MAX_PACKET, MAX_DATA, MAX_DATA, 512)
    assert (root / "dst").read_bytes() == data
    assert (root / "part").read_bytes() == b"\0" * 5 + data[10:110]
    assert wrong[0] == Status.PERMISSION_DENIED


# --------------------------------------------------------------------------- the root's walls


def escape_session(root, body):
    return run(session(root, body))[0]


def test_dotdot_stays_in_root(root):
    async def body(raw):
        return (await raw.names(FXP.REALPATH, string("../../..")),
                await raw.status(FXP.OPEN, string("../outside.txt") + u32(FXF.READ) + u32(0)))

    realpath, opened = escape_session(root, body)
    assert realpath[0][0] == b"/"
    assert opened[0] == Status.NO_SUCH_FILE


def test_absolute_path_is_inside_root(root):
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text("the root's own")

    async def body(raw):
        h = await raw.open("/etc/passwd", FXF.READ)
        t, r = await raw.request(FXP.READ, string(h) + u64(0) + u32(100))
        return r.bytes(), await raw.status(FXP.STAT, string(str(root.parent / "outside.txt")))

    data, outside = escape_session(root, body)
    assert data == b"the root's own"
    assert outside[0] == Status.NO_SUCH_FILE


def test_existing_symlink_to_slash_means_the_root(root):
    os.symlink("/", root / "slash")
    os.symlink(str(root.parent / "outside.txt"), root / "abs")
    os.symlink("../outside.txt", root / "rel")

    async def body(raw):
        listing = []
        h = await raw.handle(FXP.OPENDIR, string("slash"))
        while (batch := await raw.names(FXP.READDIR, string(h))) != Status.EOF:
            listing += [n for n, _, _ in batch]
        return (listing, await raw.names(FXP.REALPATH, string("slash/slash/..")),
                await raw.status(FXP.OPEN, string("abs") + u32(FXF.READ) + u32(0)),
                await raw.status(FXP.OPEN, string("rel") + u32(FXF.READ) + u32(0)),
                await raw.status(FXP.OPEN, string("slash/etc/passwd") + u32(FXF.READ) + u32(0)))

    listing, real, absolute, relative, etc = escape_session(root, body)
    assert set(listing) == {b".", b"..", b"slash", b"abs", b"rel"}  # the root, not /
    assert real[0][0] == b"/"
    assert absolute[0] == relative[0] == etc[0] == Status.NO_SUCH_FILE


def test_symlink_created_through_sftp_cannot_escape(root):
    async def body(raw):
        await raw.ok(FXP.SYMLINK, string("/") + string("up"))
        await raw.ok(FXP.SYMLINK, string("../../../../../..") + string("dots"))
        await raw.ok(FXP.SYMLINK, string(str(root.parent)) + string("parent"))
        return [await raw.status(FXP.OPEN, string(p) + u32(FXF.READ) + u32(0))
                for p in ("up/../outside.txt", "dots/outside.txt", "parent/outside.txt")] + [
            await raw.names(FXP.REALPATH, string("dots"))]

    *opens, real = escape_session(root, body)
    assert all(code == Status.NO_SUCH_FILE for code, _ in opens), opens
    assert real[0][0] == b"/"
    # On disk the links are what the client asked for; our server resolves them in the root.
    assert os.readlink(root / "up") == "/"


def test_rename_and_link_out_of_root_refused(root):
    (root / "mine").write_text("mine")

    async def body(raw):
        await raw.ok(FXP.RENAME, string("mine") + string("../../stolen"))
        hard = await raw.status(FXP.EXTENDED, string("hardlink@openssh.com") + string("../outside.txt")
                                + string("grab"))
        root_rename = await raw.status(FXP.RENAME, string("/") + string("x"))
        root_rmdir = await raw.status(FXP.RMDIR, string("/"))
        return hard, root_rename, root_rmdir

    hard, root_rename, root_rmdir = escape_session(root, body)
    assert (root / "stolen").read_text() == "mine"  # ../../stolen is /stolen in the root
    assert not (root.parent / "stolen").exists() and not (root.parent.parent / "stolen").exists()
    assert hard[0] == Status.NO_SUCH_FILE
    assert root_rename[0] == root_rmdir[0] == Status.PERMISSION_DENIED


def test_symlink_loop_is_an_error(root):
    os.symlink("b", root / "a")
    os.symlink("a", root / "b")

    async def body(raw):
        return await raw.status(FXP.STAT, string("a"))

    code, msg = escape_session(root, body)
    assert code == Status.NO_SUCH_FILE and "symbolic links" in msg


# --------------------------------------------------------------------------- policy


def test_authorize_hook_and_read_only(root):
    (root / "pub").mkdir()
    (root / "pub" / "f").write_text("public")
    (root / "private").write_text("no")
    asked = []

    class Policy(SFTPServer):
        def authorize(self, op, path, *, target=None, write=False):
            asked.append((op, path, write))
            return path.startswith("/pub") and super().authorize(op, path, target=target, write=write)

    async def body(raw):
        h = await raw.open("pub/f", FXF.READ)
        await raw.ok(FXP.CLOSE, string(h))
        return (await raw.status(FXP.OPEN, string("private") + u32(FXF.READ) + u32(0)),
                await raw.status(FXP.OPEN, string("pub/g") + u32(FXF.WRITE | FXF.CREAT) + u32(0)),
                await raw.status(FXP.REMOVE, string("pub/f")))

    denied, write, remove = run(session(root, body, subsystem_options={
        "sftp": {"root": str(root), "server_class": Policy, "read_only": True}}))[0]
    assert denied == (Status.PERMISSION_DENIED, "open /private: refused by the server's policy")
    assert write[0] == remove[0] == Status.PERMISSION_DENIED
    assert ("open", "/pub/f", False) in asked and ("open", "/pub/g", True) in asked
    assert (root / "pub" / "f").exists() and not (root / "pub" / "g").exists()


# --------------------------------------------------------------------------- limits


def test_oversized_packet_closes_the_channel(root):
    async def body(raw):
        raw.proc.stdin.write(u32(MAX_PACKET + 1) + b"\x06")
        return await raw.proc.stdout.read(), await raw.proc.stderr.read()

    (rest, err), proc = run(session(root, body))
    assert rest == b"" and proc.exit_status == 11
    assert b"over the 262144-byte limit" in err


def test_malformed_request_closes_the_channel(root):
    async def body(raw):
        raw.proc.stdin.write(encode_packet(FXP.OPEN, 1, u32(1000) + b"short"))
        return await raw.proc.stdout.read(), await raw.proc.stderr.read()

    (rest, err), proc = run(session(root, body))
    assert rest == b"" and proc.exit_status == 11 and b"truncated" in err


def test_request_before_init_closes_the_channel(root):
    async def body(proc):
        proc.stdin.write(encode_packet(FXP.STAT, 1, string("/")))
        return await proc.stderr.read()

    async def main():
        srv = await sshcore.listen("127.0.0.1", 0, server_host_keys=[HOST_KEY], registry=REG,
                                   server_factory=KeyServer, sftp_root=root)
        async with srv, sshcore.connect("127.0.0.1", srv.port, username="u", client_keys=[USER_KEY],
                                        known_hosts=None, registry=REG) as conn:
            proc = await conn.create_process(subsystem="sftp", encoding=None)
            err = await body(proc)
            await proc.wait()
            return err, proc.exit_status

    err, status = run(main())
    assert status == 11 and b"expected SSH_FXP_INIT" in err


@pytest.fixture(params=["cached-inline", "worker-thread"])
def read_path(request, monkeypatch):
    """Reads served inline from the page cache, and (RWF_NOWAIT off) by the worker."""
    import sshcore_sftp._server as server

    if request.param == "worker-thread":
        monkeypatch.setattr(server, "_NOWAIT", None)
    return request.param


def test_many_outstanding_requests_all_answered_in_order(root, read_path):
    (root / "f").write_bytes(bytes(range(256)) * 4096)  # 1 MiB

    async def body(raw):
        h = await raw.open("f", FXF.READ)
        n = MAX_OUTSTANDING * 4
        ids = [raw.send(FXP.READ, string(h) + u64(i * 4096 % (1 << 20)) + u32(4096)) for i in range(n)]
        got = []
        for _ in ids:
            t, r = await raw.recv()
            got.append(r.uint32())
            assert t == FXP.DATA and len(r.bytes()) == 4096
        return ids, got

    (ids, got), _ = run(session(root, body))
    assert got == ids


def test_big_file_checksum_through_pipelined_reads(root, read_path):
    data = os.urandom(8 << 20)
    (root / "big").write_bytes(data)

    async def body(raw):
        h = await raw.open("big", FXF.READ)
        digest = hashlib.sha256()
        offsets = list(range(0, len(data), MAX_DATA))
        ids = {raw.send(FXP.READ, string(h) + u64(off) + u32(MAX_DATA)): off for off in offsets}
        chunks = {}
        for _ in offsets:
            t, r = await raw.recv()
            off = ids[r.uint32()]
            chunks[off] = r.bytes()
        for off in offsets:
            digest.update(chunks[off])
        return digest.hexdigest()

    digest, _ = run(session(root, body))
    assert digest == hashlib.sha256(data).hexdigest()


def test_status_for_errno():
    import errno

    assert status_for_errno(errno.ENOENT) == Status.NO_SUCH_FILE
    assert status_for_errno(errno.EACCES) == Status.PERMISSION_DENIED
    assert status_for_errno(errno.ENOSYS) == Status.OP_UNSUPPORTED
    assert status_for_errno(errno.EEXIST) == Status.FAILURE
    assert status_for_errno(None) == Status.FAILURE


def test_listen_rejects_options_for_unknown_subsystem(root):
    async def main():
        await sshcore.listen("127.0.0.1", 0, server_host_keys=[HOST_KEY], registry=REG,
                             subsystem_options={"nosuch": {}})

    with pytest.raises(sshcore.ConfigurationError, match="nosuch"):
        run(main())


def test_command_mapping_overrides_the_plugin(root, tmp_path):
    """subsystems={"sftp": CMD} runs the command instead (sshd's Subsystem)."""
    async def main():
        srv = await sshcore.listen("127.0.0.1", 0, server_host_keys=[HOST_KEY], registry=REG,
                                   server_factory=KeyServer, subsystems={"sftp": "echo from-command"})
        async with srv, sshcore.connect("127.0.0.1", srv.port, username="u", client_keys=[USER_KEY],
                                        known_hosts=None, registry=REG) as conn:
            return await conn.run(subsystem="sftp")

    r = run(main())
    assert r.stdout == "from-command\n" and r.exit_status == 0


def test_expand_path_knows_the_logged_in_user_only(root):
    (root / "d").mkdir()

    async def body(raw):
        return (await raw.names(FXP.EXTENDED, string("expand-path@openssh.com") + string("~u/d")),
                await raw.names(FXP.EXTENDED, string("expand-path@openssh.com") + string("~")),
                await raw.status(FXP.EXTENDED, string("expand-path@openssh.com") + string("~mallory/d")))

    (mine, home, other), _ = run(session(root, body))
    assert mine[0][0] == b"/d" and home[0][0] == b"/"
    assert other == (Status.NO_SUCH_FILE, "No home directory for mallory here")


def test_thousands_of_small_pipelined_requests(root):
    (root / "f").write_text("x")

    async def body(raw):
        ids = [raw.send(FXP.STAT, string("f")) for _ in range(5000)]
        got = []
        for _ in ids:
            t, r = await raw.recv()
            assert t == FXP.ATTRS
            got.append(r.uint32())
        return ids, got

    (ids, got), _ = run(session(root, body))
    assert got == ids


def test_open_handles_are_bounded(root):
    from sshcore_sftp._server import MAX_HANDLES

    (root / "f").write_text("x")

    async def body(raw):
        for _ in range(MAX_HANDLES):
            await raw.open("f", FXF.READ)
        return await raw.status(FXP.OPEN, string("f") + u32(FXF.READ) + u32(0))

    over, _ = run(session(root, body))
    assert over == (Status.FAILURE, f"too many open handles (at most {MAX_HANDLES})")


def test_partly_cached_reads_are_not_answered_short(root, monkeypatch):
    """RWF_NOWAIT may return only the cached part (pages under writeback, say); a short
    reply would cost OpenSSH's client a serial round trip, so the worker reads it all."""
    import sshcore_sftp._server as server

    real = os.preadv

    def half(fd, buffers, offset, flags=0):
        view = memoryview(buffers[0])
        return real(fd, [view[:max(1, len(view) // 2)]], offset, flags)

    monkeypatch.setattr(server.os, "preadv", half)
    data = os.urandom(3 * MAX_DATA + 100)
    (root / "f").write_bytes(data)

    async def body(raw):
        h = await raw.open("f", FXF.READ)
        sizes = []
        for off in range(0, len(data), MAX_DATA):
            t, r = await raw.request(FXP.READ, string(h) + u64(off) + u32(MAX_DATA))
            sizes.append(len(r.bytes()))
        return sizes

    sizes, _ = run(session(root, body))
    assert sizes == [MAX_DATA, MAX_DATA, MAX_DATA, 100]


# --------------------------------------------------------------------------- without a root; home


async def _read_all(raw, path):
    h = await raw.open(path, FXF.READ)
    t, r = await raw.request(FXP.READ, string(h) + u64(0) + u32(1000))
    await raw.ok(FXP.CLOSE, string(h))
    return r.bytes()


def _expand(path):
    return FXP.EXTENDED, string("expand-path@openssh.com") + string(path)


def test_without_a_root_paths_are_real_and_relative_ones_start_at_home(tmp_path, monkeypatch):
    """The default, as sshd's sftp-server: the whole file system, starting at $HOME."""
    import getpass
    import pwd

    home = tmp_path / "home"
    home.mkdir()
    (home / "near.txt").write_text("in the home")
    (tmp_path / "far.txt").write_text("far away")
    monkeypatch.setenv("HOME", str(home))
    other = next(p for p in pwd.getpwall() if p.pw_name not in (getpass.getuser(), "u"))

    async def body(raw):
        got = [await raw.names(FXP.REALPATH, string(".")), await raw.names(FXP.REALPATH, string("..")),
               await _read_all(raw, str(tmp_path / "far.txt")), await _read_all(raw, "near.txt"),
               await raw.ok(FXP.MKDIR, string("made") + SFTPAttrs().encode()),
               await raw.ok(FXP.SYMLINK, string(str(tmp_path)) + string("up")),
               await _read_all(raw, "up/far.txt")]
        return got + [await raw.names(*_expand("~/made")), await raw.names(*_expand("~u")),
                      await raw.names(*_expand(f"~{other.pw_name}")),
                      await raw.status(*_expand("~no-such-user-here/x"))]

    (dot, dotdot, far, near, _, _, via_link, made, u, other_home, nobody), _ = run(
        session(None, body, sftp_root=None))
    assert dot[0][0] == os.fsencode(home) and dotdot[0][0] == os.fsencode(tmp_path)
    assert far == via_link == b"far away" and near == b"in the home"
    assert (home / "made").is_dir() and os.readlink(home / "up") == str(tmp_path)
    assert made[0][0] == os.fsencode(home / "made") and u[0][0] == os.fsencode(home)
    assert other_home[0][0] == os.fsencode(os.path.realpath(other.pw_dir))
    assert nobody == (Status.NO_SUCH_FILE, "No home directory for no-such-user-here here")


def test_a_missing_home_starts_at_slash(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "gone"))

    async def body(raw):
        return await raw.names(FXP.REALPATH, string("."))

    dot, _ = run(session(None, body, sftp_root=None))
    assert dot[0][0] == b"/"


def test_home_inside_the_root(root):
    """``home`` (or a subclass setting it from the user name) is where relative paths
    start; the root's walls stay where they are."""
    for d in ("sub", "u"):
        (root / d).mkdir()
        (root / d / "f").write_text(f"in {d}")

    class PerUser(SFTPServer):
        def __init__(self, process, **options):
            super().__init__(process, **options)
            self.home = f"/{self.username}"

    async def body(raw):
        return (await raw.names(FXP.REALPATH, string(".")), await _read_all(raw, "f"),
                await raw.names(FXP.REALPATH, string("../../..")),
                await raw.names(*_expand("~/f")))

    got = [run(session(root, body, sftp_root=None, subsystem_options={"sftp": options}))[0]
           for options in ({"root": str(root), "home": "/sub"},
                           {"root": str(root), "server_class": PerUser})]
    assert got == [([(b"/sub", b"/sub", SFTPAttrs())], b"in sub", [(b"/", b"/", SFTPAttrs())],
                    [(b"/sub/f", b"/sub/f", SFTPAttrs())]),
                   ([(b"/u", b"/u", SFTPAttrs())], b"in u", [(b"/", b"/", SFTPAttrs())],
                    [(b"/u/f", b"/u/f", SFTPAttrs())])]
