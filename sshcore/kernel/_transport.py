"""RFC 4253 transport layer, sans-I/O: version exchange, packets, key exchange, services.

Theory of operation
-------------------
The transport moves through these phases::

    VERSION --peer version line--> KEX(initial) --both NEWKEYS--> OPEN --> CLOSED
                                      ^                             |
                                      +------ KEXINIT (rekey) ------+

While a key exchange runs, only transport messages travel: in our direction the upper
layers' payloads wait in ``_held`` until our NEWKEYS is sent; from the peer, anything
above 49 between its KEXINIT and its NEWKEYS is a protocol error.  Under strict kex
(the Terrapin countermeasure) every message during the *initial* exchange that is not
KEXINIT, a kex-method message or NEWKEYS ends the connection, and both sequence
numbers restart at zero with each NEWKEYS.

Which message is legal when (everything else is a protocol error)::

    message                 legal when
    ----------------------  -------------------------------------------------------
    DISCONNECT              always
    IGNORE/DEBUG/UNIMPL     always, except during a strict initial kex
    KEXINIT                 first packet; later once per rekey
    30..49 (kex method)     while our kex object runs
    NEWKEYS                 after the kex produced its result
    SERVICE_REQUEST         server, after the initial kex, once
    SERVICE_ACCEPT          client, after it sent SERVICE_REQUEST
    EXT_INFO                client: first packet after the first NEWKEYS, and once
                            during userauth directly before USERAUTH_SUCCESS (RFC 8308
                            section 2.4) or right after it
    50..79 (userauth)       after the service was accepted (see _userauth)
    80..127 (connection)    after user authentication succeeded (see _channels)
    other numbers           answered with UNIMPLEMENTED (RFC 4253 section 11.4)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from . import events as ev
from ._framing import PacketReader, PacketWriter
from ._kexinit import (EXT_INFO_CLIENT, STRICT_CLIENT, STRICT_SERVER, KexInit, Negotiated,
                       derive_key, guess_was_right, negotiate, shared_names)
from .._wire import SSHReader, byte, string, uint32
from .config import ConnectionConfig
from ..errors import (DisconnectError, DisconnectReason, HostKeyNotVerifiableError,
                      KeyExchangeError, LocalProtocolError, ProtocolError, ProtocolVersionError,
                      RemoteProtocolError, SSHError, ServiceNotAvailableError)
from ..interfaces import KexCompute, KexContext, KexResult, KexStep
from .messages import KEX_FIRST, KEX_LAST, MessageType

logger = logging.getLogger("sshcore.transport")

MAX_VERSION_LINE = 255
MAX_PREFACE_BYTES = 64 * 1024
_TRANSPORT_SEND_OK = frozenset(range(1, 5)) | {20, 21} | frozenset(range(KEX_FIRST, KEX_LAST + 1))
_ASSIGNED = (frozenset(range(1, 8)) | {20, 21} | frozenset(range(30, 50)) | frozenset(range(50, 54))
             | frozenset(range(60, 80)) | frozenset(range(80, 101)))
#: Intake before the version line (a fresh buffer per connection, dropped once the
#: version line is in), and where reads go after the connection closed (shared: what
#: lands there is dropped unread).
_SCRATCH_SIZE = 4096
_DISCARD = memoryview(bytearray(_SCRATCH_SIZE))


class _KexRun:
    """Bookkeeping for one key exchange in progress."""

    __slots__ = ("our_init", "our_kexinit", "peer_init", "peer_kexinit", "alg", "kex",
                 "result", "hash_name", "newkeys_sent", "newkeys_received",
                 "ignore_next", "awaiting_host_key", "host_key", "first", "computing")

    def __init__(self, first: bool) -> None:
        self.our_init: KexInit | None = None
        self.our_kexinit = b""
        self.peer_init: KexInit | None = None
        self.peer_kexinit = b""
        self.alg: Negotiated | None = None
        self.kex: Any = None
        self.result: KexResult | None = None
        self.hash_name = ""
        self.newkeys_sent = False
        self.newkeys_received = False
        self.ignore_next = False
        self.awaiting_host_key = False
        self.host_key: Any = None
        self.first = first
        #: (job, KexCompute) while the application computes for this exchange.
        self.computing: tuple[int, Any] | None = None


class Transport:
    """The transport half of :class:`sshcore.kernel.connection.Connection`.

    Slotted, as are the objects it holds: a server keeps one per connection, most of
    them idle; state needed only for a while (the version exchange's buffers, a key
    exchange) exists only for that while."""

    __slots__ = ("config", "role", "is_client", "registry", "_out", "_events", "_event_pos",
                 "_writer", "_reader", "_preface", "_scratch", "_preface_lines",
                 "local_version", "peer_version", "session_id", "closed", "error", "_kex",
                 "_held", "_jobs", "strict_kex", "peer_ext_info", "_ext_info_ok",
                 "_ext_info_before_success", "_ext_info_in_auth", "server_sig_algs",
                 "host_key", "host_key_blob", "negotiated", "service_requested",
                 "service_accepted", "_now", "_last_kex_time", "_bytes_at_kex",
                 "_recv_at_kex", "statistics_kex_count", "_kex_names", "_cipher_names",
                 "_mac_names", "_comp_names", "_host_key_names", "authenticated", "host_key_signature", "peer_extensions")

    def __init__(self, config: ConnectionConfig) -> None:
        self.config = config
        self.role = config.role
        self.is_client = config.role == "client"
        self.registry = config.registry
        self.authenticated = False
        self._out: list[Any] = []  # wire pieces, joined once by data_to_send()
        # Events not yet taken: _events[_event_pos:] (a list read from the front, cleared
        # once read to the end: an empty list is much smaller than an empty deque).
        self._events: list[ev.Event] = []
        self._event_pos = 0
        self._writer = PacketWriter(random=config.random)
        self._reader = PacketReader()
        self._reader.max_length = config.max_packet_length
        self._reader.max_payload = config.max_decompressed_size
        self._preface: bytearray | None = bytearray()  # None once the version line is in
        self._scratch: memoryview | None = None  # intake before the version line
        self._preface_lines = 0
        self.local_version = config.version
        self.peer_version: str | None = None
        self.session_id: bytes | None = None
        self.closed = False
        self.error: Exception | None = None
        self._kex: _KexRun | None = None
        # Upper-layer payloads waiting for our NEWKEYS.
        self._held: list[bytes | tuple[Any, ...]] = []
        self._jobs = 0  # ComputeRequested jobs handed out
        self.strict_kex = False
        self.peer_ext_info = False
        self._ext_info_ok = False
        # Client: an EXT_INFO received during userauth, valid only if USERAUTH_SUCCESS
        # comes next (RFC 8308 section 2.4); at most one.
        self._ext_info_before_success: bytes | None = None
        self._ext_info_in_auth = False
        self.server_sig_algs: list[str] | None = None
        self.host_key: Any = None  # client: the verified server host key (first kex)
        self.host_key_blob = b""
        #: Client: the server's signature of the first exchange hash (the session ID) with
        #: ``host_key_blob``, which proves the host to an SSH agent (session-bind@openssh.com).
        self.host_key_signature = b""
        #: The peer's EXT_INFO extensions (RFC 8308), by name.
        self.peer_extensions: dict[str, bytes] = {}
        self.negotiated: Negotiated | None = None
        self.service_requested = False
        self.service_accepted = False
        self._now = 0.0
        self._last_kex_time = 0.0
        self._bytes_at_kex = 0
        self._recv_at_kex = 0
        self.statistics_kex_count = 0
        # Precompute algorithm lists once (and validate them: unknown names fail here).
        self._kex_names = shared_names(config.algs("kex"))
        # Let slow kex set-up overlap the connect and version exchange (an application
        # with a kex pool has chosen where that work runs: the pool).
        if self.is_client and not config.kex_offload:
            for name in self._kex_names:
                prefetch = getattr(self.registry.get("kex", name), "prefetch", None)
                if prefetch is not None:
                    prefetch()
        self._cipher_names = shared_names(config.algs("cipher"))
        self._mac_names = shared_names(config.algs("mac"))
        self._comp_names = shared_names(config.algs("compression"))
        if self.is_client:
            self._host_key_names = shared_names(config.algs("signature"))
        else:
            enabled = config.registry.expand("signature", config.server_host_key_algs)
            offered: list[str] = []
            for name in enabled:
                for key in config.server_host_keys:
                    if name in key.sig_algorithms() and name not in offered:
                        offered.append(name)
            if not offered:
                raise LocalProtocolError("server has no host key usable with the enabled "
                                         f"host key algorithms {enabled}")
            self._host_key_names = shared_names(offered)
        self._out.append((self.local_version + "\r\n").encode("ascii"))

    # ------------------------------------------------------------------ driver API

    def data_to_send(self) -> bytes:
        out = self._out
        if not out:
            return b""
        data = out[0] if len(out) == 1 and type(out[0]) is bytes else b"".join(out)
        out.clear()
        return data

    def next_event(self) -> ev.Event | None:
        events = self._events
        if not events:
            return None
        pos = self._event_pos
        event = events[pos]
        pos += 1
        if pos == len(events):
            events.clear()
            pos = 0
        self._event_pos = pos
        return event

    def events(self) -> list[ev.Event]:
        out = self._events[self._event_pos:]
        self._events.clear()
        self._event_pos = 0
        return out

    def set_time(self, now: float) -> None:
        """The driver's clock, given with a command that comes between receives (the
        kernel's clock is otherwise the ``now`` of the latest receive or timer): what
        the command starts timing (a request's round trip) counts from it."""
        self._now = now

    def receive_data(self, data: bytes, now: float = 0.0) -> None:
        """Feed bytes from the peer; empty ``data`` means the peer closed the stream."""
        self._now = now
        if self.closed:
            return
        self._guarded(self._take_data, data)

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """Where the driver may write received bytes without a copy (the shape of
        :meth:`asyncio.BufferedProtocol.get_buffer`): fill a prefix of the returned view,
        then call :meth:`buffer_updated`.  Never empty."""
        if self.closed:
            return _DISCARD
        if self.peer_version is None:
            if self._scratch is None:
                self._scratch = memoryview(bytearray(_SCRATCH_SIZE))
            return self._scratch
        return self._reader.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int, now: float = 0.0) -> None:
        """``nbytes`` were written into the view :meth:`get_buffer` returned."""
        if self.closed:
            self._now = now
            return
        if self.peer_version is None or not nbytes:
            scratch = self._scratch
            self.receive_data(bytes(scratch[:nbytes]) if scratch is not None else b"", now)
            if self.peer_version is not None:
                self._scratch = None  # the version exchange is over
            return
        self._now = now
        self._reader.buffer_updated(nbytes)
        self._guarded(self._process_packets)

    def _take_data(self, data: bytes) -> None:
        if not data:
            raise RemoteProtocolError("connection closed by peer",
                                      reason=DisconnectReason.CONNECTION_LOST)
        if self.peer_version is None:
            assert self._preface is not None
            self._preface += data
            if not self._parse_version():
                return
            data = bytes(self._preface)
            self._preface = None
        self._reader.feed(data)
        self._process_packets()

    def _guarded(self, fn: Any, *args: Any) -> None:
        """Run an intake step; a peer's fault ends the connection with the right reason."""
        try:
            fn(*args)
        except ProtocolError as exc:
            self._fail(exc)
            raise
        except SSHError:
            raise
        except (ValueError, IndexError, KeyError, TypeError) as exc:
            # A plugin choked on the peer's data; treat it as the peer's fault.
            err = RemoteProtocolError(f"malformed data from peer: {exc.__class__.__name__}: {exc}")
            self._fail(err)
            raise err from exc

    def _fail(self, exc: ProtocolError) -> None:
        if self.closed:
            return
        if not isinstance(exc, DisconnectError) and exc.reason != DisconnectReason.CONNECTION_LOST:
            self._send_disconnect(exc.reason, str(exc))
        self._terminate(exc)

    def _terminate(self, exc: Exception | None) -> None:
        if self.closed:
            return
        self.closed = True
        self.error = exc
        self._events.append(ev.ConnectionTerminated(exc))

    def disconnect(self, reason: int = DisconnectReason.BY_APPLICATION,
                   description: str = "disconnected by application") -> None:
        if self.closed:
            return
        self._send_disconnect(reason, description)
        self._terminate(None)

    def _send_disconnect(self, reason: int, description: str) -> None:
        self._send_now(b"".join((byte(MessageType.DISCONNECT), uint32(int(reason)),
                                 string(description[:256]), string(b""))))

    # ------------------------------------------------------------------ timers

    def get_timer(self) -> float | None:
        if self.closed or self.config.rekey_seconds is None or self.session_id is None:
            return None
        return self._last_kex_time + self.config.rekey_seconds

    def handle_timer(self, now: float) -> None:
        self._now = now
        if self.closed:
            return
        if (self.session_id is not None and self.config.rekey_seconds is not None
                and now >= self._last_kex_time + self.config.rekey_seconds and self._kex is None):
            self.start_rekey()

    # ------------------------------------------------------------------ sending

    def _send_now(self, payload: bytes) -> None:
        self._out += self._writer.pack_parts(payload)

    def send_payload(self, payload: bytes | tuple[Any, ...]) -> None:
        """Send an upper-layer message (bytes, or a tuple of parts joined once when the
        packet is made), holding it back while a key exchange runs."""
        if self.closed:
            raise LocalProtocolError("connection is closed")
        kex = self._kex
        if kex is not None and kex.our_init is not None and not kex.newkeys_sent:
            self._held.append(payload)
            return
        self._out += self._writer.pack_parts(payload)
        if (self._writer.bytes_sent - self._bytes_at_kex >= self.config.rekey_bytes
                and self._kex is None):
            self.start_rekey()

    # ------------------------------------------------------------------ version exchange

    def _parse_version(self) -> bool:
        buf = self._preface
        assert buf is not None
        max_line = self.config.max_banner_line
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                if len(buf) > MAX_VERSION_LINE and buf.startswith(b"SSH-"):
                    raise ProtocolVersionError("version line too long")
                if len(buf) > max_line + 1 or len(buf) > MAX_PREFACE_BYTES:
                    raise ProtocolVersionError("line before the version line too long")
                return False
            if nl - (nl > 0 and buf[nl - 1] == 13) > max_line:  # not counting CR LF
                raise ProtocolVersionError("line before the version line too long")
            line = bytes(buf[:nl]).rstrip(b"\r")
            del buf[:nl + 1]
            if line.startswith(b"SSH-"):
                break
            if not self.is_client:
                raise ProtocolVersionError("client sent data before its version line")
            self._preface_lines += 1
            if self._preface_lines > self.config.max_pre_banner_lines:
                raise ProtocolVersionError("too many lines before the version line")
            if len(buf) > MAX_PREFACE_BYTES:
                raise ProtocolVersionError("no SSH version line from peer")
        if len(line) > MAX_VERSION_LINE:
            raise ProtocolVersionError("version line too long")
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError:
            raise ProtocolVersionError("version line is not ASCII") from None
        if not (text.startswith("SSH-2.0-") or text.startswith("SSH-1.99-")):
            raise ProtocolVersionError(f"unsupported protocol version: {text[:64]!r}")
        self.peer_version = text
        self._events.append(ev.VersionReceived(text))
        self._start_kex(first=True)
        return True

    # ------------------------------------------------------------------ packet dispatch

    def _process_packets(self) -> None:
        reader = self._reader
        kex = self._kex
        if (kex is not None and (kex.awaiting_host_key or kex.computing is not None)
                and reader.buffered > 2 * self.config.max_packet_length):
            # Packets wait unread while the application checks the host key or computes
            # for the exchange; a peer has little to say then (NEWKEYS, EXT_INFO), so
            # do not hoard.
            raise RemoteProtocolError("too much data from the peer while the key exchange "
                                      "waited for the application")
        while not self.closed:
            kex = self._kex
            if kex is not None and (kex.awaiting_host_key or kex.computing is not None):
                return
            payload = reader.next_payload()
            if payload is None:
                return
            self._dispatch(payload)
            if (self._kex is None and self.session_id is not None
                    and reader.bytes_received - self._recv_at_kex >= self.config.rekey_bytes):
                self.start_rekey()

    def _dispatch(self, payload: bytes | memoryview) -> None:
        mtype = payload[0]
        if mtype != MessageType.CHANNEL_DATA and mtype != MessageType.CHANNEL_EXTENDED_DATA:
            # Control messages are small: the handlers get bytes.  Channel data stays a
            # memoryview of the decrypted packet, copied once, when the application reads.
            payload = bytes(payload)
        kex = self._kex
        first_kex = kex is not None and kex.first and not kex.newkeys_received
        if first_kex and self._reader.packets_received > 0xFFFFFFFF:
            raise RemoteProtocolError("sequence number wrapped during the initial key exchange")
        ext_ok, self._ext_info_ok = self._ext_info_ok, False
        held, self._ext_info_before_success = self._ext_info_before_success, None
        if held is not None:
            if mtype != MessageType.USERAUTH_SUCCESS:
                raise RemoteProtocolError("EXT_INFO not directly followed by USERAUTH_SUCCESS")
            self._on_ext_info(held)
        if mtype == MessageType.DISCONNECT:
            self._on_disconnect(payload)
            return
        if mtype in (MessageType.IGNORE, MessageType.DEBUG, MessageType.UNIMPLEMENTED):
            if first_kex and self.strict_kex:
                raise RemoteProtocolError(f"message {mtype} during strict initial key exchange")
            if mtype == MessageType.DEBUG:
                r = SSHReader(payload, 1)
                r.boolean()
                logger.debug("peer debug message: %r", r.text()[:200])
            return
        if mtype == MessageType.KEXINIT:
            self._on_kexinit(payload)
            return
        if KEX_FIRST <= mtype <= KEX_LAST:
            self._on_kex_message(payload)
            return
        if mtype == MessageType.NEWKEYS:
            self._on_newkeys(payload)
            return
        # Anything else: not during the initial kex, nor between the peer's KEXINIT and NEWKEYS.
        if first_kex or (kex is not None and kex.peer_init is not None and not kex.newkeys_received):
            raise RemoteProtocolError(f"unexpected message {mtype} during key exchange")
        if mtype == MessageType.EXT_INFO:
            if self.is_client and ext_ok:
                self._on_ext_info(payload)
                return
            if (self.is_client and self.service_accepted and not self.authenticated
                    and not self._ext_info_in_auth):
                self._ext_info_in_auth = True
                self._ext_info_before_success = payload
                return
            raise RemoteProtocolError("unexpected EXT_INFO message")
        if mtype == MessageType.SERVICE_REQUEST:
            self._on_service_request(payload)
            return
        if mtype == MessageType.SERVICE_ACCEPT:
            self._on_service_accept(payload)
            return
        if mtype not in _ASSIGNED:
            self._send_now(byte(MessageType.UNIMPLEMENTED) + uint32((self._reader.seq - 1) & 0xFFFFFFFF))
            return
        self.upper_dispatch(mtype, payload)

    def upper_dispatch(self, mtype: int, payload: bytes) -> None:  # pragma: no cover
        raise NotImplementedError

    def _on_disconnect(self, payload: bytes) -> None:
        r = SSHReader(payload, 1)
        code = r.uint32()
        text = r.string().decode("utf-8", "replace")
        err = DisconnectError(code, text)
        self._terminate(err)
        raise err

    # ------------------------------------------------------------------ key exchange

    def _start_kex(self, first: bool) -> None:
        kex = _KexRun(first)
        self._kex = kex
        self._send_kexinit(kex)

    def start_rekey(self) -> None:
        """Begin a new key exchange (no-op if one runs or the first has not finished)."""
        if self.closed or self._kex is not None or self.session_id is None:
            return
        self._start_kex(first=False)

    def _send_kexinit(self, kex: _KexRun) -> None:
        kex_names = list(self._kex_names)
        if kex.first:
            kex_names.append(STRICT_CLIENT if self.is_client else STRICT_SERVER)
            if self.is_client:
                kex_names.append(EXT_INFO_CLIENT)
        ciphers, macs = list(self._cipher_names), list(self._mac_names)
        comps = list(self._comp_names)
        init = KexInit(kex_names, list(self._host_key_names), ciphers, ciphers, macs, macs,
                       comps, comps, [], [], False)
        kex.our_init = init
        kex.our_kexinit = init.encode(self.config.random(16))
        self._send_now(kex.our_kexinit)

    def _on_kexinit(self, payload: bytes) -> None:
        kex = self._kex
        if self.session_id is None and self._reader.packets_received != 1:
            # Strict kex makes KEXINIT mandatory as the very first packet; without strict
            # kex we tolerate earlier IGNOREs, but note the Terrapin risk.
            if self.strict_kex or (kex is not None and kex.first and self._peer_offers_strict(payload)):
                raise RemoteProtocolError("KEXINIT was not the first packet under strict kex")
        if kex is None:
            self._start_kex(first=False)
            kex = self._kex
            assert kex is not None
        elif kex.peer_init is not None:
            raise RemoteProtocolError("unexpected second KEXINIT during key exchange")
        peer = KexInit.decode(payload)
        kex.peer_init = peer
        kex.peer_kexinit = payload
        if kex.first:
            marker = STRICT_SERVER if self.is_client else STRICT_CLIENT
            self.strict_kex = marker in peer.kex
            if self.is_client is False:
                self.peer_ext_info = EXT_INFO_CLIENT in peer.kex
            if self.config.require_strict_kex and not self.strict_kex:
                raise KeyExchangeError("peer does not support strict key exchange")
        assert kex.our_init is not None
        client, server = (kex.our_init, peer) if self.is_client else (peer, kex.our_init)
        aead = {c.name for c in self.registry.all("cipher") if c.aead}
        alg = negotiate(client, server, aead)
        kex.alg = alg
        if peer.first_kex_follows:
            kex.ignore_next = not guess_was_right(client, server)
        desc = self.registry.get("kex", alg.kex)
        kex.hash_name = desc.hash_name
        ctx = self._kex_context(kex, alg)
        kex.kex = desc.factory(ctx)
        self._apply_kex_step(kex, kex.kex.start())

    @staticmethod
    def _peer_offers_strict(payload: bytes) -> bool:
        try:
            names = KexInit.decode(payload).kex
        except ProtocolError:
            return False
        return STRICT_CLIENT in names or STRICT_SERVER in names

    def _kex_context(self, kex: _KexRun, alg: Negotiated) -> KexContext:
        assert self.peer_version is not None
        if self.is_client:
            return KexContext("client", self.local_version.encode(), self.peer_version.encode(),
                              kex.our_kexinit, kex.peer_kexinit, random=self.config.random,
                              options=self.config.kex_options, offload=self.config.kex_offload)
        key = next(k for k in self.config.server_host_keys if alg.host_key in k.sig_algorithms())
        host_alg = alg.host_key

        if kex.first:
            self.host_key_blob = key.public_blob  # the host key clients bind sessions to

        def sign(data: bytes) -> bytes:
            return key.sign(data, host_alg)

        return KexContext("server", self.peer_version.encode(), self.local_version.encode(),
                          kex.peer_kexinit, kex.our_kexinit, host_key_blob=key.public_blob,
                          sign=sign, random=self.config.random, options=self.config.kex_options,
                          offload=self.config.kex_offload)

    def _on_kex_message(self, payload: bytes) -> None:
        kex = self._kex
        if kex is None or kex.kex is None or kex.result is not None:
            raise RemoteProtocolError(f"unexpected key exchange message {payload[0]}")
        if kex.ignore_next:
            kex.ignore_next = False
            return
        self._apply_kex_step(kex, self._kex_call(kex.kex.receive, payload))

    def _apply_kex_step(self, kex: _KexRun, step: KexStep) -> None:
        while True:
            for msg in step.send:
                self._send_now(msg)
            compute = step.compute
            if compute is None:
                break
            if self.config.kex_offload:
                self._jobs += 1
                kex.computing = (self._jobs, compute)
                self._events.append(ev.ComputeRequested(self._jobs, compute.fn, compute.args))
                return
            step = self._kex_call(compute.resume, self._kex_call(compute.fn, *compute.args))
        if step.result is None:
            return
        kex.result = step.result
        if self.session_id is None:
            self.session_id = step.result.exchange_hash
        if self.is_client:
            self._check_host_key(kex, step.result)
            if kex.awaiting_host_key:
                return
        self._send_newkeys(kex)

    @staticmethod
    def _kex_call(fn: Callable[..., Any], *args: Any) -> Any:
        """A key exchange method: a plugin choking on the peer's values fails the kex."""
        try:
            return fn(*args)
        except ProtocolError:
            raise
        except (ValueError, IndexError, TypeError) as exc:
            raise KeyExchangeError(f"key exchange failed: {exc}") from exc

    def provide_compute_result(self, job: int, result: Any) -> None:
        """The result of a :class:`~sshcore.kernel.events.ComputeRequested` job: the key
        exchange goes on, and the packets that waited for it are processed."""
        kex = self._take_job(job)
        if kex is None:
            return
        assert kex.computing is not None
        _, compute = kex.computing
        kex.computing = None
        self._guarded(self._continue_kex, kex, compute, result)

    def compute_failed(self, job: int, exc: BaseException) -> None:
        """The job raised (or its worker died): the key exchange fails."""
        kex = self._take_job(job)
        if kex is None:
            return
        kex.computing = None
        self._fail(KeyExchangeError(f"key exchange computation failed: {exc!r}"))

    def _take_job(self, job: int) -> _KexRun | None:
        if self.closed:
            return None  # answered after the connection ended: nothing to do
        kex = self._kex
        if kex is None or kex.computing is None or kex.computing[0] != job:
            raise LocalProtocolError(f"no key exchange computation {job} is waiting")
        return kex

    def _continue_kex(self, kex: _KexRun, compute: KexCompute, result: Any) -> None:
        self._apply_kex_step(kex, self._kex_call(compute.resume, result))
        self._process_packets()

    def _check_host_key(self, kex: _KexRun, result: KexResult) -> None:
        assert kex.alg is not None
        alg = kex.alg.host_key
        desc = self.registry.get("signature", alg)
        try:
            key = desc.decode(result.host_key_blob)
        except SSHError:
            raise KeyExchangeError("server host key could not be decoded") from None
        except (ValueError, IndexError, TypeError):
            raise KeyExchangeError("server host key could not be decoded") from None
        if not self.key_size_ok(key):
            raise KeyExchangeError(f"server host key too small (RSA keys need at least "
                                   f"{self.config.min_rsa_bits} bits)")
        if not key.verify(result.exchange_hash, result.signature, alg):
            raise KeyExchangeError(f"server host key signature ({alg}) did not verify")
        if kex.first:
            kex.host_key = key
            kex.awaiting_host_key = True
            self._events.append(ev.HostKeyReceived(key, alg))
        elif result.host_key_blob != self.host_key_blob:
            raise HostKeyNotVerifiableError("server host key changed during rekey")

    def key_size_ok(self, key: Any) -> bool:
        """False for an RSA key (or certificate of one) below ``config.min_rsa_bits``."""
        base = getattr(key, "key", key)  # a certificate: the key it certifies
        if getattr(base, "key_type", "") != "ssh-rsa":
            return True
        bits = getattr(base, "bits", None)
        return bits is None or int(bits) >= self.config.min_rsa_bits

    def accept_host_key(self) -> None:
        kex = self._kex
        if kex is None or not kex.awaiting_host_key:
            raise LocalProtocolError("no host key is waiting for a decision")
        kex.awaiting_host_key = False
        self.host_key = kex.host_key
        assert kex.result is not None
        self.host_key_blob = kex.result.host_key_blob
        self.host_key_signature = kex.result.signature
        self._send_newkeys(kex)
        self._process_packets()

    def reject_host_key(self, reason: str = "host key not trusted") -> None:
        kex = self._kex
        if kex is None or not kex.awaiting_host_key:
            raise LocalProtocolError("no host key is waiting for a decision")
        err = HostKeyNotVerifiableError(reason)
        self._fail(err)

    def _send_newkeys(self, kex: _KexRun) -> None:
        self._send_now(byte(MessageType.NEWKEYS))
        kex.newkeys_sent = True
        self._install_keys(kex, outgoing=True)
        if kex.first and not self.is_client and self.peer_ext_info:
            self._send_now(self.ext_info_payload())
        if kex.newkeys_received:
            self._finish_kex(kex)
        held = self._held
        if held:
            self._held = []
            for payload in held:
                if self.closed:
                    break
                self._out += self._writer.pack_parts(payload)

    def ext_info_payload(self) -> bytes:
        sig_algs = ",".join(self.config.user_sig_algs())
        exts = [string("server-sig-algs") + string(sig_algs)]
        offered = self.config.auth_methods_offered
        if "publickey" in (offered if offered is not None else self.config.auth_method_names()):
            # OpenSSH 8.9: publickey-hostbound-v00@openssh.com is accepted (see _userauth)
            exts.append(string("publickey-hostbound@openssh.com") + string("0"))
        return b"".join((byte(MessageType.EXT_INFO), uint32(len(exts)), *exts))

    def _on_newkeys(self, payload: bytes) -> None:
        kex = self._kex
        if kex is None or kex.result is None or kex.newkeys_received:
            raise RemoteProtocolError("unexpected NEWKEYS")
        if len(payload) != 1:
            raise RemoteProtocolError("malformed NEWKEYS")
        kex.newkeys_received = True
        self._install_keys(kex, outgoing=False)
        if kex.first and self.is_client:
            self._ext_info_ok = True
        if kex.newkeys_sent:
            self._finish_kex(kex)

    def _finish_kex(self, kex: _KexRun) -> None:
        assert kex.alg is not None
        self._kex = None
        self.negotiated = kex.alg
        self._last_kex_time = self._now
        self._bytes_at_kex = self._writer.bytes_sent
        self._recv_at_kex = self._reader.bytes_received
        self.statistics_kex_count += 1
        self._events.append(ev.KexCompleted(kex.alg.as_dict(), kex.first, self.strict_kex))
        if kex.first:
            self.on_first_kex_done()

    def on_first_kex_done(self) -> None:  # overridden by the connection
        pass

    def _install_keys(self, kex: _KexRun, outgoing: bool) -> None:
        assert kex.alg is not None and kex.result is not None and self.session_id is not None
        alg = kex.alg
        k, h, sid = kex.result.shared_secret, kex.result.exchange_hash, self.session_id
        # Which direction are we installing? client->server letters are A, C, E.
        cs = outgoing == self.is_client
        enc_name = alg.enc_cs if cs else alg.enc_sc
        mac_name = alg.mac_cs if cs else alg.mac_sc
        comp_name = alg.comp_cs if cs else alg.comp_sc
        iv_l, key_l, mac_l = (b"A", b"C", b"E") if cs else (b"B", b"D", b"F")
        hn = kex.hash_name
        cdesc = self.registry.get("cipher", enc_name)
        iv = derive_key(hn, k, h, iv_l, sid, cdesc.iv_size)
        key = derive_key(hn, k, h, key_l, sid, cdesc.key_size)
        cipher = cdesc.factory(key=key, iv=iv, encrypt=outgoing)
        mac = None
        mac_size = cdesc.tag_size if cdesc.aead else 0
        etm = False
        if not cdesc.aead:
            mdesc = self.registry.get("mac", mac_name)
            mac = mdesc.factory(key=derive_key(hn, k, h, mac_l, sid, mdesc.key_size))
            mac_size, etm = mdesc.digest_size, mdesc.etm
        comp = self.registry.get("compression", comp_name)
        if outgoing:
            self._writer.set_keys(cipher, cdesc.aead, cdesc.block_size, mac, etm,
                                  comp.compressor(), comp.delayed and not self.authenticated)
            if self.strict_kex:
                self._writer.seq = 0
        else:
            self._reader.set_keys(cipher, cdesc.aead, cdesc.block_size, mac, mac_size, etm,
                                  comp.decompressor(), comp.delayed and not self.authenticated)
            if self.strict_kex:
                self._reader.seq = 0

    def start_delayed_compression(self) -> None:
        self._writer.start_delayed_compression()
        self._reader.start_delayed_compression()

    # ------------------------------------------------------------------ services, ext-info

    def request_service(self, name: str) -> None:
        self.service_requested = True
        self.send_payload(byte(MessageType.SERVICE_REQUEST) + string(name))

    def _on_service_request(self, payload: bytes) -> None:
        if self.is_client or self.service_accepted:
            raise RemoteProtocolError("unexpected SERVICE_REQUEST")
        r = SSHReader(payload, 1)
        name = r.text("ascii")
        r.finish()
        if name != "ssh-userauth":
            raise ServiceNotAvailableError(f"service {name!r} is not available")
        self.service_accepted = True
        self.send_payload(byte(MessageType.SERVICE_ACCEPT) + string(name))
        self.on_service_accepted()

    def _on_service_accept(self, payload: bytes) -> None:
        if not self.is_client or not self.service_requested or self.service_accepted:
            raise RemoteProtocolError("unexpected SERVICE_ACCEPT")
        r = SSHReader(payload, 1)
        name = r.text("ascii") if r.remaining else "ssh-userauth"
        if name != "ssh-userauth":
            raise RemoteProtocolError(f"server accepted unexpected service {name!r}")
        self.service_accepted = True
        self.on_service_accepted()

    def on_service_accepted(self) -> None:  # overridden by the connection
        pass

    def _on_ext_info(self, payload: bytes) -> None:
        r = SSHReader(payload, 1)
        count = r.uint32()
        if count > 1000:
            raise RemoteProtocolError("too many extensions in EXT_INFO")
        exts: dict[str, bytes] = {}
        for _ in range(count):
            name = r.text("ascii")
            exts[name] = r.string()
        r.finish()
        self.peer_extensions.update(exts)
        if "server-sig-algs" in exts:
            self.server_sig_algs = [n for n in exts["server-sig-algs"].decode("ascii", "replace").split(",") if n]
        self._events.append(ev.ExtInfoReceived(exts))

    def allow_ext_info(self) -> None:
        """Client: an EXT_INFO may follow (after USERAUTH_SUCCESS, RFC 8308 section 2.4)."""
        self._ext_info_ok = True

    # ------------------------------------------------------------------ misc

    def send_ignore(self, data: bytes = b"") -> None:
        self.send_payload(byte(MessageType.IGNORE) + string(data))

    def statistics(self) -> dict[str, Any]:
        return {
            "bytes_sent": self._writer.bytes_sent, "bytes_received": self._reader.bytes_received,
            "packets_sent": self._writer.packets_sent,
            "packets_received": self._reader.packets_received,
            "key_exchanges": self.statistics_kex_count,
        }

