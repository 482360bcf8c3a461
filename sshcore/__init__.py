"""sshcore: an asyncio SSHv2 client and server whose every algorithm is a plugin.

The packages are the layers: ``sshcore.kernel`` (the sans-I/O protocol), the plugin API
here at the top (``hookspecs``, ``registry``, ``plugin``, ``wire``, ``interfaces``),
``sshcore.files`` (keys, known_hosts, configuration and password files), the adapters
``sshcore.aio`` and ``sshcore.blocking``, and ``sshcore.cli``.  The top-level modules
named like a layer package's (``connection``, ``events``, ``keys``, ...) are that module
under its old name.
"""

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
    "EXTENDED_DATA_STDERR": "sshcore.kernel.messages",
    "SSHTCPSession": "sshcore.aio.forward",
    "SSHUNIXSession": "sshcore.aio.forward",
    "SSHTCPChannel": "sshcore.aio.forward",
    "SSHListener": "sshcore.aio.forward",
    "SSHClientProcess": "sshcore.aio.process",
    "SSHServerProcess": "sshcore.aio.process",
    "STDOUT": "sshcore.aio.process",
    "read_private_key": "sshcore.files.keys",
    "read_public_key": "sshcore.files.keys",
    "import_private_key": "sshcore.files.keys",
    "import_public_key": "sshcore.files.keys",
    "generate_private_key": "sshcore.files.keys",
    "read_authorized_keys": "sshcore.files.keys",
    "export_private_key": "sshcore.files.keys",
    "export_public_key": "sshcore.files.keys",
    "hash_password": "sshcore.files.passwords",
    "check_password": "sshcore.files.passwords",
}

from .errors import (ClosedBeforeBannerError, ConnectError, ConnectRefusedError,  # noqa: E402
                     ConnectTimeoutError, HostUnreachableError, NoCommonAlgorithmError,
                     TooManySessionsError)
from .errors import (ChannelListenError, ChannelOpenError, ConfigurationError, DisconnectError,  # noqa: E402
                     DisconnectReason, HostKeyNotVerifiableError, KeyExchangeError,
                     KeepaliveTimeoutError, KeyImportError, KeyPassphraseError,
                     PermissionDeniedError, ProcessError, ProtocolError, SSHError)
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
