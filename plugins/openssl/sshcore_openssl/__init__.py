"""OpenSSL-backed alternative implementations of sshcore algorithms (via ``cryptography``).

Every algorithm here has the same wire name and negotiation ``priority`` as the
pycryptodome plugin that also provides it, and a higher ``implementation_priority``:
installing this distribution changes which code serves a name, never what is negotiated.

:func:`from_cryptography` makes an sshcore key object that signs through OpenSSL from a
``cryptography`` private key (imported at first use: importing this package, as plugin
discovery does, loads no crypto library).
"""

from __future__ import annotations

from typing import Any

__all__ = ["from_cryptography"]


def __getattr__(name: str) -> Any:
    if name == "from_cryptography":
        from ._keys import from_cryptography

        return from_cryptography
    raise AttributeError(f"module 'sshcore_openssl' has no attribute {name!r}")
