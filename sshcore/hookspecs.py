"""Every pluggy hook specification sshcore calls.  Nothing else lives here.

A plugin is any module or object with functions decorated by ``sshcore.hookimpl`` and
named after one of these specs.  Plugin distributions advertise such a module through
the ``sshcore.plugins`` entry-point group; tests and embedders can register one with
:func:`sshcore.registry.build_registry` (``plugins=[...]``) instead.

Contribution hooks return *descriptors* (frozen dataclasses from
:mod:`sshcore.interfaces`); they must not mutate global state.  They are called once
per registry build, with keyword arguments only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .interfaces import (AuthMethod, CipherAlgorithm, CliCommand, CompressionAlgorithm,
                             KexAlgorithm, KeyFormat, KeyType, MacAlgorithm, PrivateKey,
                             PublicKey, SignatureAlgorithm, Subsystem)

hookspec = pluggy.HookspecMarker("sshcore")

# ---------------------------------------------------------------------------
# Algorithm families (transport)
# ---------------------------------------------------------------------------


@hookspec
def sshcore_kex_algorithms() -> Sequence[KexAlgorithm]:
    """Return the key exchange methods this plugin provides (RFC 4253 section 7).

    Each :class:`~sshcore.interfaces.KexAlgorithm` names its exchange hash and has a
    factory building a sans-I/O :class:`~sshcore.interfaces.KeyExchange` for one run.
    """


@hookspec
def sshcore_ciphers() -> Sequence[CipherAlgorithm]:
    """Return the encryption algorithms this plugin provides (RFC 4253 section 6.3).

    A descriptor with ``aead=True`` builds an :class:`~sshcore.interfaces.AEADCipher`
    that frames and authenticates packets itself; otherwise it builds a
    :class:`~sshcore.interfaces.StreamCipher` used together with a negotiated MAC.
    """


@hookspec
def sshcore_macs() -> Sequence[MacAlgorithm]:
    """Return the MAC algorithms this plugin provides (RFC 4253 section 6.4).

    ``etm=True`` marks OpenSSH encrypt-then-MAC variants (MAC over the ciphertext,
    packet length sent in clear).
    """


@hookspec
def sshcore_compression_algorithms() -> Sequence[CompressionAlgorithm]:
    """Return the compression algorithms this plugin provides (RFC 4253 section 6.2)."""


# ---------------------------------------------------------------------------
# Public keys, signatures and key files
# ---------------------------------------------------------------------------


@hookspec
def sshcore_signature_algorithms() -> Sequence[SignatureAlgorithm]:
    """Return the public-key signature algorithms this plugin provides.

    They serve both as host key algorithms (RFC 4253 section 6.6) and as user-key
    algorithms for publickey authentication.  Each descriptor decodes public key
    blobs of its ``key_type``.
    """


@hookspec
def sshcore_key_types() -> Sequence[KeyType]:
    """Return the key types this plugin can generate."""


@hookspec
def sshcore_key_formats() -> Sequence[KeyFormat]:
    """Return the key file formats this plugin can write (reading goes through the
    ``sshcore_load_*`` hooks)."""


@hookspec(firstresult=True)
def sshcore_load_private_key(data: bytes, passphrase: bytes | None,
                             filename: str | None) -> PrivateKey | None:
    """Parse a private key file's contents.

    Return the key, or ``None`` if the data is not in a format this plugin reads
    (the next plugin is then tried).  Raise :class:`sshcore.errors.KeyImportError`
    if the format is recognised but the data is invalid or the passphrase wrong.
    The first non-``None`` result wins.
    """


@hookspec(firstresult=True)
def sshcore_load_public_key(data: bytes, filename: str | None) -> PublicKey | None:
    """Parse a public key file's contents (one key), or return ``None`` if the format
    is not one this plugin reads.  First non-``None`` result wins."""


# ---------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------


@hookspec
def sshcore_auth_methods() -> Sequence[AuthMethod]:
    """Return the user authentication methods this plugin provides (RFC 4252).

    Each :class:`~sshcore.interfaces.AuthMethod` has sans-I/O client and/or server
    factories; the kernel runs the surrounding protocol (method lists, partial
    success, banners, attempt limits).
    """


# ---------------------------------------------------------------------------
# Session subsystems and command-line tools
# ---------------------------------------------------------------------------


@hookspec
def sshcore_subsystems() -> Sequence[Subsystem]:
    """Return the session subsystems (RFC 4254 section 6.5) this plugin provides.

    Each :class:`~sshcore.interfaces.Subsystem` names the subsystem (``"sftp"``) and
    may carry a ``server_factory`` and a ``client_factory``.  The registry exposes them
    by name (:meth:`sshcore.registry.Registry.subsystem`); a server built by
    ``listen()`` serves each registered subsystem with its ``server_factory`` unless the
    ``subsystems=`` option maps that name to a command.  A name registered twice is an
    error naming both distributions.
    """


@hookspec
def sshcore_cli_commands() -> Sequence[CliCommand]:
    """Return the ``sshcore`` sub-commands this plugin adds (``sshcore sftp ...``).

    Called once when the command line is built; each
    :class:`~sshcore.interfaces.CliCommand` becomes a sub-parser.  A name clashing with a
    built-in command or another plugin's is an error.
    """
