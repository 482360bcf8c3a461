"""sshcore serve's configuration file: parsing (every keyword), Match, errors, -T, and the
server it configures (over loopback, and as ``sshcore serve -f``)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

import sshcore
from sshcore.aio.configured import listen_addresses, listen_options
from sshcore.errors import SSHError
from sshcore.keys import export_private_key, generate_private_key, public_key_line
from sshcore.srclimit import SourceLimiter
from sshcore.sshd_config import KEYWORDS, SshdConfigError, parse_sshd_config

FULL = """\
# every keyword sshcore serve implements
ListenAddress 127.0.0.1
ListenAddress [::1]:2200
Port 2222
HostKey /etc/ssh/ssh_host_ed25519_key
AuthorizedKeysFile .ssh/authorized_keys /etc/keys/%u
PasswordAuthentication no
PubkeyAuthentication yes
KbdInteractiveAuthentication no
AuthenticationMethods publickey,password publickey
MaxAuthTries 3
MaxSessions 4
MaxStartups 5:50:20
PerSourcePenalties authfail:30s min:10s
PerSourcePenaltyExemptList 10.0.0.0/8,192.0.2.1
PerSourceMaxStartups 3
PerSourceNetBlockSize 24:56
LoginGraceTime 1m
ChannelTimeout session=30m direct-tcpip=5m
UnusedConnectionTimeout 10m
ClientAliveInterval 15
ClientAliveCountMax 2
AllowUsers alice bob@192.0.2.0/24
DenyUsers mallory
Ciphers ^aes256-ctr
MACs -hmac-sha1
KexAlgorithms +diffie-hellman-group14-sha256
HostKeyAlgorithms ssh-ed25519
Banner /etc/issue.net
Subsystem sftp internal-sftp
Subsystem backup /usr/local/bin/backup --serve
AcceptEnv LANG LC_*
AcceptEnv TZ
AllowTcpForwarding local
AllowAgentForwarding no
PermitOpen 127.0.0.1:80 db:5432
PermitListen 8080 localhost:9090
TrustedUserCAKeys /etc/ssh/user_ca.pub
RevokedKeys /etc/ssh/revoked_keys
X11Forwarding yes
X11DisplayOffset 20
X11UseLocalhost no
XAuthLocation /opt/bin/xauth
Match User carol Address 198.51.100.0/24,!198.51.100.7
    PasswordAuthentication yes
    AllowTcpForwarding remote
    AllowAgentForwarding yes
    PermitListen any
Match Address 203.0.113.*
    PubkeyAuthentication no
    AuthorizedKeysFile none
    PermitOpen none
    KbdInteractiveAuthentication yes
