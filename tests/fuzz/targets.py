"""Fuzz targets: one function per decoder, each taking untrusted bytes.

Every target is a plain ``fn(data: bytes) -> None`` that returns normally or raises the
decoder's documented error (which it swallows); anything else propagates and is a bug.
The same functions run under Hypothesis (``tests/fuzz/test_fuzz_targets.py``, a few
hundred examples each in CI) and under atheris (``tests/fuzz/run_atheris.py TARGET``,
coverage-guided, for long runs).  :data:`SEEDS` holds well-formed inputs per target so
both start from something that gets past the first length check.

The kernel targets (``transport``, ``userauth_server``, ``userauth_client``,
``channels``) split the input into payloads and send them through the real packet
writer of one side of an in-memory :class:`sshcore.testing.ConnectionPair` brought to
the right state, so the peer decodes them exactly as it would from the network.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from sshcore import events as ev
from sshcore.kernel._framing import MAX_PAYLOAD, PacketReader, PacketWriter
from sshcore.kernel._kexinit import KexInit, negotiate
from sshcore._wire import boolean, name_list, string, uint32
from sshcore.errors import KeyImportError, ProtocolError, RemoteProtocolError

Target = Callable[[bytes], None]
TARGETS: dict[str, Target] = {}
SEEDS: dict[str, list[bytes]] = {}


def target(fn: Target) -> Target:
    TARGETS[fn.__name__] = fn
    return fn


class Cursor:
    """Takes small integers and byte strings off the front of the fuzz input."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def take(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out

    def rest(self) -> bytes:
        return self.take(len(self.data))

    def chunks(self) -> Iterator[bytes]:
        """Length-prefixed (one byte, or 0xff + two bytes) chunks until the input ends."""
        while self.pos < len(self.data):
            n = self.byte()
            if n == 0xFF:
                n = int.from_bytes(self.take(2), "big")
            yield self.take(n)


def _chunk(payloads: list[bytes]) -> bytes:
    """The inverse of :meth:`Cursor.chunks`: the seed encoding of a list of payloads."""
    out = b""
    for p in payloads:
        out += bytes([len(p)]) if len(p) < 0xFF else b"\xff" + len(p).to_bytes(2, "big")
        out += p
    return out


# --------------------------------------------------------------------------- packet reader


class _FixedCipher:
    """Identity "encryption"; for AEAD mode the length travels in clear."""

    def encrypt(self, data: bytes) -> bytes:
        return bytes(data)  # a fresh object, as the cipher contract asks (no view of the input)

    decrypt = encrypt

    def decrypt_length(self, seq: int, header: bytes) -> int:
        return int.from_bytes(header, "big")

    def decrypt_packet(self, seq: int, header: bytes, body: bytes) -> bytes | None:
        # tag = the last 16 bytes; "verifies" when its first byte is not 0xee
        tag = body[-16:]
        return None if tag[:1] == b"\xee" else bytes(body[:-16])


class _FixedMac:
    """A MAC the fuzzer can forge: it verifies unless the tag starts with 0xee."""

    def verify(self, seq: int, data: bytes, mac: bytes) -> bool:
        return mac[:1] != b"\xee"

    def sign(self, seq: int, data: bytes) -> bytes:
        return bytes(16)


def _zlib() -> Any:
    from sshcore_compression.hooks import Decompressor

    return Decompressor()


@target
def packet_reader(data: bytes) -> None:
    """:class:`sshcore.kernel._framing.PacketReader` in each mode (none, cipher+MAC, EtM, AEAD,
    with or without zlib), fed in fuzz-chosen chunk sizes."""
    c = Cursor(data)
    mode, step = c.byte(), c.byte() or 1
    reader = PacketReader()
    kind = mode & 3
    if kind:
        reader.set_keys(_FixedCipher(), kind == 3, 8 << (mode >> 2 & 1), None if kind == 3 else _FixedMac(),
                        16, kind == 2, _zlib() if mode & 8 else None, False)
    elif mode & 8:
        reader.decompressor = _zlib()
    wire = c.rest()
    try:
        for i in range(0, len(wire), step):
            reader.feed(wire[i:i + step])
            while (payload := reader.next_payload()) is not None:
                assert 0 < len(payload) <= MAX_PAYLOAD
    except RemoteProtocolError:
        pass


