"""Corrupting one packet on the wire, deterministically, for the MAC-error checks.

The sending side of a connection gets a registry in which the algorithm that produces
the last bytes of each packet is wrapped: once :attr:`Trigger.armed`, the next packet
of at least four cipher blocks leaves with one bit flipped *after* encryption and MAC —
in the AEAD ciphertext, the stream ciphertext's last byte (encrypt-and-MAC: the MAC
covers the plaintext), or the MAC tag.  That is what a bit flipped in transit looks
like; the receiving side, with the unwrapped plugin, must refuse it with MAC_ERROR.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ._session import replaced


class Trigger:
    """Shared by the wrappers of one connection: fire once, after being armed."""

    def __init__(self) -> None:
        self.armed = False
        self.fired = False

    def take(self) -> bool:
        if self.armed and not self.fired:
            self.fired = True
            return True
        return False


def _flip(data: Any, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x40
    return bytes(out)


class _AEAD:
    def __init__(self, inner: Any, trigger: Trigger) -> None:
        self.inner, self.trigger = inner, trigger

    def encrypt_packet(self, seq: int, packet: bytes) -> bytes:
        wire = self.inner.encrypt_packet(seq, packet)
        if len(packet) >= 64 and self.trigger.take():
            wire = _flip(wire, len(wire) // 2)
        return wire

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _Stream:
    def __init__(self, inner: Any, trigger: Trigger, block: int) -> None:
        self.inner, self.trigger, self.block = inner, trigger, max(block, 8)

    def encrypt(self, data: Any) -> bytes:
        out = self.inner.encrypt(data)
        if len(out) >= 4 * self.block and self.trigger.take():
            out = _flip(out, len(out) - 1)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _Mac:
    def __init__(self, inner: Any, trigger: Trigger) -> None:
        self.inner, self.trigger = inner, trigger

    def sign(self, seq: int, data: Any) -> bytes:
        tag = self.inner.sign(seq, data)
        if len(data) >= 64 and self.trigger.take():
            tag = _flip(tag, 0)
        return tag

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _wrap_cipher(desc: Any, trigger: Trigger) -> Any:
    factory = desc.factory

    def make(**kw: Any) -> Any:
        obj = factory(**kw)
        if not kw.get("encrypt"):
            return obj
        return _AEAD(obj, trigger) if desc.aead else _Stream(obj, trigger, desc.block_size)
    return replace(desc, factory=make)


def _wrap_mac(desc: Any, trigger: Trigger) -> Any:
    factory = desc.factory
    return replace(desc, factory=lambda **kw: _Mac(factory(**kw), trigger))


def corrupting_registry(registry: Any, family: str, desc: Any,
                        cipher: str | None = None) -> tuple[Any, Trigger]:
    """``registry`` whose ``family`` algorithm ``desc`` (or, for other families, the
    ``cipher`` named) corrupts one packet once armed."""
    trigger = Trigger()
    if family == "mac":
        return replaced(registry, "mac", _wrap_mac(desc, trigger)), trigger
    target = desc if family == "cipher" else registry.get("cipher", cipher)
    return replaced(registry, "cipher", _wrap_cipher(target, trigger)), trigger
