"""Entry-point discovery (``sshcore._entrypoints``): the same answers as
:mod:`importlib.metadata`, without importing it, and cheap with many distributions."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import zipfile
from pathlib import Path

from sshcore._entrypoints import entry_points


def _dist(root: Path, name: str, version: str, eps: str | None, kind: str = "dist-info") -> None:
    folder = root / f"{name.replace('-', '_')}-{version}.{kind}"
    folder.mkdir(parents=True)
    header = "METADATA" if kind == "dist-info" else "PKG-INFO"
    (folder / header).write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nbody\nName: not-me\n")
    if eps is not None:
        (folder / "entry_points.txt").write_text(eps)


def _ours(group: str, path: list[str]) -> list[tuple[str, str, str, str]]:
    return [(e.name, e.value, e.distribution, e.version) for e in entry_points(group, path)]


def _theirs(group: str, path: list[str]) -> list[tuple[str, str, str, str]]:
    out, seen = [], set()
    for dist in importlib.metadata.distributions(path=path):
        key = dist.metadata["Name"].lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        out += [(ep.name, ep.value.split("[")[0].strip(), dist.metadata["Name"], dist.version)
                for ep in dist.entry_points if ep.group == group]
    return out


def test_installed_environment_agrees_with_importlib_metadata() -> None:
    for group in ("sshcore.plugins", "console_scripts", "pytest11"):
        assert sorted(_ours(group, sys.path)) == sorted(_theirs(group, sys.path)), group
    assert {e[0] for e in _ours("sshcore.plugins", sys.path)} >= {"ciphers", "keys", "kex_pq"}


def test_many_distributions_shadowing_eggs_and_zips(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for i in range(300):
        _dist(second, f"filler-{i}", "1.0", "[console_scripts]\nfill = filler:main\n" if i % 7 else None)
    eps = ("# comment\n[console_scripts]\nx = a:b\n\n[sshcore.plugins]\n"
           "toy = toy_pkg.hooks:plugin [extra]\n ; another comment\nbare=toy_pkg\n")
    _dist(second, "toy-plugin", "2.0", eps)
    _dist(first, "Toy_Plugin", "3.0", "[sshcore.plugins]\nnewer = toy3.hooks\n")  # shadows
    _dist(second, "legacy", "0.5", "[sshcore.plugins]\nold = legacy.hooks\n", kind="egg-info")
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("zipped-1.1.dist-info/METADATA", "Name: zipped\nVersion: 1.1\n\n")
        z.writestr("zipped-1.1.dist-info/entry_points.txt", "[sshcore.plugins]\nz = zipped.hooks\n")
    path = [str(first), str(tmp_path / "missing"), str(second), str(archive)]
    ours = _ours("sshcore.plugins", path)
    assert sorted(ours) == sorted(_theirs("sshcore.plugins", path))
    assert ours == [("newer", "toy3.hooks", "Toy_Plugin", "3.0"),
                    ("old", "legacy.hooks", "legacy", "0.5"),
                    ("z", "zipped.hooks", "zipped", "1.1")]
    assert len(_ours("console_scripts", path)) == 300 - 43  # toy-plugin's "x" is shadowed


def test_load_resolves_module_and_attribute_path() -> None:
    ep = next(e for e in entry_points("sshcore.plugins") if e.name == "ciphers")
    assert ep.load().__name__ == ep.value
    from sshcore._entrypoints import EntryPoint
    assert EntryPoint("x", "os.path:join.__name__", "d", "1").load() == "join"


def test_building_the_registry_does_not_import_importlib_metadata() -> None:
    code = ("import sys\nfrom sshcore.registry import build_registry\nr = build_registry()\n"
            "assert r.names('cipher'), 'no plugin found'\n"
            "print(sorted(m for m in ('importlib.metadata', 'email', 'zipfile') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
