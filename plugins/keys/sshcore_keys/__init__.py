"""Public-key algorithms and key file formats for sshcore."""

from __future__ import annotations

from typing import Any

__all__ = ["fingerprint", "public_key_line"]


def __getattr__(name: str) -> Any:
    # The key classes (and pycryptodome) load only when asked for, not with the hooks.
    if name in __all__:
        from . import _keys

        return getattr(_keys, name)
    raise AttributeError(f"module 'sshcore_keys' has no attribute {name!r}")
