"""sshcore.aio.stdio: readers for every kind of descriptor, and the escape scanner."""

from __future__ import annotations

import asyncio
import os
import socket
import threading

import pytest

from sshcore.aio.stdio import (CHUNK, Escape, EscapeScanner, open_input, parse_escape_char,
                               read_lines)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


async def read_all(fd):
    reader = open_input(fd)
    chunks = []
    try:
        while data := await reader.read():
            assert len(data) <= CHUNK
            chunks.append(data)
    finally:
        reader.close()
    return reader.kind, b"".join(chunks)


def test_regular_file_is_read_from_a_thread(tmp_path):
    data = os.urandom(3 * CHUNK + 5)
    (tmp_path / "f").write_bytes(data)
    fd = os.open(tmp_path / "f", os.O_RDONLY)
    try:
        assert run(read_all(fd)) == ("thread", data)  # epoll refuses regular files
    finally:
        os.close(fd)


def test_dev_null_is_read_from_a_thread():
    fd = os.open(os.devnull, os.O_RDONLY)
    try:
        assert run(read_all(fd)) == ("thread", b"")
    finally:
        os.close(fd)


def test_closed_descriptor_is_empty():
    fd = 1000  # high enough that the loop's own descriptors do not take it
    with pytest.raises(OSError):
        os.fstat(fd)
    assert run(read_all(fd)) == ("closed", b"")
    assert run(read_all(None)) == ("closed", b"")


def test_unreadable_descriptor_raises(tmp_path):
    fd = os.open(tmp_path / "w", os.O_WRONLY | os.O_CREAT)  # as the shell's 0>file
    try:
        with pytest.raises(OSError):
            run(read_all(fd))
    finally:
        os.close(fd)


@pytest.mark.parametrize("kind", ["pipe", "socket", "tty"])
def test_pollable_descriptors_are_polled_and_left_blocking(kind):
    if kind == "pipe":
        r, w = os.pipe()
    elif kind == "socket":
        a, b = socket.socketpair()
        r, w = a.detach(), b.detach()
    else:
        w, r = os.openpty()  # write to the master, read the slave
        import termios
        import tty

        tty.setraw(r, termios.TCSANOW)
    data = os.urandom(200_000)

    def writer():
        view = memoryview(data)
        while view:
            view = view[os.write(w, view[:4096]):]
        if kind == "tty":
            return  # a raw terminal has no end of file: the test stops at the length
        os.close(w)

    t = threading.Thread(target=writer, daemon=True)
    t.start()

    async def main():
        reader = open_input(r)
        got = b""
        while len(got) < len(data) and (chunk := await reader.read()):
            got += chunk
        reader.close()
        return reader.kind, got

    try:
        assert run(main()) == ("poll", data)
        assert os.get_blocking(r)  # a shared pipe or terminal is left as it was
    finally:
        t.join(timeout=10)
        os.close(r)
        if kind == "tty":
            os.close(w)


def test_read_waits_for_data_and_can_be_cancelled():
    r, w = os.pipe()

    async def main():
        reader = open_input(r)
        task = asyncio.ensure_future(reader.read())
        await asyncio.sleep(0.05)
        assert not task.done()  # nothing written yet
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        os.write(w, b"late")
        assert await reader.read() == b"late"  # the reader still works after a cancel
        reader.close()

    try:
        run(main())
    finally:
        os.close(r)
        os.close(w)


def test_read_lines_as_they_arrive(tmp_path):
    (tmp_path / "f").write_bytes(b"one\r\ntwo\n\nlast-no-newline")
    fd = os.open(tmp_path / "f", os.O_RDONLY)

    async def main():
        return [line async for line in read_lines(open_input(fd))]

    try:
        assert run(main()) == ["one", "two", "", "last-no-newline"]
    finally:
        os.close(fd)


def test_scanner_splits_escapes_across_reads():
    s = EscapeScanner()
    assert s.feed(b"~") == []                      # start of input is a line start
    assert s.feed(b"~ab\r") == [b"~", b"ab\r"]     # ~~ -> ~
    assert s.feed(b"x~.y") == [b"x~.y"]            # not at a line start
    assert s.feed(b"\n~") == [b"\n"]
    assert s.feed(b".") == [Escape(".")]
    assert s.feed(b"\r~z~.") == [b"\r", b"~z", b"~."]  # unknown command: both sent
    assert s.feed(b"\n~?") == [b"\n", Escape("?")]
    assert EscapeScanner(ord("%")).feed(b"~.\n%.") == [b"~.\n", Escape(".")]


def test_parse_escape_char():
    assert parse_escape_char("~") == ord("~")
    assert parse_escape_char("NONE") is None
    assert parse_escape_char("^]") == 0x1D
    for bad in ("", "ab", "é"):
        with pytest.raises(ValueError):
            parse_escape_char(bad)
