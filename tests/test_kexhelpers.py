"""sshcore.kexhelpers: a one-round-trip key exchange built on the public helper, run
client against server in memory, inline and with its slow steps offloaded."""

from __future__ import annotations

import hashlib

import pytest

import sshcore
import sshcore.testing as t
from sshcore.errors import KeyExchangeError
from sshcore.events import ComputeRequested
from sshcore.interfaces import KexAlgorithm, KexContext
from sshcore.kexhelpers import Later, OneRoundTripKex, exchange_hash
from sshcore.registry import build_registry
from sshcore.wire import mpint, string

P = 2**127 - 1  # a toy prime group: enough to show the shape, not a real kex
G = 3


def _power(base: int, exp: int) -> int:  # module level: picklable for a process pool
    return pow(base, exp, P)


class ToyDH(OneRoundTripKex):
    label, hash_name, value_type = "toy DH", "sha256", "mpint"
    slow = False

    def __init__(self, ctx: KexContext) -> None:
        super().__init__(ctx)
        self.x = int.from_bytes(ctx.random(8), "big") | 1
        self.pub = pow(G, self.x, P)

    def _shared(self, value: int):
        if not 1 < value < P - 1:
            raise KeyExchangeError("toy value out of range")
        if self.slow:
            return Later(_power, (value, self.x), mpint)
        return mpint(pow(value, self.x, P))

    def client_init(self):
        return Later(_power, (G, self.x), lambda pub: pub) if self.slow else self.pub

    def server_reply(self, e: int):
        k = self._shared(e)
        if isinstance(k, Later):
            return Later(k.fn, k.args, lambda raw: (self.pub, mpint(raw)))
        return self.pub, k

    def client_finish(self, f: int):
        return self._shared(f)


class SlowToyDH(ToyDH):
    slow = True


class _Plugin:
    def __init__(self, cls):
        self.cls = cls

    @sshcore.hookimpl
    def sshcore_kex_algorithms(self):
        return [KexAlgorithm("toy-dh@sshcore.test", "sha256", self.cls, priority=-1)]


def _pair(cls, **kw):
    reg = build_registry(plugins=[t.plugin, _Plugin(cls)])
    cfgs = t.pair_configs(reg, kex_algs=["toy-dh@sshcore.test"], encryption_algs=[t.CIPHER],
                          mac_algs=[t.MAC], server_host_key_algs=[t.KEY], **kw)
    return t.ConnectionPair(cfgs.client, cfgs.server)


def _complete(p):
    accepted, computed = False, 0
    for _ in range(20):
        p.pump()
        for conn, events in ((p.client, p.client_events), (p.server, p.server_events)):
            for ev in [e for e in events if isinstance(e, ComputeRequested)]:
                events.remove(ev)
                conn.provide_compute_result(ev.job, ev.fn(*ev.args))
                computed += 1
        if not accepted and any(type(e).__name__ == "HostKeyReceived" for e in p.client_events):
            p.client.accept_host_key()
            accepted = True
        if any(type(e).__name__ == "KexCompleted" for e in p.client_events) and \
                any(type(e).__name__ == "KexCompleted" for e in p.server_events):
            return computed
    raise AssertionError(f"no KexCompleted: {p.client_events} / {p.server_events}")


@pytest.mark.parametrize("cls, offload", [(ToyDH, False), (SlowToyDH, False), (SlowToyDH, True)])
def test_a_helper_based_exchange_completes_both_ways(cls, offload):
    p = _pair(cls, kex_offload=offload)
    computed = _complete(p)
    # Later steps reach the application only when it asked to run them (a pool): the
    # client's key pair and shared secret, the server's shared secret.
    assert computed == (3 if offload else 0)
    done_c = [e for e in p.client_events if type(e).__name__ == "KexCompleted"][0]
    assert done_c.algorithms["kex"] == "toy-dh@sshcore.test"


def test_exchange_hash_is_the_rfc_4253_transcript():
    ctx = KexContext("client", b"SSH-2.0-a", b"SSH-2.0-b", b"\x14ic", b"\x14is")
    h = exchange_hash(ctx, "sha256", b"KS", mpint(5), mpint(7), mpint(9))
    expected = hashlib.sha256(string(b"SSH-2.0-a") + string(b"SSH-2.0-b") + string(b"\x14ic")
                              + string(b"\x14is") + string(b"KS") + mpint(5) + mpint(7)
                              + mpint(9)).digest()
    assert h == expected


def test_malformed_and_out_of_order_messages_are_key_exchange_errors():
    ctx = KexContext("client", b"v", b"w", b"i", b"j")
    kex = ToyDH(ctx)
    kex.start()
    with pytest.raises(KeyExchangeError, match="malformed toy DH"):
        kex.receive(bytes([31]) + b"\x00\x00")
    with pytest.raises(KeyExchangeError, match="unexpected message 30 during toy DH"):
        kex.receive(bytes([30]) + mpint(5))
    server = ToyDH(KexContext("server", b"v", b"w", b"i", b"j", host_key_blob=b"k"))
    with pytest.raises(KeyExchangeError, match="no host key"):
        server.receive(bytes([30]) + mpint(5))
    with pytest.raises(KeyExchangeError, match="after the exchange finished"):
        server.receive(bytes([30]) + mpint(5))
