"""RFC 4254 strictness where OpenSSH is strict: each test drives a hostile peer (our
server against a raw client, our client against a raw server) past one rule and checks
the exact reaction: a DISCONNECT with PROTOCOL_ERROR where OpenSSH disconnects, or the
message dropped where OpenSSH drops it.  The docstrings name the OpenSSH check mirrored.

Already covered elsewhere (not repeated here): data beyond the window or the maximum
packet size (test_limits), channel messages before authentication or for a channel
not yet confirmed (test_message_legality, test_connection).  OpenSSH refuses no
initial window or maximum packet size in CHANNEL_OPEN (serverloop.c
server_input_channel_open, clientloop.c client_input_channel_open take any), so
neither do we.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from conftest import PASSWORD, USER, assert_serves, client, echo_command, run, serve
from rawpeer import PeerClosed, RawPeer, hostile_server

from sshcore._wire import SSHReader, boolean, byte, string, uint32
from sshcore.errors import DisconnectReason as R
from sshcore.errors import SSHError
from sshcore.messages import MessageType as M
from sshcore.testing import TestKey

MAX = 0xFFFFFFFF
SKIP = (M.IGNORE, M.DEBUG, M.EXT_INFO, M.GLOBAL_REQUEST, M.CHANNEL_WINDOW_ADJUST)
SERVER_CHANNEL = 7  # the raw server's channel number


def adjust(rid: int, n: int, extra: bytes = b"") -> bytes:
    return byte(M.CHANNEL_WINDOW_ADJUST) + uint32(rid) + uint32(n) + extra


def ext_data(rid: int, code: int, data: bytes) -> bytes:
    return byte(M.CHANNEL_EXTENDED_DATA) + uint32(rid) + uint32(code) + string(data)


def request(rid: int, name: str, want_reply: bool = False, data: bytes = b"") -> bytes:
    return byte(M.CHANNEL_REQUEST) + uint32(rid) + string(name) + boolean(want_reply) + data


def global_request(name: str, want_reply: bool) -> bytes:
    return byte(M.GLOBAL_REQUEST) + string(name) + boolean(want_reply)


# --------------------------------------------------------------------------- our server

async def _attack_server(reg, attack, **options):
    """A raw client logs in and opens a session, ``await attack(peer, rid)`` runs; returns
    the server's DISCONNECT reason, after checking the server still serves others."""
    async with await serve(reg, TestKey(), **options) as srv:
        peer = await RawPeer.connect(srv.port, reg)
        await peer.login(USER, PASSWORD)
        rid, _, _ = await peer.open_session()
        await attack(peer, rid)
        code = await peer.expect_disconnect()
        await peer.aclose()
        await assert_serves(srv.port, reg)
        return code


def test_server_refuses_window_adjust_past_2_32(test_registry):
    """RFC 4254 5.2: the window MUST NOT be increased above 2^32-1.  OpenSSH channels.c
    channel_input_window_adjust: fatal("channel %d: adjust %u overflows remote window %u").
    An adjust up to exactly 2^32-1 is fine; one byte more is a PROTOCOL_ERROR."""
    async def attack(peer, rid):
        peer.send(adjust(rid, MAX - (1 << 20)))  # our window was 1 MiB: now exactly 2^32-1
        await peer.expect_silence(0.3)
        peer.send(adjust(rid, 1))

    assert run(_attack_server(test_registry, attack)) == R.PROTOCOL_ERROR


@pytest.mark.parametrize("message", ["eof", "close", "window-adjust", "eow"])
def test_server_refuses_trailing_bytes_in_channel_messages(test_registry, message):
    """A fixed-format message with bytes after its last field: OpenSSH's channel_input_ieof,
    channel_input_oclose, channel_input_window_adjust and the eow@openssh.com handler
    (serverloop.c) end with sshpkt_get_end / ssh_packet_check_eom and disconnect."""
    def payload(rid):
        return {"eof": byte(M.CHANNEL_EOF) + uint32(rid) + b"\0",
                "close": byte(M.CHANNEL_CLOSE) + uint32(rid) + b"\0",
                "window-adjust": adjust(rid, 1, b"\0"),
                "eow": request(rid, "eow@openssh.com", False, b"\0")}[message]

    async def attack(peer, rid):
        peer.send(payload(rid))

    assert run(_attack_server(test_registry, attack)) == R.PROTOCOL_ERROR


