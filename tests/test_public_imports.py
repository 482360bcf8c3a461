"""Our plugins, the examples and the toy plugins use only public sshcore names.

"A third party's plugin is indistinguishable from ours": whatever a plugin of ours
needs from sshcore must be public (``sshcore.plugin``, ``sshcore.wire``, ...), so no
module here imports a module or a name of sshcore that starts with ``_``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = [*sorted(ROOT.glob("plugins/*/sshcore_*")), *sorted(ROOT.glob("plugins/*/tests")),
           ROOT / "examples", *sorted(ROOT.glob("tests/toy_*"))]


def _private_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "sshcore" and any(p.startswith("_") for p in parts[1:]):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "sshcore":
                continue
            if any(p.startswith("_") for p in parts[1:]):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: from {node.module}")
            for alias in node.names:
                if alias.name.startswith("_"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: "
                                 f"from {node.module} import {alias.name}")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                and isinstance(node.value, ast.Name) and node.value.id == "sshcore":
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: sshcore.{node.attr}")
    return found


def test_the_scan_covers_every_plugin_and_the_examples():
    families = {p.parent.name for p in SCANNED if p.name.startswith("sshcore_")}
    assert {"auth", "ciphers", "compression", "kex_dh", "kex_ecdh", "kex_pq", "keys", "macs",
            "sftp"} <= families
    assert sum(1 for d in SCANNED for _ in d.rglob("*.py")) > 60


def test_no_private_sshcore_name_is_imported():
    bad = [use for d in SCANNED for path in sorted(d.rglob("*.py"))
           if "build" not in path.relative_to(ROOT).parts for use in _private_uses(path)]
    assert not bad, "private sshcore names used:\n" + "\n".join(bad)


def test_the_scanner_sees_each_kind_of_private_use(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import sshcore._wire\nfrom sshcore._wire import string\n"
                      "from sshcore.registry import _norm\nimport sshcore\nsshcore._LAZY\n"
                      "from sshcore.wire import string\nfrom sshcore_x import _y\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert len(_private_uses(sample)) == 4
    finally:
        ROOT = saved