def _framed(mode: int, payloads: list[bytes]) -> bytes:
    """Well-formed packets for :func:`packet_reader`'s ``mode`` (the seed inputs)."""
    kind = mode & 3
    block = 8 << (mode >> 2 & 1)
    if kind == 3:  # our AEAD stand-in: length in clear, padded body, 16-byte tag
        wire = b""
        for p in payloads:
            padlen = block - (1 + len(p)) % block
            padlen += block if padlen < 4 else 0
            body = bytes([padlen]) + p + bytes(padlen)
            wire += uint32(len(body)) + body + bytes(16)
        return wire
    w = PacketWriter()
    if kind:
        w.set_keys(_FixedCipher(), False, block, _FixedMac(), kind == 2, None, False)
    return b"".join(w.pack(p) for p in payloads)


SEEDS["packet_reader"] = [bytes([mode, step]) + _framed(mode, [b"\x02" + string(b"hello"), b"\x05" * 40])
                          for mode in (0, 1, 2, 3, 5, 6) for step in (1, 7, 255)]


# --------------------------------------------------------------------------- KEXINIT


def _kexinit_payload(kex: list[str], host: list[str], cipher: list[str], mac: list[str],
                     comp: list[str], follows: bool = False) -> bytes:
    return KexInit(kex, host, cipher, cipher, mac, mac, comp, comp, [], [], follows).encode(bytes(16))


@target
def kexinit(data: bytes) -> None:
    """KEXINIT decoding and RFC 4253 section 7.1 negotiation against our own offer."""
    ours = KexInit.decode(_kexinit_payload(
        ["curve25519-sha256", "test-kex@sshcore.test", "kex-strict-s-v00@openssh.com"],
        ["ssh-ed25519", "test-key@sshcore.test"], ["aes128-ctr", "test-identity@sshcore.test"],
        ["hmac-sha2-256", "test-hmac@sshcore.test"], ["none", "zlib"]))
    try:
        peer = KexInit.decode(b"\x14" + data)
    except RemoteProtocolError:
        return
    for client, server in ((peer, ours), (ours, peer)):
        try:
            alg = negotiate(client, server, {"test-identity@sshcore.test"})
        except RemoteProtocolError:
            continue
        assert alg.kex in client.kex and alg.kex in server.kex


SEEDS["kexinit"] = [_kexinit_payload(["test-kex@sshcore.test", "kex-strict-c-v00@openssh.com"],
                                     ["test-key@sshcore.test"], ["test-identity@sshcore.test"],
                                     ["test-hmac@sshcore.test"], ["none"], follows)[1:]
                    for follows in (False, True)]


# --------------------------------------------------------------------------- kernel pairs


@lru_cache(maxsize=1)
def _registry() -> Any:
    import sshcore_auth.hooks as auth

    from sshcore import testing
    from sshcore.registry import build_registry

    return build_registry(plugins=[testing.plugin, auth])


def _pair(**kw: Any) -> Any:
    from sshcore.testing import ConnectionPair, TestKey, pair_configs

    cfgs = pair_configs(_registry(), **kw)
    cfgs.client.username = "alice"
    cfgs.client.credentials = {"client_keys": [TestKey(b"fuzz-client-key")], "password": "secret"}
    return ConnectionPair(cfgs.client, cfgs.server)


def _drive(p: Any, src: Any, dst: Any, payloads: list[bytes], answer: int) -> None:
    """Send ``payloads`` from ``src`` (bypassing its state machine), let ``dst`` decode
    them, and answer every decision ``dst`` asks for (the answer bits come from the fuzz
    input), so the peer's state machine goes as deep as the messages allow."""
    for payload in payloads:
        if src.closed or dst.closed:
            break
        if not payload:
            continue
        src._send_now(payload)
        try:
            dst.receive_data(src.data_to_send(), 1.0)
        except ProtocolError:
            assert dst.closed, "a protocol error must leave the connection CLOSED"
            return
        answer = _react(dst, answer)
        src.data_to_send()  # the honest peer's reactions are not delivered back


def _react(conn: Any, bits: int) -> int:
    """Answer ``conn``'s pending decisions; each uses one bit of ``bits``."""
    while (e := conn.next_event()) is not None:
        yes = bool(bits & 1)
        bits = (bits >> 1) | (bits & 1) << 7
        if conn.closed:
            continue
        if isinstance(e, ev.AuthRequested):
            conn.answer_auth(yes)
        elif isinstance(e, ev.AuthInputRequested):
            conn.provide_auth_input("secret" if yes else None)
        elif isinstance(e, ev.ChannelOpenRequested):
            if yes:
                conn.accept_channel(e.channel)
            else:
                conn.reject_channel(e.channel, 1, "no")
        elif isinstance(e, ev.ChannelRequestReceived) and e.want_reply:
            conn.reply_channel_request(e.channel, yes)
        elif isinstance(e, ev.GlobalRequestReceived) and e.want_reply:
            conn.reply_global_request(yes)
        elif isinstance(e, ev.ChannelData):
            conn.consume(e.channel, len(e.data))
    return bits


