"""The SSH agent protocol's messages (draft-miller-ssh-agent), without I/O.

Every ``encode_*`` function returns one whole framed request (``uint32`` length, message
number, body) ready to write to the agent's socket; :func:`reply_length` checks a reply's
4-byte length header, and the ``parse_*`` functions decode the reply body that follows
it.  :class:`sshcore.files.agent.SSHAgentClient` drives them over asyncio; a blocking client
can drive the same functions over a plain socket.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .._wire import SSHReader, boolean, byte, string, uint32
from ..errors import SSHError

FAILURE = 5
SUCCESS = 6
REQUEST_IDENTITIES = 11
IDENTITIES_ANSWER = 12
SIGN_REQUEST = 13
SIGN_RESPONSE = 14
ADD_IDENTITY = 17
REMOVE_IDENTITY = 18
REMOVE_ALL_IDENTITIES = 19
LOCK = 22
UNLOCK = 23
ADD_ID_CONSTRAINED = 25
EXTENSION = 27
EXTENSION_FAILURE = 28

#: key constraints (draft-miller-ssh-agent section 4.2.6)
CONSTRAIN_LIFETIME = 1
CONSTRAIN_CONFIRM = 2
CONSTRAIN_EXTENSION = 255

#: SSH_AGENTC_SIGN_REQUEST flags selecting the RSA signature hash
RSA_SIGN_FLAGS = {"rsa-sha2-256": 2, "rsa-sha2-512": 4}
#: the largest reply accepted (OpenSSH's agent caps messages at 256 KiB too)
MAX_REPLY = 256 * 1024

_NAMES = {FAILURE: "failure", SUCCESS: "success", IDENTITIES_ANSWER: "identities answer",
          SIGN_RESPONSE: "sign response", EXTENSION_FAILURE: "extension failure"}


class AgentError(SSHError):
    """The agent could not be reached, refused, or answered nonsense."""


@dataclass(frozen=True)
class Identity:
    """One entry of the agent's key list: the public key (or certificate) blob and its
    comment (as the agent sent it: untrusted text)."""

    blob: bytes
    comment: str


def frame(msg_type: int, body: bytes = b"") -> bytes:
    """A request: length, message number, body."""
    payload = byte(msg_type) + body
    return uint32(len(payload)) + payload


def reply_length(header: bytes) -> int:
    """The length announced by a reply's 4-byte header; AgentError if out of bounds."""
    if len(header) != 4:
        raise AgentError("truncated reply header from the SSH agent")
    (length,) = struct.unpack(">I", header)
    if not 0 < length <= MAX_REPLY:
        raise AgentError(f"SSH agent reply of {length} bytes")
    return length


def encode_request_identities() -> bytes:
    return frame(REQUEST_IDENTITIES)


def encode_sign_request(blob: bytes, data: bytes, algorithm: str) -> bytes:
    """Sign ``data`` with the key ``blob``; ``algorithm`` picks the RSA hash (flags)."""
    return frame(SIGN_REQUEST, string(blob) + string(data) + uint32(RSA_SIGN_FLAGS.get(algorithm, 0)))


def encode_constraints(lifetime: int | None = None, confirm: bool = False,
                       extensions: tuple[tuple[str, bytes], ...] = ()) -> bytes:
    """The constraint list of an add-identity request: ``lifetime`` seconds after which
    the agent forgets the key, ``confirm`` (ask the user before each use), and
    ``(name, body)`` extension constraints such as ``restrict-destination-v00@openssh.com``."""
    out = b""
    if lifetime is not None:
        if not 0 < lifetime < 1 << 32:
            raise ValueError(f"agent key lifetime must be 1 to 2**32-1 seconds, not {lifetime}")
        out += byte(CONSTRAIN_LIFETIME) + uint32(lifetime)
    if confirm:
        out += byte(CONSTRAIN_CONFIRM)
    for name, body in extensions:
        out += byte(CONSTRAIN_EXTENSION) + string(name) + body
    return out


def encode_add_identity(private_fields: bytes, comment: str, lifetime: int | None = None,
                        confirm: bool = False,
                        extensions: tuple[tuple[str, bytes], ...] = ()) -> bytes:
    """Add a private key: ``private_fields`` is its type and private fields in agent
    order (:func:`sshcore.files.keys.private_key_fields`); with constraints the request is
    SSH_AGENTC_ADD_ID_CONSTRAINED, else SSH_AGENTC_ADD_IDENTITY."""
    constraints = encode_constraints(lifetime, confirm, extensions)
    body = private_fields + string(comment) + constraints
    return frame(ADD_ID_CONSTRAINED if constraints else ADD_IDENTITY, body)


def encode_remove_identity(blob: bytes) -> bytes:
    return frame(REMOVE_IDENTITY, string(blob))


def encode_remove_all() -> bytes:
    return frame(REMOVE_ALL_IDENTITIES)


def encode_lock(passphrase: str | bytes, lock: bool = True) -> bytes:
    """Lock (or unlock, ``lock=False``) the agent with ``passphrase``."""
    if isinstance(passphrase, str):
        passphrase = passphrase.encode("utf-8")
    return frame(LOCK if lock else UNLOCK, string(passphrase))


def encode_extension(name: str, body: bytes = b"") -> bytes:
    return frame(EXTENSION, string(name) + body)


def encode_session_bind(host_key_blob: bytes, session_id: bytes, signature: bytes,
                        forwarding: bool) -> bytes:
    """OpenSSH's ``session-bind@openssh.com`` (PROTOCOL.agent): tell the agent which
    host (by its key, with the host's exchange-hash signature proving it) this
    connection reached, and whether it is a forwarded one, for destination-constrained keys."""
    return encode_extension("session-bind@openssh.com", string(host_key_blob)
                            + string(session_id) + string(signature) + boolean(forwarding))


def _kind(body: bytes) -> int:
    if not body:
        raise AgentError("empty reply from the SSH agent")
    return body[0]


def describe(kind: int) -> str:
    return _NAMES.get(kind, f"message {kind}")


def parse_status(body: bytes, what: str) -> None:
    """A reply that must be SSH_AGENT_SUCCESS; AgentError naming ``what`` otherwise."""
    kind = _kind(body)
    if kind != SUCCESS:
        raise AgentError(f"SSH agent refused to {what} ({describe(kind)})")


def parse_identities(body: bytes) -> list[Identity]:
    kind = _kind(body)
    if kind != IDENTITIES_ANSWER:
        raise AgentError(f"SSH agent refused to list keys ({describe(kind)})")
    r = SSHReader(body, 1)
    try:
        count = r.uint32()
        if count > len(body) // 8:  # each entry takes at least two 4-byte lengths
            raise AgentError(f"SSH agent claims {count} keys in a {len(body)}-byte reply")
        out = [Identity(r.string(), r.string().decode("utf-8", "replace")) for _ in range(count)]
    except AgentError:
        raise
    except SSHError as exc:
        raise AgentError(f"malformed key list from the SSH agent: {exc}") from None
    return out


def parse_sign_response(body: bytes) -> bytes:
    kind = _kind(body)
    if kind != SIGN_RESPONSE:
        raise AgentError(f"SSH agent refused to sign with the key ({describe(kind)})")
    r = SSHReader(body, 1)
    try:
        signature = r.string()
        r.finish()
    except SSHError as exc:
        raise AgentError(f"malformed signature from the SSH agent: {exc}") from None
    return signature
