"""Agent forwarding on our server: the real ``ssh -A`` into a ``sshcore.listen`` server
running real subprocesses; in the session ``ssh-add -l`` lists the key of the test's
real ssh-agent, and a second hop with the real ``ssh`` to sshd logs in with it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop


@pytest.fixture
def forwarded_agent(tmp_path, helpers):
    """A real ssh-agent holding one key whose private file is then deleted."""
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sock.exists(), "ssh-agent did not start"
    key = helpers.keygen(tmp_path / "fwd", "ed25519")
    subprocess.run(["ssh-add", "-q", str(key)], env=dict(os.environ, SSH_AUTH_SOCK=str(sock)),
                   check=True, timeout=30, capture_output=True)
    key.unlink()
    fp = subprocess.run(["ssh-keygen", "-l", "-f", f"{key}.pub"], capture_output=True, text=True,
                        check=True, timeout=30).stdout.split()[1]
    yield sock, Path(f"{key}.pub"), fp
    proc.terminate()
    proc.wait(timeout=10)


SESSION = ('echo "SOCK=${SSH_AUTH_SOCK-unset}"; '
           '[ -n "$SSH_AUTH_SOCK" ] && stat -c "MODE %a %u" "$SSH_AUTH_SOCK" '
           '"$(dirname "$SSH_AUTH_SOCK")"; ssh-add -l; echo "ADD=$?"')


def session_lines(out: bytes) -> dict[str, str]:
    return {line.split("=", 1)[0]: line.split("=", 1)[1]
            for line in out.decode().splitlines() if "=" in line}


def test_ssh_A_into_our_server_then_a_second_hop(forwarded_agent, keys, start_sshd, tmp_path,
                                                  helpers):
    sock, pub, fp = forwarded_agent
    auth = tmp_path / "authorized_keys"
    auth.write_text(pub.read_text())
    sshd = start_sshd(AuthorizedKeysFile=str(auth))
    hop = (f"ssh -F /dev/null -p {sshd.port} -o BatchMode=yes -o LogLevel=ERROR "
           f"-o UserKnownHostsFile={sshd.known_hosts} 127.0.0.1 echo second-hop-ok")
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              authorized_client_keys=str(auth), allow_forwarding=True) as srv:
        r = helpers.run_ssh(srv.port, f"{SESSION}; {hop}", identity=pub, timeout=60,
                            options={"ForwardAgent": "yes"},
                            env_overrides={"SSH_AUTH_SOCK": str(sock)})
    out = r.stdout.decode()
    assert r.returncode == 0, (out, r.stderr)
    info = session_lines(r.stdout)
    path = info["SOCK"]
    assert path != "unset" and path != str(sock)
    modes = [line.split()[1:] for line in out.splitlines() if line.startswith("MODE ")]
    assert modes == [["600", str(os.getuid())], ["700", str(os.getuid())]], out
    assert fp in out and info["ADD"] == "0", out  # ssh-add -l lists the client's key
    assert out.rstrip().endswith("second-hop-ok"), (out, r.stderr)
    log = sshd.log.read_text(errors="replace")
    assert "Accepted publickey for root from 127.0.0.1" in log and fp in log
    deadline = time.monotonic() + 10  # the socket and its directory go with the session
    while os.path.exists(os.path.dirname(path)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))


@pytest.mark.parametrize("case", ["agent-forwarding-off", "forwarding-off", "key-option"])
def test_agent_forwarding_refused(forwarded_agent, keys, tmp_path, helpers, monkeypatch, case):
    """Refused, the session has no SSH_AUTH_SOCK: not even the server's own."""
    sock, pub, fp = forwarded_agent
    monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))  # the server process's own agent
    auth = tmp_path / "authorized_keys"
    auth.write_text(("no-agent-forwarding " if case == "key-option" else "") + pub.read_text())
    options = {"allow_forwarding": case != "forwarding-off"}
    if case == "agent-forwarding-off":
        options["allow_agent_forwarding"] = False
    with helpers.ServerThread(server_host_keys=[keys.host["ed25519"]],
                              authorized_client_keys=str(auth), **options) as srv:
        r = helpers.run_ssh(srv.port, SESSION, identity=pub, timeout=60,
                            options={"ForwardAgent": "yes"},
                            env_overrides={"SSH_AUTH_SOCK": str(sock)})
    info = session_lines(r.stdout)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert info["SOCK"] == "unset" and info["ADD"] == "2", r.stdout


@pytest.mark.parametrize("case", ["no", "yes", "default", "match-yes", "match-no"])
def test_allow_agent_forwarding_in_sshd_config(forwarded_agent, tmp_path, helpers, monkeypatch,
                                               case):
    """``sshcore serve -f`` with AllowAgentForwarding (global, and in a Match User block):
    the real ``ssh -A`` gets an agent socket in the session (``ssh-add -l`` lists the
    client's key) when it is yes (sshd's default), none when it is no."""
    import getpass

    from tests.load.serve import ServeProcess

    sock, pub, fp = forwarded_agent
    monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))  # the server's own agent must not leak in
    auth = tmp_path / "authorized_keys"
    auth.write_text(pub.read_text())
    me = getpass.getuser()
    lines = {"no": "AllowAgentForwarding no\n", "yes": "AllowAgentForwarding yes\n",
             "default": "",
             "match-yes": f"AllowAgentForwarding no\nMatch User {me}\n  AllowAgentForwarding yes\n",
             "match-no": f"Match User nobody-else\n  AllowAgentForwarding yes\n"
                         f"Match User {me}\n  AllowAgentForwarding no\n"}[case]
    conf = tmp_path / "sshd_config"
    conf.write_text("PasswordAuthentication no\n" + lines)
    allowed = case in ("yes", "default", "match-yes")
    r = subprocess.run([sys.executable, "-m", "sshcore", "serve", "-f", str(conf), "-T", "-C",
                        f"user={me},addr=127.0.0.1"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"allowagentforwarding {'yes' if allowed else 'no'}" in r.stdout.splitlines(), r.stdout
    with ServeProcess(tmp_path / "home", "-f", str(conf), "--authorized-keys", str(auth)) as srv:
        r = helpers.run_ssh(srv.port, SESSION, identity=pub, timeout=60,
                            options={"ForwardAgent": "yes"},
                            env_overrides={"SSH_AUTH_SOCK": str(sock)})
    info = session_lines(r.stdout)
    assert r.returncode == 0, (r.stdout, r.stderr)
    if allowed:
        assert info["SOCK"] not in ("unset", str(sock)), r.stdout
        assert fp in r.stdout.decode() and info["ADD"] == "0", r.stdout
    else:
        assert info["SOCK"] == "unset" and info["ADD"] == "2", r.stdout
