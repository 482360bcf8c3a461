"""sntrup761's client key pair is started when a client connection is created
(KexAlgorithm.prefetch), handed to exactly one exchange, and the exchange still agrees."""

from __future__ import annotations

import threading

import sshcore.testing as t
from sshcore.connection import Connection
from sshcore.config import ConnectionConfig
from sshcore.registry import build_registry
from sshcore_kex_pq import _hybrid
from sshcore_kex_pq import hooks as kex_pq_hooks

KEX = "sntrup761x25519-sha512"


def _drain_spare() -> None:
    while _hybrid.take_spare_sntrup761(wait=True) is not None:
        pass


def test_a_spare_pair_is_made_once_and_handed_out_once():
    _drain_spare()
    _hybrid.prefetch_sntrup761()
    _hybrid.prefetch_sntrup761()  # one in flight: no second thread
    assert sum(th.name == "sshcore-sntrup761-prefetch" for th in threading.enumerate()) <= 1
    pk, sk = _hybrid.take_spare_sntrup761(wait=True)
    assert _hybrid.take_spare_sntrup761(wait=True) is None
    secret, ct = _hybrid._sntrup_encapsulate(pk)
    assert _hybrid._sntrup_decapsulate(ct, sk) == secret


def _registry():
    return build_registry(plugins=[t.plugin, kex_pq_hooks])


def test_creating_a_client_that_offers_sntrup761_starts_the_key_pair():
    _drain_spare()
    reg = _registry()
    Connection(ConnectionConfig("server", registry=reg, kex_algs=[KEX],
                                server_host_keys=[t.TestKey()], encryption_algs=[t.CIPHER],
                                mac_algs=[t.MAC], server_host_key_algs=[t.KEY]))
    assert _hybrid._spare is None  # a server does not prefetch
    Connection(ConnectionConfig("client", registry=reg, kex_algs=["mlkem768x25519-sha256"],
                                encryption_algs=[t.CIPHER], mac_algs=[t.MAC],
                                server_host_key_algs=[t.KEY]))
    assert _hybrid._spare is None  # nor a client that does not offer sntrup761
    Connection(ConnectionConfig("client", registry=reg, kex_algs=[KEX],
                                encryption_algs=[t.CIPHER], mac_algs=[t.MAC],
                                server_host_key_algs=[t.KEY]))
    assert _hybrid._spare is not None


def test_the_exchange_uses_the_prefetched_pair_and_completes():
    _drain_spare()
    reg = _registry()
    cfgs = t.pair_configs(reg, kex_algs=[KEX], encryption_algs=[t.CIPHER], mac_algs=[t.MAC],
                          server_host_key_algs=[t.KEY])
    p = t.ConnectionPair(cfgs.client, cfgs.server)
    spare = _hybrid._spare
    assert spare is not None
    p.pump()
    p.client.accept_host_key()
    p.pump()
    assert _hybrid._spare is not spare  # taken by this client's exchange
    names = [type(e).__name__ for e in p.client_events]
    assert "KexCompleted" in names and "KexCompleted" in [type(e).__name__ for e in p.server_events]


def test_no_prefetch_when_the_application_offloads_kex_work():
    _drain_spare()
    Connection(ConnectionConfig("client", registry=_registry(), kex_algs=[KEX],
                                encryption_algs=[t.CIPHER], mac_algs=[t.MAC],
                                server_host_key_algs=[t.KEY], kex_offload=True))
    assert _hybrid._spare is None


def test_an_offloaded_exchange_never_takes_a_spare_left_by_another_connection():
    _drain_spare()
    _hybrid.prefetch_sntrup761()  # e.g. an earlier connection without a pool
    reg = _registry()
    cfgs = t.pair_configs(reg, kex_algs=[KEX], encryption_algs=[t.CIPHER], mac_algs=[t.MAC],
                          server_host_key_algs=[t.KEY], kex_offload=True)
    p = t.ConnectionPair(cfgs.client, cfgs.server)
    p.pump()
    jobs = [e for e in p.client_events if type(e).__name__ == "ComputeRequested"]
    assert len(jobs) == 1  # the client's key pair goes to the application's pool
    assert _hybrid.take_spare_sntrup761(wait=True) is not None  # still there, unused
