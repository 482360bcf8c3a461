"""ssh's escape character in ``sshcore run`` on a real terminal, against real sshd:
``~.`` at the start of a line drops the connection (exit 255), ``~~`` sends one ``~``,
``-e`` changes or disables it."""

from __future__ import annotations

import sys
import time

import pytest

pytestmark = pytest.mark.interop


def run_args(sshd, keys, *extra):
    return [sys.executable, "-m", "sshcore", "run", "-p", str(sshd.port), "-i",
            str(keys.user["ed25519"]), "-F", "none", "--known-hosts", str(sshd.known_hosts),
            "-o", "BatchMode=yes", *extra]


def disconnects(sshd) -> int:
    """How many times sshd logged a client's disconnect message (ours says why)."""
    return sshd.log.read_text(errors="replace").count("closed by application")


def wait_for(predicate, timeout=10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_tilde_dot_closes_the_connection(start_sshd, keys, helpers):
    sshd = start_sshd()
    before = disconnects(sshd)
    # cat on the remote pty echoes what is typed; "~." after a newline must not reach it.
    code, out = helpers.run_in_pty(run_args(sshd, keys, "-tt", "127.0.0.1", "echo READY; cat"),
                                   [(b"READY", b"hello\r"), (b"hello\r\n", b"\n~?"),
                                    (b"escape sequences", b"\n~.")], timeout=60)
    text = out.decode(errors="replace")
    assert code == 255, text
    assert "~.   - terminate connection" in text  # ~? listed the escapes
    assert "Connection to 127.0.0.1 closed." in text
    from sshcore.aio.stdio import ESCAPE_HELP

    shown = text.replace(ESCAPE_HELP.format(c="~"), "")
    assert "~." not in shown and "~?" not in shown  # neither reached the remote
    assert wait_for(lambda: disconnects(sshd) > before), sshd.log_tail()


def test_double_tilde_sends_one_and_tilde_mid_line_is_data(start_sshd, keys, helpers):
    sshd = start_sshd()
    code, out = helpers.run_in_pty(
        run_args(sshd, keys, "-tt", "127.0.0.1",
                 "echo READY; read a; read b; echo \"got<$a><$b>\"; exit 3"),
        [(b"READY", b"~~x\r"), (b"x\r\n", b"a~.b\r")], timeout=60)
    text = out.decode(errors="replace")
    assert code == 3, text
    assert "got<~x><a~.b>" in text


@pytest.mark.parametrize("flag, typed, closes", [
    ("none", b"~.", False),      # -e none: no escapes at all
    ("%", b"~.", False),         # another escape char: ~ is plain data
    ("%", b"%.", True),
    ("^]", b"\x1d.", True),      # ^X spelling for a control character
])
def test_e_changes_or_disables_the_escape_char(start_sshd, keys, helpers, flag, typed, closes):
    sshd = start_sshd()
    code, out = helpers.run_in_pty(
        run_args(sshd, keys, "-tt", "-e", flag, "127.0.0.1",
                 "echo READY; read a; echo \"got<$a>\"; exit 4"),
        [(b"READY", typed + b"\r")], timeout=60)  # the start of input is a line start
    text = out.decode(errors="replace")
    if closes:
        assert code == 255, text
        assert "Connection to 127.0.0.1 closed." in text and "got<" not in text
    else:
        assert code == 4, text
        assert f"got<{typed.decode()}>" in text


def test_escapes_only_on_a_terminal(start_sshd, keys):
    """Piped input is data, whatever the escape char: "\\n%." reaches the remote command."""
    import subprocess

    sshd = start_sshd()
    data = b"a\n~.\n~~\n%.\n%%\n"
    r = subprocess.run(run_args(sshd, keys, "-e", "%", "127.0.0.1", "cat"), input=data,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == data


def test_bad_escape_char_is_a_clear_error(start_sshd, keys):
    import subprocess

    sshd = start_sshd()
    r = subprocess.run(run_args(sshd, keys, "-e", "ab", "127.0.0.1", "true"),
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 255
    assert b"bad escape character" in r.stderr and b"Traceback" not in r.stderr


def test_tilde_B_sends_a_break_and_the_session_goes_on(start_sshd, keys, helpers):
    sshd = start_sshd()
    breaks = sshd.log.read_text(errors="replace").count("req break")
    code, out = helpers.run_in_pty(
        run_args(sshd, keys, "-tt", "127.0.0.1", "echo READY; read a; echo \"got<$a>\"; exit 2"),
        [(b"READY", b"~B"), (b"READY\r\n", lambda fd: time.sleep(1)),
         (b"READY\r\n", b"after\r")], timeout=60)
    text = out.decode(errors="replace")
    assert code == 2, text
    assert "got<after>" in text  # ~B was taken out of the input
    assert wait_for(lambda: sshd.log.read_text(errors="replace").count("req break") > breaks), \
        sshd.log_tail()