def test_server_refuses_session_open_with_data(test_registry):
    """RFC 4254 6.1: a "session" CHANNEL_OPEN carries nothing after the maximum packet size
    (serverloop.c server_request_session: sshpkt_get_end, fatal)."""
    async def attack(peer, rid):
        peer.channel_open(1, extra=b"junk")

    assert run(_attack_server(test_registry, attack)) == R.PROTOCOL_ERROR


@pytest.mark.parametrize("want_reply", [False, True])
def test_no_more_sessions_then_session_open_disconnects(test_registry, want_reply):
    """OpenSSH PROTOCOL 2.2: after no-more-sessions@openssh.com a "session" open is refused
    and the client disconnected (serverloop.c server_request_session: "Possible attack:
    attempt to open a session after additional sessions disabled"); the session already
    open goes on, and the request, when a reply is wanted, gets REQUEST_SUCCESS."""
    async def attack(peer, rid):
        peer.send(global_request("no-more-sessions@openssh.com", want_reply))
        if want_reply:
            await peer.recv_type(M.REQUEST_SUCCESS, skip=(M.IGNORE, M.DEBUG, M.GLOBAL_REQUEST))
        peer.channel_request(rid, "exec", True, string("before"))  # the open session still works
        await peer.recv_type(M.CHANNEL_SUCCESS, skip=SKIP)
        data = await peer.recv_type(M.CHANNEL_DATA, skip=SKIP)
        assert data.endswith(b"ran before")
        peer.channel_open(1)

    assert run(_attack_server(test_registry, attack)) == R.PROTOCOL_ERROR


async def _cat(proc):
    """``cat``: stdin to stdout, then exit 0 (other commands: the usual echo)."""
    if proc.command != "cat":
        return await echo_command(proc)
    data = await proc.stdin.read()
    proc.stdout.write(data)
    return 0


async def _read_session(peer, rid_local=0):
    """Data, extended data and the exit status the server sends, until its CLOSE."""
    out, ext, status = b"", [], None
    while True:
        p = await peer.recv_type(M.CHANNEL_DATA, M.CHANNEL_EXTENDED_DATA, M.CHANNEL_EOF,
                                 M.CHANNEL_REQUEST, M.CHANNEL_CLOSE, skip=SKIP)
        r = SSHReader(p, 1)
        assert r.uint32() == rid_local
        if p[0] == M.CHANNEL_DATA:
            out += r.string()
        elif p[0] == M.CHANNEL_EXTENDED_DATA:
            ext.append((r.uint32(), r.string()))
        elif p[0] == M.CHANNEL_REQUEST and r.text() == "exit-status":
            r.boolean()
            status = r.uint32()
        elif p[0] == M.CHANNEL_CLOSE:
            return out, ext, status


