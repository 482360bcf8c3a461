"""expect-style automation (sshcore.aio.expect) of a scripted interactive program run
through the real sshd: prompts, a pager answered by rule, 4 MiB on stderr while stdout is
awaited (the channel window is 2 MiB: without both streams drained it would deadlock),
and a timeout carrying the text seen so far."""

from __future__ import annotations

import asyncio
import re
import sys

import pytest

import sshcore
from sshcore.aio.expect import EOF, ExpectEOFError, ExpectTimeoutError

pytestmark = pytest.mark.interop

STDERR_BYTES = bytes(range(256)) * (4 * 1024 * 1024 // 256)  # 4 MiB, every byte value

PROGRAM = r'''
import os, sys, time

def out(text):
    os.write(1, text.encode())

def readline():
    line = b""
    while not line.endswith(b"\n"):
        c = os.read(0, 1)
        if not c:
            sys.exit(9)
        line += c
    return line.decode().strip()

out("Username: ")
user = readline()
out("Password: ")
if readline() != "s3cret":
    os.write(2, f"auth: bad password for {user}\n".encode())
    out("Access denied\n")
    sys.exit(1)
out(f"Welcome, {user}!\n")
while True:
    out("1) show log\n2) dump stderr\n3) think\n4) quit\nChoice> ")
    choice = readline()
    if choice == "1":
        for page in range(4):
            for i in range(5):
                out(f"log line {page * 5 + i}\n")
            if page < 3:
                out("--More--")
                key = os.read(0, 1)
                if key != b" ":
                    out(f"pager got {key!r}\n")
                    break
                out("\r        \r")
        out("END OF LOG\n")
    elif choice == "2":
        data = bytes(range(256)) * (4 * 1024 * 1024 // 256)
        view = memoryview(data)
        while view:
            view = view[os.write(2, view):]
        out("dumped\n")
    elif choice == "3":
        out("thinking...")
        time.sleep(30)
    elif choice == "4":
        out("bye\n")
        sys.exit(0)
'''


def go(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


@pytest.fixture(scope="module")
def sshd(start_sshd):
    return start_sshd()


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    path = tmp_path_factory.mktemp("expect") / "device.py"
    path.write_text(PROGRAM)
    return f"{sys.executable} {path}"


def connect(sshd, keys):
    return sshcore.connect("127.0.0.1", sshd.port, username=None, client_keys=[keys.user["ed25519"]],
                           known_hosts=str(sshd.known_hosts))


async def login(proc):
    await proc.expect("Username:", timeout=10)
    proc.sendline("admin")
    await proc.expect(re.compile(r"Pass(word|phrase): "), timeout=10)
    proc.sendline("s3cret")
    m = await proc.expect([re.compile(r"Welcome, (\w+)!"), "Access denied"], timeout=10)
    user = m.match.group(1)
    assert m.index == 0 and (user.decode() if isinstance(user, bytes) else user) == "admin"


def test_prompts_menu_and_pager(sshd, keys, program):
    async def main():
        async with connect(sshd, keys) as conn:
            proc = await conn.create_process(program)
            await login(proc)
            m = await proc.expect("Choice> ", timeout=10)
            assert "1) show log" in m.before and m.text == "Choice> "
            proc.sendline("1")
            # Three --More-- prompts, each answered with a space by the rule.
            m = await proc.expect(["END OF LOG", "pager got"], timeout=10, pager={"--More--": " "})
            assert m.index == 0
            lines = [line for line in m.before.replace("\r        \r", "").splitlines() if line]
            assert lines == [f"log line {i}" for i in range(20)]
            assert "--More--" not in m.before
            # Again, with the pager rule set once for every expect.
            await proc.expect("Choice> ", timeout=10)
            proc.expecter.pager = {re.compile(r"--More--"): " "}
            proc.sendline("1")
            m = await proc.expect("END OF LOG", timeout=10)
            assert "log line 19" in m.before and "--More--" not in m.before
            await proc.expect("Choice> ", timeout=10)
            proc.sendline("4")
            m = await proc.expect(["never printed", EOF], timeout=10)
            assert m.pattern is EOF and "bye" in m.before
            result = await proc.wait()
            assert result.exit_status == 0
    go(main())


def test_wrong_password_is_the_second_pattern(sshd, keys, program):
    async def main():
        async with connect(sshd, keys) as conn:
            proc = await conn.create_process(program)
            await proc.expect("Username:", timeout=10)
            proc.sendline("admin")
            await proc.expect("Password: ", timeout=10)
            proc.sendline("wrong")
            m = await proc.expect([re.compile(r"Welcome, (\w+)!"), "Access denied"], timeout=10)
            assert m.index == 1
            m = await proc.expect(re.compile(r"bad password for (\w+)"), stream="stderr", timeout=10)
            assert m.match.group(1) == "admin" and m.before == "auth: "
            with pytest.raises(ExpectEOFError) as info:
                await proc.expect("Choice> ", timeout=10)
            assert info.value.seen == "\n"
            assert (await proc.wait()).exit_status == 1
    go(main())


def test_4mib_on_stderr_while_waiting_on_stdout(sshd, keys, program):
    """The program writes 4 MiB on stderr before its next stdout line; the test waits on
    stdout only.  With the 2 MiB window, this completes only if stderr is drained at the
    same time; every stderr byte must arrive, in order."""
    async def main():
        async with connect(sshd, keys) as conn:
            proc = await conn.create_process(program, encoding=None)  # bytes; str patterns ok
            await login(proc)
            await proc.expect(b"Choice> ", timeout=10)
            proc.sendline(b"2")
            m = await proc.expect("dumped\n", timeout=30)
            assert m.before == b""
            await proc.expect("Choice> ", timeout=10)
            proc.sendline("4")
            result = await proc.wait()
            assert result.exit_status == 0
            assert result.stdout == b"bye\n"
            assert proc.expecter.received("stderr") == len(STDERR_BYTES)
            assert result.stderr == STDERR_BYTES
    go(main())


def test_timeout_is_a_timeouterror_with_the_text_seen(sshd, keys, program):
    async def main():
        async with connect(sshd, keys) as conn:
            proc = await conn.create_process(program)
            await login(proc)
            await proc.expect("Choice> ", timeout=10)
            proc.sendline("3")
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            with pytest.raises(TimeoutError) as info:
                await proc.expect(["done", re.compile(r"result: \d+")], timeout=1.5)
            elapsed = loop.time() - t0
            assert isinstance(info.value, ExpectTimeoutError)
            assert isinstance(info.value, sshcore.errors.SSHError)
            assert 1.4 < elapsed < 10
            assert info.value.seen == "thinking..."
            assert info.value.stream == "stdout"
            assert "thinking..." in str(info.value) and "1.5 s" in str(info.value)
            # The text stays available: a later expect still sees it.
            m = await proc.expect("thinking...", timeout=1)
            assert m.before == ""
            proc.close()
    go(main())


def test_bad_patterns_are_refused(sshd, keys, program):
    async def main():
        async with connect(sshd, keys) as conn:
            proc = await conn.create_process(program)
            with pytest.raises(TypeError, match="bytes pattern"):
                await proc.expect(b"Username:", timeout=1)
            with pytest.raises(ValueError, match="stream must be"):
                await proc.expect("x", stream="stdin", timeout=1)
            with pytest.raises(ValueError, match="at least one"):
                await proc.expect([], timeout=1)
            proc.close()
    go(main())
