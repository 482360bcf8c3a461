"""The plugin API: every name a plugin distribution needs, in one public namespace.

A plugin imports from here (or from the public modules it re-exports:
:mod:`sshcore.interfaces`, :mod:`sshcore.wire`, :mod:`sshcore.errors`) and from nothing
whose name starts with ``_``.  Our own plugins follow the same rule; a test enforces it.

Versioning (see ``docs/plugin-api.md``): :data:`API_VERSION` is ``(major, minor)``.

* A *minor* release may add names, descriptor fields with defaults, optional hook
  arguments and new hooks.  A plugin written for ``1.N`` works with every ``1.M``,
  ``M >= N``.
* Removing or changing a name takes a *major* release.  Before that, the old name keeps
  working for at least one minor release and warns with
  :class:`SSHCorePluginDeprecationWarning` at first use.
* A plugin may declare the version it was written for as a module attribute of its
  entry-point module, ``SSHCORE_PLUGIN_API = (1, 0)`` (or ``"1.0"``).  The registry
  refuses an incompatible plugin when it is discovered, naming both versions, instead
  of letting it fail at first use.

.. versionadded:: 0.2
"""

from __future__ import annotations

import warnings
from typing import Any

from . import hookimpl, wire
from .errors import (ChannelOpenError, CompressionError, ConfigurationError, KeyExchangeError,
                     KeyImportError, KeyPassphraseError, MACError, ProtocolError,
                     RemoteProtocolError, SSHError)
from .interfaces import (AEADCipher, AuthAction, AuthAsk, AuthDone, AuthMethod, AuthSend,
                         CipherAlgorithm, CliCommand, ClientAuth, ClientAuthContext,
                         CompressionAlgorithm, Compressor, Decompressor, KexAlgorithm,
                         KexCompute, KexContext, KexResult, KexStep, KeyExchange, KeyFormat,
                         KeyType, LazyCallable, Mac, MacAlgorithm, PrivateKey, PublicKey,
                         Role, ServerAuth, ServerAuthContext, SignatureAlgorithm,
                         StreamCipher, Subsystem, lazy, require)
from .kexhelpers import Later, OneRoundTripKex, exchange_hash
from .wire import DecodeError, SSHReader

from ._api import (API_ATTRIBUTE, API_VERSION, SSHCorePluginDeprecationWarning,
                   api_incompatibility, parse_api_version)


#: Deprecated name -> (module, attribute, what to use instead).  Each entry warns once
#: per process at first use and disappears with the next major API version.
_DEPRECATED: dict[str, tuple[str, str, str]] = {}


def __getattr__(name: str) -> Any:
    entry = _DEPRECATED.get(name)
    if entry is None:
        raise AttributeError(f"module 'sshcore.plugin' has no attribute {name!r}")
    module, attribute, instead = entry
    warnings.warn(f"sshcore.plugin.{name} is deprecated; use {instead}",
                  SSHCorePluginDeprecationWarning, stacklevel=2)
    import importlib

    return getattr(importlib.import_module(module), attribute)


__all__ = [
    "API_ATTRIBUTE", "API_VERSION", "AEADCipher", "AuthAction", "AuthAsk", "AuthDone",
    "AuthMethod", "AuthSend", "ChannelOpenError", "CipherAlgorithm", "CliCommand",
    "ClientAuth", "ClientAuthContext", "CompressionAlgorithm", "CompressionError",
    "Compressor", "ConfigurationError", "DecodeError", "Decompressor", "KexAlgorithm",
    "KexCompute", "KexContext", "Later", "OneRoundTripKex", "exchange_hash", "KexResult", "KexStep", "KeyExchange", "KeyExchangeError",
    "KeyFormat", "KeyImportError", "KeyPassphraseError", "KeyType", "LazyCallable", "Mac",
    "MACError", "MacAlgorithm", "PrivateKey", "ProtocolError", "PublicKey",
    "RemoteProtocolError", "Role", "SSHCorePluginDeprecationWarning", "SSHError",
    "SSHReader", "ServerAuth", "ServerAuthContext", "SignatureAlgorithm", "StreamCipher",
    "Subsystem", "api_incompatibility", "hookimpl", "lazy", "parse_api_version", "require",
    "wire",
]
