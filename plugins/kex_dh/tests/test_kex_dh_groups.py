"""Fixed-group and group-exchange DH: agreement, value checks, the primes themselves."""

from __future__ import annotations

from decimal import Decimal, getcontext

import pytest
from Crypto.Util.number import isPrime

from sshcore.wire import byte, mpint, uint32
from sshcore.errors import KeyExchangeError
from sshcore.interfaces import KexContext
from sshcore_kex_dh import hooks
from sshcore_kex_dh._gex import choose_group, load_moduli
from sshcore_kex_dh._groups import GROUPS

DESCS = {d.name: d for d in hooks.sshcore_kex_algorithms()}


def ctx(role):
    return KexContext(role, b"SSH-2.0-c", b"SSH-2.0-s", b"\x14ci", b"\x14si",
                      host_key_blob=b"HOSTKEY" if role == "server" else b"",
                      sign=(lambda h: b"SIG" + h) if role == "server" else None)


@pytest.mark.parametrize("name", sorted(DESCS))
def test_client_and_server_agree(name):
    d = DESCS[name]
    client, server = d.factory(ctx("client")), d.factory(ctx("server"))
    server.start()
    msgs, result_c, result_s = client.start().send, None, None
    for _ in range(4):
        nxt = []
        for m in msgs:
            step = server.receive(m)
            result_s = step.result or result_s
            for reply in step.send:
                cstep = client.receive(reply)
                result_c = cstep.result or result_c
                nxt += cstep.send
        msgs = nxt
        if result_c and result_s:
            break
    assert result_c.shared_secret == result_s.shared_secret
    assert result_c.exchange_hash == result_s.exchange_hash


def _pi(bits):
    getcontext().prec = int(bits * 0.302) + 40

    def atan_inv(x):
        x = Decimal(x)
        total = term = 1 / x
        n, sign = 1, -1
        while True:
            term /= x * x
            n += 2
            if term / n < Decimal(10) ** (-getcontext().prec):
                return total
            total += sign * term / n
            sign = -sign
    return 16 * atan_inv(5) - 4 * atan_inv(239)


@pytest.mark.parametrize("group", ["group1", "group14", "group16"])
def test_primes_match_rfc_formula(group):
    bits, k, p = GROUPS[group]
    pi = _pi(bits)
    assert p == 2**bits - 2**(bits - 64) - 1 + 2**64 * (int(pi * Decimal(2) ** (bits - 130)) + k)


def test_group14_is_a_safe_prime():
    p = GROUPS["group14"][2]
    assert isPrime(p) and isPrime((p - 1) // 2)


@pytest.mark.parametrize("e", [0, 1, -1, "p-1", "p"])
def test_out_of_range_public_values_rejected(e):
    p = GROUPS["group14"][2]
    value = {"p-1": p - 1, "p": p}.get(e, e)
    server = DESCS["diffie-hellman-group14-sha256"].factory(ctx("server"))
    with pytest.raises(KeyExchangeError, match="out of range"):
        server.receive(byte(30) + mpint(value))


def test_gex_honours_min_n_max():
    moduli = load_moduli()
    assert moduli and all(isinstance(g, int) for _, g, _ in moduli)
    p, _ = choose_group(moduli, 2048, 4096, 8192)
    assert p.bit_length() == 4096
    p, _ = choose_group(moduli, 3000, 3072, 3100)
    assert p.bit_length() == 3072
    with pytest.raises(KeyExchangeError):
        choose_group(moduli, 9000, 9000, 9999)


def test_gex_server_refuses_bad_request_and_client_refuses_small_group():
    server = DESCS["diffie-hellman-group-exchange-sha256"].factory(ctx("server"))
    server.start()
    with pytest.raises(KeyExchangeError):
        server.receive(byte(34) + uint32(4096) + uint32(2048) + uint32(8192))  # n < min
    client = DESCS["diffie-hellman-group-exchange-sha256"].factory(ctx("client"))
    client.start()
    with pytest.raises(KeyExchangeError, match="outside"):
        client.receive(byte(31) + mpint(GROUPS["group1"][2]) + mpint(2))  # 1024 bits < 2048
