"""The files ``sshcore plugin new`` writes, per family (``string.Template`` text:
``$name`` the algorithm, ``$dist`` the distribution, ``$pkg`` the import package).

Each implementation is trivial but correct, and uses only :mod:`sshcore.plugin` (and
:mod:`sshcore.wire`) from sshcore, so that the generated distribution passes the
conformance kit unchanged."""

from __future__ import annotations

COMMON_HOOKS_HEAD = '''"""$dist: the hooks sshcore discovers through the ``sshcore.plugins`` entry point.

Only names from ``sshcore.plugin`` are used; the implementation module is imported
lazily, when a connection first uses the algorithm.
"""

from __future__ import annotations

from sshcore.plugin import hookimpl, lazy
'''

HOOKS = {
    "cipher": COMMON_HOOKS_HEAD + '''from sshcore.plugin import CipherAlgorithm, require

#: The plugin API this distribution was written for (the registry refuses it elsewhere).
SSHCORE_PLUGIN_API = "1.0"
NAME = "$name"


@hookimpl
def sshcore_ciphers():
    require("cryptography")
    return [CipherAlgorithm(NAME, key_size=16, iv_size=16, block_size=16,
                            factory=lazy("$pkg.impl:AesCtr"), enabled_by_default=False)]
''',
    "mac": COMMON_HOOKS_HEAD + '''from sshcore.plugin import MacAlgorithm

SSHCORE_PLUGIN_API = "1.0"
NAME = "$name"


@hookimpl
def sshcore_macs():
    return [MacAlgorithm(NAME, key_size=32, digest_size=32, factory=lazy("$pkg.impl:HmacSha256"),
                         enabled_by_default=False)]
''',
    "kex": COMMON_HOOKS_HEAD + '''from sshcore.plugin import KexAlgorithm, require

SSHCORE_PLUGIN_API = "1.0"
NAME = "$name"


@hookimpl
def sshcore_kex_algorithms():
    require("cryptography")
    return [KexAlgorithm(NAME, hash_name="sha256", factory=lazy("$pkg.impl:X25519Exchange"),
                         enabled_by_default=False)]
''',
    "compression": COMMON_HOOKS_HEAD + '''from sshcore.plugin import CompressionAlgorithm

SSHCORE_PLUGIN_API = "1.0"
NAME = "$name"


@hookimpl
def sshcore_compression_algorithms():
    return [CompressionAlgorithm(NAME, compressor=lazy("$pkg.impl:Compressor"),
                                 decompressor=lazy("$pkg.impl:Decompressor"),
                                 enabled_by_default=False)]
''',
    "key": COMMON_HOOKS_HEAD + '''from sshcore.plugin import KeyType, SignatureAlgorithm, require

SSHCORE_PLUGIN_API = "1.0"
NAME = "$name"


@hookimpl
def sshcore_signature_algorithms():
    require("cryptography")
    return [SignatureAlgorithm(NAME, key_type=NAME, decode=lazy("$pkg.impl:decode"),
                               enabled_by_default=False)]


@hookimpl
def sshcore_key_types():
    require("cryptography")
    return [KeyType(NAME, generate=lazy("$pkg.impl:generate"))]
''',
    "auth": COMMON_HOOKS_HEAD + '''from sshcore.plugin import AuthMethod

SSHCORE_PLUGIN_API = "1.0"
NAME = "$name"


@hookimpl
def sshcore_auth_methods():
    return [AuthMethod(NAME, client=lazy("$pkg.impl:TokenClient"),
                       server=lazy("$pkg.impl:TokenServer"), enabled_by_default=False)]
''',
}

