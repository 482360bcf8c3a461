"""Key exchange computations per second, through the registered plugins (no network)."""

from __future__ import annotations

import time

KEX_METHODS = ["curve25519-sha256", "mlkem768x25519-sha256", "sntrup761x25519-sha512",
               "ecdh-sha2-nistp256", "diffie-hellman-group14-sha256"]


def kex_table(seconds: float = 1.0) -> None:
    """Key exchanges per second (the kex computation only, client and server side together,
    host key signature excluded), through the registered plugins."""
    from sshcore.interfaces import KexContext
    from sshcore.registry import default_registry

    reg = default_registry()

    def once(name: str) -> None:
        factory = reg.get("kex", name).factory
        base = dict(client_version=b"SSH-2.0-a", server_version=b"SSH-2.0-b",
                    client_kexinit=b"ci", server_kexinit=b"si")
        client = factory(KexContext(role="client", **base))
        server = factory(KexContext(role="server", host_key_blob=b"k", sign=lambda h: b"s", **base))
        msgs = client.start().send
        if not msgs:  # server speaks first (none here) or group exchange: skip
            return
        reply = None
        for m in msgs:
            step = server.receive(m)
            reply = step.send
        for m in reply or []:
            client.receive(m)

    print("Key exchange computations per second (client + server, one core):")
    base_rate = None
    for name in KEX_METHODS:
        count, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            once(name)
            count += 1
        rate = count / (time.perf_counter() - t0)
        base_rate = base_rate or rate
        print(f"  {name:<32} {rate:8.1f}/s  {1000 / rate:7.2f} ms  ({rate / base_rate:.2f}x curve25519)")
