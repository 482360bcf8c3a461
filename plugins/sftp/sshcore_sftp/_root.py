"""Path resolution for the SFTP server: a root directory, and every path walked inside it.

Every path a client sends is resolved by :class:`Root`, one component at a time, with
directory file descriptors (``openat``-style, each step ``O_NOFOLLOW``): ``..`` stops at
the root, absolute paths start at the root, relative ones at the root's ``home``, and
symbolic links (whether created through SYMLINK or already on disk) are expanded here
with the same rules, an absolute target meaning the root.  The caller then works on
``(parent directory fd, final name)`` (a :class:`Resolved`) without following links.
When the root is ``/`` (a session not confined to a directory), this is the kernel's
own path resolution, done step by step.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Any

__all__ = ["Root", "Resolved", "virtual", "O_PATH", "MAX_SYMLINKS"]

#: Symbolic links expanded in one path before ELOOP (as Linux).
MAX_SYMLINKS = 40
O_PATH = getattr(os, "O_PATH", os.O_RDONLY)


class Root:
    """Path resolution inside the root directory (see the module docstring); relative
    paths start at ``home``, a path inside the root (``/``: the root itself)."""

    def __init__(self, path: str | bytes, home: bytes = b"/") -> None:
        real = os.path.realpath(os.fsencode(path))
        self.fd = os.open(real, O_PATH | os.O_DIRECTORY)
        self.path = real
        self.home = home

    def close(self) -> None:
        os.close(self.fd)

    def resolve(self, path: bytes, follow: bool) -> tuple[int, bytes | None, list[bytes]]:
        """Walk ``path`` from the root.

        Returns ``(fd, name, components)``: an open fd of the directory holding the final
        component (the caller closes it), that component's name (``None`` for the root
        itself) and the virtual path's components.  With ``follow``, a symlink in the final
        position is expanded too; a missing final component is fine (it may be created).
        """
        if b"\0" in path:
            raise OSError(errno.EINVAL, "path contains a NUL byte")
        if not path.startswith(b"/"):
            path = self.home + b"/" + path
        todo = [c for c in reversed(path.split(b"/")) if c and c != b"."]
        stack: list[bytes] = []
        fds = [os.dup(self.fd)]
        links = 0
        try:
            while todo:
                comp = todo.pop()
                if comp == b"..":
                    if stack:
                        stack.pop()
                        os.close(fds.pop())
                    continue
                if comp == b".":
                    continue
                last = not todo
                if last and not follow:
                    stack.append(comp)
                    break
                try:
                    st = os.stat(comp, dir_fd=fds[-1], follow_symlinks=False)
                except FileNotFoundError:
                    if last:
                        stack.append(comp)
                        break
                    raise
                if stat.S_ISLNK(st.st_mode):
                    links += 1
                    if links > MAX_SYMLINKS:
                        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
                    target = os.readlink(comp, dir_fd=fds[-1])
                    if target.startswith(b"/"):  # absolute: from the root, not from /
                        del stack[:]
                        for fd in fds[1:]:
                            os.close(fd)
                        del fds[1:]
                    todo.extend(c for c in reversed(target.split(b"/")) if c and c != b".")
                    continue
                if last:
                    stack.append(comp)
                    break
                if not stat.S_ISDIR(st.st_mode):
                    raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
                fds.append(os.open(comp, O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fds[-1]))
                stack.append(comp)
            if stack and len(fds) == len(stack) + 1:
                # The final component was descended into (a directory reached by "d/x/.."
                # style paths never happens: ".." pops both); step back to its parent.
                os.close(fds.pop())
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        for fd in fds[:-1]:
            os.close(fd)
        return fds[-1], (stack[-1] if stack else None), stack


def virtual(components: list[bytes]) -> bytes:
    return b"/" + b"/".join(components)


class Resolved:
    """A resolved path: parent dir fd, final name (``b"."`` for the root) and virtual path."""

    __slots__ = ("dirfd", "name", "is_root", "vpath")

    def __init__(self, dirfd: int, name: bytes | None, components: list[bytes]) -> None:
        self.dirfd = dirfd
        self.is_root = name is None
        self.name = b"." if name is None else name
        self.vpath = virtual(components)

    def close(self) -> None:
        os.close(self.dirfd)

    def __enter__(self) -> Resolved:
        return self

    def __exit__(self, *exc: Any) -> None:
        os.close(self.dirfd)

    @property
    def text(self) -> str:
        return os.fsdecode(self.vpath)
