"""Shared pieces of the packaging tests: the distributions of the checkout, their
wheels built from a copy of the sources, fresh virtual environments, and the real
OpenSSH fixtures of ``tests/interop`` (sshd, keys) reused as they are.

Nothing here imports from the source tree into the venvs under test: the sources are
copied, built into wheels, and every program runs with a working directory outside the
checkout.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tomllib
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The interop fixtures (an sshd per module, session keys, run_ssh, free_port) are loaded
# from their own conftest so that both test trees use exactly the same OpenSSH set-up.
_spec = importlib.util.spec_from_file_location("_sshcore_interop_fixtures",
                                               ROOT / "tests" / "interop" / "conftest.py")
assert _spec is not None and _spec.loader is not None
interop = sys.modules.setdefault(_spec.name, importlib.util.module_from_spec(_spec))
if not hasattr(interop, "Sshd"):
    _spec.loader.exec_module(interop)
keys = interop.keys
start_sshd = interop.start_sshd


@dataclass(frozen=True)
class Project:
    """One distribution of the checkout: the kernel (root) or a plugin under plugins/."""

    dir: Path
    name: str
    version: str
    dependencies: tuple[str, ...]
    optional: dict[str, list[str]]

    @property
    def module(self) -> str:
        return self.name.replace("-", "_")


def load_project(path: Path) -> Project:
    data = tomllib.loads((path / "pyproject.toml").read_text())["project"]
    return Project(path, data["name"], data["version"], tuple(data.get("dependencies", ())),
                   dict(data.get("optional-dependencies", {})))


KERNEL = load_project(ROOT)
PLUGINS = [load_project(p.parent) for p in sorted((ROOT / "plugins").glob("*/pyproject.toml"))]

_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")


def requirement_name(req: str) -> str:
    """The normalized project name of a PEP 508 requirement string."""
    m = _REQ.match(req)
    assert m, req
    return re.sub(r"[-_.]+", "-", m.group(1)).lower()


def minimum_pins(requirements: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``{name: minimum}`` for every requirement with a ``>=`` bound (sshcore's own
    distributions, which come from the checkout, are left out)."""
    pins: dict[str, str] = {}
    for req in requirements:
        name = requirement_name(req)
        if name.startswith("sshcore"):
            continue
        spec = _REQ.match(req).group(3).split(";")[0]  # type: ignore[union-attr]
        lows = [s.strip()[2:].strip() for s in spec.split(",") if s.strip().startswith(">=")]
        assert len(lows) == 1, f"{req!r}: every dependency needs exactly one lower bound (>=)"
        pins[name] = lows[0]
    return pins


def run(cmd: list[str], *, timeout: float = 300, **kw) -> subprocess.CompletedProcess[str]:
    """Run a command with a timeout, capturing text output (never from the checkout)."""
    kw.setdefault("cwd", "/")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for programs of a venv under test: no PYTHONPATH, no user site,
    nothing of the test venv on PATH."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    ours = os.path.dirname(sys.executable)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != ours)
    env["PYTHONNOUSERSITE"] = "1"
    env.update(extra)
    return env


def copy_sources(dest: Path) -> list[Path]:
    """Copy the kernel's and every plugin's sources (no build debris, no venv) to ``dest``;
    return the project folders of the copy, kernel first."""
    junk = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__",
                                  "tests", "bench", "docs", "examples", "scripts", ".ci")
    shutil.copytree(ROOT, dest, ignore=lambda d, names: (
        set(junk(d, names)) | ({"plugins"} if Path(d) == ROOT else set())))
    out = [dest]
    for p in PLUGINS:
        shutil.copytree(p.dir, dest / "plugins" / p.dir.name, ignore=junk)
        out.append(dest / "plugins" / p.dir.name)
    return out


def build_wheels(work: Path, *, isolation: bool) -> Path:
    """Wheels of the kernel and of every plugin, built from a copy of the sources."""
    projects = copy_sources(work / "src")
    wheels = work / "wheels"
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check",
           "--no-deps", "-w", str(wheels), *map(str, projects)]
    if not isolation:
        cmd.insert(4, "--no-build-isolation")
    r = run(cmd, timeout=600, cwd=work)
    assert r.returncode == 0, r.stdout + r.stderr
    built = sorted(p.name for p in wheels.glob("*.whl"))
    assert len(built) == 1 + len(PLUGINS), built
    return wheels


def make_venv(path: Path, *, with_pip: bool = True) -> Path:
    """A plain ``python -m venv`` (no access to the test venv's packages); its python."""
    base = getattr(sys, "_base_executable", sys.executable)
    cmd = [base, "-m", "venv", str(path)] + ([] if with_pip else ["--without-pip"])
    r = run(cmd, timeout=180)
    assert r.returncode == 0, r.stderr
    return path / "bin" / "python"


def satisfied(pins: dict[str, str], requirements: tuple[str, ...]) -> bool:
    """Whether the pinned versions meet every ``>=`` bound of ``requirements``."""
    from packaging.version import Version

    own = minimum_pins(requirements)
    return all(Version(pins[n]) >= Version(v) for n, v in own.items() if n in pins)


#: The kernel's own tests that run under its minimum pins (those of the plugin registry,
#: of authentication and of the connection state machines, which use pluggy throughout).
KERNEL_TESTS = ["tests/test_registry.py", "tests/test_auth.py", "tests/test_connection.py"]


def test_paths(name: str) -> list[Path]:
    """The tests of a group member: "kernel" or a plugin's folder name."""
    if name == "kernel":
        return [ROOT / t for t in KERNEL_TESTS]
    return [ROOT / "plugins" / name / "tests"]


def minimum_groups() -> list[tuple[dict[str, str], list[str]]]:
    """The kernel and the plugins (folder names) grouped by their pins: the kernel's
    minimums, and each plugin's own."""
    kernel = minimum_pins(KERNEL.dependencies)
    groups: dict[str, tuple[dict[str, str], list[str]]] = {repr(sorted(kernel.items())): (kernel, ["kernel"])}
    for p in PLUGINS:
        if not (p.dir / "tests").is_dir():
            continue
        pins = {**kernel, **minimum_pins(p.dependencies)}
        key = repr(sorted(pins.items()))
        groups.setdefault(key, (pins, []))[1].append(p.dir.name)
    return list(groups.values())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "min_group" in metafunc.fixturenames:
        groups = minimum_groups()
        metafunc.parametrize("min_group", groups, ids=["+".join(names) for _, names in groups])


@pytest.fixture(scope="session")
def pk() -> types.SimpleNamespace:
    """This module's helpers, for the test modules (which cannot import conftest)."""
    return types.SimpleNamespace(
        ROOT=ROOT, KERNEL=KERNEL, PLUGINS=PLUGINS, interop=interop, run=run,
        clean_env=clean_env, build_wheels=build_wheels, make_venv=make_venv,
        minimum_pins=minimum_pins, satisfied=satisfied, test_paths=test_paths, requirement_name=requirement_name)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A working directory outside the checkout."""
    d = tmp_path / "cwd"
    d.mkdir()
    assert ROOT not in d.resolve().parents
    return d
