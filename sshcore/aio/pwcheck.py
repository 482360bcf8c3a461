"""Slow password checks (scrypt hashes) off the event loop: few at a time, at low CPU
priority, fair between sources.

A password check of a :class:`~sshcore.passwords.PasswordFile` costs ~50 ms of CPU and
32 MiB of memory on purpose.  Run in the event loop's default executor (up to
``cpu_count + 4`` threads), a password-guessing flood would run six or more at once:
~200 MiB of scrypt buffers, and every core busy hashing while the event loop, which
carries the key exchanges and sessions of everyone else, waits its turn.  Instead,
:class:`PasswordChecks` runs them on a fixed number of worker threads (by default half
the cores, at least one), each lowered to nice 10 on Linux (a thread's own niceness;
elsewhere the priority stays as it is) so the event loop's thread gets the CPU first.

Queued checks are served round-robin by source address, and sources whose last check
failed (kept in a bounded table, for ``failed_memory`` seconds) only after every source
without a recent failure: a source guessing passwords cannot crowd out the first
login from another, much as sshd's per-source penalties keep it from connecting at all.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("sshcore.aio")

__all__ = ["PasswordChecks", "password_checks"]

_Job = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]", asyncio.AbstractEventLoop]


def _lower_priority(nice: int) -> None:
    """Lower the calling thread's CPU priority (Linux: setpriority on the thread id)."""
    if not nice or not hasattr(os, "setpriority") or not hasattr(threading, "get_native_id"):
        return
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, current + nice))
    except OSError:  # not permitted, or not per-thread here: the priority stays
        pass


class PasswordChecks:
    """A fair, bounded executor for password checks (see the module docstring).

    ``workers``: threads running checks (None: half the cores, at least one);
    ``nice``: how much lower their priority is; ``failed_memory``: seconds a failed
    check keeps its source in the low-priority tier; ``max_sources``: the size cap of
    that table (the oldest entries go first)."""

    def __init__(self, workers: int | None = None, nice: int = 10, failed_memory: float = 600.0,
                 max_sources: int = 65536) -> None:
        self.workers = max(1, workers if workers is not None else (os.cpu_count() or 2) // 2)
        self.nice = nice
        self.failed_memory = failed_memory
        self.max_sources = max_sources
        self._cond = threading.Condition()
        # Per tier, source -> its queued jobs, in round-robin order.
        self._queues: tuple[dict[Any, collections.deque[_Job]], ...] = ({}, {})
        self._failed: collections.OrderedDict[Any, float] = collections.OrderedDict()
        self._threads: list[threading.Thread] = []
        self.running = 0        # checks running now (for tests and figures)
        self.max_running = 0    # the most ever running at once

    def submit(self, source: Any, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Queue ``fn(*args)`` for ``source`` (an address; None groups unknown peers);
        the returned future (of the running loop) gets its result.  A check whose result
        is falsy marks ``source`` as recently failed."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        with self._cond:
            tier = 1 if self._recently_failed(source) else 0
            self._queues[tier].setdefault(source, collections.deque()).append((fn, args, fut, loop))
            if len(self._threads) < self.workers:
                t = threading.Thread(target=self._worker, name="sshcore-pwcheck", daemon=True)
                self._threads.append(t)
                t.start()
            self._cond.notify()
        return fut

    def queued(self) -> int:
        with self._cond:
            return sum(len(q) for tier in self._queues for q in tier.values())

    def _recently_failed(self, source: Any) -> bool:
        when = self._failed.get(source)
        return when is not None and time.monotonic() - when < self.failed_memory

    def _note(self, source: Any, ok: bool) -> None:
        with self._cond:
            self._failed.pop(source, None)
            if not ok:
                self._failed[source] = time.monotonic()
                while len(self._failed) > self.max_sources:
                    self._failed.popitem(last=False)

    def _next(self) -> tuple[Any, _Job]:
        """The next job, round-robin by source, the recently failed tier last (lock held)."""
        while True:
            for tier in self._queues:
                if tier:
                    source = next(iter(tier))
                    jobs = tier.pop(source)
                    job = jobs.popleft()
                    if jobs:
                        tier[source] = jobs  # to the back of the round
                    return source, job
            self._cond.wait()

    def _worker(self) -> None:
        _lower_priority(self.nice)
        while True:
            with self._cond:
                source, (fn, args, fut, loop) = self._next()
                self.running += 1
                self.max_running = max(self.max_running, self.running)
            try:
                if fut.cancelled():
                    continue  # the connection went away while queued
                try:
                    result: Any = fn(*args)
                except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
                    self._note(source, False)
                    _resolve(loop, fut, exc, failed=True)
                else:
                    self._note(source, bool(result))
                    _resolve(loop, fut, result)
            finally:
                with self._cond:
                    self.running -= 1


def _resolve(loop: asyncio.AbstractEventLoop, fut: asyncio.Future[Any], value: Any,
             failed: bool = False) -> None:
    def settle() -> None:
        if fut.done():
            return
        if failed:
            fut.set_exception(value)
        else:
            fut.set_result(value)
    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the loop is closed: nobody waits any more
        pass


_default: PasswordChecks | None = None
_default_lock = threading.Lock()


def password_checks() -> PasswordChecks:
    """The process's shared :class:`PasswordChecks` (CPU priority is per process)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = PasswordChecks()
        return _default
