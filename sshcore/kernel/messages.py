"""SSH message numbers (RFC 4250 section 4.1 and extensions)."""

from __future__ import annotations

from enum import IntEnum


class MessageType(IntEnum):
    DISCONNECT = 1
    IGNORE = 2
    UNIMPLEMENTED = 3
    DEBUG = 4
    SERVICE_REQUEST = 5
    SERVICE_ACCEPT = 6
    EXT_INFO = 7
    KEXINIT = 20
    NEWKEYS = 21
    USERAUTH_REQUEST = 50
    USERAUTH_FAILURE = 51
    USERAUTH_SUCCESS = 52
    USERAUTH_BANNER = 53
    GLOBAL_REQUEST = 80
    REQUEST_SUCCESS = 81
    REQUEST_FAILURE = 82
    CHANNEL_OPEN = 90
    CHANNEL_OPEN_CONFIRMATION = 91
    CHANNEL_OPEN_FAILURE = 92
    CHANNEL_WINDOW_ADJUST = 93
    CHANNEL_DATA = 94
    CHANNEL_EXTENDED_DATA = 95
    CHANNEL_EOF = 96
    CHANNEL_CLOSE = 97
    CHANNEL_REQUEST = 98
    CHANNEL_SUCCESS = 99
    CHANNEL_FAILURE = 100


#: Key-exchange-method-specific messages (RFC 4251 section 7).
KEX_FIRST, KEX_LAST = 30, 49
#: Userauth-method-specific messages.
USERAUTH_METHOD_FIRST, USERAUTH_METHOD_LAST = 60, 79
#: Connection-protocol messages.
CONNECTION_FIRST, CONNECTION_LAST = 80, 127

#: Transport-generic messages, legal in every state (except during strict kex).
TRANSPORT_GENERIC = frozenset({1, 2, 3, 4})

EXTENDED_DATA_STDERR = 1
