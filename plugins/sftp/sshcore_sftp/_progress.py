"""The transfer progress meter of ``sshcore scp`` and ``sshcore sftp`` (as OpenSSH draws it).

One line per file, redrawn in place at most every ``interval`` seconds: name, percentage,
bytes so far, the rate (smoothed) and the time left; the last draw shows the total time.
Nothing is drawn when the output stream is not a terminal.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import IO, Any

__all__ = ["ProgressMeter", "format_size", "format_eta"]


def format_size(n: float) -> str:
    """``1536`` -> ``"1.5KB"``, as OpenSSH's meter writes byte counts (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def format_eta(seconds: float | None) -> str:
    """``75`` -> ``"01:15"``, ``3725`` -> ``"1:02:05"``, unknown -> ``"--:--"``."""
    if seconds is None or seconds != seconds or seconds < 0 or seconds > 99 * 3600:
        return "--:--"
    s = int(seconds + 0.5)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class ProgressMeter:
    """A progress callback: ``meter(src, dst, done, total)`` then ``meter.finish()``.

    :param stream: where to draw (default stdout, as OpenSSH's scp and sftp).
    :param enabled: draw at all; default: only when ``stream`` is a terminal.
    :param clock: monotonic seconds (tests pass their own).
    """

    def __init__(self, stream: IO[str] | None = None, *, enabled: bool | None = None,
                 clock: Callable[[], float] = time.monotonic, interval: float = 0.25,
                 width: int | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self._clock = clock
        self._interval = interval
        self._width = width
        self._name: Any = None
        self._start = 0.0
        self._last_draw = 0.0
        self._last_t = 0.0
        self._last_done = 0
        self._rate: float | None = None
        self._done = 0
        self._total = 0

    def _columns(self) -> int:
        if self._width:
            return self._width
        try:
            return os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, AttributeError, ValueError):
            return 80

    def __call__(self, src: Any, dst: Any, done: int, total: int) -> None:
        now = self._clock()
        if src != self._name:
            if self._name is not None:
                self.finish()
            self._name, self._start, self._last_t, self._last_done = src, now, now, 0
            self._rate, self._last_draw = None, 0.0
        self._done, self._total = done, total
        dt = now - self._last_t
        if dt >= self._interval / 2:
            inst = (done - self._last_done) / dt
            self._rate = inst if self._rate is None else 0.7 * self._rate + 0.3 * inst
            self._last_t, self._last_done = now, done
        if self.enabled and (now - self._last_draw >= self._interval or done >= total > 0):
            self._last_draw = now
            self._draw(now, final=False)

    def _draw(self, now: float, final: bool) -> None:
        done, total = self._done, self._total
        elapsed = max(now - self._start, 1e-9)
        if final or self._rate is None:
            rate = done / elapsed
        else:
            rate = self._rate
        pct = 100 if total <= 0 else min(100, int(done * 100 / total))
        if final:
            when = format_eta(elapsed) + "    "
        else:
            when = format_eta((total - done) / rate if rate > 0 else None) + " ETA"
        right = f" {pct:3d}% {format_size(done):>8} {format_size(rate) + '/s':>10} {when}"
        name = os.path.basename(str(self._name).rstrip("/")) or str(self._name)
        room = max(self._columns() - len(right) - 1, 1)
        line = (name[:room]).ljust(room) + right
        self.stream.write("\r" + line + ("\n" if final else ""))
        self.stream.flush()

    def finish(self) -> None:
        """The file is done: draw its final line (with the total time) and start anew."""
        if self._name is not None and self.enabled:
            self._draw(self._clock(), final=True)
        self._name = None