"""


def test_every_keyword_parses_and_maps_to_listen_options():
    cfg = parse_sshd_config(FULL, "full.conf")
    assert set(cfg.options) == set(KEYWORDS)  # the file above sets every one of them
    opts = listen_options(cfg)
    assert opts["max_auth_tries"] == 3 and opts["max_sessions"] == 4
    assert opts["max_startups"] == "5:50:20"
    assert opts["per_source_penalties"] == "authfail:30s min:10s"
    assert opts["per_source_penalty_exempt"] == "10.0.0.0/8,192.0.2.1"
    assert opts["per_source_max_startups"] == 3 and opts["per_source_net_block_size"] == "24:56"
    assert opts["login_timeout"] == 60 and opts["channel_timeout"] == "session=30m direct-tcpip=5m"
    assert opts["unused_connection_timeout"] == 600
    assert opts["keepalive_interval"] == 15 and opts["keepalive_count_max"] == 2
    assert opts["encryption_algs"] == "^aes256-ctr" and opts["mac_algs"] == "-hmac-sha1"
    assert opts["kex_algs"] == "+diffie-hellman-group14-sha256"
    assert opts["server_host_key_algs"] == "ssh-ed25519"
    assert opts["auth_methods_required"] == [["publickey", "password"], ["publickey"]]
    assert opts["server_host_keys"] == ["/etc/ssh/ssh_host_ed25519_key"]
    assert (opts["x11_forwarding"], opts["x11_display_offset"], opts["x11_use_localhost"],
            opts["xauth_path"]) == (True, 20, False, "/opt/bin/xauth")
    assert opts["accept_env"] == ["LANG", "LC_*", "TZ"]
    assert opts["subsystems"] == {"backup": "/usr/local/bin/backup --serve"}  # sftp: plugin
    issue = Path("/etc/issue.net")
    assert opts.get("banner") == (issue.read_text() if issue.exists() and issue.read_text() else None)
    assert listen_addresses(cfg, ("127.0.0.1", 8022)) == [("127.0.0.1", 2222), ("::1", 2200)]
    # listen() takes every value the file gave
    SourceLimiter(opts["per_source_penalties"], opts["per_source_penalty_exempt"],
                  opts["per_source_net_block_size"], opts["per_source_max_startups"])


def test_dump_is_sshd_T_and_match_resolves_per_connection():
    cfg = parse_sshd_config(FULL, "full.conf")
    text = cfg.dump()
    for line in ("port 2222", "listenaddress 127.0.0.1", "passwordauthentication no",
                 "maxauthtries 3", "logingracetime 60", "unusedconnectiontimeout 600",
                 "allowtcpforwarding local", "permitopen 127.0.0.1:80 db:5432",
                 "subsystem backup /usr/local/bin/backup --serve", "acceptenv LANG LC_*",
                 "authenticationmethods publickey,password publickey", "allowusers alice bob@192.0.2.0/24",
                 "persourcemaxstartups 3", "channeltimeout session=30m direct-tcpip=5m",
                 "allowagentforwarding no"):
        assert line in text.splitlines(), line
    carol = cfg.dump("carol", "198.51.100.1").splitlines()
    assert "passwordauthentication yes" in carol and "allowtcpforwarding remote" in carol
    assert "permitlisten any" in carol and "allowagentforwarding yes" in carol
    negated = cfg.dump("carol", "198.51.100.7").splitlines()  # !198.51.100.7
    assert "passwordauthentication no" in negated
    assert "passwordauthentication no" in cfg.dump("dave", "198.51.100.1").splitlines()
    other = cfg.dump("carol", "203.0.113.5").splitlines()
    assert "pubkeyauthentication no" in other and "authorizedkeysfile none" in other
    assert "permitopen none" in other and "kbdinteractiveauthentication yes" in other
    # defaults, as sshd's, when nothing is set
    empty = parse_sshd_config("").dump().splitlines()
    assert {"maxauthtries 6", "maxsessions 10", "logingracetime 120", "maxstartups 10:30:100",
            "persourcenetblocksize 32:128", "allowtcpforwarding no", "allowagentforwarding yes",
            "authorizedkeysfile .ssh/authorized_keys"} <= set(empty)


def test_syntax_first_value_wins_equals_and_quotes():
    cfg = parse_sshd_config('MaxAuthTries=2\nmaxauthtries 5\nBanner "/tmp/a file"\n'
                            'LoginGraceTime = 1h30m\n')
    assert cfg.get("maxauthtries") == 2 and cfg.get("banner") == "/tmp/a file"
    assert cfg.get("logingracetime") == 5400


@pytest.mark.parametrize("text,line,words", [
    ("Port 22\nFrobnicate yes\n", 2, "'Frobnicate' is not a known keyword"),
    ("PermitRootLogin no\n", 1, "'PermitRootLogin' is not supported"),
    ("\n\nMaxAuthTries many\n", 3, "expected a number"),
    ("PasswordAuthentication maybe\n", 1, "expected yes or no"),
    ("Match User bob\n  MaxAuthTries 2\n", 2, "not allowed in a Match block"),
    ("Match Host example.com\n", 1, "unsupported Match criterion"),
    ("Match User\n", 1, "needs a pattern list"),
    ("ChannelTimeout session\n", 1, "type=interval"),
    ("PerSourcePenalties authfail:never\n", 1, "PerSourcePenalties"),
    ("PerSourceNetBlockSize 33\n", 1, "out of range"),
    ("MaxStartups 10:200:5\n", 1, "MaxStartups"),
    ("AllowTcpForwarding sometimes\n", 1, "AllowTcpForwarding"),
    ("PermitOpen nohost\n", 1, "bad open specification"),
    ("Port 70000\n", 1, "bad port"),
    ('Banner "unterminated\n', 1, "bad quoting"),
    ("Subsystem sftp\n", 1, "a name and a command"),
])
def test_errors_name_the_file_and_line(text, line, words):
    with pytest.raises(SshdConfigError) as info:
        parse_sshd_config(text, "/etc/sshcore/bad.conf")
    assert info.value.lineno == line
    assert str(info.value).startswith(f"/etc/sshcore/bad.conf line {line}: ")
    assert words in str(info.value)


# ---------------------------------------------------------------------------- the server


@pytest.fixture(scope="module")
def keys():
    return {name: generate_private_key("ssh-ed25519") for name in ("host", "alice", "ca_user", "ca")}


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def cat(proc):
    proc.stdout.write(f"{proc.command}")
    return 0


async def serve_config(text, tmp_path, keys, **extra):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, exist_ok=True)
    (home / ".ssh/authorized_keys").write_text(public_key_line(keys["alice"]) + "\n")
    cfg = parse_sshd_config(text, "test.conf")
    opts = listen_options(cfg, passwords={"alice": "pw", "bob": "pw", "carol": "pw"}, home=str(home))
    opts.update(extra)
    opts.setdefault("per_source_penalties", False)
    return await sshcore.listen("127.0.0.1", 0, server_host_keys=[keys["host"]],
                                process_factory=cat, passwords={"alice": "pw", "bob": "pw", "carol": "pw"},
                                **opts)


async def login(port, user, password=None, client_keys=(), source="127.0.0.1", **kw):
    try:
        async with sshcore.connect("127.0.0.1", port, username=user, password=password,
                                   client_keys=list(client_keys), known_hosts=None, config=None,
                                   agent_path=None, local_addr=(source, 0), **kw) as conn:
            return (await conn.run("hello")).stdout
    except SSHError:
        return None


def test_auth_keywords_allow_deny_and_match(tmp_path, keys):
    text = """\
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowUsers alice bob carol@127.0.0.2
DenyUsers bob
Match User carol
    PasswordAuthentication yes
