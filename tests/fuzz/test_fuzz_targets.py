"""Every fuzz target under Hypothesis: a few hundred inputs each, in CI.

Inputs are random bytes and mutations (flips, insertions, deletions, truncations) of the
targets' well-formed seeds.  The long runs use atheris: ``tests/fuzz/run_atheris.py``.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import targets

EXAMPLES = {"private_key": 150, "public_key": 200}


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.integers(0, 3))
        pos = draw(st.integers(0, len(data)))
        if op == 0 and pos < len(data):
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == 1:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == 2:
            del data[pos:pos + draw(st.integers(1, 16))]
        else:
            del data[pos:]
    return bytes(data)


def inputs(name: str) -> st.SearchStrategy[bytes]:
    seeds = targets.load_seeds(name)
    random = st.binary(max_size=600)
    return st.one_of(random, mutated(seeds)) if seeds else random


@pytest.mark.timeout(90)
@pytest.mark.parametrize("name", sorted(targets.TARGETS))
def test_fuzz_target(name):
    fn = targets.TARGETS[name]
    for seed in targets.load_seeds(name):
        fn(seed)

    @settings(max_examples=EXAMPLES.get(name, 300), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(inputs(name))
    def run(data: bytes) -> None:
        fn(data)

    run()


def test_seeds_reach_the_layer_under_test():
    """The seeds are well-formed: decoded, they produce the events a fuzzer must get past."""
    from sshcore import events as ev

    p, ch, sch = targets._authenticated_pair(session=True)
    assert p.client.authenticated and p.server.authenticated and ch == sch == 0
    pre = targets._pre_auth_pair()
    assert pre.server.userauth.waiting_answer is False and not pre.server.authenticated
    # a seed of the userauth target is a password request the server asks the app about
    seed = targets.SEEDS["userauth_server"][0]
    pre.client._send_now(list(targets.Cursor(seed[1:]).chunks())[0])
    pre.server.receive_data(pre.client.data_to_send())
    assert any(isinstance(e, ev.AuthRequested) and e.method == "password" for e in pre.server.events())
