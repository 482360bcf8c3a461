"""The only module of this plugin that imports pycryptodome.

Besides pycryptodome's public API, it uses some of its internals for speed: the C cores
(``RAW``), the GHASH core (``_GHASH``) and the hook by which ``Poly1305.new`` derives its
one-time key (``POLY_KEY_HOOK``).  Each is feature-detected at import, never inferred from
a version number, and each has a public-API path used when it is missing; the flags are
read when a cipher is made, so a test can turn them off (plugins/ciphers/tests/
test_public_api_fallback.py compares both paths byte for byte).
"""

from __future__ import annotations

import struct
from typing import Any

from Crypto.Cipher import AES, ChaCha20
from Crypto.Hash import Poly1305

__all__ = ["AES", "ChaCha20", "Poly1305", "GCMKey",
           "RAW", "RawCTR", "RawGCM", "RawChaChaPoly", "POLY_KEY_HOOK", "chacha_poly1305_mac"]

try:  # pycryptodome's GHASH core: reusing its expanded key saves two AES key set-ups a packet
    from Crypto.Cipher import _mode_gcm
    from Crypto.Util._raw_api import create_string_buffer

    _GHASH_C: Any = _mode_gcm._ghash_clmul or _mode_gcm._ghash_portable
    _GHASH: Any = _mode_gcm._GHASH
except (ImportError, AttributeError):  # pragma: no cover - other pycryptodome layouts
    _GHASH = None

_LENGTHS = struct.Struct(">QQ")


class _PolyKeyAsIs:
    """Stands for the cipher in ``Poly1305.new(key=..., cipher=...)`` (pycryptodome calls
    its ``_derive_Poly1305_key_pair``): takes the (r, s) one-time key already computed from
    ChaCha20 block 0, saving a second ChaCha20 set-up per packet."""

    @staticmethod
    def _derive_Poly1305_key_pair(key: bytes, nonce: bytes | None) -> tuple[bytes, bytes, bytes]:
        return key[:16], key[16:32], nonce or b""


def _poly_key_hook_works() -> bool:
    """Whether ``Poly1305.new`` still takes its key pair from the cipher's hook: the same
    tag as the public ``Poly1305.new(cipher=ChaCha20)`` for a fixed key."""
    key, nonce = bytes(range(32)), bytes(8)
    try:
        rs = ChaCha20.new(key=key, nonce=nonce).encrypt(bytes(32))
        fast = Poly1305.new(key=rs, cipher=_PolyKeyAsIs, data=b"sshcore").digest()
    except (AttributeError, TypeError, ValueError):  # pragma: no cover - other versions
        return False
    return bool(fast == Poly1305.new(key=key, cipher=ChaCha20, nonce=nonce, data=b"sshcore").digest())


POLY_KEY_HOOK = _poly_key_hook_works()


def chacha_poly1305_mac(key: bytes, nonce: bytes, stream: Any) -> Any:
    """The Poly1305 MAC of chacha20-poly1305@openssh.com, keyed by block 0 of ChaCha20 under
    ``key`` and the 8-byte ``nonce``; ``stream`` is that ChaCha20 at position 0, which the
    fast path advances to take block 0 from (the caller seeks it to block 1 anyway)."""
    if POLY_KEY_HOOK:
        return Poly1305.new(key=stream.encrypt(bytes(32)), cipher=_PolyKeyAsIs)
    return Poly1305.new(key=key, cipher=ChaCha20, nonce=nonce)


