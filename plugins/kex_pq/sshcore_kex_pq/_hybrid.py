"""mlkem768x25519-sha256, sans-I/O (draft-ietf-sshm-mlkem-hybrid-kex, OpenSSH's
kexmlkem768x25519.c).

Client: SSH_MSG_KEX_HYBRID_INIT (30) with C_INIT = ML-KEM-768 encapsulation key (1184)
|| X25519 public key (32).  Server: SSH_MSG_KEX_HYBRID_REPLY (31) with K_S, S_REPLY =
ML-KEM ciphertext (1088) || X25519 public key (32), and the signature.  The shared
secret is SHA-256(K_PQ || K_CL), encoded as an SSH *string* (not an mpint) both in the
exchange hash and in key derivation.
"""

from __future__ import annotations

import hashlib

from sshcore._wire import SSHReader, byte, string
from sshcore.errors import KeyExchangeError, SSHError
from sshcore.interfaces import KexContext, KexResult, KexStep

from ._primitives import (MLKEM768, MLKEM768_CT_LEN, MLKEM768_EK_LEN, mlkem768_encapsulate,
                          x25519_keypair, x25519_shared)

KEX_HYBRID_INIT, KEX_HYBRID_REPLY = 30, 31
X25519_LEN = 32


class MLKEM768X25519Exchange:
    def __init__(self, ctx: KexContext) -> None:
        self.ctx = ctx
        self.x_key, self.x_pub = x25519_keypair()
        self.kem = MLKEM768() if ctx.role == "client" else None
        self.done = False

    def _hash(self, k_s: bytes, c_init: bytes, s_reply: bytes, k: bytes) -> bytes:
        c = self.ctx
        return hashlib.sha256(b"".join((
            string(c.client_version), string(c.server_version), string(c.client_kexinit),
            string(c.server_kexinit), string(k_s), string(c_init), string(s_reply), k))).digest()

    @staticmethod
    def _secret(k_pq: bytes, k_cl: bytes) -> bytes:
        return string(hashlib.sha256(k_pq + k_cl).digest())

    def start(self) -> KexStep:
        if self.ctx.role == "client":
            assert self.kem is not None
            return KexStep(send=[byte(KEX_HYBRID_INIT)
                                 + string(self.kem.encapsulation_key + self.x_pub)])
        return KexStep()

    def _server_reply(self, c_init: bytes) -> KexStep:
        if len(c_init) != MLKEM768_EK_LEN + X25519_LEN:
            raise KeyExchangeError("mlkem768x25519 client value has the wrong length")
        ek, x_peer = c_init[:MLKEM768_EK_LEN], c_init[MLKEM768_EK_LEN:]
        try:
            k_pq, ct = mlkem768_encapsulate(ek)
        except ValueError as exc:
            raise KeyExchangeError(f"invalid ML-KEM-768 encapsulation key: {exc}") from None
        k = self._secret(k_pq, self._x25519(x_peer))
        s_reply = ct + self.x_pub
        h = self._hash(self.ctx.host_key_blob, c_init, s_reply, k)
        assert self.ctx.sign is not None
        reply = b"".join((byte(KEX_HYBRID_REPLY), string(self.ctx.host_key_blob), string(s_reply),
                          string(self.ctx.sign(h))))
        return KexStep(send=[reply], result=KexResult(k, h))

    def _x25519(self, peer: bytes) -> bytes:
        try:
            return x25519_shared(self.x_key, peer)
        except ValueError as exc:
            raise KeyExchangeError(f"invalid X25519 value in hybrid exchange: {exc}") from None

    def receive(self, payload: bytes) -> KexStep:
        if self.done:
            raise KeyExchangeError("key exchange message after the exchange finished")
        try:
            r = SSHReader(payload, 1)
            if self.ctx.role == "server" and payload[0] == KEX_HYBRID_INIT:
                c_init = r.string()
                r.finish()
                step = self._server_reply(c_init)
                self.done = True
                return step
            if self.ctx.role == "client" and payload[0] == KEX_HYBRID_REPLY:
                k_s, s_reply, sig = r.string(), r.string(), r.string()
                r.finish()
                if len(s_reply) != MLKEM768_CT_LEN + X25519_LEN:
                    raise KeyExchangeError("mlkem768x25519 server value has the wrong length")
                assert self.kem is not None
                k_pq = self.kem.decapsulate(s_reply[:MLKEM768_CT_LEN])
                k = self._secret(k_pq, self._x25519(s_reply[MLKEM768_CT_LEN:]))
                h = self._hash(k_s, self.kem.encapsulation_key + self.x_pub, s_reply, k)
                self.done = True
                return KexStep(result=KexResult(k, h, k_s, sig))
        except KeyExchangeError:
            raise
        except SSHError as exc:
            raise KeyExchangeError(f"malformed hybrid key exchange message: {exc}") from None
        raise KeyExchangeError(f"unexpected message {payload[0]} during mlkem768x25519 exchange")
