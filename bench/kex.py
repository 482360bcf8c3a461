"""Key exchange computations per second, through the registered plugins (no network)."""

from __future__ import annotations

import time
from typing import Any

KEX_METHODS = ["curve25519-sha256", "mlkem768x25519-sha256", "sntrup761x25519-sha512",
               "ecdh-sha2-nistp256", "diffie-hellman-group14-sha256"]


def _settle(step: Any) -> tuple[list[bytes], Any]:
    """(payloads to send, result) of a KexStep, its KexCompute work done inline as the
    kernel does without ``kex_offload`` (sntrup761's key pair, encapsulation, ...)."""
    send = list(step.send)
    while step.compute is not None:
        job = step.compute
        step = job.resume(job.fn(*job.args))
        send += step.send
    return send, step.result


def exchange(reg: Any, name: str) -> tuple[Any, Any]:
    """One key exchange ``name`` between a client and a server object, in memory: the
    (client, server) KexResults, None where the exchange is not a single round trip."""
    from sshcore.interfaces import KexContext

    factory = reg.get("kex", name).factory
    base = dict(client_version=b"SSH-2.0-a", server_version=b"SSH-2.0-b",
                client_kexinit=b"ci", server_kexinit=b"si")
    client = factory(KexContext(role="client", **base))
    server = factory(KexContext(role="server", host_key_blob=b"k", sign=lambda h: b"s", **base))
    msgs, _ = _settle(client.start())
    if not msgs:  # server speaks first (none here) or group exchange: skip
        return None, None
    reply: list[bytes] = []
    server_result = client_result = None
    for m in msgs:
        reply, server_result = _settle(server.receive(m))
    for m in reply:
        _, client_result = _settle(client.receive(m))
    return client_result, server_result


def kex_table(seconds: float = 1.0) -> None:
    """Key exchanges per second (the kex computation only, client and server side together,
    host key signature excluded), through the registered plugins."""
    from sshcore.registry import default_registry

    reg = default_registry()
    print("Key exchange computations per second (client + server, one core):")
    base_rate = None
    for name in KEX_METHODS:
        count, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            exchange(reg, name)
            count += 1
        rate = count / (time.perf_counter() - t0)
        base_rate = base_rate or rate
        print(f"  {name:<32} {rate:8.1f}/s  {1000 / rate:7.2f} ms  ({rate / base_rate:.2f}x curve25519)")
