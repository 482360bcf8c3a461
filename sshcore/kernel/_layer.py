"""What the kernel's sub-layers see of the connection that owns them.

``_userauth`` (RFC 4252) and ``_channels`` (RFC 4254) run inside a
:class:`~sshcore.kernel.connection.Connection`, which imports them; they in turn need a few of
its services: send a payload, emit an event, read the clock and some transport state,
and report back (authentication succeeded, a channel opened).  :class:`_LayerHost`
names exactly those, so the sub-layers depend on this small interface rather than on
``connection`` (which would close an import circle).  ``Connection`` satisfies it
structurally; nothing subclasses it.

For speed, the sub-layers take ``host.send_payload`` and ``host._events.append`` once,
at construction, as bound methods (the event list is never replaced, only cleared).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from . import events as ev
    from .config import ConnectionConfig
    from ..interfaces import PublicKey
    from ..registry import Registry

__all__ = ["_LayerHost"]


class _LayerHost(Protocol):
    """The owner of the userauth and channel layers (in practice, the ``Connection``)."""

    #: The connection's configuration and algorithm registry (fixed for its life).
    config: ConnectionConfig
    registry: Registry
    is_client: bool
    #: Transport state the auth methods' contexts carry (read when a method starts).
    session_id: bytes | None
    server_sig_algs: list[str] | None
    host_key_blob: bytes
    host_key_signature: bytes
    peer_extensions: dict[str, bytes]
    #: The clock: the ``now`` of the latest ``receive_data``/``handle_timer`` call.
    _now: float
    #: Events not yet taken by the application (the layers append to it).
    _events: list[ev.Event]

    def send_payload(self, payload: bytes | tuple[Any, ...]) -> None:
        """Queue an SSH message: bytes, or a tuple of parts joined once when the packet
        is made (held back while a key exchange runs)."""

    def on_auth_success(self, username: str) -> None:
        """User authentication succeeded (either side)."""

    def channel_opened(self, ch: Any) -> None:
        """Channel ``ch`` (a ``_channels.Channel``) is now open."""

    def decode_user_key(self, blob: bytes, algorithm: str) -> PublicKey | None:
        """Server: the user key ``blob`` if ``algorithm`` is acceptable, else None."""
