"""Every registered kex, cipher, MAC and compression algorithm, forced alone on both ends,
against a real peer in both directions: OpenSSH where this OpenSSH still has the
algorithm, the asyncssh package otherwise.  A newly registered algorithm that neither
peer knows fails here, visibly.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading

import asyncssh
import pytest

import sshcore
from sshcore.registry import default_registry

pytestmark = pytest.mark.interop

SCRIPT = "echo out; echo err >&2; wc -c; exit 3"
PAYLOAD = "x" * 50_000

# family -> (our keyword, OpenSSH option, `ssh -Q` query, asyncssh keyword)
FAMILIES = {
    "kex": ("kex_algs", "KexAlgorithms", "kex", "kex_algs"),
    "cipher": ("encryption_algs", "Ciphers", "cipher", "encryption_algs"),
    "mac": ("mac_algs", "MACs", "mac", "mac_algs"),
    "compression": ("compression_algs", "Compression", None, "compression_algs"),
}


def openssh_supports(query: str | None, name: str) -> bool:
    if query is None:  # compression: OpenSSH does none and zlib@openssh.com
        return name in ("none", "zlib@openssh.com")
    out = subprocess.run(["ssh", "-Q", query], capture_output=True, text=True, timeout=30).stdout
    return name in out.split()


def cases():
    reg = default_registry()
    for family in FAMILIES:
        for name in reg.names(family):
            peer = "openssh" if openssh_supports(FAMILIES[family][2], name) else "asyncssh"
            yield pytest.param(family, name, peer, id=f"{family}-{name}-{peer}")


def forced(family: str, name: str) -> dict[str, list[str]]:
    """Our keyword arguments forcing the algorithm (and a cipher that needs a MAC for MACs)."""
    kw = {FAMILIES[family][0]: [name]}
    if family == "mac":
        kw["encryption_algs"] = ["aes128-ctr"]
    return kw


def openssh_options(family: str, name: str) -> dict[str, str]:
    opt = FAMILIES[family][1]
    if family == "compression":
        return {"Compression": "no" if name == "none" else "yes"}
    out = {opt: name}
    if family == "mac":
        out["Ciphers"] = "aes128-ctr"
    return out


def asyncssh_kwargs(family: str, name: str) -> dict[str, list[str]]:
    kw = {FAMILIES[family][3]: [name]}
    if family == "mac":
        kw["encryption_algs"] = ["aes128-ctr"]
    return kw


def go(coro):
    return asyncio.run(asyncio.wait_for(coro, 90))


async def our_client(port, keys, known_hosts, **algs):
    async with sshcore.connect("127.0.0.1", port, client_keys=[keys.user["ed25519"]],
                               known_hosts=known_hosts, **algs) as conn:
        result = await conn.run(SCRIPT, input=PAYLOAD)
        return result, conn.get_extra_info("algorithms")


class AsyncsshServer:
    """An asyncssh server in its own thread and loop, running SCRIPT's equivalent."""

    def __init__(self, keys, **algs):
        self.keys, self.algs = keys, algs
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    @staticmethod
    async def handle(process):
        data = await process.stdin.read()
        process.stdout.write(f"out\n{len(data)}\n")
        process.stderr.write("err\n")
        process.exit(3)

    def __enter__(self):
        self.thread.start()
        async def start():
            return await asyncssh.create_server(
                None, "127.0.0.1", 0, server_host_keys=[str(self.keys.host["ed25519"])],
                authorized_client_keys=str(self.keys.authorized_keys), process_factory=self.handle,
                **self.algs)
        self.server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(30)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def check(result):
    assert result.stdout == "out\n50000\n"
    assert result.stderr == "err\n"
    assert result.exit_status == 3


@pytest.mark.parametrize("family,name,peer", list(cases()))
def test_our_client_against_peer_server(family, name, peer, start_sshd, keys):
    if peer == "openssh":
        sshd = start_sshd(**openssh_options(family, name))
        result, algs = go(our_client(sshd.port, keys, str(sshd.known_hosts), **forced(family, name)))
    else:
        with AsyncsshServer(keys, **asyncssh_kwargs(family, name)) as srv:
            result, algs = go(our_client(srv.port, keys, None, **forced(family, name)))
    check(result)
    field = {"kex": "kex", "cipher": "enc_cs", "mac": "mac_cs", "compression": "comp_cs"}[family]
    assert algs[field] == name


@pytest.mark.parametrize("family,name,peer", list(cases()))
def test_peer_client_against_our_server(family, name, peer, keys, helpers):
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              authorized_client_keys=str(keys.authorized_keys),
                              **forced(family, name)) as srv:
        if peer == "openssh":
            r = helpers.run_ssh(srv.port, SCRIPT, identity=keys.user["ed25519"],
                                input=PAYLOAD.encode(),
                                options={"LogLevel": "DEBUG1", **openssh_options(family, name)})
            assert r.returncode == 3, r.stderr.decode(errors="replace")[-2000:]
            assert r.stdout == b"out\n50000\n"
            if family != "compression":
                assert name.encode() in r.stderr  # ssh -v names the negotiated algorithm
            return

        async def main():
            async with asyncssh.connect("127.0.0.1", srv.port, known_hosts=None,
                                        username=helpers.USER,
                                        client_keys=[str(keys.user["ed25519"])],
                                        **asyncssh_kwargs(family, name)) as conn:
                return await conn.run(SCRIPT, input=PAYLOAD)
        r = go(main())
        assert r.exit_status == 3 and r.stdout == "out\n50000\n" and r.stderr == "err\n"