Match Address 127.0.0.3
    PubkeyAuthentication no
"""

    async def main():
        async with await serve_config(text, tmp_path, keys) as srv:
            p = srv.port
            assert await login(p, "alice", client_keys=[keys["alice"]]) == "hello"
            assert await login(p, "alice", password="pw") is None      # no passwords...
            assert await login(p, "carol", password="pw", source="127.0.0.2") == "hello"  # ...but Match
            assert await login(p, "carol", password="pw") is None     # AllowUsers carol@127.0.0.2
            assert await login(p, "bob", password="pw") is None       # DenyUsers
            assert await login(p, "alice", client_keys=[keys["alice"]], source="127.0.0.3") is None
    run(main())


def test_authorized_keys_file_trusted_ca_and_revoked_keys(tmp_path, keys):
    from sshcore.keys import CertifiedKey, read_certificate

    ca_pub = tmp_path / "ca.pub"
    ca_key = tmp_path / "ca"
    ca_key.write_bytes(export_private_key(keys["ca"], "openssh"))
    ca_key.chmod(0o600)
    ca_pub.write_text(public_key_line(keys["ca"]) + "\n")
    user_key = tmp_path / "user"
    user_key.write_bytes(export_private_key(keys["ca_user"], "openssh"))
    user_key.chmod(0o600)
    Path(f"{user_key}.pub").write_text(public_key_line(keys["ca_user"]) + "\n")
    subprocess.run(["ssh-keygen", "-q", "-s", str(ca_key), "-I", "id", "-n", "alice",
                    f"{user_key}.pub"], check=True, timeout=30, capture_output=True)
    certified = CertifiedKey(keys["ca_user"], read_certificate(f"{user_key}-cert.pub"))
    other = generate_private_key("ssh-ed25519")
    (tmp_path / "keys_alice").write_text(public_key_line(other) + "\n")
    revoked = tmp_path / "revoked"
    revoked.write_text(public_key_line(keys["alice"]) + "\n")
    text = f"""\
