"""The blocking client: :func:`connect` and :class:`SSHClientConnection`."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..kernel.chanreq import ChannelOpenData, DirectTcpipOpen
from ..kernel.connection import Connection
from ..errors import (ChannelListenError, ChannelOpenError, ConfigurationError, ConnectError,
                      ProtocolError, ProtocolVersionError, SSHError, TooManySessionsError)
from ..options import (DEFAULT_CONFIG, ClientOptions, client_options, closed_before_banner,
                       connect_error, connect_timeout_error)
from ._channel import _UNSET, ChannelSocket, CompletedProcess, SSHProcess
from ._driver import ChannelState, ClientPolicy, Driver, SSHTimeoutError

logger = logging.getLogger("sshcore.blocking")

__all__ = ["connect", "connect_with_options", "SSHClientConnection", "LocalForward"]


def connect(host: str, port: int | None = None, *, config: Any = DEFAULT_CONFIG,
            **options: Any) -> SSHClientConnection:
    """Open an authenticated connection: the keywords and ssh_config handling of
    :func:`sshcore.connect` (one :class:`~sshcore.options.ClientOptions` is built from
    them), but blocking; use it as a context manager or call ``close()``.

    Raises what :func:`sshcore.connect` raises: :class:`~sshcore.ConnectTimeoutError`
    after ``connect_timeout``, :class:`~sshcore.PermissionDeniedError`,
    :class:`~sshcore.HostKeyNotVerifiableError`...
    """
    return connect_with_options(client_options(host, port, config=config, **options))


def connect_with_options(opts: ClientOptions) -> SSHClientConnection:
    """Open a connection with options already built (and reusable).

    Not (yet) in the blocking front-end: ``forward_agent`` and ``x11_forwarding`` (refused
    with :class:`~sshcore.ConfigurationError`), ``update_host_keys`` and ``client_factory``
    callbacks (ignored), remote port forwarding.  Of the options' forwards
    (LocalForward...), TCP local forwards are set up; the others fail as a forward that
    cannot be set up does (a warning, or an error with ExitOnForwardFailure).  SendEnv,
    SetEnv, RequestTTY and RemoteCommand apply to its sessions as in :func:`sshcore.connect`.
    """
    if opts.forward_agent:
        raise ConfigurationError("forward_agent is not supported by sshcore.blocking yet")
    if opts.x11 is not None:
        raise ConfigurationError("x11_forwarding is not supported by sshcore.blocking yet")
    deadline = None if opts.connect_timeout is None else time.monotonic() + opts.connect_timeout
    hops: list[SSHClientConnection] = []
    proxy = None
    try:
        sock = opts.sock
        if opts.tunnel is not None:
            via = opts.tunnel
            for hop_host, hop_port, hop_kw in opts.jump_hops():
                hops.append(connect(hop_host, hop_port, tunnel=hops[-1] if hops else None, **hop_kw))
            if hops:
                via = hops[-1]
            sock = via._socket_to(opts.host, opts.port, _left(deadline))
        elif sock is None and opts.proxy_command is not None:
            from ..aio.api import _spawn_proxy  # a subprocess and a socket pair, no event loop

            sock, proxy = _spawn_proxy(opts.proxy_command, opts.host, opts.port, opts.username)
        if sock is None:
            sock = _tcp_connect(opts, _left(deadline))
        try:
            conn = SSHClientConnection(opts, sock, hops, proxy)
        except BaseException:
            if sock is not opts.sock:
                sock.close()
            raise
        try:
            conn._wait_ready(_left(deadline))
            conn._start_forwards()
        except BaseException:
            conn.close()
            raise
        return conn
    except BaseException:
        for hop in reversed(hops):
            hop.close()
        if proxy is not None and proxy.poll() is None:
            proxy.terminate()
        raise


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _tcp_connect(opts: ClientOptions, timeout: float | None) -> socket.socket:
    host, port = opts.host, opts.port
    try:
        infos = socket.getaddrinfo(host, port, opts.family, socket.SOCK_STREAM)
    except OSError as exc:
        raise connect_error(exc, host, port, opts.family, opts.local_addr) from None
    last: OSError | None = None
    for family, type_, proto, _, addr in infos:
        sock = socket.socket(family, type_, proto)
        try:
            if opts.local_addr is not None:
                try:
                    sock.bind(opts.local_addr)
                except OSError as exc:
                    raise OSError(exc.errno, f"bind: {exc.strerror}") from None
            sock.settimeout(timeout)
            sock.connect(addr)
            return sock
        except socket.timeout:
            sock.close()
            raise connect_timeout_error(host, port, opts.connect_timeout) from None
        except OSError as exc:
            sock.close()
            last = exc
    assert last is not None
    raise connect_error(last, host, port, opts.family, opts.local_addr) from None


class SSHClientConnection:
    """An authenticated client connection (see :mod:`sshcore.blocking` for threads).

    ``timeout`` (None: wait forever) is the default limit of every blocking call made
    without its own ``timeout=``; one that expires raises
    :class:`~sshcore.blocking.SSHTimeoutError`.
    """

    #: default ``timeout`` of blocking calls (seconds; None waits forever)
    timeout: float | None = None

    def __init__(self, opts: ClientOptions, sock: socket.socket,
                 hops: Sequence[SSHClientConnection] = (), proxy: Any = None) -> None:
        self.options = opts
        self.host, self.port = opts.host, opts.port
        self._hops = list(hops)
        self._proxy = proxy
        self._forwards: list[LocalForward] = []
        #: the forwards connect() set up from the options: ``(ForwardSpec, LocalForward)``
        self.config_forwards: list[tuple[Any, LocalForward]] = []
        agent_keys = _agent_keys(opts)
        client_host = None
        if opts.client_host_keys is not None and not opts.client_host:
            client_host = socket.getfqdn()
        self._policy = ClientPolicy(opts, self._on_closed)
        kernel = Connection(opts.connection_config(agent_keys, client_host), time.monotonic())
        self._drv = Driver(sock, kernel, self._policy, name=f"sshcore {opts.host}:{opts.port}")
        self._drv.executor = opts.kex_executor
        self._drv.start()

    def _start_forwards(self) -> None:
        """The options' forwards (LocalForward...): this front-end has TCP ``-L`` only;
        the others fail as a forward that cannot be set up does."""
        from ..sessionconfig import forward_failed

        for spec in self.options.forwards:
            try:
                if spec.kind != "L" or spec.listen_path or spec.dest_path:
                    raise ChannelListenError("not supported by sshcore.blocking (TCP "
                                             "LocalForward only)")
                self.config_forwards.append((spec, self.forward_local_port(
                    spec.bind_host(), spec.listen_port, spec.dest_host or "", spec.dest_port)))
            except SSHError as exc:
                forward_failed(spec, exc, self.options.exit_on_forward_failure)

    def _wait_ready(self, timeout: float | None) -> None:
        drv = self._drv
        try:
            drv.wait(lambda: drv.ready, timeout, "connect")
        except SSHTimeoutError:
            raise connect_timeout_error(self.host, self.port, self.options.connect_timeout) from None
        except ProtocolError as exc:
            if (drv.kernel.peer_version is None and not isinstance(exc, (ProtocolVersionError, ConnectError))
                    and type(exc).__name__ in ("ConnectionLostError", "RemoteProtocolError")):
                raise closed_before_banner(self.host, self.port) from None
            raise

    def _on_closed(self) -> None:
        for fwd in list(self._forwards):
            fwd.close()
        for hop in reversed(self._hops):
            hop.close()
        if self._proxy is not None and self._proxy.poll() is None:
            self._proxy.terminate()

    # -------------------------------------------------------------- state

    @property
    def username(self) -> str | None:
        return self._policy.username

    @property
    def server_host_key(self) -> Any:
        return self._policy.server_host_key

    @property
    def is_closed(self) -> bool:
        return self._drv.finished

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        k = self._drv.kernel
        if name == "algorithms" and k.negotiated:
            return k.negotiated.as_dict()
        if name == "username":
            return self.username
        if name == "peername":
            try:
                return self._drv.sock.getpeername()
            except OSError:
                return default
        return default

    def close(self) -> None:
        """Disconnect and wait for the I/O thread to finish (at most 10 s)."""
        for fwd in list(self._forwards):
            fwd.close()
        self._drv.close()

    def __enter__(self) -> SSHClientConnection:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _t(self, timeout: Any) -> float | None:
        return self.timeout if timeout is _UNSET else timeout

    # -------------------------------------------------------------- channels

    def _open(self, channel_type: str | ChannelOpenData, data: bytes, timeout: Any,
              autoconsume: bool = False) -> ChannelState:
        """Open a channel (a typed payload, or a type name and raw data) and wait for it."""
        drv = self._drv
        label = channel_type if isinstance(channel_type, str) else channel_type.name
        with drv.lock:
            local_id = drv.call(drv.kernel.open_channel, channel_type, data)
            state = ChannelState(local_id, autoconsume)
            drv.channels[local_id] = state
            try:
                drv.wait(lambda: state.opened or state.open_error, self._t(timeout),
                         f"open {label} channel")
            except SSHTimeoutError:
                if not drv.kernel.closed:
                    state.closed = True  # the peer's late confirmation is then closed at once
                raise
            if state.open_error is not None:
                raise state.open_error
            return state

    def _session(self, command: str | None, *, subsystem: str | None = None,
                 env: Mapping[str, str] | None = None, term_type: str | None = None,
                 term_size: Sequence[int] | None = None, term_modes: Mapping[int, int] | None = None,
                 timeout: Any = _UNSET, autoconsume: bool = False,
                 encoding: str | None = None, merge_stderr: bool = False) -> SSHProcess:
        from ..clientpolicy import session_requests

        try:
            state = self._open("session", b"", timeout, autoconsume)
        except ChannelOpenError as exc:
            if exc.code in (1, 2) and type(exc) is ChannelOpenError:
                raise TooManySessionsError(exc.code, f"{exc.reason} (session refused: the "
                                                     f"server's MaxSessions limit?)") from None
            raise
        state.merge_stderr = merge_stderr
        command, env, term_type = self.options.session.apply(command, subsystem, env, term_type)
        proc = SSHProcess(self, state, command, encoding)
        try:
            for request, refused in session_requests(
                    command, subsystem, env, term_type, term_size, term_modes,
                    agent_forwarding=False):
                if refused is None:
                    self._drv.call(self._drv.kernel.send_channel_request, state.id, request, False)
                elif not proc._request(request, b"", self._t(timeout)):
                    raise ChannelOpenError(1, refused)
        except BaseException:
            proc.close()
            raise
        return proc

    def exec(self, command: str, *, env: Mapping[str, str] | None = None,
             term_type: str | None = None, term_size: Sequence[int] | None = None,
             term_modes: Mapping[int, int] | None = None, encoding: str | None = None,
             timeout: Any = _UNSET) -> SSHProcess:
        """Start ``command``: an :class:`~sshcore.blocking.SSHProcess` whose ``stdin``,
        ``stdout`` and ``stderr`` are file objects (bytes, or text with ``encoding``).
        ``term_type`` asks for a pseudo-terminal (``term_size`` is (columns, rows));
        ``env`` sets variables (the server's AcceptEnv decides which it takes)."""
        return self._session(command, env=env, term_type=term_type, term_size=term_size,
                             term_modes=term_modes, timeout=timeout, encoding=encoding)

    def shell(self, *, term_type: str | None = "xterm", term_size: Sequence[int] | None = None,
              env: Mapping[str, str] | None = None, encoding: str | None = None,
              timeout: Any = _UNSET) -> SSHProcess:
        """An interactive shell on a pseudo-terminal (``term_type=None``: without one)."""
        return self._session(None, env=env, term_type=term_type, term_size=term_size,
                             timeout=timeout, encoding=encoding)

    def subsystem(self, name: str, timeout: Any = _UNSET) -> SSHProcess:
        return self._session(None, subsystem=name, timeout=timeout)

    def run(self, command: str, *, input: bytes | str | None = None, check: bool = False,
            env: Mapping[str, str] | None = None, term_type: str | None = None,
            encoding: str | None = "utf-8", timeout: Any = _UNSET) -> CompletedProcess:
        """Run ``command`` to its end: a :class:`~sshcore.blocking.CompletedProcess` with
        ``stdout``, ``stderr`` (text; bytes with ``encoding=None``), ``exit_status`` and
        ``exit_signal``.  ``timeout`` bounds the whole run."""
        t = self._t(timeout)
        deadline = None if t is None else time.monotonic() + t
        proc = self._session(command, env=env, term_type=term_type, timeout=t, autoconsume=True,
                             encoding=encoding)
        try:
            if input:
                proc.stdin.write(input.encode() if isinstance(input, str) else input, _left(deadline))
            return proc.collect(check, _left(deadline))
        finally:
            proc.close()

    # -------------------------------------------------------------- forwarding

    def open_direct_tcpip(self, host: str, port: int, orig_host: str = "127.0.0.1",
                          orig_port: int = 0, timeout: Any = _UNSET) -> ChannelSocket:
        """A socket-like :class:`~sshcore.blocking.ChannelSocket` to ``host:port``,
        connected from the server's side (``ssh -W``)."""
        return ChannelSocket(self, self._open(DirectTcpipOpen(host, port, orig_host, orig_port),
                                              b"", timeout))

    def _socket_to(self, host: str, port: int, timeout: float | None) -> socket.socket:
        """A real socket whose peer is ``host:port`` through this connection (for a
        connection through a jump host)."""
        chan = self.open_direct_tcpip(host, port, timeout=timeout)
        ours, theirs = socket.socketpair()
        _bridge(chan, theirs)
        return ours

    def forward_local_port(self, listen_host: str, listen_port: int, dest_host: str,
                           dest_port: int) -> LocalForward:
        """``ssh -L``: listen here (``listen_port=0`` picks a free port: ``.port``), each
        connection reaching ``dest_host:dest_port`` from the server.  Close the returned
        :class:`LocalForward` (or use it as a context manager) to stop listening."""
        try:
            lsock = socket.create_server((listen_host or "127.0.0.1", listen_port))
        except OSError as exc:
            raise ChannelListenError(f"cannot listen on {listen_host or '*'}:{listen_port}: "
                                     f"{exc.strerror or exc}") from None
        fwd = LocalForward(self, lsock, dest_host, dest_port)
        self._forwards.append(fwd)
        return fwd

    def start_sftp_client(self, timeout: Any = _UNSET) -> Any:
        """A blocking SFTP client (:class:`~sshcore.blocking.sftp.SFTPClient`)."""
        from .sftp import SFTPClient

        return SFTPClient.start(self, self._t(timeout))

    open_sftp = start_sftp_client


def _agent_keys(opts: ClientOptions) -> list[Any]:
    if not opts.agent_path:
        return []
    from ._agent import agent_keys

    try:
        return agent_keys(opts.agent_path, opts.registry)
    except SSHError as exc:
        if opts.agent_required:
            raise
        logger.debug("%s", exc)
        return []


def _bridge(chan: ChannelSocket, sock: socket.socket) -> None:
    """Copy both ways between a channel and a socket, a thread each, until both end."""
    chan.settimeout(None)

    def up() -> None:  # socket -> channel
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chan.sendall(data)
            chan.shutdown(1)
        except (OSError, SSHError):
            chan.close()

    def down() -> None:  # channel -> socket
        try:
            while True:
                data = chan.recv(65536)
                if not data:
                    break
                sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (OSError, SSHError):
            pass
        finally:
            t_up.join()
            chan.close()
            sock.close()

    t_up = threading.Thread(target=up, daemon=True, name="sshcore fwd up")
    t_up.start()
    threading.Thread(target=down, daemon=True, name="sshcore fwd down").start()


class LocalForward:
    """A local listening socket forwarding to ``dest_host:dest_port`` via the server."""

    def __init__(self, conn: SSHClientConnection, lsock: socket.socket, dest_host: str,
                 dest_port: int) -> None:
        self._conn = conn
        self._lsock = lsock
        self.dest = (dest_host, dest_port)
        self.port: int = lsock.getsockname()[1]
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True, name="sshcore -L")
        self._thread.start()

    def get_port(self) -> int:
        return self.port

    def _accept(self) -> None:
        while not self._closed:
            try:
                sock, peer = self._lsock.accept()
            except OSError:
                return
            try:
                chan = self._conn.open_direct_tcpip(*self.dest, orig_host=str(peer[0]),
                                                    orig_port=int(peer[1]), timeout=30.0)
            except (SSHError, OSError) as exc:
                logger.info("-L %s:%s: %s", *self.dest, exc)
                sock.close()
                continue
            _bridge(chan, sock)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._lsock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._lsock.close()
            if self in self._conn._forwards:
                self._conn._forwards.remove(self)

    def __enter__(self) -> LocalForward:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