IMPL = {
    "cipher": '''"""$name: AES-128 in counter mode (RFC 4344), through ``cryptography``.

A stream cipher: one object per direction, keeping the counter across calls.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class AesCtr:
    def __init__(self, key: bytes, iv: bytes, encrypt: bool) -> None:
        self._ctx = Cipher(algorithms.AES(bytes(key)), modes.CTR(bytes(iv))).encryptor()

    def encrypt(self, data: bytes | memoryview) -> bytes:
        return self._ctx.update(bytes(data))

    decrypt = encrypt  # CTR: the same key stream both ways
''',
    "mac": '''"""$name: HMAC-SHA-256 over ``uint32 seq || packet`` (RFC 4253 section 6.4).

The standard library only.
"""

from __future__ import annotations

import hmac


class HmacSha256:
    def __init__(self, key: bytes) -> None:
        self._key = bytes(key)

    def sign(self, seq: int, data: bytes | memoryview) -> bytes:
        mac = hmac.new(self._key, seq.to_bytes(4, "big"), "sha256")
        mac.update(data)
        return mac.digest()

    def verify(self, seq: int, data: bytes | memoryview, mac: bytes | memoryview) -> bool:
        return hmac.compare_digest(self.sign(seq, data), bytes(mac))
''',
    "kex": '''"""$name: X25519 Diffie-Hellman with SHA-256.

RFC 8731's exchange (curve25519-sha256) under a new name.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from sshcore.plugin import KeyExchangeError, OneRoundTripKex
from sshcore.wire import mpint


class X25519Exchange(OneRoundTripKex):
    label, hash_name = "$name", "sha256"

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._key = X25519PrivateKey.generate()
        self._pub = self._key.public_key().public_bytes_raw()

    def _shared(self, peer: bytes) -> bytes:
        if len(peer) != 32:
            raise KeyExchangeError(f"$name: public value of {len(peer)} bytes, not 32")
        try:
            secret = self._key.exchange(X25519PublicKey.from_public_bytes(peer))
        except ValueError as exc:  # a low-order point: the shared secret would be zero
            raise KeyExchangeError(f"$name: invalid public value ({exc})") from None
        return mpint(int.from_bytes(secret, "big"))

    def client_init(self) -> bytes:
        return self._pub

    def server_reply(self, client_value: bytes) -> tuple[bytes, bytes]:
        return self._pub, self._shared(client_value)

    def client_finish(self, server_value: bytes) -> bytes:
        return self._shared(server_value)
''',
    "compression": '''"""$name: zlib with a sync flush after each packet (RFC 4253 section 6.2)."""

from __future__ import annotations

import zlib

from sshcore.plugin import CompressionError


class Compressor:
    def __init__(self) -> None:
        self._z = zlib.compressobj(6)

    def compress(self, data: bytes) -> bytes:
        return self._z.compress(bytes(data)) + self._z.flush(zlib.Z_SYNC_FLUSH)


class Decompressor:
    def __init__(self) -> None:
        self._z = zlib.decompressobj()

    def decompress(self, data: bytes, max_length: int) -> bytes:
        try:
            out = self._z.decompress(bytes(data), max_length + 1)
        except zlib.error as exc:
            raise CompressionError(f"$name: {exc}") from None
        if len(out) > max_length or self._z.unconsumed_tail:
            raise CompressionError(f"$name: packet inflates past {max_length} bytes")
        return out
''',
    "key": '''"""$name: Ed25519 signatures (through ``cryptography``) under a key type of our own.

Public key blob: ``string "$name" || string key``; signature blob:
``string "$name" || string signature``.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)
from sshcore.plugin import DecodeError, SSHReader
from sshcore.wire import string

NAME = "$name"


class PublicKey:
    key_type = NAME
    comment = ""

    def __init__(self, raw: bytes) -> None:
        self._pub = Ed25519PublicKey.from_public_bytes(raw)
        self.raw = raw
        self.public_blob = string(NAME) + string(raw)

    def sig_algorithms(self) -> list[str]:
        return [NAME]

    def verify(self, data: bytes, signature: bytes, algorithm: str | None = None) -> bool:
        try:
            r = SSHReader(signature)
            alg, sig = r.text("ascii"), r.string()
            r.finish()
            if alg != NAME or (algorithm or NAME) != NAME:
                return False
            self._pub.verify(sig, data)
        except (DecodeError, InvalidSignature, ValueError, UnicodeDecodeError):
            return False
        return True


class PrivateKey(PublicKey):
    def __init__(self, key: Ed25519PrivateKey) -> None:
        super().__init__(key.public_key().public_bytes_raw())
        self._key = key

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        return string(NAME) + string(self._key.sign(data))

    def public_key(self) -> PublicKey:
        return PublicKey(self.raw)


def decode(blob: bytes) -> PublicKey:
    r = SSHReader(blob)
    if r.text("ascii") != NAME:
        raise ValueError("not a $name key")
    raw = r.string()
    r.finish()
    if len(raw) != 32:
        raise ValueError("$name: the key is not 32 bytes")
    return PublicKey(raw)


def generate(**options: object) -> PrivateKey:
    return PrivateKey(Ed25519PrivateKey.generate())
''',
    "auth": '''"""$name: the client presents a token; the server asks the application about it.

Client: ``sshcore.connect(..., preferred_auth=["$name"], auth_credentials={"token": "..."})``.
Server: an ``SSHServer`` whose ``validate_auth(username, "$name", "token", {"token": ...})``
returns True for a good token.
"""

from __future__ import annotations

from typing import Any

from sshcore.plugin import AuthAsk, AuthDone, AuthSend, DecodeError, SSHReader
from sshcore.wire import string


class TokenClient:
    def __init__(self, ctx: Any) -> None:
        self._token = ctx.credentials.get("token")
        self._sent = False

    def next_attempt(self) -> Any:
        if self._sent or not isinstance(self._token, str):
            return AuthDone()
        self._sent = True
        return AuthSend(string(self._token))

    def receive(self, payload: bytes) -> Any:
        return AuthDone()

    def resume(self, answer: Any) -> Any:
        return AuthDone()


class TokenServer:
    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx

    def request(self, username: str, service: str, body: bytes) -> Any:
        try:
            r = SSHReader(body)
            token = r.text()
            r.finish()
        except (DecodeError, UnicodeDecodeError):
            return AuthDone()
        return AuthAsk("token", {"token": token})

    def receive(self, payload: bytes) -> Any:
        return AuthDone()

    def resume(self, answer: Any) -> Any:
        return AuthDone(success=answer is True)
''',
}

