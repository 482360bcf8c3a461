"""Our client against the real OpenSSH sshd, each algorithm forced alone on both sides."""

from __future__ import annotations

import asyncio

import pytest

import sshcore

pytestmark = pytest.mark.interop

SCRIPT = "echo out; echo err >&2; wc -c; exit 3"


def go(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def run_once(sshd, keys, identity="ed25519", known_hosts=None, **algs):
    async with sshcore.connect("127.0.0.1", sshd.port, username=None,
                               client_keys=[keys.user[identity]],
                               known_hosts=str(sshd.known_hosts) if known_hosts is None else known_hosts,
                               **algs) as conn:
        result = await conn.run(SCRIPT, input="x" * 100_000)
        return result, conn.get_extra_info("algorithms")


def check(result):
    assert result.stdout == "out\n100000\n"
    assert result.stderr == "err\n"
    assert result.exit_status == 3


KEX = ["curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256",
       "ecdh-sha2-nistp384", "ecdh-sha2-nistp521", "diffie-hellman-group14-sha256",
       "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512"]
CIPHERS = ["aes128-ctr", "aes192-ctr", "aes256-ctr", "aes128-gcm@openssh.com",
           "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"]
MACS = ["hmac-sha2-256", "hmac-sha2-512", "hmac-sha2-256-etm@openssh.com",
        "hmac-sha2-512-etm@openssh.com", "hmac-sha1", "hmac-sha1-etm@openssh.com"]
HOST_KEYS = ["ssh-ed25519", "rsa-sha2-256", "rsa-sha2-512", "ecdsa-sha2-nistp256"]


@pytest.mark.parametrize("kex", KEX)
def test_kex(start_sshd, keys, kex):
    sshd = start_sshd(KexAlgorithms=kex)
    result, algs = go(run_once(sshd, keys, kex_algs=[kex]))
    check(result)
    assert algs["kex"] == kex
    assert f"kex: algorithm: {kex}" in sshd.log.read_text()


def test_sntrup761_with_a_process_pool_fans_out(start_sshd, keys):
    """kex_executor: sntrup761's key generation and decapsulation run in the pool, for
    several connections to sshd at once, each completing its exchange."""
    import concurrent.futures

    kex = "sntrup761x25519-sha512@openssh.com"
    sshd = start_sshd(KexAlgorithms=kex)

    class Pool(concurrent.futures.ProcessPoolExecutor):
        submitted = 0

        def submit(self, fn, /, *args, **kwargs):
            self.submitted += 1
            return super().submit(fn, *args, **kwargs)

    async def main(pool):
        return await asyncio.gather(*(run_once(sshd, keys, kex_algs=[kex], kex_executor=pool)
                                      for _ in range(4)))
    with Pool(2) as pool:
        results = go(main(pool))
    for result, algs in results:
        check(result)
        assert algs["kex"] == kex
    assert pool.submitted == 4 * 2  # each client's key pair and decapsulation


@pytest.mark.parametrize("cipher", CIPHERS)
def test_cipher(start_sshd, keys, cipher):
    sshd = start_sshd(Ciphers=cipher)
    result, algs = go(run_once(sshd, keys, encryption_algs=[cipher]))
    check(result)
    assert algs["enc_cs"] == algs["enc_sc"] == cipher
    assert f"client->server cipher: {cipher}" in sshd.log.read_text()


@pytest.mark.parametrize("mac", MACS)
def test_mac(start_sshd, keys, mac):
    sshd = start_sshd(Ciphers="aes128-ctr", MACs=mac)
    result, algs = go(run_once(sshd, keys, encryption_algs=["aes128-ctr"], mac_algs=[mac]))
    check(result)
    assert algs["mac_cs"] == algs["mac_sc"] == mac
    assert f"MAC: {mac}" in sshd.log.read_text()


@pytest.mark.parametrize("host_key", HOST_KEYS)
def test_host_key_algorithm(start_sshd, keys, host_key):
    sshd = start_sshd(HostKeyAlgorithms=host_key)
    result, algs = go(run_once(sshd, keys, server_host_key_algs=[host_key]))
    check(result)
    assert algs["host_key"] == host_key


@pytest.mark.parametrize("identity,alg", [("ed25519", "ssh-ed25519"), ("rsa", "rsa-sha2-256"),
                                          ("rsa", "rsa-sha2-512"), ("ecdsa", "ecdsa-sha2-nistp256")])
def test_user_key(start_sshd, keys, identity, alg):
    sshd = start_sshd(PubkeyAcceptedAlgorithms=alg)
    result, _ = go(run_once(sshd, keys, identity=identity))
    check(result)
    assert f"Accepted publickey for" in sshd.log.read_text()
    assert alg.upper().split("-")[0] in sshd.log.read_text().upper()


def test_delayed_compression(start_sshd, keys):
    sshd = start_sshd(Compression="yes")
    result, algs = go(run_once(sshd, keys, compression_algs=["zlib@openssh.com"]))
    check(result)
    assert algs["comp_cs"] == "zlib@openssh.com"


def test_interactive_process(start_sshd, keys):
    sshd = start_sshd()

    async def main():
        async with sshcore.connect("127.0.0.1", sshd.port, client_keys=[keys.user["ed25519"]],
                                   known_hosts=str(sshd.known_hosts)) as conn:
            proc = await conn.create_process("cat")
            for i in range(5):
                proc.stdin.write(f"line {i}\n")
                assert await proc.stdout.readline() == f"line {i}\n"
            proc.stdin.write_eof()
            done = await proc.wait()
            assert done.exit_status == 0
            # several sessions at once on one connection
            results = await asyncio.gather(*(conn.run(f"echo {i}") for i in range(10)))
            assert [r.stdout for r in results] == [f"{i}\n" for i in range(10)]
    go(main())


def test_environment_is_passed(start_sshd, keys):
    sshd = start_sshd()

    async def main():
        async with sshcore.connect("127.0.0.1", sshd.port, client_keys=[keys.user["ed25519"]],
                                   known_hosts=str(sshd.known_hosts)) as conn:
            r = await conn.run("echo $SSHCORE_TEST", env={"SSHCORE_TEST": "hello env"})
            assert r.stdout == "hello env\n"
    go(main())


def test_host_key_mismatch_is_refused(start_sshd, keys, tmp_path):
    sshd = start_sshd()
    wrong = tmp_path / "known_hosts"
    other = (keys.dir / "user_ed25519.pub").read_text()
    wrong.write_text(f"[127.0.0.1]:{sshd.port} {other}")
    with pytest.raises(sshcore.HostKeyNotVerifiableError,
                       match=rf"mismatch: the server sent ssh-ed25519 SHA256:\S+, but {wrong} line 1"):
        go(run_once(sshd, keys, known_hosts=str(wrong)))


def test_unknown_host_is_refused(start_sshd, keys, tmp_path):
    sshd = start_sshd()
    with pytest.raises(sshcore.HostKeyNotVerifiableError, match=f"not in {tmp_path / 'empty'}"):
        go(run_once(sshd, keys, known_hosts=str(tmp_path / "empty")))


def test_wrong_key_is_permission_denied(start_sshd, keys, tmp_path, helpers):
    sshd = start_sshd()
    stranger = helpers.keygen(tmp_path / "stranger", "ed25519")

    async def main():
        await sshcore.connect("127.0.0.1", sshd.port, client_keys=[stranger],
                              known_hosts=str(sshd.known_hosts))
    with pytest.raises(sshcore.PermissionDeniedError):
        go(main())


def test_no_common_cipher_names_both_lists(start_sshd, keys):
    sshd = start_sshd(Ciphers="aes256-ctr")
    with pytest.raises(sshcore.SSHError, match="aes128-ctr"):
        go(run_once(sshd, keys, encryption_algs=["aes128-ctr"]))
