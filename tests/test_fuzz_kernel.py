"""Hostile payloads at every stage never escape as anything but the library's protocol errors."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sshcore.errors import ProtocolError
from sshcore.testing import ConnectionPair, TestKey, pair_configs



def fresh_pair(reg, stage):
    cfgs = pair_configs(reg)
    cfgs.client.username = "alice"
    cfgs.client.credentials = {"client_keys": [TestKey()], "password": "secret"}
    p = ConnectionPair(cfgs.client, cfgs.server)
    if stage >= 1:
        p.pump()
    if stage >= 2:
        p.client.accept_host_key()
        p.pump()
    return p


payload = st.tuples(st.integers(1, 255), st.binary(max_size=80)).map(lambda t: bytes([t[0]]) + t[1])


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(stage=st.integers(0, 2), payloads=st.lists(payload, min_size=1, max_size=4),
       to_server=st.booleans())
def test_random_payloads_only_raise_protocol_errors(test_registry, stage, payloads, to_server):
    p = fresh_pair(test_registry, stage)
    src, dst = (p.client, p.server) if to_server else (p.server, p.client)
    if stage == 0:
        dst.receive_data(src.data_to_send())  # version + KEXINIT only
    for pl in payloads:
        src._send_now(pl)
    try:
        dst.receive_data(src.data_to_send())
        while dst.next_event() is not None:
            pass
    except ProtocolError:
        assert dst.closed


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_as_first_data(data):
    from sshcore.registry import build_registry
    from sshcore.testing import plugin
    import sshcore_auth.hooks as auth
    from sshcore.connection import Connection

    reg = build_registry(plugins=[plugin, auth])
    for cfg in (pair_configs(reg).server, pair_configs(reg).client):
        conn = Connection(cfg)
        try:
            conn.receive_data(b"SSH-2.0-fuzz\r\n" + data)
        except ProtocolError:
            assert conn.closed
