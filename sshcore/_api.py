"""The plugin API's version and compatibility rule (see :mod:`sshcore.plugin`).

Kept apart so that the registry can check a plugin's declared API without importing
the whole plugin namespace.
"""

from __future__ import annotations

from typing import Any

#: The plugin API this sshcore provides: ``(major, minor)``.
API_VERSION: tuple[int, int] = (1, 0)

#: The module attribute through which a plugin declares the API it was written for.
API_ATTRIBUTE = "SSHCORE_PLUGIN_API"


class SSHCorePluginDeprecationWarning(DeprecationWarning):
    """A plugin uses a name that the next major version of the plugin API removes."""


def parse_api_version(value: Any) -> tuple[int, int]:
    """``(1, 0)``, ``[1, 0]``, ``"1.0"`` or ``"1"`` -> ``(1, 0)``.

    :raises ValueError: anything else.
    """
    parts: Any = value.split(".") if isinstance(value, str) else value
    try:
        numbers = tuple(int(p) for p in parts)
    except (TypeError, ValueError):
        raise ValueError(f"not a plugin API version: {value!r}") from None
    if len(numbers) == 1:
        numbers += (0,)
    if len(numbers) != 2 or min(numbers) < 0:
        raise ValueError(f"not a plugin API version: {value!r}")
    return numbers[0], numbers[1]


def api_incompatibility(required: Any) -> str | None:
    """Why a plugin declaring ``required`` cannot load here, or ``None`` if it can."""
    try:
        major, minor = parse_api_version(required)
    except ValueError as exc:
        return str(exc)
    have = API_VERSION
    if major != have[0] or minor > have[1]:
        return (f"written for sshcore plugin API {major}.{minor}; this sshcore provides "
                f"{have[0]}.{have[1]}")
    return None
