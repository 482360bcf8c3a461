"""Exception hierarchy: one root, protocol errors carrying RFC 4250 reason codes."""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar


class DisconnectReason(IntEnum):
    """SSH_MSG_DISCONNECT reason codes (RFC 4250 section 4.2.2)."""

    HOST_NOT_ALLOWED_TO_CONNECT = 1
    PROTOCOL_ERROR = 2
    KEY_EXCHANGE_FAILED = 3
    RESERVED = 4
    MAC_ERROR = 5
    COMPRESSION_ERROR = 6
    SERVICE_NOT_AVAILABLE = 7
    PROTOCOL_VERSION_NOT_SUPPORTED = 8
    HOST_KEY_NOT_VERIFIABLE = 9
    CONNECTION_LOST = 10
    BY_APPLICATION = 11
    TOO_MANY_CONNECTIONS = 12
    AUTH_CANCELLED_BY_USER = 13
    NO_MORE_AUTH_METHODS_AVAILABLE = 14
    ILLEGAL_USER_NAME = 15


class ChannelOpenFailureReason(IntEnum):
    """SSH_MSG_CHANNEL_OPEN_FAILURE reason codes (RFC 4254 section 5.1)."""

    ADMINISTRATIVELY_PROHIBITED = 1
    CONNECT_FAILED = 2
    UNKNOWN_CHANNEL_TYPE = 3
    RESOURCE_SHORTAGE = 4


class SSHError(Exception):
    """Root of every exception sshcore raises on purpose."""


class LocalProtocolError(SSHError):
    """The application misused the API (wrong state, bad argument)."""


class ConfigurationError(SSHError, ValueError):
    """Bad options, unknown algorithm names, an invalid plugin registry."""


class PluginWarning(UserWarning):
    """A discovered plugin is broken and was skipped (see ``Registry.broken``)."""


class ConfigWarning(UserWarning):
    """An ssh_config keyword that applies to the connection but that sshcore does not
    honour (named with its file and line; once per keyword per file)."""


class KeyImportError(SSHError, ValueError):
    """A key or key file could not be read (bad format, wrong passphrase, ...)."""


class KeyPassphraseError(KeyImportError):
    """The key is encrypted and the passphrase is missing or wrong (ask for one)."""


class ProtocolError(SSHError):
    """The SSH conversation failed; ``reason`` is the disconnect code."""

    reason: ClassVar[DisconnectReason] = DisconnectReason.PROTOCOL_ERROR

    def __init__(self, message: str, *, reason: DisconnectReason | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason  # type: ignore[misc]


class RemoteProtocolError(ProtocolError):
    """The peer violated the protocol."""


class KeyExchangeError(RemoteProtocolError):
    reason = DisconnectReason.KEY_EXCHANGE_FAILED


class NoCommonAlgorithmError(KeyExchangeError):
    """Negotiation found nothing both sides accept for ``family``; ``client_offer`` and
    ``server_offer`` are the two lists as offered."""

    def __init__(self, message: str, *, family: str = "", client_offer: tuple[str, ...] = (),
                 server_offer: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.family = family
        self.client_offer = client_offer
        self.server_offer = server_offer


class MACError(RemoteProtocolError):
    reason = DisconnectReason.MAC_ERROR


class CompressionError(RemoteProtocolError):
    reason = DisconnectReason.COMPRESSION_ERROR


class ServiceNotAvailableError(RemoteProtocolError):
    reason = DisconnectReason.SERVICE_NOT_AVAILABLE


class ProtocolVersionError(RemoteProtocolError):
    reason = DisconnectReason.PROTOCOL_VERSION_NOT_SUPPORTED


class HostKeyNotVerifiableError(ProtocolError):
    reason = DisconnectReason.HOST_KEY_NOT_VERIFIABLE


class NoMoreAuthMethodsError(ProtocolError):
    reason = DisconnectReason.NO_MORE_AUTH_METHODS_AVAILABLE


class PermissionDeniedError(NoMoreAuthMethodsError):
    """Authentication failed: every method the client could try was refused.

    ``allowed``: the methods the server said could continue; ``tried``: what we tried."""

    def __init__(self, message: str, *, allowed: tuple[str, ...] = (),
                 tried: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.allowed = allowed
        self.tried = tried


class ConnectionLostError(ProtocolError):
    reason = DisconnectReason.CONNECTION_LOST


class ConnectError(ConnectionLostError, OSError):
    """The TCP connection (or the SSH banner) to ``host``:``port`` could not be had; the
    subclass says why.  Also an :class:`OSError`, as asyncio's connection errors are."""

    def __init__(self, message: str, *, host: str = "", port: int = 0) -> None:
        super().__init__(message)
        self.host = host
        self.port = port


class ConnectRefusedError(ConnectError):
    """Nothing listens there (the peer answered with a reset)."""


class HostUnreachableError(ConnectError):
    """No route to the host, or its name does not resolve."""


class ConnectTimeoutError(ConnectError):
    """No connection, banner or key exchange within ``timeout`` seconds."""

    def __init__(self, message: str, *, host: str = "", port: int = 0, timeout: float = 0.0) -> None:
        super().__init__(message, host=host, port=port)
        self.timeout = timeout


class ClosedBeforeBannerError(ConnectError):
    """The server accepted the connection and closed it before saying anything (sshd
    does that past MaxStartups, or when a TCP wrapper refuses)."""


class KeepaliveTimeoutError(ConnectionLostError):
    """The peer answered none of our keepalive probes (OpenSSH's "Timeout, server not
    responding"): it or the path to it is gone."""


class DisconnectError(ProtocolError):
    """The peer sent SSH_MSG_DISCONNECT (``reason`` is the code it sent)."""

    def __init__(self, reason: int, description: str) -> None:
        try:
            code = DisconnectReason(reason)
        except ValueError:
            code = DisconnectReason.PROTOCOL_ERROR
        super().__init__(f"peer disconnected ({int(reason)}): {description}", reason=code)
        self.code = int(reason)
        self.description = description


class ChannelOpenError(SSHError):
    """A channel could not be opened (RFC 4254 reason code and text)."""

    def __init__(self, code: int, reason: str, lang: str = "") -> None:
        super().__init__(f"channel open failed ({code}): {reason}")
        self.code = code
        self.reason = reason
        self.lang = lang


class TooManySessionsError(ChannelOpenError):
    """The server refused another session channel on this connection (sshd does this
    past its MaxSessions limit, 10 by default)."""


class ChannelListenError(SSHError):
    """A forwarding listener could not be set up (refused by the peer, or a local bind
    failed)."""


class ProcessError(SSHError):
    """A remote command ended with a non-zero exit status (``run(check=True)``)."""

    def __init__(self, command: str | None, exit_status: int | None, exit_signal: str | None,
                 stdout: object, stderr: object) -> None:
        what = f"signal {exit_signal}" if exit_signal else f"status {exit_status}"
        super().__init__(f"command {command!r} exited with {what}")
        self.command = command
        self.exit_status = exit_status
        self.exit_signal = exit_signal
        self.stdout = stdout
        self.stderr = stderr


_BY_CODE: dict[int, type[ProtocolError]] = {
    cls.reason: cls
    for cls in (KeyExchangeError, MACError, CompressionError, ServiceNotAvailableError,
                ProtocolVersionError, HostKeyNotVerifiableError, NoMoreAuthMethodsError,
                ConnectionLostError)
}
