"""The six family checks of the conformance kit and the scenarios they share."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import (DisconnectError, DisconnectReason, KeyExchangeError, MACError,
                      PermissionDeniedError, ProtocolError)
from . import _units
from ._corrupt import corrupting_registry
from ._hostile import hostile_client, hostile_server
from ._openssh import OpenSSH, openssh_names
from ._session import (PASSWORD, USER, Peers, Recorder, client_kwargs, describe, echo_transfer,
                       expect_refusal, run_loop, serve)

#: Bytes moved each way by default (16 MiB).
DEFAULT_SIZE = 16 * 1024 * 1024
#: Seconds one scenario may take.
SCENARIO_TIMEOUT = 240.0


@dataclass(frozen=True)
class _Family:
    registry: str          # the registry family
    ours: str              # connect()/listen() keyword forcing it
    openssh: str | None    # ssh/sshd option forcing it
    fields: tuple[str, ...]  # fields of get_extra_info("algorithms") that must equal it


FAMILIES = {
    "cipher": _Family("cipher", "encryption_algs", "Ciphers", ("enc_cs", "enc_sc")),
    "mac": _Family("mac", "mac_algs", "MACs", ("mac_cs", "mac_sc")),
    "kex": _Family("kex", "kex_algs", "KexAlgorithms", ("kex",)),
    "compression": _Family("compression", "compression_algs", None, ("comp_cs", "comp_sc")),
    "host_key": _Family("signature", "server_host_key_algs", "HostKeyAlgorithms",
                        ("host_key",)),
    "auth": _Family("auth", "preferred_auth", "PreferredAuthentications", ()),
}
#: Compression methods sshd negotiates (``ssh -Q compression`` lists the client's).
SSHD_COMPRESSION = frozenset({"none", "zlib@openssh.com"})


@dataclass
class Report:
    """What one check ran (``ran``: scenario descriptions, in order)."""

    family: str
    name: str
    provider: str
    ran: list[str] = field(default_factory=list)
    vectors: int = 0

    def __str__(self) -> str:
        return (f"{self.family} {self.name} ({self.provider}): "
                + "; ".join(self.ran))


@dataclass
class AuthSetup:
    """How to make an auth method succeed and fail, for :func:`check_auth_method`.

    The kit knows ``publickey``, ``password`` and ``keyboard-interactive``; a plugin's
    own method passes one of these.

    :ivar client_options: :func:`sshcore.connect` keywords with which it succeeds
        (``auth_credentials``, ...).
    :ivar server_options: :func:`sshcore.listen` keywords for a server accepting them
        (a ``server_factory`` whose ``validate_auth`` decides, ...).
    :ivar bad_client_options: keywords with which it must be refused (None: not checked).
    :ivar ssh_options, ssh_env: OpenSSH ``ssh -o`` options and environment with which it
        succeeds against an sshcore server (None: OpenSSH does not speak it).
    :ivar sshd_options: sshd_config keywords with which sshd accepts ``client_options``
        (None: not checked against sshd).
    """

    client_options: Mapping[str, Any] = field(default_factory=dict)
    server_options: Mapping[str, Any] = field(default_factory=dict)
    bad_client_options: Mapping[str, Any] | None = None
    ssh_options: Mapping[str, str] | None = None
    ssh_env: Mapping[str, str] = field(default_factory=dict)
    sshd_options: Mapping[str, str] | None = None


# --------------------------------------------------------------------------- set-up


def _registry(family: str, name: str, provider: str | None, registry: Any) -> tuple[Any, Any]:
    from ..registry import connection_registry

    fam = FAMILIES[family].registry
    reg = connection_registry(registry, implementations={name: provider} if provider else None)
    if name not in reg.names(fam):
        raise AssertionError(f"{family} algorithm {name!r} is not registered (registered: "
                             f"{', '.join(reg.names(fam)) or 'none'}); is its plugin installed?")
    return reg, reg.get(fam, name)


def _provider(reg: Any, family: str, name: str) -> str:
    return reg.provider(FAMILIES[family].registry, name)


def _stream_pair(reg: Any) -> tuple[str, str]:
    """A non-AEAD cipher and a non-EtM MAC, both enabled, OpenSSH-known if possible."""
    ciphers = [d.name for d in reg.all("cipher") if not d.aead and d.name != "none"
               and d.enabled_by_default]
    macs = [d.name for d in reg.all("mac") if not d.etm and d.enabled_by_default]
    cipher = "aes128-ctr" if "aes128-ctr" in ciphers else (ciphers or [""])[0]
    mac = "hmac-sha2-256" if "hmac-sha2-256" in macs else (macs or [""])[0]
    if not cipher or not mac:
        raise AssertionError("conformance kit: needs a non-AEAD cipher and a non-EtM MAC "
                             "installed (sshcore-ciphers, sshcore-macs)")
    return cipher, mac


def _default_host_key(env: OpenSSH, reg: Any) -> Any:
    from ..files.keys import read_private_key

    return read_private_key(env.host_key("ssh-ed25519"), registry=reg)


def _env(openssh: OpenSSH | None) -> tuple[OpenSSH, bool]:
    return (openssh, False) if openssh is not None else (OpenSSH(), True)


def _pin(key: Any) -> Any:
    blob = key.public_blob
    return lambda host, port, k: k.public_blob == blob


def _known_line(port: int, key: Any) -> str:
    return f"[127.0.0.1]:{port} {key.key_type} {base64.b64encode(key.public_blob).decode()}\n"


# --------------------------------------------------------------------------- scenarios


def _negotiated(conn: Any, fields: Iterable[str], name: str, what: str) -> None:
    algs = conn.get_extra_info("algorithms") or {}
    for f in fields:
        assert algs.get(f) == name, f"{what}: negotiated {f}={algs.get(f)!r}, not {name!r}"


def _rekeys(size: int) -> int:
    return max(size // 4, 128 * 1024)


def _expect_rekeys(count: int, size: int, what: str) -> None:
    if size >= 2 * _rekeys(size):
        assert count >= 2, (f"{what}: {count} key exchange(s) for {size} bytes each way with "
                            f"rekey_bytes={_rekeys(size)}; expected a rekey mid-stream")


async def _ours_vs_ours(p: Peers, fields: Iterable[str], name: str, size: int) -> None:
    from .. import connect

    what = "sshcore client <-> sshcore server"
    async with await serve(p) as server:
        async with connect("127.0.0.1", server.port,
                           **client_kwargs(p, rekey_bytes=_rekeys(size))) as conn:
            _negotiated(conn, fields, name, what)
            await echo_transfer(conn, size, what)
            _expect_rekeys(conn.statistics().get("key_exchanges", 0), size, what)


async def _ours_vs_sshd(p: Peers, env: OpenSSH, sshd_options: Mapping[str, str],
                        host_keys: list[Path] | None, fields: Iterable[str], name: str,
                        size: int) -> None:
    from .. import connect

    what = "sshcore client -> OpenSSH sshd"
    sshd = env.start_sshd(sshd_options, host_keys=host_keys)
    try:
        kw = client_kwargs(p, rekey_bytes=_rekeys(size), username=env.user,
                           known_hosts=str(sshd.known_hosts))
        try:
            async with connect("127.0.0.1", sshd.port, **kw) as conn:
                _negotiated(conn, fields, name, what)
                await echo_transfer(conn, size, what)
                _expect_rekeys(conn.statistics().get("key_exchanges", 0), size, what)
        except (ProtocolError, OSError) as exc:
            raise AssertionError(f"{what}: {describe(exc)}\nsshd log:\n{sshd.log_tail()}") \
                from exc
    finally:
        env.stop(sshd)


async def _ssh_vs_ours(p: Peers, env: OpenSSH, ssh_options: Mapping[str, str],
                       ssh_env: Mapping[str, str], name: str, size: int,
                       expect_in_log: bool = True) -> None:
    what = "OpenSSH ssh -> sshcore server"
    data = os.urandom(size)
    async with await serve(p, rekey_bytes=_rekeys(size)) as server:
        known = env.dir / f"known_hosts_{server.port}"
        known.write_text(_known_line(server.port, p.host_key))
        args = env.ssh_args(server.port, "cat", ssh_options, known_hosts=known)
        rc, out, err = await env.run_ssh(args, data, env=ssh_env)
    log = err.decode(errors="replace")
    assert rc == 0, f"{what}: ssh exited with {rc}:\n{log[-3000:]}"
    assert len(out) == size and out == data, \
        f"{what}: sent {size} bytes, {len(out)} came back" + ("" if len(out) != size
                                                              else " (different bytes)")
    if expect_in_log:
        lines = [ln for ln in log.splitlines() if "kex: " in ln or "Authenticated" in ln]
        assert any(name in ln for ln in lines), \
            f"{what}: ssh's log does not show {name!r} negotiated:\n" + "\n".join(lines)
    if size >= 2 * _rekeys(size):
        kexinits = log.count("SSH2_MSG_KEXINIT sent")
        assert kexinits >= 2, f"{what}: ssh sent {kexinits} KEXINIT(s); expected rekeys"


async def _corruption(p: Peers, family: str, desc: Any) -> list[str]:
    """A corrupted packet, each way: the receiving side ends the connection with
    MAC_ERROR (its own MACError, and the DISCONNECT the other side gets)."""
    from .. import connect

    ran = []
    for corrupter in ("client", "server"):
        what = f"a corrupted packet from the {corrupter} (sshcore <-> sshcore)"
        extra: dict[str, Any] = {}
        cipher = None
        if family not in ("cipher", "mac"):  # the wire is the negotiated cipher's
            cipher = p.registry.expand("cipher", None)[0]
            if not p.registry.get("cipher", cipher).aead:
                cipher, mac = _stream_pair(p.registry)
                extra = {"encryption_algs": [cipher], "mac_algs": [mac]}
        bad_reg, trigger = corrupting_registry(p.registry, family, desc, cipher)
        p2 = replace(p, client_options={**p.client_options, **extra},
                     server_options={**p.server_options, **extra})
        rec = Recorder()
        server_reg = bad_reg if corrupter == "server" else None
        client_reg = bad_reg if corrupter == "client" else None
        async with await serve(p2, registry=server_reg, server_factory=rec.server) as server:
            conn = await connect("127.0.0.1", server.port,
                                 **client_kwargs(p2, registry=client_reg,
                                                 client_factory=rec.client))
            trigger.armed = True
            with contextlib.suppress(Exception):
                await echo_transfer(conn, 8192, what)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), 20)
            for _ in range(100):
                if rec.server_errors:
                    break
                await asyncio.sleep(0.05)
        assert trigger.fired, f"{what}: the kit found no packet to corrupt"
        receiver, sender = ("server", "client") if corrupter == "client" else ("client", "server")
        got = {"client": rec.client_errors[:1], "server": rec.server_errors[:1]}
        mine = got[receiver][0] if got[receiver] else None
        theirs = got[sender][0] if got[sender] else None
        assert isinstance(mine, MACError), (f"{what}: the {receiver} ended with "
                                            f"{describe(mine)}, expected MACError")
        assert (isinstance(theirs, DisconnectError)
                and theirs.code == DisconnectReason.MAC_ERROR), (
            f"{what}: the {sender} ended with {describe(theirs)}; expected the {receiver}'s "
            f"DISCONNECT with reason MAC_ERROR (5)")
        ran.append(f"corrupted packet from the {corrupter}: MAC_ERROR")
    return ran


def _malformations() -> list[tuple[str, Any]]:
    return [("truncated", lambda m: m[:max(1, len(m) // 2)]),
            ("random body", lambda m: m[:1] + os.urandom(max(len(m) - 1, 8)))]


async def _kex_failures(p: Peers, kex: str, host_key_alg: str | None) -> list[str]:
    """Malformed kex messages both ways and a wrong host-key signature."""
    from .. import connect

    ran = []
    reg, key = p.registry, p.host_key
    # The control: unbroken, the hostile server's exchange reaches NEWKEYS.
    async with hostile_server(reg, kex, key, host_key_alg) as (port, peers):
        with contextlib.suppress(ProtocolError, OSError, TimeoutError):
            conn = await connect("127.0.0.1", port, **client_kwargs(p, connect_timeout=10))
            conn.close()
    assert peers and peers[0].reached_newkeys, (
        "kex failure paths: the kit's hostile server could not complete an unbroken "
        f"{kex} exchange with sshcore's client (check the kex against sshcore first)")
    cases: list[tuple[str, dict[str, Any]]] = [
        (f"malformed reply ({label})", {"mutate": fn}) for label, fn in _malformations()]
    cases.append(("host-key signature over the wrong data", {"bad_signer": True}))
    for label, options in cases:
        what = f"sshcore client given a {label}"
        async with hostile_server(reg, kex, key, host_key_alg, **options) as (port, peers):
            exc = await expect_refusal(connect("127.0.0.1", port,
                                               **client_kwargs(p, connect_timeout=20)),
                                       what, (ProtocolError,))
        assert isinstance(exc, KeyExchangeError) or (
            getattr(exc, "reason", None) == DisconnectReason.HOST_KEY_NOT_VERIFIABLE
            and options.get("bad_signer")), (
            f"{what}: failed with {describe(exc)}; expected a KeyExchangeError "
            f"(reason KEY_EXCHANGE_FAILED)")
        assert peers and (peers[0].sent_mutated or options.get("bad_signer")), \
            f"{what}: the kit did not get to send it"
        code = peers[0].disconnect_code
        assert code == int(exc.reason), (
            f"{what}: the client's DISCONNECT carried reason {code}, not {int(exc.reason)}")
        ran.append(f"{label}: refused ({exc.reason.name})")
    async with await serve(p) as server:
        for label, fn in _malformations():
            what = f"sshcore server given a malformed kex init ({label})"
            peer = await hostile_client(server.port, reg, kex, mutate=fn,
                                        host_key_alg=host_key_alg)
            assert peer.sent_mutated, f"{what}: the kit did not get to send it"
            assert peer.disconnect_code == DisconnectReason.KEY_EXCHANGE_FAILED, (
                f"{what}: the server's DISCONNECT reason was {peer.disconnect_code}, expected "
                f"KEY_EXCHANGE_FAILED (3)")
            ran.append(f"server given a {label} init: KEY_EXCHANGE_FAILED")
    return ran


# --------------------------------------------------------------------------- the checks


def _check(family: str, name: str, provider: str | None, *, vectors: Any, size: int,
           openssh: OpenSSH | None, registry: Any, units: Any, openssh_size: int | None,
           our_options: Mapping[str, Any], openssh_client: Mapping[str, str] | None,
           openssh_server: Mapping[str, str] | None, host_key: Any = None,
           sshd_host_keys: list[Path] | None = None, corrupt: bool = False,
           kex_failures: str | None = None, host_key_alg: str | None = None,
           auth: AuthSetup | None = None, expect_in_log: bool = True) -> Report:
    reg, desc = _registry(family, name, provider, registry)
    report = Report(family, name, _provider(reg, family, name))
    ext = size if openssh_size is None else openssh_size
    if units is not None:
        units(desc)
        report.ran.append("descriptor objects (round trips, tampering)")
    report.vectors = _units.run_vectors(family, desc, vectors)
    if report.vectors:
        report.ran.append(f"{report.vectors} known-answer vector(s)")
    env, owned = _env(openssh)
    try:
        from ..files.keys import read_private_key

        user_key = read_private_key(env.user_key, registry=reg)
        hk = host_key if host_key is not None else _default_host_key(env, reg)
        server_opts = {"authorized_client_keys": str(env.authorized_keys),
                       "passwords": {USER: PASSWORD, env.user: PASSWORD}, **our_options}
        client_opts = dict(our_options)
        if auth is not None:
            server_opts.update(auth.server_options)
            client_opts.update(auth.client_options)
        p = Peers(reg, hk, user_key, _pin(hk), client_opts, server_opts)
        fields = FAMILIES[family].fields

        def scenario(coro: Any, what: str) -> None:
            run_loop(coro, SCENARIO_TIMEOUT, f"{family} {name}: {what}")
            report.ran.append(what)

        scenario(_ours_vs_ours(p, fields, name, size),
                 f"sshcore <-> sshcore, {size} bytes each way, rekeyed")
        if openssh_server is not None:
            scenario(_ours_vs_sshd(p, env, openssh_server, sshd_host_keys, fields, name, ext),
                     f"sshcore -> sshd, {ext} bytes each way, rekeyed")
        if openssh_client is not None:
            scenario(_ssh_vs_ours(p, env, openssh_client, auth.ssh_env if auth else {}, name,
                                  ext, expect_in_log),
                     f"ssh -> sshcore, {ext} bytes each way, rekeyed")
        if corrupt:
            report.ran += run_loop(_corruption(p, family, desc), SCENARIO_TIMEOUT,
                                   f"{family} {name}: corrupted packets")
        if kex_failures is not None:
            report.ran += run_loop(_kex_failures(p, kex_failures, host_key_alg),
                                   SCENARIO_TIMEOUT, f"{family} {name}: kex failure paths")
        if auth is not None and auth.bad_client_options is not None:
            bad = replace(p, client_options={**client_opts, **auth.bad_client_options})

            async def refused() -> None:
                from .. import connect

                async with await serve(p) as server:
                    await expect_refusal(connect("127.0.0.1", server.port,
                                                 **client_kwargs(bad)),
                                         f"auth {name} with wrong credentials",
                                         (PermissionDeniedError,))
            scenario(refused(), "wrong credentials refused by sshcore server")
    finally:
        if owned:
            env.close()
    return report


def check_cipher(name: str, provider: str | None = None, *, vectors: Any = None,
                 size: int = DEFAULT_SIZE, openssh_size: int | None = None,
                 openssh: OpenSSH | None = None,
                 registry: Any = None) -> Report:
    """Check the cipher ``name`` (see the module docstring of :mod:`sshcore.conformance`)."""
    reg, desc = _registry("cipher", name, provider, registry)
    ours: dict[str, Any] = {"encryption_algs": [name]}
    if not desc.aead:
        ours["mac_algs"] = [_stream_pair(reg)[1]]
    known = name in openssh_names("cipher")
    opts = {"Ciphers": name, **({"MACs": ours["mac_algs"][0]} if "mac_algs" in ours else {})}
    return _check("cipher", name, provider, vectors=vectors, size=size,
                  openssh_size=openssh_size, openssh=openssh,
                  registry=registry, units=_units.cipher_units, our_options=ours,
                  openssh_client=opts if known else None,
                  openssh_server=opts if known else None, corrupt=True)


def check_mac(name: str, provider: str | None = None, *, vectors: Any = None,
              size: int = DEFAULT_SIZE, openssh_size: int | None = None,
              openssh: OpenSSH | None = None,
              registry: Any = None) -> Report:
    """Check the MAC ``name`` (paired with a non-AEAD cipher, ``aes128-ctr`` if present)."""
    reg, _ = _registry("mac", name, provider, registry)
    cipher = _stream_pair(reg)[0]
    ours = {"mac_algs": [name], "encryption_algs": [cipher]}
    known = name in openssh_names("mac") and cipher in openssh_names("cipher")
    opts = {"MACs": name, "Ciphers": cipher}
    return _check("mac", name, provider, vectors=vectors, size=size,
                  openssh_size=openssh_size, openssh=openssh,
                  registry=registry, units=_units.mac_units, our_options=ours,
                  openssh_client=opts if known else None,
                  openssh_server=opts if known else None, corrupt=True)


def check_compression(name: str, provider: str | None = None, *, vectors: Any = None,
                      size: int = DEFAULT_SIZE, openssh_size: int | None = None,
                      openssh: OpenSSH | None = None,
                      registry: Any = None) -> Report:
    """Check the compression method ``name``."""
    ours = {"compression_algs": [name]}
    known = name in openssh_names("compression")
    opts = {"Compression": "no" if name == "none" else "yes"}
    return _check("compression", name, provider, vectors=vectors, size=size,
                  openssh_size=openssh_size, openssh=openssh,
                  registry=registry, units=_units.compression_units, our_options=ours,
                  openssh_client=opts if known else None,
                  openssh_server=opts if known and name in SSHD_COMPRESSION else None,
                  corrupt=True)


def check_kex(name: str, provider: str | None = None, *, vectors: Any = None,
              size: int = DEFAULT_SIZE, openssh_size: int | None = None,
              openssh: OpenSSH | None = None,
              registry: Any = None) -> Report:
    """Check the key exchange ``name``: interop, rekeys, and its failure paths."""
    ours = {"kex_algs": [name]}
    known = name in openssh_names("kex")
    opts = {"KexAlgorithms": name}
    return _check("kex", name, provider, vectors=vectors, size=size,
                  openssh_size=openssh_size, openssh=openssh,
                  registry=registry, units=None, our_options=ours,
                  openssh_client=opts if known else None,
                  openssh_server=opts if known else None, kex_failures=name)


def check_host_key(name: str, provider: str | None = None, *, vectors: Any = None,
                   size: int = DEFAULT_SIZE, openssh_size: int | None = None,
                   openssh: OpenSSH | None = None,
                   registry: Any = None, key: Any = None) -> Report:
    """Check the host key (signature) algorithm ``name`` with a new key of its type
    (``key``: a private key to use instead), including a signature over the wrong data."""
    reg, desc = _registry("host_key", name, provider, registry)
    env, owned = _env(openssh)
    try:
        from ..files.keys import generate_private_key, read_private_key

        path = None
        if key is None and env.knows_key_type(desc.key_type):
            path = env.host_key(desc.key_type)
            key = read_private_key(path, registry=reg)
        elif key is None:
            key = generate_private_key(desc.key_type, registry=reg)
        ours = {"server_host_key_algs": [name]}
        known = name in openssh_names("host_key") and path is not None
        return _check("host_key", name, provider, vectors=vectors, size=size,
                      openssh_size=openssh_size, openssh=env,
                      registry=registry, units=lambda d: _units.host_key_units(d, key),
                      our_options=ours, host_key=key,
                      openssh_client={"HostKeyAlgorithms": name} if known else None,
                      openssh_server={"HostKeyAlgorithms": name} if known else None,
                      sshd_host_keys=[path] if path is not None else None,
                      kex_failures=_default_kex(reg), host_key_alg=name)
    finally:
        if owned:
            env.close()


def _default_kex(reg: Any) -> str:
    names = reg.expand("kex", None)
    return "curve25519-sha256" if "curve25519-sha256" in names else names[0]


def _askpass(env: OpenSSH) -> dict[str, str]:
    script = env.dir / "askpass.sh"
    script.write_text(f"#!/bin/sh\necho '{PASSWORD}'\n")
    script.chmod(0o700)
    return {"SSH_ASKPASS": str(script), "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"}


def _builtin_auth(name: str, env: OpenSSH) -> AuthSetup:
    if name == "publickey":
        from ..files.keys import generate_private_key

        stranger = generate_private_key("ssh-ed25519")
        return AuthSetup(client_options={"password": None},
                         server_options={"auth_methods": ["publickey"]},
                         bad_client_options={"client_keys": [stranger]},
                         ssh_options={"PreferredAuthentications": "publickey",
                                      "BatchMode": "yes"},
                         sshd_options={"AuthenticationMethods": "publickey"})
    if name in ("password", "keyboard-interactive"):
        ssh = {"PreferredAuthentications": name, "PubkeyAuthentication": "no",
               "BatchMode": "no", "NumberOfPasswordPrompts": "1"}
        return AuthSetup(client_options={"client_keys": []},
                         server_options={"auth_methods": [name]},
                         bad_client_options={"password": "wrong-" + PASSWORD},
                         ssh_options=ssh, ssh_env=_askpass(env), sshd_options=None)
    raise AssertionError(f"auth method {name!r}: the kit has no built-in set-up for it; "
                         f"pass auth=AuthSetup(...)")


def check_auth_method(name: str, provider: str | None = None, *, vectors: Any = None,
                      size: int = 1024 * 1024, openssh_size: int | None = None,
                      openssh: OpenSSH | None = None,
                      registry: Any = None, auth: AuthSetup | None = None) -> Report:
    """Check the user authentication method ``name``: it logs in (sshcore both ends;
    OpenSSH ``ssh`` against our server and our client against ``sshd`` where ``auth``
    says how), and wrong credentials are refused.

    ``sshd`` checks its passwords against the system's accounts: ``password`` is
    checked against sshd only with an ``auth`` whose ``sshd_options`` and
    ``client_options`` name a real account."""
    env, owned = _env(openssh)
    try:
        setup = auth if auth is not None else _builtin_auth(name, env)
        ours = {"preferred_auth": [name]}
        return _check("auth", name, provider, vectors=vectors, size=size,
                      openssh_size=openssh_size, openssh=env,
                      registry=registry, units=None, our_options={},
                      openssh_client=setup.ssh_options, openssh_server=setup.sshd_options,
                      auth=replace(setup, client_options={**ours, **setup.client_options}),
                      expect_in_log=True)
    finally:
        if owned:
            env.close()
