"""Jump hosts: a connection carried through other connections' direct-tcpip channels,
proven with three real sshd instances chained on loopback (ProxyJump / -J)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

import sshcore

pytestmark = pytest.mark.interop


def go(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


@pytest.fixture
def chain(start_sshd):
    # three distinct sshd processes (the fixture caches by options)
    return start_sshd(), start_sshd(MaxAuthTries="7"), start_sshd(MaxAuthTries="8")


def known(*sshds):
    return [str(s.known_hosts) for s in sshds]


def test_two_hop_proxyjump_string(chain, keys):
    a, b, c = chain

    async def main():
        async with sshcore.connect("127.0.0.1", c.port, client_keys=[str(keys.user["ed25519"])],
                                   known_hosts=known(a, b, c),
                                   tunnel=f"127.0.0.1:{a.port},127.0.0.1:{b.port}") as conn:
            r = await conn.run("echo through; echo $SSH_CONNECTION")
            hops = conn._hops
            assert len(hops) == 2 and not any(h.is_closed for h in hops)
        await asyncio.wait_for(asyncio.gather(*(h.wait_closed() for h in hops)), 10)
        return r.stdout

    out = go(main())
    assert out.startswith("through\n127.0.0.1 ")
    assert f"127.0.0.1 {c.port}" in out.splitlines()[1]  # C sees the connection arrive from B
    assert f"target 127.0.0.1 port {b.port}" in a.log.read_text()  # A opened the way to B
    assert f"target 127.0.0.1 port {c.port}" in b.log.read_text()  # B opened the way to C


def test_tunnel_through_an_open_connection_and_refusal(chain, keys, start_sshd):
    a, _, c = chain
    closed = start_sshd(AllowTcpForwarding="no")

    async def main():
        async with sshcore.connect("127.0.0.1", a.port, client_keys=[str(keys.user["ed25519"])],
                                   known_hosts=known(a)) as jump:
            async with sshcore.connect("127.0.0.1", c.port, client_keys=[str(keys.user["ed25519"])],
                                       known_hosts=known(c), tunnel=jump) as conn:
                out = (await conn.run("echo via jump")).stdout
            assert not jump.is_closed  # a caller's tunnel is not closed for it
        async with sshcore.connect("127.0.0.1", closed.port, client_keys=[str(keys.user["ed25519"])],
                                   known_hosts=known(closed)) as refusing:
            with pytest.raises(sshcore.ChannelOpenError):
                await sshcore.connect("127.0.0.1", c.port, client_keys=[str(keys.user["ed25519"])],
                                      known_hosts=known(c), tunnel=refusing)
        return out

    assert go(main()) == "via jump\n"


def test_cli_dash_J(chain, keys, tmp_path):
    a, b, c = chain
    kh = tmp_path / "known_hosts"
    kh.write_text("".join(s.known_hosts.read_text() for s in chain))
    r = subprocess.run([sys.executable, "-m", "sshcore", "run", "-p", str(c.port), "-i",
                        str(keys.user["ed25519"]), "--known-hosts", str(kh),
                        "-J", f"127.0.0.1:{a.port},127.0.0.1:{b.port}", "127.0.0.1", "echo jumped"],
                       capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout) == (0, "jumped\n"), r.stderr
    bad = subprocess.run([sys.executable, "-m", "sshcore", "run", "-i", str(keys.user["ed25519"]),
                          "--known-hosts", str(kh), "-J", "127.0.0.1:notaport", "127.0.0.1", "true"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 255 and "bad jump host" in bad.stderr