_TEST_HEAD = '''"""$dist against the sshcore conformance kit (the ``sshcore_kit`` fixture: enabled by
``sshcore_kit = true`` in pyproject.toml).  The kit forces $name on both ends of real
connections: sshcore with itself and, when OpenSSH knows the name, with OpenSSH."""

from __future__ import annotations

DIST = "$dist"
NAME = "$name"
'''

TESTS = {
    "cipher": _TEST_HEAD + '''

def test_conformance(sshcore_kit):
    report = sshcore_kit.check_cipher(NAME, DIST)
    assert "corrupted packet from the client: MAC_ERROR" in str(report)


def test_known_answer(sshcore_kit):
    # NIST SP 800-38A F.5.1 (CTR-AES128); the SSH counter block is the IV
    vector = {"key": "2b7e151628aed2a6abf7158809cf4f3c", "iv": "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
              "plaintext": "6bc1bee22e409f96e93d7e117393172a",
              "ciphertext": "874d6191b620e3261bef6864990db6ce"}
    assert sshcore_kit.check_cipher(NAME, DIST, vectors=[vector], size=1 << 20).vectors == 1
''',
    "mac": _TEST_HEAD + '''

def test_conformance(sshcore_kit):
    # RFC 4231 test case 2: HMAC pads the key with zeros; the first 4 data bytes are seq
    vector = {"key": b"Jefe".hex() + "00" * 28, "seq": int.from_bytes(b"what", "big"),
              "data": b" do ya want for nothing?".hex(),
              "mac": "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"}
    report = sshcore_kit.check_mac(NAME, DIST, vectors=[vector])
    assert report.vectors == 1 and "MAC_ERROR" in str(report)
''',
    "kex": _TEST_HEAD + '''

def test_conformance(sshcore_kit):
    report = sshcore_kit.check_kex(NAME, DIST, size=1 << 20)
    assert "host-key signature over the wrong data: refused" in str(report)
''',
    "compression": _TEST_HEAD + '''

def test_conformance(sshcore_kit):
    report = sshcore_kit.check_compression(NAME, DIST, size=4 << 20,
                                           vectors=[{"data": (b"sshcore " * 500).hex()}])
    assert report.vectors == 1
''',
    "key": _TEST_HEAD + '''

def test_conformance(sshcore_kit):
    report = sshcore_kit.check_host_key(NAME, DIST, size=1 << 20)
    assert "host-key signature over the wrong data: refused" in str(report)
''',
    "auth": _TEST_HEAD + '''
import sshcore
from sshcore.conformance import AuthSetup

TOKEN = "let-me-in"


class Server(sshcore.SSHServer):
    def validate_auth(self, username, method, kind, info):
        return method == NAME and kind == "token" and info.get("token") == TOKEN


def test_conformance(sshcore_kit):
    setup = AuthSetup(client_options={"auth_credentials": {"token": TOKEN}},
                      server_options={"auth_methods": [NAME], "server_factory": Server},
                      bad_client_options={"auth_credentials": {"token": "wrong"}})
    report = sshcore_kit.check_auth_method(NAME, DIST, auth=setup)
    assert "wrong credentials refused by sshcore server" in str(report)
''',
}

EXTRA_DEPS = {"cipher": ["cryptography>=41"], "kex": ["cryptography>=41"],
              "key": ["cryptography>=41"]}

PYPROJECT = '''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "The $name $family_label for sshcore"
requires-python = ">=3.11"
dependencies = [$deps]

[project.optional-dependencies]
test = ["pytest>=8"]

[project.entry-points."sshcore.plugins"]
$entry = "$pkg.hooks"

[tool.setuptools.packages.find]
include = ["$pkg*"]

[tool.pytest.ini_options]
# the conformance kit's fixtures (sshcore_kit, sshcore_openssh) from sshcore's pytest plugin
sshcore_kit = true
addopts = "-p no:cacheprovider"
'''

README = '''# $dist

The `$name` $family_label for [sshcore](https://example.invalid/sshcore), made with
`sshcore plugin new --family $family`.

    pip install .            # sshcore discovers it: `sshcore algorithms` lists it
    pip install '.[test]'
    pytest                   # the sshcore conformance kit, against sshcore and OpenSSH

It is disabled by default: enable it by name (e.g. `$keyword=["$name"]` or `"+$name"`).
'''

LABELS = {"cipher": "cipher", "mac": "MAC", "kex": "key exchange",
          "compression": "compression method", "key": "host key algorithm",
          "auth": "authentication method"}
KEYWORDS = {"cipher": "encryption_algs", "mac": "mac_algs", "kex": "kex_algs",
            "compression": "compression_algs", "key": "server_host_key_algs",
            "auth": "preferred_auth"}
