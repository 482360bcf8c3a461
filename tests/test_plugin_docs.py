"""docs/plugin-api.md documents every hook specification and every public name of
sshcore.plugin, and links one guide per family, each naming its kit check."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import sshcore.plugin

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "docs" / "plugin-api.md"
GUIDES = {"cipher.md": "check_cipher", "mac.md": "check_mac", "kex.md": "check_kex",
          "compression.md": "check_compression", "host-key.md": "check_host_key",
          "auth.md": "check_auth_method"}


def hookspecs() -> list[str]:
    tree = ast.parse((ROOT / "sshcore" / "hookspecs.py").read_text())
    return [f.name for f in tree.body if isinstance(f, ast.FunctionDef)
            and any(isinstance(d, (ast.Name, ast.Call)) and "hookspec" in ast.unparse(d)
                    for d in f.decorator_list)]


def test_every_hookspec_has_a_section():
    text = API.read_text()
    specs = hookspecs()
    assert len(specs) >= 12
    missing = [s for s in specs if f"### `{s}`" not in text]
    assert not missing, f"hooks without a section in docs/plugin-api.md: {missing}"


def test_the_versioning_rules_are_those_of_sshcore_plugin():
    text = " ".join(API.read_text().split())
    assert f"provides **{sshcore.plugin.API_VERSION[0]}.{sshcore.plugin.API_VERSION[1]}**" in text
    for rule in ("A plugin written for `1.N` works with every `1.M`, `M >= N`",
                 "Removing or changing a name takes a **major** release",
                 "SSHCORE_PLUGIN_API = (1, 0)", "SSHCorePluginDeprecationWarning"):
        assert rule in text, rule


def test_each_family_guide_exists_is_linked_and_names_its_check():
    text = API.read_text()
    for guide, check in GUIDES.items():
        body = (ROOT / "docs" / "plugins" / guide).read_text()
        assert f"(plugins/{guide})" in text, guide
        assert f"sshcore.conformance.{check}(" in body, guide
        assert re.search(r"^## What the kit checks$", body, re.M), guide


def test_the_kit_and_its_opt_in_are_documented():
    text = API.read_text()
    for needle in ("sshcore_kit = true", "--sshcore-kit",
                   'pytest_plugins = ["sshcore.conformance.fixtures"]', "sshcore_vectors",
                   "sshcore plugin new --family cipher|mac|kex|compression|key|auth NAME DIR"):
        assert needle in text, needle
