"""No import circle among sshcore's modules outside the asyncio adapter.

The layers (``sshcore.kernel``, the plugin API at the top, ``sshcore.files``,
``sshcore.blocking``, ``sshcore.cli``) import downwards only.  Read from the source with
:mod:`ast`: every import, at the top, in a function or under ``TYPE_CHECKING``.  The
package ``sshcore/__init__`` (a facade that loads names lazily) is left out, and so are
circles inside ``sshcore.aio``, whose modules (channels, forwarding, processes) call one
another at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sshcore

ROOT = Path(sshcore.__file__).parent


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in ROOT.rglob("*.py"):
        if "_scaffold" in path.parts:
            continue
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if package else parts)] = (path, package)
    return out


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, (path, package) in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if package else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    edges.add(full if full in modules else target)
            elif isinstance(node, ast.Import):
                edges.update(a.name for a in node.names)
        graph[name] = {e for e in edges if e in modules and e not in (name, "sshcore")}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_walker_sees_the_layers():
    graph = import_graph()
    assert "sshcore.kernel.connection" in graph["sshcore.aio.connection"]
    assert "sshcore.files.keys" in graph["sshcore.aio.server"]
    assert "sshcore.cli._ssh_flags" in graph["sshcore.cli"]
    assert circles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


def test_no_circle_outside_the_asyncio_adapter():
    bad = [c for c in circles(import_graph())
           if not all(m.startswith("sshcore.aio.") for m in c)]
    assert bad == []
