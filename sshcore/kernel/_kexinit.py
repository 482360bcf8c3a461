"""KEXINIT encoding/decoding, the RFC 4253 section 7.1 choice of every algorithm, and the
algorithm name lists connections share."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from .._wire import SSHReader, boolean, byte, name_list, uint32
from ..errors import KeyExchangeError
from .messages import MessageType
from .negotiate import choose, choose_kex

STRICT_CLIENT = "kex-strict-c-v00@openssh.com"
STRICT_SERVER = "kex-strict-s-v00@openssh.com"
EXT_INFO_CLIENT = "ext-info-c"
EXT_INFO_SERVER = "ext-info-s"
#: Names that appear in the kex list but are signals, not methods (the kernel's own).
PSEUDO_KEX = frozenset({STRICT_CLIENT, STRICT_SERVER, EXT_INFO_CLIENT, EXT_INFO_SERVER})


@dataclass(frozen=True, slots=True)
class KexInit:
    kex: list[str]
    host_key: list[str]
    enc_cs: list[str]
    enc_sc: list[str]
    mac_cs: list[str]
    mac_sc: list[str]
    comp_cs: list[str]
    comp_sc: list[str]
    lang_cs: list[str]
    lang_sc: list[str]
    first_kex_follows: bool

    def encode(self, cookie: bytes) -> bytes:
        return b"".join((
            byte(MessageType.KEXINIT), cookie,
            name_list(self.kex), name_list(self.host_key),
            name_list(self.enc_cs), name_list(self.enc_sc),
            name_list(self.mac_cs), name_list(self.mac_sc),
            name_list(self.comp_cs), name_list(self.comp_sc),
            name_list(self.lang_cs), name_list(self.lang_sc),
            boolean(self.first_kex_follows), uint32(0)))

    @classmethod
    def decode(cls, payload: bytes) -> KexInit:
        r = SSHReader(payload, 1)
        r._take(16)  # cookie
        lists = [r.name_list() for _ in range(10)]
        follows = r.boolean()
        r.uint32()
        return cls(*lists, first_kex_follows=follows)


@dataclass(frozen=True, slots=True)
class Negotiated:
    kex: str
    host_key: str
    enc_cs: str
    enc_sc: str
    mac_cs: str
    mac_sc: str
    comp_cs: str
    comp_sc: str

    def as_dict(self) -> dict[str, str]:
        return {f: getattr(self, f) for f in self.__slots__}


def negotiate(client: KexInit, server: KexInit, aead: set[str]) -> Negotiated:
    """Apply the selection rule; ``aead`` names ciphers that need no separate MAC."""
    ckex = [k for k in client.kex if k not in PSEUDO_KEX]
    skex = [k for k in server.kex if k not in PSEUDO_KEX]
    kex, host_key = choose_kex(ckex, skex, client.host_key, server.host_key)
    if not host_key:
        raise KeyExchangeError("no host key algorithm in common")
    enc_cs = choose("client->server cipher", client.enc_cs, server.enc_cs)
    enc_sc = choose("server->client cipher", client.enc_sc, server.enc_sc)
    mac_cs = "<implicit>" if enc_cs in aead else choose("client->server MAC", client.mac_cs, server.mac_cs)
    mac_sc = "<implicit>" if enc_sc in aead else choose("server->client MAC", client.mac_sc, server.mac_sc)
    comp_cs = choose("client->server compression", client.comp_cs, server.comp_cs)
    comp_sc = choose("server->client compression", client.comp_sc, server.comp_sc)
    # Interned: each name is one of ours, and a connection keeps these for its lifetime,
    # so equal names share one string instead of each holding copies from the peer's list.
    return Negotiated(*map(sys.intern, (kex, host_key, enc_cs, enc_sc, mac_cs, mac_sc,
                                        comp_cs, comp_sc)))


def guess_was_right(client: KexInit, server: KexInit) -> bool:
    """RFC 4253 section 7: a guessed kex packet is right if both first choices agree."""
    return (bool(client.kex) and bool(server.kex) and client.kex[0] == server.kex[0]
            and bool(client.host_key) and bool(server.host_key)
            and client.host_key[0] == server.host_key[0])


def derive_key(hash_name: str, k: bytes, h: bytes, letter: bytes, session_id: bytes,
               size: int) -> bytes:
    """RFC 4253 section 7.2: HASH(K || H || X || session_id), extended as needed."""
    if size == 0:
        return b""
    key = hashlib.new(hash_name, k + h + letter + session_id).digest()
    while len(key) < size:
        key += hashlib.new(hash_name, k + h + key).digest()
    return key[:size]


def split_names(names: Sequence[str]) -> str:
    return ",".join(names)


#: Algorithm name lists, shared by every connection configured alike (an idle server
#: connection keeps its lists for rekeying); bounded, in case configurations vary.
_NAMES: dict[tuple[str, ...], tuple[str, ...]] = {}
_NAMES_MAX = 256


def shared_names(names: Sequence[str]) -> tuple[str, ...]:
    """``names`` as a tuple, the same object for every equal list (while the table has room)."""
    t = tuple(sys.intern(n) for n in names)
    shared = _NAMES.get(t)
    if shared is not None:
        return shared
    if len(_NAMES) < _NAMES_MAX:
        _NAMES[t] = t
    return t
