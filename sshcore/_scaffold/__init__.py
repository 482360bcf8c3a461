"""``sshcore plugin new``: write a new plugin distribution that passes the conformance kit.

``sshcore plugin new --family cipher|mac|kex|compression|key|auth NAME DIR`` writes, in
``DIR``: ``pyproject.toml`` (a bounded sshcore dependency and the ``sshcore.plugins``
entry point), ``README.md``, the package (``hooks.py`` using only :mod:`sshcore.plugin`,
``impl.py`` with a small, correct implementation) and ``tests/`` running the kit.  The
result installs with pip and passes its own tests unchanged.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from string import Template
from typing import Any

from . import templates as T

FAMILIES = tuple(T.HOOKS)


def sshcore_requirement() -> str:
    """``sshcore>=X.Y,<X.Y+1`` for 0.x (each minor may break), ``<X+1`` from 1.0."""
    from .. import __version__

    major, minor = (int(p) for p in __version__.split(".")[:2])
    upper = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    return f"sshcore>={major}.{minor},<{upper}"


def names_for(name: str) -> tuple[str, str, str]:
    """(distribution, import package, entry-point name) for algorithm ``name``."""
    from ..registry import valid_algorithm_name

    if not valid_algorithm_name(name):
        raise ValueError(f"{name!r} is not a valid SSH algorithm name (RFC 4251 section 6: "
                         f"printable ASCII, no comma or space, at most 64 characters)")
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "plugin"
    return "sshcore-" + slug.replace("_", "-"), "sshcore_" + slug, slug


def write_plugin(family: str, name: str, directory: str | Path, *, force: bool = False
                 ) -> list[Path]:
    """Write the distribution; returns the files written.

    :raises ValueError: an unknown family, an invalid name, or a non-empty ``directory``
        (unless ``force``).
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; one of {', '.join(FAMILIES)}")
    if family == "auth" and "@" not in name:
        raise ValueError(f"a new auth method needs a name of the form NAME@DOMAIN, not {name!r}")
    dist, pkg, entry = names_for(name)
    root = Path(directory)
    if root.exists() and any(root.iterdir()) and not force:
        raise ValueError(f"{root} is not empty (use --force to write into it)")
    deps = [sshcore_requirement(), *T.EXTRA_DEPS.get(family, [])]
    subst = {"name": name, "dist": dist, "pkg": pkg, "entry": entry, "family": family,
             "family_label": T.LABELS[family], "keyword": T.KEYWORDS[family],
             "deps": ", ".join(f'"{d}"' for d in deps)}
    files = {
        "pyproject.toml": T.PYPROJECT, "README.md": T.README,
        f"{pkg}/__init__.py": f'"""{dist}: the {name} {T.LABELS[family]} for sshcore."""\n',
        f"{pkg}/hooks.py": T.HOOKS[family], f"{pkg}/impl.py": T.IMPL[family],
        f"tests/test_{pkg}.py": T.TESTS[family],
    }
    written = []
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(text).substitute(subst))
        written.append(path)
    return written


def add_parser(sub: Any) -> None:
    """``sshcore plugin new ...`` (registered by :func:`sshcore.cli.build_parser`)."""
    p = sub.add_parser("plugin", help="plugin development tools (sshcore plugin new ...)")
    ps = p.add_subparsers(dest="plugin_cmd", required=True)
    n = ps.add_parser("new", help="write a new plugin distribution that passes the "
                                  "conformance kit")
    n.add_argument("--family", required=True, choices=FAMILIES)
    n.add_argument("name", help="the algorithm's wire name, e.g. aes128-ctr@example.com")
    n.add_argument("dir", help="directory to write the distribution into")
    n.add_argument("--force", action="store_true", help="write into a non-empty directory")
    n.set_defaults(_plugin_run=run)


def run(args: argparse.Namespace) -> int:
    try:
        files = write_plugin(args.family, args.name, args.dir, force=args.force)
    except ValueError as exc:
        print(f"sshcore plugin new: {exc}", file=sys.stderr)
        return 2
    dist = names_for(args.name)[0]
    print(f"wrote {dist} ({len(files)} files) in {args.dir}; next: pip install "
          f"'{args.dir}[test]' && (cd {args.dir} && pytest)")
    return 0
