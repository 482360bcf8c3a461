"""Public key blobs decoded by whichever signature plugin knows their type.

Its own module so that both :mod:`sshcore.files.keys` and the certificate signer
(``_keysign``, which ``sshcore.files.keys`` re-exports) use it without importing each other.
"""

from __future__ import annotations

from typing import Any

from .._wire import SSHReader
from ..errors import KeyImportError, SSHError
from ..registry import Registry, default_registry


def decode_public_blob(blob: bytes, registry: Registry | None = None) -> Any:
    """Decode an SSH public key blob with whichever signature plugin knows its type."""
    try:
        key_type = SSHReader(blob).text("ascii")
    except SSHError:
        raise KeyImportError("malformed public key blob") from None
    for desc in (registry or default_registry()).all("signature"):
        if desc.key_type == key_type:
            try:
                return desc.decode(blob)
            except (SSHError, ValueError, IndexError, TypeError) as exc:
                raise KeyImportError(f"invalid {key_type} public key: {exc}") from None
    raise KeyImportError(f"unknown public key type {key_type!r}")