def _payloads(c: Cursor, first: int, count: int) -> list[bytes]:
    """Chunks whose first byte is mapped into ``first .. first+count-1`` when it is not
    already a transport-layer number (so most inputs reach the layer under test)."""
    out = []
    for chunk in c.chunks():
        if chunk and chunk[0] >= 20:
            chunk = bytes([first + chunk[0] % count]) + chunk[1:]
        out.append(chunk)
    return out


@target
def transport(data: bytes) -> None:
    """The first packets a peer sends (KEXINIT, kex messages, NEWKEYS, junk), to a
    client or a server, after a well-formed version line."""
    c = Cursor(data)
    flags = c.byte()
    p = _pair(require_strict_kex=bool(flags & 2))
    to_server = bool(flags & 1)
    src, dst = (p.client, p.server) if to_server else (p.server, p.client)
    src.data_to_send()  # the honest version line and KEXINIT: replaced by ours
    dst.receive_data((src.local_version + "\r\n").encode(), 0.0)
    src._writer = PacketWriter()  # our packets start at sequence number 0
    payloads = []
    for chunk in c.chunks():
        if chunk and chunk[0] >= 50:
            chunk = bytes([20 + chunk[0] % 30]) + chunk[1:]
        payloads.append(chunk)
    _drive(p, src, dst, payloads, flags)


def _kex_seed(role_flag: int) -> bytes:
    init = _kexinit_payload(["test-kex@sshcore.test", "kex-strict-c-v00@openssh.com",
                             "kex-strict-s-v00@openssh.com"], ["test-key@sshcore.test"],
                            ["test-identity@sshcore.test"], ["test-hmac@sshcore.test"], ["none"])
    return bytes([role_flag]) + _chunk([init, b"\x1e" + string(bytes(32)), b"\x15"])


SEEDS["transport"] = [_kex_seed(0), _kex_seed(1), _kex_seed(3)]


def _authenticated_pair(session: bool) -> tuple[Any, int | None, int | None]:
    p = _pair()
    p.pump()
    p.client.accept_host_key()
    p.pump()
    for _ in range(10):
        if p.server.authenticated:
            break
        pending = [e for e in p.server_events if isinstance(e, ev.AuthRequested)]
        p.server_events.clear()
        p.server.answer_auth(pending[-1].method == "password")
        p.pump()
    p.pump()
    p.client_events.clear()
    p.server_events.clear()
    if not session:
        return p, None, None
    ch = p.client.open_channel("session")
    p.pump()
    sch = [e for e in p.server_events if isinstance(e, ev.ChannelOpenRequested)][-1].channel
    p.server.accept_channel(sch)
    p.pump()
    p.client_events.clear()
    p.server_events.clear()
    return p, ch, sch


def _pre_auth_pair() -> Any:
    """Service accepted, the client's "none" request refused: the server waits for a
    USERAUTH_REQUEST and the client for its reply to the next one."""
    p = _pair()
    p.pump()
    p.client.accept_host_key()
    p.pump()
    req = [e for e in p.server_events if isinstance(e, ev.AuthRequested)]
    assert req and req[-1].method == "none"
    p.server.answer_auth(False)
    p.server.data_to_send()  # the FAILURE: the client still waits for its reply
    p.client_events.clear()
    p.server_events.clear()
    return p


@target
def userauth_server(data: bytes) -> None:
    """USERAUTH_REQUEST and method messages (50..79) from a hostile client."""
    c = Cursor(data)
    bits = c.byte()
    p = _pre_auth_pair()
    p.client.data_to_send()
    _drive(p, p.client, p.server, _payloads(c, 50, 30), bits)


@target
def userauth_client(data: bytes) -> None:
    """FAILURE, SUCCESS, BANNER and method messages from a hostile server."""
    c = Cursor(data)
    bits = c.byte()
    p = _pre_auth_pair()
    p.server.data_to_send()
    _drive(p, p.server, p.client, _payloads(c, 50, 30), bits)


