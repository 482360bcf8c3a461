"""Algorithm descriptors (what a plugin contributes) and the Protocols their state objects follow.

Every descriptor is a frozen dataclass: wire ``name``, default ``priority`` (higher is
preferred), ``enabled_by_default`` and a factory.  The kernel never imports a crypto
library; everything that touches key material is created through these factories.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ._record import record

if TYPE_CHECKING:
    import argparse

Role = Literal["client", "server"]


# --------------------------------------------------------------------------- lazy factories


@record
class LazyCallable:
    """A factory named by ``"package.module:attribute"``, imported at its first call.

    Descriptors carry names and metadata; a plugin gives them ``lazy(...)`` factories so
    that listing or negotiating algorithms imports no crypto library, and an algorithm's
    implementation is imported only when a connection uses it.  ``args`` and ``kwargs``
    are bound first, as with :func:`functools.partial`.  Picklable (it holds strings and
    the bound arguments), so a descriptor can cross to a worker process.

    .. versionadded:: 0.2
    """

    target: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()

    def resolve(self) -> Callable[..., Any]:
        """Import and return the named callable (cached by the import system)."""
        import importlib

        module, _, attr = self.target.partition(":")
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj  # type: ignore[no-any-return]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*self.args, *args, **dict(self.kwargs), **kwargs)


def lazy(target: str, *args: Any, **kwargs: Any) -> LazyCallable:
    """A :class:`LazyCallable` for ``"package.module:attribute"`` with bound arguments.

    :raises ValueError: if ``target`` is not of the form ``module:attribute``.
    """
    module, sep, attr = target.partition(":")
    if not module or not sep or not attr:
        raise ValueError(f"lazy target must be 'module:attribute', not {target!r}")
    return LazyCallable(target, args, tuple(sorted(kwargs.items())))


def require(*modules: str) -> None:
    """Check that ``modules`` are installed *without importing them*.

    A plugin whose implementations load lazily calls this from its contribution hooks,
    so that a missing (or too old to have the named module) dependency makes the plugin
    broken when the registry is built, with a clear reason, instead of failing in the
    middle of a connection.  Only the top-level package is looked up with
    :func:`importlib.util.find_spec` (which does not import it); submodules are looked up
    as files in its directories.

    :raises ImportError: naming the first module that is missing.

    .. versionadded:: 0.2
    """
    import importlib.machinery
    import importlib.util
    import os

    suffixes = importlib.machinery.all_suffixes()
    for name in modules:
        top, _, rest = name.partition(".")
        spec = importlib.util.find_spec(top)
        dirs = list(spec.submodule_search_locations or []) if spec is not None else []
        found = spec is not None
        for part in rest.split(".") if rest and found else ():
            pkgs = [os.path.join(d, part) for d in dirs
                    if os.path.isfile(os.path.join(d, part, "__init__.py"))]
            found = bool(pkgs) or any(os.path.isfile(os.path.join(d, part + s))
                                      for d in dirs for s in suffixes)
            dirs = pkgs
            if not found:
                break
        if not found:
            raise ImportError(f"No module named {name!r}", name=name)


# --------------------------------------------------------------------------- ciphers


class StreamCipher(Protocol):
    """A cipher used with a separate MAC: encrypt/decrypt whole blocks, keeping state.

    ``data`` may be a memoryview into the kernel's receive buffer, valid only during the
    call; the result must be a new bytes-like object (never a view of ``data``).
    """

    def encrypt(self, data: bytes | memoryview) -> bytes: ...

    def decrypt(self, data: bytes | memoryview) -> bytes: ...


class AEADCipher(Protocol):
    """A cipher that frames and authenticates whole packets itself (GCM, ChaCha20-Poly1305).

    ``packet`` is ``uint32 packet_length || padding_length || payload || padding`` in clear.
    On receipt, ``header`` and ``body`` are memoryviews into the kernel's receive buffer,
    valid only during the call; a returned packet must be a new bytes-like object.
    """

    def encrypt_packet(self, seq: int, packet: bytes) -> bytes:
        """Return the wire bytes: (maybe encrypted) length, ciphertext and tag."""
        ...

    def decrypt_length(self, seq: int, header: bytes) -> int:
        """Return packet_length from the first 4 wire bytes without authenticating."""
        ...

    def decrypt_packet(self, seq: int, header: bytes, body: bytes) -> bytes | None:
        """Authenticate and decrypt; ``body`` is ciphertext plus tag.

        Returns ``padding_length || payload || padding``, or ``None`` when the tag is wrong.
        """
        ...


@record
class CipherAlgorithm:
    name: str
    key_size: int
    iv_size: int
    block_size: int
    #: ``factory(key=..., iv=..., encrypt=...)`` returns a StreamCipher, or an AEADCipher
    #: when ``aead`` is true (then no MAC is negotiated for this direction).
    factory: Callable[..., Any]
    aead: bool = False
    tag_size: int = 0
    priority: int = 0
    #: Among several providers of this name, the highest serves (unless the user
    #: chooses one); ``priority`` alone orders names for negotiation.
    implementation_priority: int = 0
    enabled_by_default: bool = True


# --------------------------------------------------------------------------- MACs


class Mac(Protocol):
    """``data`` and ``mac`` may be memoryviews into the kernel's buffers, valid only during
    the call."""

    def sign(self, seq: int, data: bytes | memoryview) -> bytes: ...

    def verify(self, seq: int, data: bytes | memoryview, mac: bytes | memoryview) -> bool:
        """Constant-time comparison of the expected and received MAC."""
        ...


@record
class MacAlgorithm:
    name: str
    key_size: int
    digest_size: int
    #: ``factory(key=...)`` returns a :class:`Mac`.
    factory: Callable[..., Mac]
    etm: bool = False
    priority: int = 0
    #: Among several providers of this name, the highest serves (unless the user
    #: chooses one); ``priority`` alone orders names for negotiation.
    implementation_priority: int = 0
    enabled_by_default: bool = True


# --------------------------------------------------------------------------- compression


class Compressor(Protocol):
    def compress(self, data: bytes) -> bytes: ...


class Decompressor(Protocol):
    def decompress(self, data: bytes, max_length: int) -> bytes:
        """Raise ValueError when the output would exceed ``max_length``."""
        ...


@record
class CompressionAlgorithm:
    name: str
    compressor: Callable[[], Compressor]
    decompressor: Callable[[], Decompressor]
    #: zlib@openssh.com: start only after user authentication succeeds.
    delayed: bool = False
    priority: int = 0
    #: Among several providers of this name, the highest serves (unless the user
    #: chooses one); ``priority`` alone orders names for negotiation.
    implementation_priority: int = 0
    enabled_by_default: bool = True


# --------------------------------------------------------------------------- key exchange


@record
class KexContext:
    """What the kernel gives a key exchange: the transcript so far and the host key."""

    role: Role
    client_version: bytes
    server_version: bytes
    client_kexinit: bytes
    server_kexinit: bytes
    #: Server only: the negotiated host key's public blob, and a signer for the exchange hash.
    host_key_blob: bytes = b""
    sign: Callable[[bytes], bytes] | None = None
    random: Callable[[int], bytes] = field(default=lambda n: __import__("secrets").token_bytes(n))
    #: Free-form options (e.g. group-exchange sizes) the application set for kex.
    options: dict[str, Any] = field(default_factory=dict)
    #: True when the application runs the exchange's :class:`KexCompute` work itself (a
    #: process pool): the exchange should hand slow work over rather than do it, and use
    #: nothing that :attr:`KexAlgorithm.prefetch` made (the kernel did not call it).
    #:
    #: .. versionadded:: 0.2
    offload: bool = False


@record
class KexResult:
    #: The shared secret K already encoded as it enters the hash (mpint or string).
    shared_secret: bytes
    exchange_hash: bytes
    #: Client only: the server's host key blob and its signature over the exchange hash.
    host_key_blob: bytes = b""
    signature: bytes = b""


@record
class KexCompute:
    """Heavy work a key exchange hands to the kernel: ``fn(*args)``, whose result
    ``resume(result)`` takes to make the next step.  ``fn`` is a module-level function
    and ``args`` picklable, so that the application may run it in a process pool
    (``ConnectionConfig.kex_offload``); by default the kernel calls it inline."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    resume: Callable[[Any], KexStep]


