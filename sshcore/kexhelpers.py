"""Helpers for key-exchange plugins: the exchange hash and a one-round-trip exchange.

Most SSH key exchanges have the shape of RFC 4253 section 8: the client sends one value
(``SSH_MSG_KEXDH_INIT``, 30), the server answers with its host key, its own value and a
signature over the exchange hash (``SSH_MSG_KEXDH_REPLY``, 31), and both sides hash the
same transcript.  Diffie-Hellman (RFC 4253, RFC 8268), ECDH (RFC 5656, RFC 8731) and the
post-quantum hybrids (sntrup761x25519, mlkem768x25519) differ only in how the values are
made and how the shared secret is computed.  :class:`OneRoundTripKex` does the rest:
parsing, the state check, the exchange hash, the server's signature (the kernel checks
the client's side), and turning malformed input into :class:`KeyExchangeError`.

A plugin subclasses it and implements three methods; any of them may return
:class:`Later` to have slow work run through :class:`~sshcore.interfaces.KexCompute`
(inline by default, in a process pool when the application configured one)::

    class X25519Exchange(OneRoundTripKex):
        label, hash_name = "X25519", "sha256"

        def __init__(self, ctx):
            super().__init__(ctx)
            self.key, self.pub = x25519_keypair()

        def client_init(self):
            return self.pub

        def server_reply(self, q_c):
            return self.pub, mpint(x25519(self.key, q_c))

        def client_finish(self, q_s):
            return mpint(x25519(self.key, q_s))

Part of the plugin API (re-exported by :mod:`sshcore.plugin`).

.. versionadded:: 0.2
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from ._wire import SSHReader, byte, mpint, string
from .errors import KeyExchangeError, SSHError
from .interfaces import KexCompute, KexContext, KexResult, KexStep

__all__ = ["Later", "OneRoundTripKex", "exchange_hash"]


def exchange_hash(ctx: KexContext, hash_name: str, host_key_blob: bytes, client_field: bytes,
                  server_field: bytes, shared_secret: bytes) -> bytes:
    """``HASH(V_C || V_S || I_C || I_S || K_S || client_field || server_field || K)``.

    :param client_field: the client's value *as encoded in the hash* (``string(q_c)``
        or ``mpint(e)``).
    :param server_field: the server's value, encoded the same way.
    :param shared_secret: K, already encoded (``mpint`` for DH/ECDH, ``string`` for the
        hybrids).
    """
    return hashlib.new(hash_name, b"".join((
        string(ctx.client_version), string(ctx.server_version), string(ctx.client_kexinit),
        string(ctx.server_kexinit), string(host_key_blob), client_field, server_field,
        shared_secret))).digest()


@dataclass(frozen=True, slots=True)
class Later:
    """A value that takes slow work: ``then(fn(*args))``.

    ``fn`` must be a module-level function and ``args`` picklable (it may run in another
    process); ``then`` runs here, with the exchange's state.
    """

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    then: Callable[[Any], Any]


class OneRoundTripKex:
    """Base for an INIT/REPLY key exchange (see the module docstring).

    Class attributes a subclass sets: ``label`` (for error messages), ``hash_name``
    (a :mod:`hashlib` name), ``value_type`` (``"string"``: the values are byte strings
    on the wire, as in ECDH and the hybrids; ``"mpint"``: integers, as in DH), and the
    message numbers if not 30/31.
    """

    label: ClassVar[str] = "key exchange"
    hash_name: ClassVar[str] = "sha256"
    value_type: ClassVar[Literal["string", "mpint"]] = "string"
    init_message: ClassVar[int] = 30
    reply_message: ClassVar[int] = 31

    def __init__(self, ctx: KexContext) -> None:
        self.ctx = ctx
        self.done = False
        self._client_field = b""

    # ------------------------------------------------------------ for subclasses

    def client_init(self) -> Any:
        """Client: the value to send (bytes or int, per ``value_type``), or :class:`Later`."""
        raise NotImplementedError

    def server_reply(self, client_value: Any) -> Any:
        """Server: ``(server_value, K)`` for the client's value (K encoded), or
        :class:`Later`.  Raise :class:`KeyExchangeError` for an invalid value."""
        raise NotImplementedError

    def client_finish(self, server_value: Any) -> Any:
        """Client: K (encoded) from the server's value, or :class:`Later`."""
        raise NotImplementedError

    # ------------------------------------------------------------ the exchange

    def _encode(self, value: Any) -> bytes:
        return mpint(value) if self.value_type == "mpint" else string(value)

    def _read(self, r: SSHReader) -> Any:
        return r.mpint() if self.value_type == "mpint" else r.string()

    def _hash(self, k_s: bytes, client_field: bytes, server_field: bytes, k: bytes) -> bytes:
        return exchange_hash(self.ctx, self.hash_name, k_s, client_field, server_field, k)

    @staticmethod
    def _then(value: Any, cont: Callable[[Any], KexStep]) -> KexStep:
        if isinstance(value, Later):
            return KexStep(compute=KexCompute(value.fn, value.args,
                                              lambda result: cont(value.then(result))))
        return cont(value)

    def start(self) -> KexStep:
        if self.ctx.role != "client":
            return KexStep()

        def send(value: Any) -> KexStep:
            self._client_field = self._encode(value)
            return KexStep(send=[byte(self.init_message) + self._client_field])
        return self._then(self.client_init(), send)

    def receive(self, payload: bytes) -> KexStep:
        if self.done:
            raise KeyExchangeError("key exchange message after the exchange finished")
        try:
            r = SSHReader(payload, 1)
            if self.ctx.role == "server" and payload[0] == self.init_message:
                client_value = self._read(r)
                r.finish()
                self.done = True
                return self._then(self.server_reply(client_value),
                                  lambda reply: self._server_done(client_value, *reply))
            if self.ctx.role == "client" and payload[0] == self.reply_message:
                k_s, server_value, sig = r.string(), self._read(r), r.string()
                r.finish()
                self.done = True

                def finish(k: bytes) -> KexStep:
                    h = self._hash(k_s, self._client_field, self._encode(server_value), k)
                    return KexStep(result=KexResult(k, h, k_s, sig))
                return self._then(self.client_finish(server_value), finish)
        except KeyExchangeError:
            raise
        except SSHError as exc:
            raise KeyExchangeError(f"malformed {self.label} message: {exc}") from None
        raise KeyExchangeError(f"unexpected message {payload[0]} during {self.label}")

    def _server_done(self, client_value: Any, server_value: Any, k: bytes) -> KexStep:
        ctx = self.ctx
        server_field = self._encode(server_value)
        h = self._hash(ctx.host_key_blob, self._encode(client_value), server_field, k)
        if ctx.sign is None:
            raise KeyExchangeError("the server has no host key to sign the exchange with")
        reply = b"".join((byte(self.reply_message), string(ctx.host_key_blob), server_field,
                          string(ctx.sign(h))))
        return KexStep(send=[reply], result=KexResult(k, h))