class GCMKey:
    """AES-GCM (NIST SP 800-38D) for one key, with 12-byte nonces and 16-byte tags.

    ``AES.new(MODE_GCM)`` sets up the AES key three times and GHASH once per message,
    30-45 µs that dominate SSH-sized packets.  Here the hash subkey and GHASH table are
    computed once; each message needs one CTR cipher, whose first block (counter J0)
    masks the tag and whose following blocks encrypt the data.  Falls back to
    ``AES.new(MODE_GCM)`` if pycryptodome's internals are not where we expect them.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._ghash = None
        if _GHASH is not None:
            h = AES.new(key, AES.MODE_ECB).encrypt(bytes(16))
            self._ghash = _GHASH(h, _GHASH_C)

    def _tag(self, mask: bytes, aad: bytes | memoryview, ciphertext: bytes | memoryview) -> bytes:
        g = self._ghash
        assert g is not None
        g._last_y = create_string_buffer(16)
        # GHASH takes whole blocks: the padded AAD, the ciphertext's whole blocks in place
        # (no copy of the bulk), then its tail padded, with the bit lengths.
        g.update(bytes(aad) + bytes(-len(aad) % 16))
        n = len(ciphertext)
        whole = n - n % 16
        if whole:
            g.update(ciphertext[:whole] if whole < n else ciphertext)
        g.update(b"".join((ciphertext[whole:], bytes(-n % 16),
                           _LENGTHS.pack(8 * len(aad), 8 * n))))
        s = int.from_bytes(g.digest(), "big") ^ int.from_bytes(mask, "big")
        return s.to_bytes(16, "big")

    def seal(self, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        """Return ciphertext || tag."""
        if self._ghash is None:
            c = AES.new(self._key, AES.MODE_GCM, nonce=nonce)
            c.update(aad)
            ct, tag = c.encrypt_and_digest(plaintext)
            return bytes(ct) + bytes(tag)
        ctr = AES.new(self._key, AES.MODE_CTR, nonce=b"", initial_value=nonce + b"\0\0\0\1")
        mask = ctr.encrypt(bytes(16))
        ct = ctr.encrypt(plaintext)
        return ct + self._tag(mask, aad, ct)

    def open(self, nonce: bytes, aad: bytes, data: bytes) -> bytes | None:
        """Check the tag (constant time), then decrypt; None if the tag is wrong."""
        import hmac

        ct, tag = data[:-16], data[-16:]
        if self._ghash is None:
            c = AES.new(self._key, AES.MODE_GCM, nonce=nonce)
            c.update(aad)
            try:
                return bytes(c.decrypt_and_verify(ct, tag))
            except ValueError:
                return None
        ctr = AES.new(self._key, AES.MODE_CTR, nonce=b"", initial_value=nonce + b"\0\0\0\1")
        mask = ctr.encrypt(bytes(16))
        if not hmac.compare_digest(self._tag(mask, aad, ct), tag):
            return None
        return ctr.encrypt(ct)  # CTR: decryption is the same operation


# ---------------------------------------------------------------------------------------
# pycryptodome's C cores, called directly.
#
# Its Python wrappers (argument checks, output buffers, copies, a new key schedule per
# ``AES.new``) cost more than the cipher work itself for SSH-sized packets.  With its cffi
# backend, the same C functions can be called directly: one CTR state per direction for
# aes*-ctr; for aes*-gcm@openssh.com a CTR state per packet made in C and the GHASH key
# expanded once; ChaCha20 and Poly1305 states per packet, made in C.  Every
# class below checks the C functions' results.  When pycryptodome's internals are not
# where we expect them, ``RAW`` is False and the plugin uses the public API instead.
# ---------------------------------------------------------------------------------------

def _aes_functions(module: Any) -> tuple[Any, Any]:
    """AES's C (start, stop) functions: with the CPU's AES instructions where pycryptodome
    has them (``_raw_aes_hw`` from 4.3 on, ``_raw_aesni_lib`` before), else portable."""
    hw = getattr(module, "_raw_aes_hw", None)
    if hw:
        return hw
    ni = getattr(module, "_raw_aesni_lib", None)
    if ni:
        return ni.AESNI_start_operation, ni.AESNI_stop_operation
    return module._raw_aes_lib.AES_start_operation, module._raw_aes_lib.AES_stop_operation


try:
    from Crypto.Cipher import AES as _aes_module
    from Crypto.Cipher import ChaCha20 as _chacha_module
    from Crypto.Cipher import _mode_ctr
    from Crypto.Hash import Poly1305 as _poly_module
    from Crypto.Util import _raw_api

    if _raw_api.backend != "cffi":  # pragma: no cover - ctypes backend
        raise ImportError("pycryptodome uses ctypes")
    _ffi: Any = _raw_api.ffi
    _CTR: Any = _mode_ctr.raw_ctr_lib
    _AES_START, _AES_STOP = _aes_functions(_aes_module)
    _C20: Any = _chacha_module._raw_chacha20_lib
    _POLY: Any = _poly_module._raw_poly1305
    _GHASH_EXPAND, _GHASH_DESTROY = _GHASH_C.ghash_expand, _GHASH_C.ghash_destroy
    _GHASH_FN = _GHASH_C.ghash
    _CTR_ENC = _CTR.CTR_encrypt
    # cffi's own Python wrappers around these two are measurable per packet.
    _FROM_BUFFER = _ffi._backend.from_buffer
    _NEWP = _ffi._backend.newp
    _U8A = _ffi.typeof("uint8_t[]")
    _VOIDPP = _ffi.typeof("void **")
    RAW = _GHASH is not None
except (ImportError, AttributeError, NameError):  # pragma: no cover - other layouts
    RAW = False

_ZERO16 = bytes(16)
_ZERO32 = bytes(32)
_U64 = struct.Struct(">Q")


def _check(result: int, what: str) -> None:
    if result:
        raise ValueError(f"pycryptodome error {result:#x} in {what}")


def _ptr(data: Any) -> Any:
    """A C pointer to read-only data (bytes pass as they are)."""
    return data if type(data) is bytes else _FROM_BUFFER(_U8A, data, False)


def _out(buf: bytearray) -> Any:
    """A C pointer to a buffer C code writes."""
    return _FROM_BUFFER(_U8A, buf, True)


def _voidpp() -> Any:
    return _NEWP(_VOIDPP, None)


def _ctr_state(key: bytes, block: bytes, prefix_len: int, counter_len: int) -> Any:
    cipher = _voidpp()
    _check(_AES_START(key, len(key), cipher), "AES key set-up")
    state = _voidpp()
    result = _CTR.CTR_start_operation(cipher[0], block, 16, prefix_len, counter_len, 0, state)
    if result:
        _AES_STOP(cipher[0])
        _check(result, "CTR set-up")
    return _ffi.gc(state[0], _CTR.CTR_stop_operation)  # frees the AES state too


class RawCTR:
    """AES-CTR over a 128-bit big-endian counter (RFC 4344), one state for the stream."""

    __slots__ = ("_state",)

    def __init__(self, key: bytes, iv: bytes) -> None:
        self._state = _ctr_state(key, iv, 0, 16)

    def encrypt(self, data: Any) -> bytearray:
        out = bytearray(len(data))
        _check(_CTR_ENC(self._state, _ptr(data), _out(out), len(out)), "AES-CTR")
        return out

    decrypt = encrypt


class RawGCM:
    """aes*-gcm@openssh.com for one direction (RFC 5647 as OpenSSH does it).

    The IV is a 4-byte fixed field and a 64-bit invocation counter that grows by one per
    packet.  Each packet gets a CTR state straight from the C core (a key schedule in C
    costs far less than ``AES.new``'s Python), whose first block masks the tag and whose
    following blocks encrypt the data; the GHASH key is expanded once.
    """

    __slots__ = ("_key", "_fixed", "_counter", "_tables")

    def __init__(self, key: bytes, iv: bytes) -> None:
        self._key = bytes(key)
        self._fixed = bytes(iv[:4])
        self._counter = int.from_bytes(iv[4:12], "big")
        h = AES.new(key, AES.MODE_ECB).encrypt(_ZERO16)
        tables = _voidpp()
        _check(_GHASH_EXPAND(h, tables), "GHASH key set-up")
        self._tables = _ffi.gc(tables[0], _GHASH_DESTROY)

    def _start(self) -> Any:
        """A CTR state at J0 = fixed || invocation counter || 1, for the next packet."""
        block = self._fixed + _U64.pack(self._counter) + b"\0\0\0\1"
        self._counter = (self._counter + 1) & 0xFFFFFFFFFFFFFFFF
        cipher = _voidpp()
        _check(_AES_START(self._key, len(self._key), cipher), "AES key set-up")
        state = _voidpp()
        result = _CTR.CTR_start_operation(cipher[0], block, 16, 12, 4, 0, state)
        if result:
            _AES_STOP(cipher[0])
            _check(result, "CTR set-up")
        return state[0]

    @staticmethod
    def _xor(state: Any, data: Any) -> bytearray:
        out = bytearray(len(data))
        _check(_CTR_ENC(state, _ptr(data), _out(out), len(out)), "AES-GCM")
        return out

    def _tag(self, mask: bytearray, aad: Any, ct: Any) -> bytes:
        y = bytearray(16)
        yp = _out(y)
        tables = self._tables
        _check(_GHASH_FN(yp, bytes(aad) + bytes(-len(aad) % 16), 16, yp, tables), "GHASH")
        n = len(ct)
        whole = n - n % 16
        if whole:
            _check(_GHASH_FN(yp, _ptr(ct), whole, yp, tables), "GHASH")
        tail = b"".join((ct[whole:], bytes(-n % 16), _LENGTHS.pack(8 * len(aad), 8 * n)))
        _check(_GHASH_FN(yp, tail, len(tail), yp, tables), "GHASH")
        return (int.from_bytes(y, "big") ^ int.from_bytes(mask, "big")).to_bytes(16, "big")

    def seal(self, aad: Any, plaintext: Any) -> bytes:
        """Return aad || ciphertext || tag for the next packet."""
        state = self._start()
        try:
            mask = self._xor(state, _ZERO16)
            ct = self._xor(state, plaintext)
        finally:
            _CTR.CTR_stop_operation(state)
        return b"".join((aad, ct, self._tag(mask, aad, ct)))

    def open(self, aad: Any, data: Any) -> bytearray | None:
        """Check the tag (constant time), then decrypt; None if the tag is wrong."""
        import hmac

        ct, tag = data[:-16], data[-16:]
        state = self._start()
        try:
            mask = self._xor(state, _ZERO16)
            if not hmac.compare_digest(self._tag(mask, aad, ct), tag):
                return None
            return self._xor(state, ct)
        finally:
            _CTR.CTR_stop_operation(state)


class RawChaChaPoly:
    """chacha20-poly1305@openssh.com (PROTOCOL.chacha20poly1305): ChaCha20 states and
    Poly1305 driven in C, a fresh state per packet since the nonce is the sequence number."""

    __slots__ = ("_main", "_header")

    def __init__(self, key: bytes) -> None:
        self._main = bytes(key[:32])
        self._header = bytes(key[32:64])

    @staticmethod
    def _stream(key: bytes, nonce: bytes) -> Any:
        state = _voidpp()
        _check(_C20.chacha20_init(state, key, 32, nonce, 8), "ChaCha20 set-up")
        return state[0]

    def length(self, seq: int, header: Any) -> bytes:
        """The 4 length bytes, decrypted or encrypted (the same operation)."""
        out = bytearray(4)
        st = self._stream(self._header, _U64.pack(seq))
        try:
            _check(_C20.chacha20_encrypt(st, _ptr(header), _out(out), 4), "ChaCha20")
        finally:
            _C20.chacha20_destroy(st)
        return bytes(out)

    def _poly(self, key: bytearray, parts: tuple[Any, ...]) -> bytes:
        st = _voidpp()
        kp = _out(key)
        _check(_POLY.poly1305_init(st, kp, 16, kp + 16, 16), "Poly1305 set-up")
        try:
            for part in parts:
                _check(_POLY.poly1305_update(st[0], _ptr(part), len(part)), "Poly1305")
            tag = bytearray(16)
            _check(_POLY.poly1305_digest(st[0], _out(tag), 16), "Poly1305")
        finally:
            _POLY.poly1305_destroy(st[0])
        return bytes(tag)

    def _poly_key(self, st: Any) -> bytearray:
        key = bytearray(32)  # keystream block 0
        _check(_C20.chacha20_encrypt(st, _ZERO32, _out(key), 32), "ChaCha20")
        return key

    def _from_block1(self, st: Any, data: Any) -> bytearray:
        _check(_C20.chacha20_seek(st, 0, 1, 0), "ChaCha20 seek")
        out = bytearray(len(data))
        _check(_C20.chacha20_encrypt(st, _ptr(data), _out(out), len(out)), "ChaCha20")
        return out

    def seal(self, seq: int, packet: Any) -> bytes:
        """Return the wire form of ``packet`` (uint32 length || rest, in clear)."""
        enc_len = self.length(seq, packet[:4])
        st = self._stream(self._main, _U64.pack(seq))
        try:
            poly_key = self._poly_key(st)
            body = self._from_block1(st, memoryview(packet)[4:])
        finally:
            _C20.chacha20_destroy(st)
        return b"".join((enc_len, body, self._poly(poly_key, (enc_len, body))))

    def open(self, seq: int, header: Any, body: Any) -> bytearray | None:
        """Verify the tag over header || ciphertext (constant time), then decrypt."""
        import hmac

        ct, tag = body[:-16], body[-16:]
        st = self._stream(self._main, _U64.pack(seq))
        try:
            if not hmac.compare_digest(self._poly(self._poly_key(st), (header, ct)), tag):
                return None
            return self._from_block1(st, ct)
        finally:
            _C20.chacha20_destroy(st)


def __getattr__(name: str) -> Any:
    # The legacy ciphers' pycryptodome modules load only when a legacy cipher is keyed
    # (sshcore_ciphers.legacy imports them from here), not with every connection.
    if name in ("ARC4", "CAST", "DES3", "Blowfish"):
        import importlib

        return importlib.import_module(f"Crypto.Cipher.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
