"""The SSH wire codec (RFC 4251 section 5), public for plugin authors.

Encoders return ``bytes``; :class:`SSHReader` decodes from a buffer and raises
:class:`DecodeError` (a :class:`~sshcore.errors.RemoteProtocolError`) on any overrun or
malformed value, so a plugin that parses a peer's message with it gets the right
disconnect for free::

    from sshcore.wire import SSHReader, byte, mpint, string

    payload = byte(30) + string(q_c)           # build
    r = SSHReader(payload); r.byte(); q = r.string(); r.finish()   # parse

Part of the plugin API (:data:`sshcore.plugin.API_VERSION`): names here change only
with the API's major version.

.. versionadded:: 0.2
"""

from __future__ import annotations

from ._wire import (DecodeError, SSHReader, boolean, byte, encode, mpint, name_list,
                    split_names, string, uint32, uint64)

__all__ = [
    "DecodeError", "SSHReader", "boolean", "byte", "encode", "mpint", "name_list",
    "split_names", "string", "uint32", "uint64",
]
