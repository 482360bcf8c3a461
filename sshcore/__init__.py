"""sshcore: an asyncio SSHv2 client and server whose every algorithm is a plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

hookimpl = pluggy.HookimplMarker("sshcore")

__version__ = "0.1.0"

# The asyncio adapter is imported lazily so that the sans-I/O kernel modules can be used
# (and tested) without loading asyncio.
_LAZY = {
    "connect": "sshcore.aio.api",
    "listen": "sshcore.aio.api",
    "SSHClientConnection": "sshcore.aio.client",
    "SSHServerConnection": "sshcore.aio.server",
    "SSHServer": "sshcore.aio.server",
    "SSHClient": "sshcore.aio.client",
    "SSHClientSession": "sshcore.aio.channel",
    "SSHServerSession": "sshcore.aio.channel",
    "SSHCompletedProcess": "sshcore.aio.process",
    "EXTENDED_DATA_STDERR": "sshcore.messages",
    "SSHTCPSession": "sshcore.aio.forward",
    "SSHUNIXSession": "sshcore.aio.forward",
    "SSHTCPChannel": "sshcore.aio.forward",
    "SSHListener": "sshcore.aio.forward",
    "SSHClientProcess": "sshcore.aio.process",
    "SSHServerProcess": "sshcore.aio.process",
    "STDOUT": "sshcore.aio.process",
    "read_private_key": "sshcore.keys",
    "read_public_key": "sshcore.keys",
    "import_private_key": "sshcore.keys",
    "import_public_key": "sshcore.keys",
    "generate_private_key": "sshcore.keys",
    "read_authorized_keys": "sshcore.keys",
    "export_private_key": "sshcore.keys",
    "export_public_key": "sshcore.keys",
    "hash_password": "sshcore.passwords",
    "check_password": "sshcore.passwords",
}

from .errors import (ClosedBeforeBannerError, ConnectError, ConnectRefusedError,  # noqa: E402
                     ConnectTimeoutError, HostUnreachableError, NoCommonAlgorithmError,
                     TooManySessionsError)
from .errors import (ChannelListenError, ChannelOpenError, ConfigurationError, DisconnectError,  # noqa: E402
                     DisconnectReason, HostKeyNotVerifiableError, KeyExchangeError,
                     KeepaliveTimeoutError, KeyImportError, KeyPassphraseError, PermissionDeniedError, ProcessError, ProtocolError,
                     SSHError)
from .errors import ConfigWarning, PluginWarning  # noqa: E402

__all__ = [
    "hookimpl", "__version__", "ClosedBeforeBannerError", "ConnectError", "ConnectRefusedError",
    "ConnectTimeoutError", "HostUnreachableError", "NoCommonAlgorithmError", "TooManySessionsError", "ChannelListenError", "ChannelOpenError", "ConfigurationError", "DisconnectError",
    "DisconnectReason", "HostKeyNotVerifiableError", "KeepaliveTimeoutError", "KeyExchangeError", "KeyImportError", "KeyPassphraseError",
    "PermissionDeniedError", "ConfigWarning", "PluginWarning", "ProcessError", "ProtocolError", "SSHError", *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name == "blocking":  # the blocking front-end (sockets), loaded on first use
        import importlib

        return importlib.import_module("sshcore.blocking")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sshcore' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # pragma: no cover
    from .aio.api import connect, listen  # noqa: F401