def _userauth_seeds() -> list[bytes]:
    req = lambda method, body: (b"\x32" + string("alice") + string("ssh-connection")  # noqa: E731
                                + string(method) + body)
    return [
        b"\x01" + _chunk([req("password", boolean(False) + string("secret"))]),
        b"\x00" + _chunk([req("password", boolean(True) + string("a") + string("b"))]),
        b"\x01" + _chunk([req("publickey", boolean(False) + string("test-key@sshcore.test")
                              + string(string("test-key@sshcore.test") + string(bytes(16))))]),
        b"\x00" + _chunk([req("none", b""), req("keyboard-interactive", string("") + string(""))]),
        b"\x01" + _chunk([b"\x33" + name_list(["publickey", "password"]) + boolean(True)]),
        b"\x01" + _chunk([b"\x34"]),
        b"\x01" + _chunk([b"\x35" + string("banner") + string("en")]),
        b"\x01" + _chunk([b"\x3c" + string("test-key@sshcore.test") + string(b"k")]),
    ]


SEEDS["userauth_server"] = SEEDS["userauth_client"] = _userauth_seeds()


@target
def channels(data: bytes) -> None:
    """Connection-protocol messages (80..127) to an authenticated server or client that
    has one session channel open (local ids 0 on both sides)."""
    c = Cursor(data)
    flags = c.byte()
    p, ch, sch = _authenticated_pair(session=True)
    src, dst = (p.client, p.server) if flags & 1 else (p.server, p.client)
    src.data_to_send()
    _drive(p, src, dst, _payloads(c, 80, 48), flags >> 1)
    if not dst.closed:
        for chan in dst.channels.channels.values():
            assert chan.local_window >= 0 and chan.remote_window >= 0
            assert chan.queued == sum(len(d) for _, d in chan.queue)


SEEDS["channels"] = [
    bytes([flags]) + _chunk(msgs) for flags in (0, 1, 0xFF) for msgs in (
        [b"\x5e" + uint32(0) + string(b"data"), b"\x5f" + uint32(0) + uint32(1) + string(b"err")],
        [b"\x5d" + uint32(0) + uint32(1000), b"\x60" + uint32(0), b"\x61" + uint32(0)],
        [b"\x62" + uint32(0) + string("exec") + boolean(True) + string("ls"),
         b"\x63" + uint32(0), b"\x64" + uint32(0)],
        [b"\x5a" + string("session") + uint32(7) + uint32(1 << 20) + uint32(32768),
         b"\x5b" + uint32(0) + uint32(3) + uint32(100) + uint32(100),
         b"\x5c" + uint32(0) + uint32(2) + string("x") + string("")],
        [b"\x50" + string("tcpip-forward") + boolean(True) + string("") + uint32(0),
         b"\x51", b"\x52"],
    )
]


# --------------------------------------------------------------------------- key files


@lru_cache(maxsize=1)
def _key_registry() -> Any:
    from sshcore.registry import default_registry

    return default_registry()


def _armor(begin: bytes, body: bytes) -> bytes:
    b64 = base64.b64encode(body)
    lines = b"\n".join(b64[i:i + 70] for i in range(0, len(b64), 70))
    end = begin.replace(b"BEGIN", b"END")
    return begin + b"\n" + lines + b"\n" + end + b"\n"


@target
def private_key(data: bytes) -> None:
    """``sshcore.import_private_key``: OpenSSH, PKCS#1/8 PEM and DER (no passphrase: the
    bcrypt rounds come from the file, so a passphrase would let the input choose the
    cost)."""
    from sshcore.keys import import_private_key

    c = Cursor(data)
    mode = c.byte() % 4
    body = c.rest()
    if mode == 1:
        body = _armor(b"-----BEGIN OPENSSH PRIVATE KEY-----", b"openssh-key-v1\0" + body)
    elif mode == 2:
        body = _armor(b"-----BEGIN RSA PRIVATE KEY-----", body)
    elif mode == 3:
        body = _armor(b"-----BEGIN PRIVATE KEY-----", body)
    try:
        key = import_private_key(body, registry=_key_registry())
    except KeyImportError:
        return
    assert key.public_blob


def _private_seeds() -> list[bytes]:
    from sshcore.keys import export_private_key, generate_private_key

    reg = _key_registry()
    out = []
    for key_type, opts in (("ssh-ed25519", {}), ("ecdsa-sha2-nistp256", {}), ("ssh-rsa", {"bits": 1024})):
        try:
            key = generate_private_key(key_type, registry=reg, **opts)
        except KeyImportError:
            continue
        openssh = export_private_key(key, "openssh", registry=reg)
        raw = base64.b64decode(b"".join(openssh.splitlines()[1:-1]))
        out.append(b"\x01" + raw[len(b"openssh-key-v1\0"):])
        out.append(b"\x00" + export_private_key(key, "pkcs8-der", registry=reg))
    return out