@record(frozen=False)
class KexStep:
    """Result of feeding a kex one message: payloads to send, maybe the final result,
    or work to do before the exchange can go on (sent first, then computed)."""

    send: list[bytes] = field(default_factory=list)
    result: KexResult | None = None
    compute: KexCompute | None = None


class KeyExchange(Protocol):
    """A single key exchange run, sans-I/O.  Messages are full payloads (type byte first)."""

    def start(self) -> KexStep: ...

    def receive(self, payload: bytes) -> KexStep:
        """Raise :class:`sshcore.errors.KeyExchangeError` on a bad or unexpected message."""
        ...


@record
class KexAlgorithm:
    name: str
    #: hashlib name used for the exchange hash and key derivation (RFC 4253 section 7.2).
    hash_name: str
    #: ``factory(ctx: KexContext)`` returns a :class:`KeyExchange`.
    factory: Callable[[KexContext], KeyExchange]
    priority: int = 0
    #: Among several providers of this name, the highest serves (unless the user
    #: chooses one); ``priority`` alone orders names for negotiation.
    implementation_priority: int = 0
    enabled_by_default: bool = True
    #: ``prefetch()``, if given, is called when a client connection that offers this
    #: method is created, before any byte is exchanged: the plugin may start slow
    #: set-up (an ephemeral key pair) in the background so that it overlaps the TCP
    #: connect and the version exchange.  It must return at once and be harmless when
    #: the method is not negotiated.  Not called with ``ConnectionConfig.kex_offload``
    #: (the application's pool does the heavy work then).
    #:
    #: .. versionadded:: 0.2
    prefetch: Callable[[], None] | None = None


