"""Events the sans-I/O connection reports to its driver (nouns / past-tense facts)."""

from __future__ import annotations

from dataclasses import field
from typing import TYPE_CHECKING, Any

from .._record import record

if TYPE_CHECKING:
    from .chanreq import ChannelOpenData, ChannelRequest, GlobalReply, GlobalRequest


@record
class Event:
    pass


@record
class VersionReceived(Event):
    version: str


@record
class ComputeRequested(Event):
    """With ``kex_offload``: the key exchange waits for ``fn(*args)`` (picklable, for a
    process pool).  Answer with ``provide_compute_result(job, result)`` or
    ``compute_failed(job, exc)``; received packets wait unprocessed until then."""

    job: int
    fn: Any
    args: tuple[Any, ...]


@record
class HostKeyReceived(Event):
    """Client: the server proved possession of this host key.

    Answer with ``accept_host_key()`` or ``reject_host_key()``; nothing more is sent
    until then.
    """

    key: Any
    algorithm: str


@record
class KexCompleted(Event):
    algorithms: dict[str, str]
    first: bool
    strict: bool


@record
class ExtInfoReceived(Event):
    extensions: dict[str, bytes]


@record
class AuthBannerReceived(Event):
    message: str
    language: str


@record
class AuthInputRequested(Event):
    """Client: an auth method needs something from the application (``provide_auth_input``)."""

    method: str
    kind: str
    info: dict[str, Any] = field(default_factory=dict)


@record
class AuthRequested(Event):
    """Server: an auth method needs the application's decision (``answer_auth``)."""

    username: str
    method: str
    kind: str
    info: dict[str, Any] = field(default_factory=dict)


@record
class AuthResult(Event):
    """Server: the outcome of one authentication attempt (for audit logs): ``success``
    (``partial``: it succeeded but more methods are required), or a failure, which
    includes a method not allowed and a public key query that was refused."""

    username: str
    method: str
    success: bool
    partial: bool = False


@record
class AuthCompleted(Event):
    username: str


@record
class AuthExhausted(Event):
    """Client: every method the client could try was refused."""

    allowed: tuple[str, ...]


@record
class ChannelOpenRequested(Event):
    """The peer opens a channel: answer with ``accept_channel`` or ``reject_channel``.
    ``data`` is the type-specific payload as sent; ``decoded`` the same as a
    :class:`~sshcore.kernel.chanreq.ChannelOpenData` (None for a type the kernel does not
    know)."""

    channel: int
    channel_type: str
    data: bytes
    decoded: ChannelOpenData | None = None


@record
class ChannelOpened(Event):
    channel: int
    data: bytes


@record
class ChannelOpenFailed(Event):
    channel: int
    code: int
    reason: str


@record
class ChannelData(Event):
    channel: int
    #: A bytes-like object: a memoryview of the decrypted packet (never reused by the
    #: kernel), so received data is not copied until the application takes it; use
    #: ``bytes(event.data)`` where real bytes are needed.
    data: bytes | memoryview
    #: None for ordinary data, 1 (SSH_EXTENDED_DATA_STDERR) for stderr.
    datatype: int | None = None


@record
class ChannelWindowOpened(Event):
    channel: int


@record
class ChannelEOF(Event):
    channel: int


@record
class ChannelEOWReceived(Event):
    """The peer sent ``eow@openssh.com`` (OpenSSH PROTOCOL 2.1, "end of write"): it
    reads no more data on this channel (its output closed).  The kernel has dropped the
    data queued for it and drops what is sent from now on; extended data (stderr) still
    goes.  OpenSSH then closes the descriptor that fed the channel, so its writer gets
    EPIPE: do the equivalent."""

    channel: int


@record
class ChannelIdleTimeout(Event):
    """The channel was idle past its ChannelTimeout: the kernel is closing it (a
    ChannelClosed follows once the peer answers)."""

    channel: int


@record
class ChannelClosed(Event):
    channel: int


@record
class ChannelRequestReceived(Event):
    """A channel request (answer it with ``reply_channel_request`` if ``want_reply``).
    ``decoded``: the request as a :class:`~sshcore.kernel.chanreq.ChannelRequest`, or None
    for a name the kernel does not know (then ``request`` and ``data`` are all there
    is; they are always set)."""

    channel: int
    request: str
    want_reply: bool
    data: bytes
    decoded: ChannelRequest | None = None


@record
class ChannelRequestReplied(Event):
    channel: int
    success: bool


@record
class GlobalRequestReceived(Event):
    """A global request (answer it with ``reply_global_request`` if ``want_reply``,
    in order).  ``decoded``: a :class:`~sshcore.kernel.chanreq.GlobalRequest`, or None for a
    name the kernel does not know."""

    request: str
    want_reply: bool
    data: bytes
    decoded: GlobalRequest | None = None


@record
class GlobalRequestReplied(Event):
    """The reply to our oldest unanswered global request.  ``request``: that request's
    name; ``decoded``: the reply's data as a :class:`~sshcore.kernel.chanreq.GlobalReply`
    (the port a ``tcpip-forward`` got, host key proofs), None when it carries none."""

    success: bool
    data: bytes
    request: str = ""
    decoded: GlobalReply | None = None


@record
class ConnectionTerminated(Event):
    """The connection is over: ``error`` is None for a clean close."""

    error: Exception | None