@target
def public_key(data: bytes) -> None:
    """``sshcore.import_public_key`` (OpenSSH lines, certificates, RFC 4716, PEM/DER)
    and ``decode_public_blob``."""
    from sshcore.keys import decode_public_blob, import_public_key

    reg = _key_registry()
    c = Cursor(data)
    mode = c.byte() % 6
    body = c.rest()
    blob_types = (b"ssh-ed25519", b"ssh-rsa", b"ecdsa-sha2-nistp256", b"ssh-ed25519-cert-v01@openssh.com")
    if mode < 4:
        text = blob_types[mode] + b" " + base64.b64encode(body) + b" comment"
    elif mode == 4:
        text = b"---- BEGIN SSH2 PUBLIC KEY ----\nComment: \"x\"\n" + base64.b64encode(body) + \
            b"\n---- END SSH2 PUBLIC KEY ----\n"
    else:
        text = body
    try:
        key = import_public_key(text, registry=reg)
    except KeyImportError:
        pass
    else:
        assert key.public_blob
    if mode < 4:
        try:
            decode_public_blob(body, reg)
        except KeyImportError:
            pass


def _public_seeds() -> list[bytes]:
    from sshcore.keys import generate_private_key

    reg = _key_registry()
    out = []
    for i, key_type in enumerate(("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256")):
        opts = {"bits": 1024} if key_type == "ssh-rsa" else {}
        try:
            out.append(bytes([i]) + generate_private_key(key_type, registry=reg, **opts).public_blob)
        except KeyImportError:
            continue
    return out


@target
def authorized_keys(data: bytes) -> None:
    """An authorized_keys file with options, then every check the server makes."""
    from sshcore.keys import AuthorizedKeys

    text = data.decode("utf-8", "replace")
    ak = AuthorizedKeys.parse(text, _key_registry())
    assert len(ak.blobs) == len(ak.options)
    for (blob, _), opts in zip(ak.blobs, ak.options):
        ak.lookup(blob)
        ak.lookup_ca(blob)
        opts.refusal("127.0.0.1", "localhost")
        opts.allows_open("localhost", 22)
        opts.allows_listen("127.0.0.1", 8080)


@target
def known_hosts(data: bytes) -> None:
    """A known_hosts file (hashed names, patterns, markers), then the host checks."""
    from sshcore.keys import KnownHosts

    kh = KnownHosts.parse(data.decode("utf-8", "replace"))
    for entry in kh.entries[:8]:
        for host, port in (("localhost", 22), ("127.0.0.1", 2222), ("a.example.org", 22)):
            kh.check(host, port, entry.blob)
            kh.trusts_ca(host, port, entry.blob)
            kh.match(host, port, entry.blob, ["alias"])


def _text_seeds() -> tuple[list[bytes], list[bytes]]:
    from sshcore.keys import hash_host_name

    blob = base64.b64encode(string("ssh-ed25519") + string(bytes(32))).decode()
    ak = [
        f"ssh-ed25519 {blob} plain\n".encode(),
        (f'restrict,command="echo hi",from="10.0.0.0/8,!10.1.*",permitopen="host:22",'
         f'permitlisten="localhost:8080",expiry-time="20300101",environment="A=b" ssh-ed25519 {blob} c\n').encode(),
        f'cert-authority,principals="alice,bob",no-pty ssh-ed25519 {blob}\n'.encode(),
    ]
    kh = [
        f"localhost,127.0.0.1 ssh-ed25519 {blob}\n[127.0.0.1]:2222 ssh-ed25519 {blob}\n".encode(),
        f"{hash_host_name('localhost')} ssh-ed25519 {blob}\n@revoked * ssh-ed25519 {blob}\n".encode(),
        f"@cert-authority *.example.org,!b.example.org ssh-ed25519 {blob}\n# c\n".encode(),
    ]
    return ak, kh


def load_seeds(name: str) -> list[bytes]:
    """Seed inputs for ``name`` (built lazily: the key seeds generate keys)."""
    if name == "private_key":
        return _private_seeds()
    if name == "public_key":
        return _public_seeds()
    if name in ("authorized_keys", "known_hosts"):
        ak, kh = _text_seeds()
        return ak if name == "authorized_keys" else kh
    return SEEDS.get(name, [])