# --------------------------------------------------------------------------- public keys


class PublicKey(Protocol):
    #: key type as in the public blob, e.g. "ssh-ed25519", "ssh-rsa"
    key_type: str
    #: the SSH public key blob (RFC 4253 section 6.6)
    public_blob: bytes
    comment: str

    def verify(self, data: bytes, signature: bytes, algorithm: str | None = None) -> bool:
        """Check an SSH signature blob (``string alg || string sig``) over ``data``."""
        ...

    def sig_algorithms(self) -> Sequence[str]:
        """Signature algorithms this key can make, preferred first."""
        ...


class PrivateKey(PublicKey, Protocol):
    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        """Return an SSH signature blob made with ``algorithm`` (default: the key's first)."""
        ...

    def public_key(self) -> PublicKey: ...


@record
class SignatureAlgorithm:
    """A host-key / public-key signature algorithm (``ssh-ed25519``, ``rsa-sha2-256``, ...)."""

    name: str
    #: The key type it applies to ("ssh-rsa" for rsa-sha2-256).
    key_type: str
    #: ``decode(blob)`` returns a :class:`PublicKey` from an SSH public key blob.
    decode: Callable[[bytes], PublicKey]
    priority: int = 0
    #: Among several providers of this name, the highest serves (unless the user
    #: chooses one); ``priority`` alone orders names for negotiation.
    implementation_priority: int = 0
    enabled_by_default: bool = True


@record
class KeyType:
    """A key type that can be generated (``ssh-keygen -t``)."""

    name: str
    #: ``generate(**options)`` returns a :class:`PrivateKey`.
    generate: Callable[..., PrivateKey]
    priority: int = 0
    #: Among several providers of this name, the highest serves (unless the user
    #: chooses one); ``priority`` alone orders names for negotiation.
    implementation_priority: int = 0


# --------------------------------------------------------------------------- userauth
# Auth methods are sans-I/O objects too.  A client method produces the method-specific
# part of SSH_MSG_USERAUTH_REQUEST; a server method judges it.  Whatever needs the
# application (a password, a decision) becomes a request the kernel turns into an event.


@record
class ClientAuthContext:
    username: str
    service: str
    session_id: bytes
    #: Signature algorithms the server accepts (RFC 8308 server-sig-algs), or None.
    server_sig_algs: Sequence[str] | None
    #: Signature algorithms enabled locally, preferred first.
    sig_algs: Sequence[str]
    #: Anything the application supplied up front (``password``, ``client_keys``, ...).
    credentials: dict[str, Any]
    #: The server's host key blob from the first key exchange, and its signature of the
    #: session ID (for publickey-hostbound and an SSH agent's session-bind).
    host_key_blob: bytes = b""
    host_key_signature: bytes = b""
    #: The server's EXT_INFO extensions (RFC 8308), by name.
    server_extensions: Mapping[str, bytes] = field(default_factory=dict)