def test_server_drops_extended_data_from_the_client(test_registry):
    """Extended data towards a server's session is nobody's stdin: OpenSSH's
    channel_input_extended_data takes it only where the channel writes extended data
    (a client's stderr) and with code SSH2_EXTENDED_DATA_STDERR, else logs "bad ext data"
    and drops it.  Before, it was fed to the command's stdin.  The connection goes on,
    and the window it took is given back."""
    async def main():
        async with await serve(test_registry, TestKey(), process_factory=_cat) as srv:
            peer = await RawPeer.connect(srv.port, test_registry)
            await peer.login(USER, PASSWORD)
            rid, window, _ = await peer.open_session()
            peer.channel_request(rid, "exec", True, string("cat"))
            await peer.recv_type(M.CHANNEL_SUCCESS, skip=SKIP)
            peer.send(ext_data(rid, 1, b"stderr?"))
            peer.send(ext_data(rid, 2, b"code-2?"))
            peer.channel_data(rid, b"stdin")
            # a window's worth of dropped extended data is credited back, as data is
            chunk = b"e" * 32768
            for _ in range(window // len(chunk) + 4):
                peer.send(ext_data(rid, 1, chunk))
            peer.send(byte(M.CHANNEL_EOF) + uint32(rid))
            out, ext, status = await _read_session(peer)
            peer.send(byte(M.CHANNEL_CLOSE) + uint32(rid))
            await peer.aclose()
            await assert_serves(srv.port, test_registry)
            return out, ext, status
    assert run(main()) == (b"stdin", [], 0)


def test_server_stops_writing_after_eow(test_registry):
    """OpenSSH PROTOCOL 2.1, eow@openssh.com: the client reads no more.  sshd (nchan.c
    chan_rcvd_eow -> chan_shutdown_read) closes the pipe from the command's stdout, so the
    command gets EPIPE; here its stdout.write raises BrokenPipeError, the data queued is
    dropped, and stderr still flows."""
    seen = []

    async def flood(proc):
        if proc.command != "flood":
            return await echo_command(proc)
        try:
            for _ in range(10_000):  # about 10 MB: far past any window, bounded
                proc.stdout.write(b"x" * 1000)
                await proc.stdout.drain()
        except BrokenPipeError as exc:
            seen.append(str(exc))
            proc.stderr.write("stopped")
            return 0
        return 1

    async def main():
        async with await serve(test_registry, TestKey(), process_factory=flood) as srv:
            peer = await RawPeer.connect(srv.port, test_registry)
            await peer.login(USER, PASSWORD)
            rid, _, _ = await peer.open_session(window=65536)  # never adjusted: it fills
            peer.channel_request(rid, "exec", True, string("flood"))
            await peer.recv_type(M.CHANNEL_SUCCESS, skip=SKIP)
            await peer.recv_type(M.CHANNEL_DATA, skip=SKIP)
            peer.send(request(rid, "eow@openssh.com"))
            peer.send(adjust(rid, 1 << 20))  # room again: only stderr may use it
            out, ext, status = await _read_session(peer)
            peer.send(byte(M.CHANNEL_CLOSE) + uint32(rid))
            await peer.aclose()
            await assert_serves(srv.port, test_registry)
            return len(out), ext, status
    n, ext, status = run(main())
    assert n <= 65536  # what was in flight before the eow; nothing queued came after it
    assert ext == [(1, b"stopped")] and status == 0
    assert seen and "eow@openssh.com" in seen[0]


def test_server_handler_that_ignores_eow_ends_as_if_by_sigpipe(test_registry, caplog):
    """A process handler that does not catch the BrokenPipeError ends as a command
    writing to a closed pipe does under sshd: exit-signal PIPE, and no "process handler
    failed" error in the log (before: logged with its traceback, and exit status 1)."""
    async def careless(proc):
        if proc.command != "careless":
            return await echo_command(proc)
        for _ in range(10_000):
            proc.stdout.write(b"x" * 1000)
            await proc.stdout.drain()
        return 0

    async def main():
        async with await serve(test_registry, TestKey(), process_factory=careless) as srv:
            peer = await RawPeer.connect(srv.port, test_registry)
            await peer.login(USER, PASSWORD)
            rid, _, _ = await peer.open_session(window=65536)
            peer.channel_request(rid, "exec", True, string("careless"))
            await peer.recv_type(M.CHANNEL_SUCCESS, skip=SKIP)
            await peer.recv_type(M.CHANNEL_DATA, skip=SKIP)
            peer.send(request(rid, "eow@openssh.com"))
            while True:
                p = await peer.recv_type(M.CHANNEL_DATA, M.CHANNEL_REQUEST, skip=SKIP)
                r = SSHReader(p, 5)
                if p[0] == M.CHANNEL_REQUEST:
                    name = r.text()
                    r.boolean()
                    return name, (r.text() if name == "exit-signal" else r.uint32())
    assert run(main()) == ("exit-signal", "PIPE")
    assert "process handler failed" not in caplog.text


def test_our_client_and_server_agree_on_eow(test_registry):
    """Both sides of ours, with a real subprocess behind the server: the command closes
    its stdin, the server's write to it fails and it sends eow@openssh.com (to sshcore
    and OpenSSH peers, as sshd sends it to OpenSSH), and the client's stdin writes then
    raise BrokenPipeError; the command's output and status still arrive."""
    async def main():
        async with await serve(test_registry, TestKey(), process_factory=None) as srv:
            async with await client(srv.port, test_registry) as conn:
                proc = await conn.create_process("exec 0<&-; sleep 1; echo done")
                error = None
                for _ in range(200):
                    try:
                        proc.stdin.write("data\n")
                    except BrokenPipeError as exc:
                        error = exc
                        break
                    await asyncio.sleep(0.02)
                result = await proc.wait()
        return str(error), result.stdout, result.exit_status
    error, out, status = run(main())
    assert "eow@openssh.com" in error and out == "done\n" and status == 0


# Checks the kernel had before this file, with no test of their own until now: each
# test below was seen to fail with its check taken out of sshcore/kernel/_channels.py.

@pytest.mark.parametrize("sequence", ["data-after-eof", "ext-data-after-eof", "duplicate-eof",
                                      "data-after-close", "second-close"])
def test_server_refuses_channel_messages_after_eof_or_close(test_registry, sequence):
    """RFC 4254 5.3: no data after EOF; after CLOSE the channel is gone.  OpenSSH:
    channel_input_extended_data "Received extended_data after EOF on channel %d"; after
    both CLOSEs the channel is freed, and anything naming it hits channel_from_packet_id
    ("packet referred to nonexistent channel").  (OpenSSH drops plain data after EOF and
    logs a second EOF; we disconnect for those too.)"""
    def messages(rid):
        eof, close = byte(M.CHANNEL_EOF) + uint32(rid), byte(M.CHANNEL_CLOSE) + uint32(rid)
        data = byte(M.CHANNEL_DATA) + uint32(rid) + string(b"late")
        return {"data-after-eof": [eof, data], "ext-data-after-eof": [eof, ext_data(rid, 1, b"e")],
                "duplicate-eof": [eof, eof], "data-after-close": [close, data],
                "second-close": [close, close]}[sequence]

    async def attack(peer, rid):
        for payload in messages(rid):
            peer.send(payload)

    assert run(_attack_server(test_registry, attack)) == R.PROTOCOL_ERROR


@pytest.mark.parametrize("payload", [
    byte(M.CHANNEL_DATA) + uint32(4711) + string(b"x"),
    ext_data(4711, 1, b"x"),
    byte(M.CHANNEL_EOF) + uint32(4711),
    byte(M.CHANNEL_CLOSE) + uint32(4711),
    request(4711, "exec", True, string("id")),
    adjust(4711, 1),
    byte(M.CHANNEL_SUCCESS) + uint32(4711),
], ids=["data", "ext-data", "eof", "close", "request", "window-adjust", "success"])
def test_server_refuses_messages_for_unknown_channels(test_registry, payload):
    """A channel number that was never opened: channels.c channel_from_packet_id
    disconnects ("%s packet referred to nonexistent channel %d").  (For WINDOW_ADJUST
    OpenSSH only logs "Received window adjust for non-open channel"; we disconnect.)"""
    async def attack(peer, rid):
        peer.send(payload)

    assert run(_attack_server(test_registry, attack)) == R.PROTOCOL_ERROR


# --------------------------------------------------------------------------- our client

async def _serve_session(peer, window=1 << 20, max_packet=32768):
    """Raw server: log the client in, confirm its session and its exec; returns the
    client's channel number."""
    await peer.key_exchange()
    await peer.accept_login()
    op = await peer.recv_type(M.CHANNEL_OPEN, skip=SKIP)
    r = SSHReader(op, 1)
    assert r.text() == "session"
    cid = r.uint32()
    peer.send(byte(M.CHANNEL_OPEN_CONFIRMATION) + uint32(cid) + uint32(SERVER_CHANNEL)
              + uint32(window) + uint32(max_packet))
    while True:
        req = await peer.recv_type(M.CHANNEL_REQUEST, skip=SKIP)
        r = SSHReader(req, 5)
        name, want = r.text(), r.boolean()
        if want:
            peer.send(byte(M.CHANNEL_SUCCESS) + uint32(cid))
        if name == "exec":
            return cid


async def _end_session(peer, cid, status=0):
    """Raw server: exit status, EOF and CLOSE; then wait for the client to go."""
    peer.send(request(cid, "exit-status", False, uint32(status)))
    peer.send(byte(M.CHANNEL_EOF) + uint32(cid))
    peer.send(byte(M.CHANNEL_CLOSE) + uint32(cid))
    try:
        while True:
            await peer.recv()
    except PeerClosed:
        pass


async def _attack_client(reg, attack):
    """Our client runs a command on a raw server that sends ``attack(cid)`` after the
    exec; returns the DISCONNECT reason our client sent (its connection then closes)."""
    codes = []

    async def handler(peer):
        cid = await _serve_session(peer)
        peer.send(attack(cid))
        codes.append(await peer.expect_disconnect())

    async with hostile_server(handler, reg, TestKey()) as hs:
        conn = await client(hs.port, reg)
        with contextlib.suppress(SSHError):  # run() may also return, with no exit status
            async with asyncio.timeout(15):
                await conn.run("cmd")
        await conn.wait_closed()
    return codes[0]


def test_client_refuses_window_adjust_past_2_32(test_registry):
    """As for the server: OpenSSH's ssh runs the same channel_input_window_adjust."""
    codes = []

    async def handler(peer):
        cid = await _serve_session(peer)
        peer.send(adjust(cid, MAX - (1 << 20)))  # the raw server gave 1 MiB: now 2^32-1
        await peer.expect_silence(0.3, skip=SKIP + (M.CHANNEL_EOF,))  # run() sends EOF
        peer.send(adjust(cid, 1))
        codes.append(await peer.expect_disconnect())

    async def main():
        async with hostile_server(handler, test_registry, TestKey()) as hs:
            conn = await client(hs.port, test_registry)
            with contextlib.suppress(SSHError):
                async with asyncio.timeout(15):
                    await conn.run("cmd")
            await conn.wait_closed()
    run(main())
    assert codes == [R.PROTOCOL_ERROR]


@pytest.mark.parametrize("message", ["eof", "close", "window-adjust", "eow"])
def test_client_refuses_trailing_bytes_in_channel_messages(test_registry, message):
    """clientloop.c / channels.c: the same sshpkt_get_end checks on the client side."""
    def attack(cid):
        return {"eof": byte(M.CHANNEL_EOF) + uint32(cid) + b"\0",
                "close": byte(M.CHANNEL_CLOSE) + uint32(cid) + b"\0",
                "window-adjust": adjust(cid, 1, b"\0"),
                "eow": request(cid, "eow@openssh.com", False, b"\0")}[message]

    assert run(_attack_client(test_registry, attack)) == R.PROTOCOL_ERROR


@pytest.mark.parametrize("body", [uint32(2) + string("no"),
                                  uint32(2) + string("no") + string("") + b"\0"],
                         ids=["no-language-tag", "trailing-bytes"])
def test_client_refuses_malformed_open_failure(test_registry, body):
    """RFC 4254 5.1: CHANNEL_OPEN_FAILURE is reason, description and language tag.
    channels.c channel_input_open_failure: a missing field or trailing bytes is
    "Invalid open failure message", a disconnect."""
    codes = []

    async def handler(peer):
        await peer.key_exchange()
        await peer.accept_login()
        op = await peer.recv_type(M.CHANNEL_OPEN, skip=SKIP)
        r = SSHReader(op, 1)
        r.text()
        peer.send(byte(M.CHANNEL_OPEN_FAILURE) + uint32(r.uint32()) + body)
        codes.append(await peer.expect_disconnect())

    async def main():
        async with hostile_server(handler, test_registry, TestKey()) as hs:
            conn = await client(hs.port, test_registry)
            with pytest.raises(SSHError):
                async with asyncio.timeout(15):
                    await conn.run("cmd")
            await conn.aclose()
    run(main())
    assert codes == [R.PROTOCOL_ERROR]


def test_client_drops_extended_data_other_than_stderr(test_registry):
    """channels.c channel_input_extended_data: a data_type_code other than
    SSH2_EXTENDED_DATA_STDERR is "bad ext data", dropped (before, it landed in stdout);
    stderr (code 1) still arrives as stderr, and the connection goes on."""
    async def handler(peer):
        cid = await _serve_session(peer)
        peer.send(ext_data(cid, 2, b"code-2"))
        peer.send(ext_data(cid, 0xFFFFFFFF, b"code-max"))
        peer.send(ext_data(cid, 1, b"err"))
        peer.send(byte(M.CHANNEL_DATA) + uint32(cid) + string(b"out"))
        await _end_session(peer, cid)

    async def main():
        async with hostile_server(handler, test_registry, TestKey()) as hs:
            async with await client(hs.port, test_registry) as conn:
                async with asyncio.timeout(15):
                    result = await conn.run("cmd")
        return result.stdout, result.stderr, result.exit_status
    assert run(main()) == ("out", "err", 0)


def test_client_stops_writing_after_eow(test_registry):
    """eow@openssh.com from the server (sshd sends it when the command's stdin is
    closed, nchan.c chan_write_failed): our stdin writes then fail with BrokenPipeError,
    as a write to a closed pipe does; before, they were sent on, for nobody."""
    got = []

    async def handler(peer):
        cid = await _serve_session(peer)
        peer.send(request(cid, "eow@openssh.com"))
        # the client's stdin data, if any still comes, is read and ignored
        await asyncio.sleep(0.5)
        await _end_session(peer, cid)

    async def main():
        async with hostile_server(handler, test_registry, TestKey()) as hs:
            async with await client(hs.port, test_registry) as conn:
                async with asyncio.timeout(15):
                    proc = await conn.create_process("cmd")
                    for _ in range(40):
                        try:
                            proc.stdin.write(b"data")
                        except BrokenPipeError as exc:
                            got.append(str(exc))
                            break
                        await asyncio.sleep(0.05)
                    result = await proc.wait()
        return result.exit_status
    assert run(main()) == 0
    assert got and "eow@openssh.com" in got[0]


def test_client_sends_no_more_sessions_and_opens_no_more(test_registry):
    """Client side of PROTOCOL 2.2, in the kernel: ``send_no_more_sessions()`` sends the
    request (want_reply false, as ssh does) and a later session open is refused locally."""
    from sshcore.errors import LocalProtocolError

    got = []

    async def handler(peer):
        await peer.key_exchange()
        await peer.accept_login()
        p = await peer.recv_type(M.GLOBAL_REQUEST, skip=(M.IGNORE, M.DEBUG))
        got.append(p)
        try:
            while True:
                await peer.recv()
        except PeerClosed:
            pass

    async def main():
        async with hostile_server(handler, test_registry, TestKey()) as hs:
            async with await client(hs.port, test_registry) as conn:
                conn._call(conn._conn.send_no_more_sessions)
                with pytest.raises(LocalProtocolError):
                    await conn.run("cmd")
                assert conn._conn.no_more_sessions
                await asyncio.sleep(0.2)
    run(main())
    assert got == [global_request("no-more-sessions@openssh.com", False)]


@pytest.mark.parametrize("sequence", ["ext-data-after-eof", "data-after-eof", "unknown-channel"])
def test_client_refuses_data_after_eof_or_for_unknown_channels(test_registry, sequence):
    """The client side of the same checks: sshd's stderr after its EOF is what OpenSSH's
    ssh disconnects for ("Received extended_data after EOF on channel %d", the
    regress test stderr-after-eof.sh), and a channel number never opened is
    channel_from_packet_id's disconnect."""
    def packets(cid):
        eof = byte(M.CHANNEL_EOF) + uint32(cid)
        return {"ext-data-after-eof": [eof, ext_data(cid, 1, b"late")],
                "data-after-eof": [eof, byte(M.CHANNEL_DATA) + uint32(cid) + string(b"late")],
                "unknown-channel": [byte(M.CHANNEL_DATA) + uint32(cid + 4711) + string(b"x")]
                }[sequence]

    codes = []

    async def handler(peer):
        cid = await _serve_session(peer)
        for payload in packets(cid):
            peer.send(payload)
        codes.append(await peer.expect_disconnect())

    async def main():
        async with hostile_server(handler, test_registry, TestKey()) as hs:
            conn = await client(hs.port, test_registry)
            with contextlib.suppress(SSHError):
                async with asyncio.timeout(15):
                    await conn.run("cmd")
            await conn.wait_closed()
    run(main())
    assert codes == [R.PROTOCOL_ERROR]
