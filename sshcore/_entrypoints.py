"""Entry-point discovery without :mod:`importlib.metadata`.

Importing :mod:`importlib.metadata` costs about 30 ms of CPU (it pulls in ``email``,
``zipfile``, ``csv`` and ``pathlib``), a tenth of a short ``sshcore run``.  Finding the
``sshcore.plugins`` entry points needs much less: for each directory on ``sys.path``,
the ``*.dist-info`` and ``*.egg-info`` folders, and in each the ``entry_points.txt``
file when there is one.  A distribution's name and version are read (from the first
lines of ``METADATA``/``PKG-INFO``) only when it declares an entry point of the group.

Semantics follow :func:`importlib.metadata.entry_points`: ``sys.path`` order, and a
distribution found twice (the same normalised name) counts once, where it is found
first.  A ``sys.path`` entry that is not a directory (a zip file or an egg) is handed
to :mod:`importlib.metadata`, imported only then.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import Any

__all__ = ["EntryPoint", "entry_points"]


@dataclass(frozen=True, slots=True)
class EntryPoint:
    """One entry point of one installed distribution."""

    name: str
    #: ``module`` or ``module:attribute.path`` (extras, if any, removed).
    value: str
    distribution: str
    version: str

    def load(self) -> Any:
        """Import the module and return the named object (as ``EntryPoint.load``)."""
        module, _, attrs = self.value.partition(":")
        obj: Any = import_module(module.strip())
        for attr in filter(None, attrs.strip().split(".")):
            obj = getattr(obj, attr)
        return obj


_SUFFIXES = (".dist-info", ".egg-info")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def entry_points(group: str, path: Sequence[str] | None = None) -> Iterator[EntryPoint]:
    """Every entry point of ``group`` on ``path`` (default ``sys.path``), in path order."""
    seen: set[str] = set()
    for entry in sys.path if path is None else path:
        directory = entry or "."
        try:
            names = sorted(e.name for e in os.scandir(directory) if e.name.endswith(_SUFFIXES))
        except NotADirectoryError:
            yield from _archive(entry, group, seen)
            continue
        except OSError:  # missing or unreadable: importlib.metadata skips it too
            continue
        for folder in names:
            meta = os.path.join(directory, folder)
            key = _normalise(folder.rsplit(".", 1)[0].split("-", 1)[0])
            if key in seen:
                continue
            seen.add(key)
            try:
                with open(os.path.join(meta, "entry_points.txt"), encoding="utf-8") as f:
                    text = f.read()
            except OSError:  # no entry points (or a stray file named like a folder)
                continue
            found = _section(text, group)
            if not found:
                continue
            dist, version = _identity(meta, folder)
            for name, value in found:
                yield EntryPoint(name, value, dist, version)


def _section(text: str, group: str) -> list[tuple[str, str]]:
    """``(name, value)`` of each line of ``[group]`` in an ``entry_points.txt``."""
    out: list[tuple[str, str]] = []
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line[0] == "[":
            inside = line[1:].split("]", 1)[0].strip() == group
            continue
        if inside and "=" in line:
            name, _, value = line.partition("=")
            value = value.split("[", 1)[0]  # "mod:attr [extra]": extras are not checked
            out.append((name.strip(), value.strip()))
    return out


def _identity(meta: str, folder: str) -> tuple[str, str]:
    """Name and version from the metadata file's headers, else from the folder's name."""
    name = version = ""
    for filename in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(meta, filename), encoding="utf-8", errors="replace") as f:
                for line in f:
                    if not line.strip():
                        break  # the headers end at the first blank line
                    if line.startswith("Name:"):
                        name = line[5:].strip()
                    elif line.startswith("Version:"):
                        version = line[8:].strip()
                    if name and version:
                        break
            break
        except OSError:
            continue
    stem = folder.rsplit(".", 1)[0]
    if not name:
        name = stem.split("-", 1)[0]
    if not version and "-" in stem:
        version = stem.split("-", 2)[1]
    return name, version


def _archive(entry: str, group: str, seen: set[str]) -> Iterator[EntryPoint]:
    """Entry points in a zip or egg on ``sys.path``, through :mod:`importlib.metadata`."""
    import importlib.metadata

    for dist in importlib.metadata.distributions(path=[entry]):
        name = str(dist.metadata["Name"] or "")
        if not name or _normalise(name) in seen:
            continue
        seen.add(_normalise(name))
        for ep in dist.entry_points:
            if ep.group == group:
                yield EntryPoint(ep.name, ep.value.split("[", 1)[0].strip(), name,
                                 str(dist.version))