@record
class ServerAuthContext:
    session_id: bytes
    #: Signature algorithms accepted for user authentication.
    sig_algs: Sequence[str]
    #: ``decode_public_key(blob, alg)`` returns a PublicKey or None if the algorithm is
    #: unknown/disabled or the blob malformed.
    decode_public_key: Callable[[bytes, str], PublicKey | None]
    #: This server's host key blob from the first key exchange.
    host_key_blob: bytes = b""
    #: The method name the client sent (``publickey-hostbound-v00@openssh.com`` is
    #: served by the ``publickey`` method).
    method: str = ""


@record(frozen=False)
class AuthSend:
    """Client: send USERAUTH_REQUEST with this method-specific body.  Server: send payloads."""

    body: bytes = b""
    payloads: list[bytes] = field(default_factory=list)
    #: Client: the method name to send instead of the method's own (``publickey`` sends
    #: ``publickey-hostbound-v00@openssh.com`` to servers that offer it).
    method: str | None = None


@record(frozen=False)
class AuthAsk:
    """Ask the application; ``kind`` names the question, ``info`` carries its details.

    The kernel emits it as an event and feeds the answer to ``resume()``.
    """

    kind: str
    info: dict[str, Any] = field(default_factory=dict)


@record(frozen=False)
class AuthDone:
    """This attempt is over: client: nothing more to try with this method.

    Server: ``success`` or failure (``partial`` per RFC 4252 section 5.1).
    """

    success: bool = False
    partial: bool = False


AuthAction = AuthSend | AuthAsk | AuthDone


class ClientAuth(Protocol):
    """One method's client side for one connection.

    ``next_attempt()`` starts a new request (or says the method is exhausted);
    ``receive()`` handles method-specific messages (60-79); ``resume()`` takes the
    application's answer to an :class:`AuthAsk`.
    """

    def next_attempt(self) -> AuthAction: ...

    def receive(self, payload: bytes) -> AuthAction: ...

    def resume(self, answer: Any) -> AuthAction: ...


class ServerAuth(Protocol):
    def request(self, username: str, service: str, body: bytes) -> AuthAction:
        """Judge a USERAUTH_REQUEST's method-specific ``body``."""
        ...

    def receive(self, payload: bytes) -> AuthAction: ...

    def resume(self, answer: Any) -> AuthAction: ...


@record
class AuthMethod:
    name: str
    #: ``client(ctx: ClientAuthContext)`` -> ClientAuth, or None if the method has no client.
    client: Callable[[ClientAuthContext], ClientAuth] | None = None
    #: ``server(ctx: ServerAuthContext)`` -> ServerAuth, or None if no server side.
    server: Callable[[ServerAuthContext], ServerAuth] | None = None
    priority: int = 0
    #: Among several providers of this name, the highest serves (unless the user
    #: chooses one); ``priority`` alone orders names for negotiation.
    implementation_priority: int = 0
    enabled_by_default: bool = True


# --------------------------------------------------------------------------- key files


@record
class KeyFormat:
    """A key file format that can be written (``ssh-keygen -m``)."""

    name: str
    #: ``export(key, passphrase=None, comment=None)`` returns the file's bytes.
    export_private: Callable[..., bytes] | None = None
    export_public: Callable[..., bytes] | None = None


# --------------------------------------------------------------------------- subsystems and CLI


@record
class Subsystem:
    """A session subsystem (RFC 4254 section 6.5) such as ``sftp``.

    ``server_factory(process, **options)`` is an async function serving one subsystem
    session on an :class:`~sshcore.SSHServerProcess`-like object (binary ``stdin`` reader,
    ``stdout`` writer); it returns the exit status (or ``None``).
    ``client_factory(conn, **options)`` is an async function returning the client object
    (an async context manager) for an :class:`~sshcore.SSHClientConnection`.
    """

    name: str
    priority: int = 0
    server_factory: Callable[..., Any] | None = None
    client_factory: Callable[..., Any] | None = None
    enabled_by_default: bool = True
    #: Among several providers of this name, the highest serves (unless the user
    #: chooses one).
    implementation_priority: int = 0


@record
class CliCommand:
    """A ``sshcore NAME ...`` sub-command contributed by a plugin.

    ``add_arguments(parser)`` fills the sub-command's :class:`argparse.ArgumentParser`;
    ``run(args)`` executes it and returns the process exit status.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    priority: int = 0
    #: Among several providers of this name, the highest serves (unless the user
    #: chooses one); ``priority`` alone orders names for negotiation.
    implementation_priority: int = 0
    enabled_by_default: bool = True
