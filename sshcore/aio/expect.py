"""``expect``-style automation of a remote process: wait for prompts, answer them.

This module owns :class:`Expecter`, which a :class:`~sshcore.aio.process.SSHClientProcess`
creates on first use (``process.expect(...)``, ``process.expecter``).  It drains stdout
and stderr together, each into its own buffer, from the moment it is created: a command
that fills one stream while the caller waits on the other never stalls, because reading
is what re-opens the channel window and both streams are always being read.

:meth:`Expecter.expect` waits until one of the given patterns (a string, bytes, a
compiled regular expression, :data:`EOF`, or a list of them) appears in a stream, and
returns an :class:`ExpectMatch` saying which matched, the match and the text before it.
Paging prompts are answered while waiting: ``pager={"--More--": " "}`` sends a space
each time ``--More--`` appears, and the prompt is cut out of the text collected.  A
timeout raises :class:`ExpectTimeoutError` (a :class:`TimeoutError`) carrying the text
seen so far; the end of the stream when :data:`EOF` was not expected raises
:class:`ExpectEOFError`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

from ..errors import SSHError

__all__ = ["EOF", "ExpectEOFError", "ExpectMatch", "ExpectTimeoutError", "Expecter"]


class _EOFType:
    def __repr__(self) -> str:
        return "EOF"


#: A pattern that matches the end of the stream (the remote closed it).
EOF: Any = _EOFType()

Pattern = Union[str, bytes, "re.Pattern[str]", "re.Pattern[bytes]", _EOFType]


def _tail(seen: Any, n: int = 200) -> str:
    text = seen if isinstance(seen, str) else bytes(seen).decode("utf-8", "replace")
    return repr(text[-n:])


class ExpectTimeoutError(SSHError, TimeoutError):
    """No pattern appeared in time.  ``seen`` is the unmatched text of the stream (the
    caller's data, untrusted: the message shows its ``repr`` only)."""

    def __init__(self, timeout: float, patterns: Sequence[Any], seen: Any, stream: str) -> None:
        super().__init__(f"none of {list(patterns)!r} appeared on {stream} within {timeout:g} s;"
                         f" last text seen: {_tail(seen)}")
        self.timeout = timeout
        self.patterns = list(patterns)
        self.seen = seen
        self.stream = stream


class ExpectEOFError(SSHError, EOFError):
    """The stream ended before any pattern appeared; ``seen`` is what it sent unmatched."""

    def __init__(self, patterns: Sequence[Any], seen: Any, stream: str) -> None:
        super().__init__(f"{stream} ended before any of {list(patterns)!r} appeared;"
                         f" last text seen: {_tail(seen)}")
        self.patterns = list(patterns)
        self.seen = seen
        self.stream = stream


@dataclass(frozen=True, slots=True)
class ExpectMatch:
    """What :meth:`Expecter.expect` found."""

    #: Index in the pattern list of the one that matched.
    index: int
    #: The pattern as the caller gave it.
    pattern: Any
    #: The regular expression match (None when :data:`EOF` matched).
    match: re.Match[Any] | None
    #: The text that came before the match (paging prompts cut out).
    before: Any

    @property
    def text(self) -> Any:
        """The matched text itself (empty for :data:`EOF`)."""
        return self.match.group(0) if self.match is not None else self.before[:0]


class _Buffer:
    """One stream's unconsumed text, filled by a task that reads it to its end."""

    def __init__(self, empty: Any) -> None:
        self.data = empty
        self.eof = False
        self.changed = asyncio.Event()
        self.total = 0  # everything that arrived, for callers checking nothing was lost

    def add(self, chunk: Any) -> None:
        self.data += chunk
        self.total += len(chunk)
        self.changed.set()

    def take(self, n: int | None = None) -> Any:
        n = len(self.data) if n is None else n
        taken, self.data = self.data[:n], self.data[n:]
        return taken


class Expecter:
    """Drives one remote process: ``expect`` on its streams, ``send`` to its stdin.

    Created by the process (``process.expecter``); from then on its stdout and stderr
    are read only here.  ``pager`` is the default paging rule for every :meth:`expect`
    (also settable later: ``process.expecter.pager = {"--More--": " "}``).
    """

    def __init__(self, process: Any, *, pager: Mapping[Any, Any] | None = None,
                 chunk_size: int = 65536) -> None:
        self._process = process
        self._text = getattr(process, "_encoding", None) is not None
        empty: Any = "" if self._text else b""
        self.pager: dict[Any, Any] = dict(pager or {})
        self._bufs = {"stdout": _Buffer(empty), "stderr": _Buffer(empty)}
        self._tasks = [asyncio.ensure_future(self._drain(getattr(process, name), buf, chunk_size))
                       for name, buf in self._bufs.items()]

    @staticmethod
    async def _drain(reader: Any, buf: _Buffer, chunk_size: int) -> None:
        try:
            while True:
                chunk = await reader.read(chunk_size)
                if not chunk:
                    break
                buf.add(chunk)
        finally:
            buf.eof = True
            buf.changed.set()

    # ------------------------------------------------------------------ patterns

    def _compile(self, pattern: Any) -> re.Pattern[Any]:
        if isinstance(pattern, re.Pattern):
            if isinstance(pattern.pattern, str) and not self._text:
                # A str expression on a bytes stream: the same expression over UTF-8.
                return re.compile(pattern.pattern.encode("utf-8"), pattern.flags & ~re.UNICODE)
            if isinstance(pattern.pattern, bytes) and self._text:
                raise TypeError(f"bytes pattern {pattern.pattern!r} on a text stream: use str,"
                                " or create the process with encoding=None")
            return pattern
        if isinstance(pattern, str):
            return re.compile(re.escape(pattern if self._text else pattern.encode("utf-8")))
        if isinstance(pattern, (bytes, bytearray)):
            if self._text:
                raise TypeError(f"bytes pattern {bytes(pattern)!r} on a text stream: use str,"
                                " or create the process with encoding=None")
            return re.compile(re.escape(bytes(pattern)))
        raise TypeError(f"not a pattern: {pattern!r} (str, bytes, re.Pattern or EOF)")

    # ------------------------------------------------------------------ the API

    async def expect(self, patterns: Pattern | Sequence[Pattern], *, timeout: float | None = None,
                     stream: str = "stdout",
                     pager: Mapping[Any, Any] | None = None) -> ExpectMatch:
        """Wait for the first of ``patterns`` on ``stream`` (``"stdout"`` or ``"stderr"``).

        The earliest match in the stream wins (the first listed pattern on a tie); the
        text up to its end is consumed.  While waiting, a match of a ``pager`` key (this
        call's rule, else the expecter's) before any pattern gets the key's value sent
        to stdin and is removed from the text.

        :raises ExpectTimeoutError: nothing matched within ``timeout`` seconds.
        :raises ExpectEOFError: the stream ended first and :data:`EOF` was not expected.
        """
        if stream not in self._bufs:
            raise ValueError(f"stream must be 'stdout' or 'stderr', not {stream!r}")
        plist: list[Any] = ([patterns] if isinstance(patterns, (str, bytes, re.Pattern, _EOFType))
                            else list(patterns))
        if not plist:
            raise ValueError("expect needs at least one pattern")
        compiled = [None if p is EOF else self._compile(p) for p in plist]
        rules = [(self._compile(k), v) for k, v in (self.pager if pager is None else pager).items()]
        buf = self._bufs[stream]
        try:
            async with asyncio.timeout(timeout):
                return await self._search(buf, plist, compiled, rules)
        except TimeoutError as exc:
            if isinstance(exc, ExpectTimeoutError):
                raise
            raise ExpectTimeoutError(timeout or 0.0, plist, buf.data, stream) from None
        except EOFError:
            raise ExpectEOFError(plist, buf.data, stream) from None

    async def _search(self, buf: _Buffer, plist: list[Any], compiled: list[Any],
                      rules: list[tuple[re.Pattern[Any], Any]]) -> ExpectMatch:
        start = 0  # text before ``start`` has had its paging prompts answered
        while True:
            buf.changed.clear()
            best: tuple[int, int, re.Match[Any]] | None = None
            for i, rx in enumerate(compiled):
                m = rx.search(buf.data) if rx is not None else None
                if m is not None and (best is None or m.start() < best[1]):
                    best = (i, m.start(), m)
            page: tuple[re.Match[Any], Any] | None = None
            for rx, reply in rules:
                m = rx.search(buf.data, start)
                if m is not None and m.end() > m.start() and (page is None or m.start() < page[0].start()):
                    page = (m, reply)
            if page is not None and (best is None or page[0].start() < best[1]):
                m, reply = page
                buf.data = buf.data[:m.start()] + buf.data[m.end():]
                start = m.start()
                self.send(reply)
                continue
            if best is not None:
                i, _, m = best
                before = buf.data[:m.start()]
                buf.take(m.end())
                return ExpectMatch(i, plist[i], m, before)
            if buf.eof:
                if EOF in plist:
                    i = plist.index(EOF)
                    return ExpectMatch(i, EOF, None, buf.take())
                raise EOFError
            await buf.changed.wait()

    def send(self, data: str | bytes) -> None:
        """Write ``data`` to the process's stdin."""
        self._process.stdin.write(data)

    def sendline(self, line: str | bytes = "") -> None:
        """Write ``line`` and a newline to the process's stdin."""
        self.send(line + (b"\n" if isinstance(line, bytes) else "\n"))

    def buffered(self, stream: str = "stdout") -> Any:
        """The text received on ``stream`` and not yet matched or taken."""
        return self._bufs[stream].data

    def take(self, stream: str = "stderr") -> Any:
        """Return and forget the text received on ``stream`` so far (so a long-running
        command's stderr, say, does not pile up in memory)."""
        return self._bufs[stream].take()

    def received(self, stream: str = "stderr") -> int:
        """How many bytes (characters, on a text stream) ``stream`` has delivered in all."""
        return self._bufs[stream].total

    async def finish(self) -> tuple[Any, Any]:
        """Read both streams to their end; return what was left unmatched on each."""
        await asyncio.gather(*self._tasks)
        return self.take("stdout"), self.take("stderr")

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
