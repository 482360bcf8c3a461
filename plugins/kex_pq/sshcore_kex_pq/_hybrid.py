"""mlkem768x25519-sha256, sans-I/O (draft-ietf-sshm-mlkem-hybrid-kex, OpenSSH's
kexmlkem768x25519.c).

Client: SSH_MSG_KEX_HYBRID_INIT (30) with C_INIT = ML-KEM-768 encapsulation key (1184)
|| X25519 public key (32).  Server: SSH_MSG_KEX_HYBRID_REPLY (31) with K_S, S_REPLY =
ML-KEM ciphertext (1088) || X25519 public key (32), and the signature.  The shared
secret is SHA-256(K_PQ || K_CL), encoded as an SSH *string* (not an mpint) both in the
exchange hash and in key derivation.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import sys
import threading
from types import ModuleType
from typing import Any

from sshcore.plugin import KexContext, KeyExchangeError, Later, OneRoundTripKex
from sshcore.wire import string

from . import _sntrup761
from ._primitives import (MLKEM768, MLKEM768_CT_LEN, MLKEM768_EK_LEN, mlkem768_encapsulate,
                          x25519_keypair, x25519_shared)

#: SSH_MSG_KEX_HYBRID_INIT / _REPLY (the class's init_message / reply_message)
KEX_HYBRID_INIT, KEX_HYBRID_REPLY = 30, 31
X25519_LEN = 32


class _KEM:
    """What a hybrid needs from its KEM: key pair, encapsulation, decapsulation."""

    name = ""
    pk_len = ct_len = 0
    #: True when the three operations are module-level functions of picklable
    #: arguments, slow enough to hand to a process pool (KexCompute); else inline.
    offload = False

    @staticmethod
    def take_spare(wait: bool) -> tuple[bytes, object] | None:
        """A key pair made ahead of time (see :func:`prefetch_sntrup761`), if any."""
        return None

    def keypair(self) -> tuple[bytes, object]:
        raise NotImplementedError

    def encapsulate(self, pk: bytes) -> tuple[bytes, bytes]:
        """(shared secret, ciphertext); ValueError for an invalid public key."""
        raise NotImplementedError

    def decapsulate(self, ct: bytes, state: object) -> bytes:
        raise NotImplementedError


class _MLKEM768(_KEM):
    name, pk_len, ct_len = "ML-KEM-768", MLKEM768_EK_LEN, MLKEM768_CT_LEN

    def keypair(self) -> tuple[bytes, object]:
        kem = MLKEM768()
        return kem.encapsulation_key, kem

    def encapsulate(self, pk: bytes) -> tuple[bytes, bytes]:
        return mlkem768_encapsulate(pk)

    def decapsulate(self, ct: bytes, state: object) -> bytes:
        return state.decapsulate(ct)  # type: ignore[attr-defined]


_sntrup761_module: ModuleType | None = None
_sntrup761_uses = 0
#: Operations done in pure Python before numpy is imported (unless it already is): one
#: client exchange (key pair, decapsulation) or two server ones.
PURE_PYTHON_OPERATIONS = 2


def sntrup761_impl() -> ModuleType:
    """The sntrup761 implementation for the next operation.

    numpy's (``_sntrup761_np``: a key pair and a decapsulation in ~6 ms) once numpy is
    imported, or once the process has done :data:`PURE_PYTHON_OPERATIONS` operations;
    before that the pure-Python reference (``_sntrup761``, ~25 ms for both with its
    packed inversion).  Importing numpy costs ~0.1 s of CPU: a process that makes one
    connection (``sshcore run``) is faster without it, one that makes many pays it
    once.  Without numpy, always the reference."""
    global _sntrup761_module, _sntrup761_uses
    if _sntrup761_module is not None:
        return _sntrup761_module
    _sntrup761_uses += 1
    if "numpy" not in sys.modules and _sntrup761_uses <= PURE_PYTHON_OPERATIONS:
        return _sntrup761
    try:
        from . import _sntrup761_np as module
    except ImportError:
        module = _sntrup761
    _sntrup761_module = module
    return module


# Module-level functions of picklable arguments: KexCompute may run them in a process pool.

def _sntrup_keypair() -> tuple[bytes, bytes]:
    return sntrup761_impl().keypair()  # type: ignore[no-any-return]


def _sntrup_encapsulate(pk: bytes) -> tuple[bytes, bytes]:
    ct, secret = sntrup761_impl().encapsulate(pk)
    return secret, ct


def _sntrup_decapsulate(ct: bytes, sk: bytes) -> bytes:
    return sntrup761_impl().decapsulate(ct, sk)  # type: ignore[no-any-return]


# One spare sntrup761 key pair, made by a background thread that a connecting client starts
# (KexAlgorithm.prefetch), so that the ~6 ms of arithmetic overlaps the TCP connect and
# the version exchange instead of following them.  Each pair is handed out once.
_spare_lock = threading.Lock()
_spare: concurrent.futures.Future[tuple[bytes, bytes]] | None = None


def prefetch_sntrup761() -> None:
    """Start making a spare key pair unless one is ready or being made."""
    global _spare
    with _spare_lock:
        if _spare is not None:
            return
        future: concurrent.futures.Future[tuple[bytes, bytes]] = concurrent.futures.Future()
        _spare = future

    def fill() -> None:
        try:
            future.set_result(_sntrup_keypair())
        except BaseException as exc:  # handed to whoever takes it
            future.set_exception(exc)
    threading.Thread(target=fill, name="sshcore-sntrup761-prefetch", daemon=True).start()


def take_spare_sntrup761(wait: bool) -> tuple[bytes, bytes] | None:
    """The spare key pair (at most one caller gets it), or ``None``.  With ``wait``, a
    pair still being made is waited for (it is further along than a new one would be)."""
    global _spare
    with _spare_lock:
        future = _spare
        if future is None or (not wait and not future.done()):
            return None
        _spare = None
    try:
        return future.result()
    except Exception:
        return None


class _SNTRUP761(_KEM):
    name = "sntrup761"
    pk_len, ct_len = _sntrup761.PUBLICKEY_BYTES, _sntrup761.CIPHERTEXT_BYTES
    # numpy: ~6 ms per key pair, <1 ms per decapsulation (pure Python: ~60-140 ms, ~4-7 ms).
    offload = True
    keypair = staticmethod(_sntrup_keypair)  # type: ignore[assignment]
    encapsulate = staticmethod(_sntrup_encapsulate)  # type: ignore[assignment]
    decapsulate = staticmethod(_sntrup_decapsulate)  # type: ignore[assignment]
    take_spare = staticmethod(take_spare_sntrup761)


class HybridX25519Exchange(OneRoundTripKex):
    """KEM + X25519 as OpenSSH hybrids do: C_INIT = kem_pk || x25519, S_REPLY = kem_ct ||
    x25519, K = HASH(kem_secret || x25519_secret) as a string.  The message flow, the
    exchange hash and the signature are :class:`~sshcore.kexhelpers.OneRoundTripKex`'s."""

    kem: _KEM = _KEM()

    def __init__(self, ctx: KexContext) -> None:
        super().__init__(ctx)
        self.x_key, self.x_pub = x25519_keypair()
        self.kem_pk = b""
        self.kem_state: object = None

    def _later(self, fn: Any, args: tuple[Any, ...], then: Any) -> Any:
        """``then(fn(*args))``: handed to the kernel (a KexCompute) if the KEM is worth
        offloading, computed here otherwise."""
        if self.kem.offload:
            return Later(fn, args, then)
        return then(fn(*args))

    def _secret(self, k_pq: bytes, k_cl: bytes) -> bytes:
        return string(hashlib.new(self.hash_name, k_pq + k_cl).digest())

    def _x25519(self, peer: bytes) -> bytes:
        try:
            return x25519_shared(self.x_key, peer)
        except ValueError as exc:
            raise KeyExchangeError(f"invalid X25519 value in hybrid exchange: {exc}") from None

    def client_init(self) -> Any:
        def init(pair: tuple[bytes, object]) -> bytes:
            self.kem_pk, self.kem_state = pair
            return self.kem_pk + self.x_pub
        # A prefetched pair (one at most is kept: a fan-out's other exchanges go on as
        # before); one still being made is waited for, being further along.
        spare = None if self.ctx.offload else self.kem.take_spare(wait=True)
        if spare is not None:
            return init(spare)
        return self._later(self.kem.keypair, (), init)

    def server_reply(self, c_init: bytes) -> Any:
        kem = self.kem
        if len(c_init) != kem.pk_len + X25519_LEN:
            raise KeyExchangeError(f"{kem.name} hybrid client value has the wrong length")
        pk, x_peer = c_init[:kem.pk_len], c_init[kem.pk_len:]

        def reply(secret_ct: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
            k_pq, ct = secret_ct
            return ct + self.x_pub, self._secret(k_pq, self._x25519(x_peer))
        try:
            return self._later(kem.encapsulate, (pk,), reply)
        except ValueError as exc:
            raise KeyExchangeError(f"invalid {kem.name} encapsulation key: {exc}") from None

    def client_finish(self, s_reply: bytes) -> Any:
        kem = self.kem
        if len(s_reply) != kem.ct_len + X25519_LEN:
            raise KeyExchangeError(f"{kem.name} hybrid server value has the wrong length")
        return self._later(kem.decapsulate, (s_reply[:kem.ct_len], self.kem_state),
                           lambda k_pq: self._secret(k_pq, self._x25519(s_reply[kem.ct_len:])))


class MLKEM768X25519Exchange(HybridX25519Exchange):
    kem = _MLKEM768()
    label, hash_name = "ML-KEM-768 hybrid exchange", "sha256"


class SNTRUP761X25519Exchange(HybridX25519Exchange):
    kem = _SNTRUP761()
    label, hash_name = "sntrup761 hybrid exchange", "sha512"
