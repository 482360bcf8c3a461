"""The kernel's modules import one another without a circle.

The sub-layers (``_userauth``, ``_channels``) see their owner, the ``Connection``, only
through the small interface in ``sshcore/kernel/_layer.py``; ``connection`` imports them, never
the other way round.  The graph is read from the source with :mod:`ast`, so no module is
imported here.

What counts as an import: every ``import``/``from ... import`` of an ``sshcore`` module
anywhere in a module -- at the top, inside a function (a deferred run-time import), and
under ``if TYPE_CHECKING:`` too: a type-only import is still a dependency, and the
interface module makes it unnecessary to point back at the owner.  ``from . import x``
is an edge to module ``x`` when ``sshcore/kernel/x.py`` exists.

The kernel is the ``sshcore.kernel`` package; what it uses from the plugin API layer
(``sshcore.errors``, ``sshcore._wire``...) is below it, and the ``aio`` and ``blocking``
adapters, the CLI and ``sshcore.files`` are above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sshcore
from sshcore.connection import Connection

ROOT = Path(sshcore.__file__).parent
KERNEL = ROOT / "kernel"
NOT_KERNEL = {"__init__"}


def _targets(node: ast.AST, modules: set[str]) -> list[str]:
    """The kernel modules one import statement names."""
    if isinstance(node, ast.ImportFrom):
        if node.level == 1:
            if node.module:
                return [node.module.split(".")[0]]
            return [a.name if a.name in modules else "__init__" for a in node.names]
        if node.level == 0 and node.module and node.module.startswith("sshcore.kernel."):
            return [node.module.split(".")[2]]
        return []
    if isinstance(node, ast.Import):
        return [a.name.split(".")[2] for a in node.names if a.name.startswith("sshcore.kernel.")]
    return []


def import_graph() -> dict[str, dict[str, int]]:
    """module -> {kernel module it imports: line of the first such import}."""
    modules = {p.stem for p in KERNEL.glob("*.py")} - NOT_KERNEL
    graph: dict[str, dict[str, int]] = {}
    for name in sorted(modules):
        tree = ast.parse((KERNEL / f"{name}.py").read_text(), filename=f"{name}.py")
        edges: dict[str, int] = {}
        for node in ast.walk(tree):
            for target in _targets(node, modules):
                if target in modules and target != name:
                    edges.setdefault(target, node.lineno)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """A circle of imports (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_graph_sees_the_kernels_imports():
    """The walker finds real edges of each kind (else "no cycle" would mean nothing)."""
    graph = import_graph()
    assert {"_channels", "_userauth", "_transport"} <= set(graph["connection"])  # top level
    assert "_channels" in graph["_timeouts"]          # under TYPE_CHECKING
    assert "chanreq" in graph["events"]               # likewise
    assert "_layer" in graph["_userauth"] and "_layer" in graph["_channels"]


def test_find_cycle_detects_a_circle():
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": 1}, "b": {}}) is None


def test_sub_layers_do_not_import_the_connection():
    graph = import_graph()
    for layer in ("_userauth", "_channels", "_transport", "_layer"):
        assert "connection" not in graph[layer], (
            f"sshcore/{layer}.py imports connection (line {graph[layer].get('connection')})")


def test_no_import_cycle_among_kernel_modules():
    graph = import_graph()
    cycle = find_cycle(graph)
    if cycle:
        steps = [f"{a} (line {graph[a][b]}) -> {b}" for a, b in zip(cycle, cycle[1:])]
        raise AssertionError("import cycle: " + ", ".join(steps))


def test_connection_provides_everything_the_layer_host_names(test_registry):
    """The sub-layers reach their owner only through _LayerHost: the Connection has each
    attribute and method the interface names (a renamed one would surface here)."""
    from sshcore.kernel._layer import _LayerHost
    from sshcore.testing import pair_configs

    names = set(_LayerHost.__annotations__) | {
        n for n, v in vars(_LayerHost).items() if callable(v) and not n.startswith("__")}
    assert {"send_payload", "_events", "_now", "config", "on_auth_success"} <= names
    cfgs = pair_configs(test_registry)
    for role in ("client", "server"):
        conn = Connection(getattr(cfgs, role))
        missing = sorted(n for n in names if not hasattr(conn, n))
        assert missing == [], f"{role} Connection lacks {missing}"
        assert conn.channels.host is conn and conn.userauth.host is conn


# ---------------------------------------------------------------- the adapters' boundary
#
# The asyncio adapter (``sshcore/aio/``) and the blocking one (``sshcore/blocking/``)
# encode no protocol message: they import no wire codec (the kernel's typed requests in
# ``sshcore.chanreq`` do that), and they reach the kernel only through its public
# methods and properties: no ``conn._conn.<x>`` (another object's kernel), and none of
# the kernel's sub-layers or private state (``.userauth``, ``.channels.channels``,
# ``.channels.corked``, ``._auth_deadline``).

ADAPTERS = ("aio", "blocking")
CODEC_MODULES = {"_wire", "wire"}
CODEC_NAMES = {"SSHReader", "string", "uint32", "uint64", "boolean", "byte", "mpint",
               "name_list", "encode", "_wire", "wire"}
KERNEL_INTERNALS = {"userauth", "_auth_deadline", "corked"}


def _codec_imports(tree: ast.AST, package_depth: int) -> list[tuple[int, str]]:
    """Imports of the wire codec: its modules, or its names from any sshcore module."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] != "sshcore":
                    continue
                inner = parts[1:]
            elif node.level == package_depth + 1:
                inner = (node.module or "").split(".") if node.module else []
            else:
                continue  # a sibling in the adapter's own package
            if inner and inner[0] in CODEC_MODULES:
                found.append((node.lineno, f"from {'.' * node.level}{node.module} import ..."))
            for alias in node.names:
                if alias.name in CODEC_NAMES:
                    found.append((node.lineno, f"imports {alias.name} from sshcore"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "sshcore" and len(parts) > 1 and parts[1] in CODEC_MODULES:
                    found.append((node.lineno, f"import {alias.name}"))
    return found


#: How the adapters name the kernel object itself (an attribute set on it is a write
#: into its state: the kernel offers methods for that, such as ``abandon()``).
KERNEL_NAMES = {"self._conn", "kernel", "k", "self.kernel", "drv.kernel", "self._drv.kernel"}


def _kernel_reach_ins(tree: ast.AST) -> list[tuple[int, str]]:
    """``X._conn`` where X is not ``self`` (another object's kernel or connection),
    the kernel's sub-layers and private state, as attributes or via getattr(), and
    attributes set on the kernel."""
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                and ast.unparse(node.value) in KERNEL_NAMES):
            found.append((node.lineno, f"{ast.unparse(node)} = ..."))
        if isinstance(node, ast.Attribute):
            if node.attr == "_conn" and not (isinstance(node.value, ast.Name)
                                             and node.value.id == "self"):
                found.append((node.lineno, f"{ast.unparse(node)}"))
            elif node.attr in KERNEL_INTERNALS:
                found.append((node.lineno, f"{ast.unparse(node)}"))
            elif (node.attr == "channels" and isinstance(node.value, ast.Attribute)
                  and node.value.attr == "channels"):
                found.append((node.lineno, f"{ast.unparse(node)}"))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "hasattr") and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant)
              and node.args[1].value in KERNEL_INTERNALS | {"_conn"}):
            found.append((node.lineno, ast.unparse(node)))
    return found


def _adapter_modules() -> list[Path]:
    return sorted(p for pkg in ADAPTERS for p in (ROOT / pkg).glob("*.py"))


def test_boundary_checks_see_what_they_look_for():
    """The walkers flag each kind of violation (else a pass would mean nothing)."""
    bad = ast.parse(
        "from .._wire import SSHReader\n"
        "from .. import wire\n"
        "import sshcore._wire\n"
        "from sshcore.plugin import string\n"
        "from .channel import SSHChannel\n"          # a sibling: fine
        "from ..chanreq import PtyRequest\n"         # the typed kernel API: fine
        "def f(self, conn, chan):\n"
        "    conn._conn.send_eof(1)\n"
        "    self._conn._conn.consume(1, 2)\n"
        "    k = chan._conn\n"
        "    self._conn.channels.channels\n"
        "    getattr(self._conn, 'userauth', None)\n"
        "    self._conn.pending(3)\n"                 # own kernel, public method: fine
        "    kernel.closed = True\n")
    assert [line for line, _ in _codec_imports(bad, 1)] == [1, 1, 2, 3, 4]
    assert sorted({line for line, _ in _kernel_reach_ins(bad)}) == [8, 9, 10, 11, 12, 14]


def test_adapters_import_no_wire_codec():
    """Protocol messages are the kernel's business: sshcore/aio and sshcore/blocking
    build and parse no SSH wire data (they use sshcore.chanreq's typed requests)."""
    problems = []
    for path in _adapter_modules():
        tree = ast.parse(path.read_text(), filename=str(path))
        problems += [f"{path.relative_to(ROOT)}:{line}: {what}"
                     for line, what in _codec_imports(tree, 1)]
    assert not problems, "adapter modules use the wire codec:\n" + "\n".join(problems)


def test_adapters_reach_the_kernel_only_through_public_names():
    problems = []
    for path in _adapter_modules():
        tree = ast.parse(path.read_text(), filename=str(path))
        problems += [f"{path.relative_to(ROOT)}:{line}: {what}"
                     for line, what in _kernel_reach_ins(tree)]
    assert not problems, "reach-ins into the kernel:\n" + "\n".join(problems)