AuthorizedKeysFile .ssh/authorized_keys {tmp_path}/keys_%u
TrustedUserCAKeys {ca_pub}
RevokedKeys {revoked}
"""

    async def main():
        async with await serve_config(text, tmp_path, keys) as srv:
            p = srv.port
            assert await login(p, "alice", client_keys=[other]) == "hello"      # 2nd file, %u
            assert await login(p, "alice", client_keys=[certified]) == "hello"  # the CA
            assert await login(p, "bob", client_keys=[certified]) is None       # not a principal
            assert await login(p, "alice", client_keys=[keys["alice"]]) is None  # revoked
    run(main())


def test_forwarding_keywords(tmp_path, keys):
    text = """\
AllowTcpForwarding local
PermitOpen 127.0.0.1:{open_port}
Match User carol
    AllowTcpForwarding remote
    PermitListen 127.0.0.1:0
"""

    async def main():
        target = await asyncio.start_server(lambda r, w: (w.write(b"hi"), w.close()), "127.0.0.1", 0)
        closed = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        open_port = target.sockets[0].getsockname()[1]
        async with target, closed, await serve_config(text.format(open_port=open_port),
                                                      tmp_path, keys) as srv:
            async with sshcore.connect("127.0.0.1", srv.port, username="alice", password="pw",
                                       client_keys=[], known_hosts=None, config=None,
                                       agent_path=None) as conn:
                reader, writer = await conn.open_connection("127.0.0.1", open_port)
                assert await reader.read() == b"hi"
                writer.close()
                with pytest.raises(SSHError):  # not in PermitOpen
                    await conn.open_connection("127.0.0.1", closed.sockets[0].getsockname()[1])
                with pytest.raises(SSHError):  # AllowTcpForwarding local: no -R
                    await conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", open_port)
            async with sshcore.connect("127.0.0.1", srv.port, username="carol", password="pw",
                                       client_keys=[], known_hosts=None, config=None,
                                       agent_path=None) as conn:
                listener = await conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", open_port)
                listener.close()
                with pytest.raises(SSHError):  # carol: remote only
                    await conn.open_connection("127.0.0.1", open_port)
    run(main())


def test_sshcore_serve_f_and_T(tmp_path, keys):
    from tests.load.serve import ServeProcess, free_port

    host_key = tmp_path / "host_key"
    host_key.write_bytes(export_private_key(keys["host"], "openssh"))
    host_key.chmod(0o600)
    banner = tmp_path / "banner"
    banner.write_text("Authorized use only\n")
    port = free_port()
    conf = tmp_path / "sshd_config"
    conf.write_text(f"""\
ListenAddress 127.0.0.1:{port}
HostKey {host_key}
PasswordAuthentication no
Banner {banner}
UnusedConnectionTimeout 1
ChannelTimeout session=1
Match User {__import__('getpass').getuser()}
    PasswordAuthentication no
