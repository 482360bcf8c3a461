"""sntrup761's heavy work as KexCompute steps: with ``kex_offload`` the kernel hands it
out as ComputeRequested events and holds the key exchange (and every packet behind it)
until the result comes back; without it, nothing changes on the wire or in the events."""

from __future__ import annotations

import asyncio
import concurrent.futures
import pickle

import pytest

import sshcore
from sshcore import events as ev
from sshcore.config import ConnectionConfig
from sshcore.errors import KeyExchangeError, LocalProtocolError
from sshcore.keys import generate_private_key
from sshcore.registry import default_registry
from sshcore.testing import ConnectionPair

KEX = "sntrup761x25519-sha512@openssh.com"


@pytest.fixture(scope="module")
def host_key():
    return generate_private_key("ssh-ed25519")


def make_pair(host_key, client_offload: bool, server_offload: bool) -> ConnectionPair:
    reg = default_registry()
    client = ConnectionConfig("client", registry=reg, kex_algs=[KEX], kex_offload=client_offload)
    server = ConnectionConfig("server", registry=reg, kex_algs=[KEX], server_host_keys=[host_key],
                              kex_offload=server_offload)
    return ConnectionPair(client, server)


def jobs(events):
    return [e for e in events if isinstance(e, ev.ComputeRequested)]


def answer(conn, job: ev.ComputeRequested) -> None:
    """What a process pool does: run the job from its pickled form."""
    fn, args = pickle.loads(pickle.dumps((job.fn, job.args)))
    conn.provide_compute_result(job.job, fn(*args))


def test_offloaded_exchange_waits_for_each_result_then_completes(host_key):
    p = make_pair(host_key, True, True)
    p.pump()
    # the client's key pair is wanted before its HYBRID_INIT can leave
    (keygen,) = jobs(p.client_events)
    assert not any(isinstance(e, ev.KexCompleted) for e in p.client_events + p.server_events)
    answer(p.client, keygen)
    p.pump()
    # the server encapsulates to the client's key; then the client decapsulates
    (encaps,) = jobs(p.server_events)
    answer(p.server, encaps)
    p.pump()
    decaps = [j for j in jobs(p.client_events) if j.job != keygen.job]
    assert len(decaps) == 1
    # the server's reply (and its NEWKEYS behind it) waits unprocessed for the result
    assert not any(isinstance(e, ev.HostKeyReceived) for e in p.client_events)
    answer(p.client, decaps[0])
    p.pump()
    assert any(isinstance(e, ev.HostKeyReceived) for e in p.client_events)
    p.client.accept_host_key()
    p.pump()
    done = [e for e in p.client_events + p.server_events if isinstance(e, ev.KexCompleted)]
    assert len(done) == 2
    assert p.client.session_id == p.server.session_id


def test_inline_exchange_hands_out_nothing(host_key):
    p = make_pair(host_key, False, False)
    p.pump()
    p.client.accept_host_key()
    p.pump()
    assert jobs(p.client_events + p.server_events) == []
    assert sum(isinstance(e, ev.KexCompleted) for e in p.client_events + p.server_events) == 2


def test_a_wrong_job_is_a_local_error_and_a_failed_one_ends_the_exchange(host_key):
    p = make_pair(host_key, True, False)
    p.pump()
    (keygen,) = jobs(p.client_events)
    with pytest.raises(LocalProtocolError):
        p.client.provide_compute_result(keygen.job + 1, None)
    p.client.compute_failed(keygen.job, RuntimeError("worker died"))
    assert p.client.closed and isinstance(p.client.error, KeyExchangeError)
    assert "worker died" in str(p.client.error)
    p.client.provide_compute_result(keygen.job, None)  # late answers to a closed connection: no-op


def test_a_result_that_makes_no_sense_fails_the_exchange_cleanly(host_key):
    p = make_pair(host_key, True, False)
    p.pump()
    (keygen,) = jobs(p.client_events)
    with pytest.raises(KeyExchangeError):
        p.client.provide_compute_result(keygen.job, ("not", "a", "key pair"))
    assert p.client.closed


@pytest.mark.timeout(120)
def test_a_process_pool_serves_many_handshakes_both_ways(host_key):
    """Our client and our server, each with a process pool, sntrup761 forced."""
    async def main():
        with _CountingPool(2) as pool:
            srv = await sshcore.listen("127.0.0.1", 0, server_host_keys=[host_key], kex_algs=[KEX],
                                       kex_executor=pool, max_startups=None,
                                       process_factory=lambda proc: proc.command.upper() and 3,
                                       server_factory=_AnyUser)
            async with srv:
                async def once(i):
                    async with sshcore.connect("127.0.0.1", srv.port, username="u", known_hosts=None,
                                               kex_algs=[KEX], kex_executor=pool, config=None,
                                               agent_path=None, client_keys=[]) as conn:
                        assert conn.get_extra_info("algorithms")["kex"] == KEX
                        return (await conn.run(f"c{i}")).exit_status
                assert await asyncio.gather(*(once(i) for i in range(6))) == [3] * 6
        # per handshake: the client's key pair and decapsulation, the server's encapsulation
        assert pool.submitted == 6 * 3

    asyncio.run(asyncio.wait_for(main(), 100))


class _CountingPool(concurrent.futures.ProcessPoolExecutor):
    submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


class _AnyUser(sshcore.SSHServer):
    def begin_auth(self, username):
        return False  # no authentication needed