""")
    r = subprocess.run([sys.executable, "-m", "sshcore", "serve", "-f", str(conf), "-T"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"listenaddress 127.0.0.1:{port}" in r.stdout.splitlines()
    assert "unusedconnectiontimeout 1" in r.stdout.splitlines()
    bad = tmp_path / "bad_config"
    bad.write_text("Port 22\nUsePAM yes\n")
    r = subprocess.run([sys.executable, "-m", "sshcore", "serve", "-f", str(bad)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and f"{bad} line 2: 'UsePAM' is not supported" in r.stderr

    import getpass

    ak = tmp_path / "ak"
    ak.write_text(public_key_line(keys["alice"]) + "\n")
    banners = []

    class Client(sshcore.SSHClient):
        def auth_banner_received(self, msg, lang):
            banners.append(msg)

    async def main(srv_port):
        async with sshcore.connect("127.0.0.1", srv_port, username=getpass.getuser(),
                                   client_keys=[keys["alice"]], known_hosts=None, config=None,
                                   agent_path=None, client_factory=Client) as conn:
            assert (await conn.run("echo configured")).stdout == "configured\n"
            await asyncio.wait_for(conn.wait_closed(), 10)  # UnusedConnectionTimeout 1

    srv = ServeProcess(tmp_path / "home", "-f", str(conf), "--authorized-keys", str(ak))
    srv.port = port  # its --listen says the same as the file's ListenAddress, which wins
    with srv:
        run(main(port))
    assert banners == ["Authorized use only\n"]


def test_auth_limits_and_algorithm_keywords(tmp_path, keys):
    """MaxAuthTries, AuthenticationMethods and Ciphers/KexAlgorithms with ``-``, from
    the file, as the server enforces them."""
    text = """\
MaxAuthTries 2
AuthenticationMethods publickey,password
Ciphers -chacha20-poly1305@openssh.com
KexAlgorithms -curve25519-sha256,curve25519-sha256@libssh.org
"""
    wrong = [generate_private_key("ssh-ed25519") for _ in range(2)]

    async def main():
        async with await serve_config(text, tmp_path, keys) as srv:
            p = srv.port
            ok = {"kex_algs": ["curve448-sha512"], "encryption_algs": ["aes128-ctr"]}
            # publickey then password: both needed
            assert await login(p, "alice", password="pw", client_keys=[keys["alice"]], **ok) == "hello"
            assert await login(p, "alice", client_keys=[keys["alice"]], **ok) is None
            # two wrong keys use up MaxAuthTries 2: the right one comes too late
            assert await login(p, "alice", password="pw",
                               client_keys=[*wrong, keys["alice"]], **ok) is None
            assert await login(p, "alice", password="pw",
                               client_keys=[wrong[0], keys["alice"]], **ok) == "hello"
            # the algorithms the file took out are not negotiated
            assert await login(p, "alice", password="pw", client_keys=[keys["alice"]],
                               kex_algs=["curve448-sha512"],
                               encryption_algs=["chacha20-poly1305@openssh.com"]) is None
            assert await login(p, "alice", password="pw", client_keys=[keys["alice"]],
                               kex_algs=["curve25519-sha256"], encryption_algs=["aes128-ctr"]) is None
    run(main())


def test_kbd_interactive_keyword_and_match(tmp_path, keys):
    """KbdInteractiveAuthentication from the file (global yes, no in a Match block) as
    the server offers and decides it (coverage for issue 20's keyword list)."""
    text = """\
PasswordAuthentication no
PubkeyAuthentication no
KbdInteractiveAuthentication yes
Match User bob
    KbdInteractiveAuthentication no
"""
    answer = {"preferred_auth": ["keyboard-interactive"], "kbdint_handler": lambda n, i, p: ["pw"]}

    async def main():
        async with await serve_config(text, tmp_path, keys) as srv:
            p = srv.port
            assert await login(p, "alice", **answer) == "hello"
            assert await login(p, "alice", password="pw", preferred_auth=["password"]) is None
            assert await login(p, "bob", **answer) is None
    run(main())
