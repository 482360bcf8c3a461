"""A broken plugin is contained: skipped with one warning, listed, everything else works.

The first tests fake the registry's entry-point discovery (``sshcore._entrypoints``, as
pluggy's ``test_load_setuptools_instantiation`` fakes ``importlib.metadata``) to drive
:func:`build_registry` in process;
the last ones pip-install deliberately broken distributions into a fresh virtual
environment and run ``sshcore algorithms`` and a real connection there.
"""

from __future__ import annotations

import logging
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sshcore import PluginWarning, hookimpl
from sshcore.errors import ConfigurationError
from sshcore import registry as registry_module
from sshcore.interfaces import MacAlgorithm
from sshcore.registry import (BLOCK_ENV, DISABLE_AUTOLOAD_ENV, ENTRY_POINT_GROUP, BrokenPlugin,
                              build_registry)

# ---------------------------------------------------------------------------
# In process, with faked entry points
# ---------------------------------------------------------------------------


class FakeEntryPoint:
    def __init__(self, name: str, load: Callable[[], Any], group: str = ENTRY_POINT_GROUP) -> None:
        self.name, self.group, self.value = name, group, f"{name}_module:hooks"
        self._load = load
        self.loads = 0

    def load(self) -> Any:
        self.loads += 1
        return self._load()


class FakeDistribution:
    def __init__(self, name: str, version: str, *entry_points: FakeEntryPoint) -> None:
        self.metadata = {"name": name}
        self.version = version
        self.entry_points = entry_points
        for ep in entry_points:  # what sshcore._entrypoints.EntryPoint carries
            ep.distribution, ep.version = name, version


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> list[FakeDistribution]:
    """The distributions entry-point discovery reports; append to "install" one."""
    dists: list[FakeDistribution] = []
    monkeypatch.setattr(registry_module, "entry_points", lambda group: [
        ep for d in dists for ep in d.entry_points if ep.group == group])
    monkeypatch.delenv(DISABLE_AUTOLOAD_ENV, raising=False)
    monkeypatch.delenv(BLOCK_ENV, raising=False)
    return dists


def mac(name: str, priority: Any = 0) -> MacAlgorithm:
    return MacAlgorithm(name, 1, 1, lambda key: None, priority=priority)


def mac_plugin(*names: str) -> Any:
    class Plugin:
        @hookimpl
        def sshcore_macs(self):
            return [mac(n) for n in names]
    return Plugin()


def plugin_dist(dist: str, version: str, ep_name: str, plugin: Any) -> FakeDistribution:
    return FakeDistribution(dist, version, FakeEntryPoint(ep_name, lambda: plugin))


def missing_dependency() -> Any:
    raise ModuleNotFoundError("No module named 'some_missing_dependency_xyz'")


def test_import_error_is_skipped_once_with_a_warning_and_a_log_record(installed, caplog):
    missing = FakeEntryPoint("missing", missing_dependency)
    broken_dist = FakeDistribution("sshcore-missing-dep", "2.3", missing)
    blocked = FakeEntryPoint("blockme", missing_dependency)
    installed += [plugin_dist("sshcore-good", "1.0", "good", mac_plugin("good-mac@example.test")),
                  broken_dist,
                  broken_dist,  # the same distribution seen twice on sys.path
                  FakeDistribution("sshcore-blocked", "1.0", blocked),
                  FakeDistribution("other", "1.0", FakeEntryPoint("x", missing_dependency,
                                                                  group="other.group"))]
    caplog.set_level(logging.WARNING, logger="sshcore.registry")
    with pytest.warns(PluginWarning) as caught:
        reg = build_registry(blocked=["blockme"])

    reason = "ModuleNotFoundError: No module named 'some_missing_dependency_xyz'"
    assert reg.broken == (BrokenPlugin("missing", "sshcore-missing-dep", "2.3", reason),)
    assert [str(w.message) for w in caught] == [
        f"sshcore plugin 'missing' from sshcore-missing-dep 2.3 is broken and was skipped: {reason}"]
    records = [r for r in caplog.records if r.name == "sshcore.registry"]
    assert [r.getMessage() for r in records] == [str(caught[0].message)]
    assert records[0].levelno == logging.WARNING
    assert missing.loads == 1 and blocked.loads == 0
    # the healthy plugin is there, with its distribution recorded
    assert reg.names("mac") == ["good-mac@example.test"]
    assert reg.provider("mac", "good-mac@example.test") == "sshcore-good 1.0"
    assert not reg.plugin_manager.has_plugin("missing")

    # the autoload switch still turns discovery off: nothing is loaded, nothing is broken
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(DISABLE_AUTOLOAD_ENV, "1")
        assert build_registry().broken == ()
    assert missing.loads == 1


class HalfBroken:
    """Its MACs are fine; its compression hook (called after the MAC hook) raises."""

    @hookimpl
    def sshcore_macs(self):
        return [mac("half-mac@example.test")]

    @hookimpl
    def sshcore_compression_algorithms(self):
        raise RuntimeError("backend exploded\n\x1b[31mhere\tand there")

    @hookimpl
    def sshcore_load_public_key(self, data, filename):
        return "should never be called"


def test_raising_hook_drops_every_contribution_and_unregisters_the_plugin(installed, recwarn):
    half = HalfBroken()
    installed += [plugin_dist("sshcore-half", "0.9", "half", half),
                  plugin_dist("sshcore-good", "1.0", "good", mac_plugin("good-mac@example.test"))]
    reg = build_registry()

    (entry,) = reg.broken
    assert entry.provider == "sshcore-half 0.9" and entry.name == "half"
    # type and message, on one line, control characters (the ESC) gone
    assert entry.reason == ("RuntimeError: backend exploded [31mhere and there "
                            "(raised by sshcore_compression_algorithms)")
    plugin_warnings = [w for w in recwarn.list if w.category is PluginWarning]
    assert len(plugin_warnings) == 1  # other warnings (a ResourceWarning from GC) may come
    # not half of it: the MAC it did return is gone too
    assert reg.names("mac") == ["good-mac@example.test"]
    pm = reg.plugin_manager
    assert not pm.is_registered(half) and not pm.has_plugin("half")
    assert reg.hook.sshcore_load_public_key(data=b"x", filename=None) is None
    assert "half-mac@example.test" not in [m.name for ms in reg.hook.sshcore_macs() for m in ms]

    # a plugin given explicitly is the caller's own: its error propagates as before
    with pytest.raises(RuntimeError, match="backend exploded"):
        build_registry(plugins=[HalfBroken()])


def returning(hook: str, value: Any) -> Any:
    class Plugin:
        pass
    setattr(Plugin, hook, hookimpl(lambda self: value))
    return Plugin()


@pytest.mark.parametrize("hook, value, reason", [
    ("sshcore_macs", [mac("ok-mac@example.test"), mac("bad mac name")],
     "ConfigurationError: sshcore_macs() returned an invalid mac name 'bad mac name'"),
    ("sshcore_macs", [mac("a" * 65)], "ConfigurationError: sshcore_macs() returned an invalid mac name"),
    ("sshcore_ciphers", [mac("hmac-in-the-wrong-family@example.test")],
     "ConfigurationError: sshcore_ciphers() returned a MacAlgorithm, not a CipherAlgorithm"),
    ("sshcore_macs", "hmac-sha1", "ConfigurationError: sshcore_macs() returned a str, not a MacAlgorithm"),
    ("sshcore_macs", 42, "TypeError: 'int' object is not iterable (raised by sshcore_macs)"),
    ("sshcore_macs", [mac("prio@example.test", priority="high")],
     "ConfigurationError: sshcore_macs() returned mac algorithm 'prio@example.test' with a "
     "non-integer priority 'high'"),
])
def test_invalid_descriptors_make_the_plugin_broken(installed, recwarn, hook, value, reason):
    bad = returning(hook, value)
    installed += [plugin_dist("sshcore-bad", "0.1", "bad", bad),
                  plugin_dist("sshcore-good", "1.0", "good", mac_plugin("good-mac@example.test"))]
    reg = build_registry()
    (entry,) = reg.broken
    assert (entry.name, entry.provider) == ("bad", "sshcore-bad 0.1")
    assert entry.reason.startswith(reason)
    assert len([w for w in recwarn.list if w.category is PluginWarning]) == 1
    assert reg.names("mac") == ["good-mac@example.test"] and reg.names("cipher") == []
    assert not reg.plugin_manager.is_registered(bad)


class UnknownHook:
    @hookimpl
    def sshcore_macs(self):
        return [mac("unknown-hook-mac@example.test")]

    @hookimpl
    def sshcore_no_such_hook(self):
        return []


class WrongArguments:
    @hookimpl
    def sshcore_load_public_key(self, data, filename, surprise):
        return None


def test_unknown_hook_and_bad_hook_signature_are_broken(installed, recwarn):
    unknown, wrong = UnknownHook(), WrongArguments()
    installed += [plugin_dist("sshcore-unknown", "1.1", "unknown", unknown),
                  plugin_dist("sshcore-wrong", "1.2", "wrong", wrong),
                  plugin_dist("sshcore-good", "1.0", "good", mac_plugin("good-mac@example.test"))]
    reg = build_registry()
    by_name = {b.name: b for b in reg.broken}
    assert by_name["unknown"].reason == "PluginValidationError: unknown hook 'sshcore_no_such_hook'"
    assert by_name["wrong"].reason.startswith("PluginValidationError: ")
    assert "surprise" in by_name["wrong"].reason
    assert by_name["wrong"].provider == "sshcore-wrong 1.2"
    assert len([w for w in recwarn.list if w.category is PluginWarning]) == 2
    assert reg.names("mac") == ["good-mac@example.test"]
    pm = reg.plugin_manager
    assert not pm.is_registered(unknown) and not pm.is_registered(wrong)
    pm.check_pending()  # nothing left over


def test_a_broken_plugin_does_not_clash_but_two_working_ones_still_do(installed, recwarn):
    class BrokenDup(HalfBroken):
        @hookimpl
        def sshcore_macs(self):
            return [mac("dup-mac@example.test")]

    installed += [plugin_dist("sshcore-a", "1.0", "a", mac_plugin("dup-mac@example.test")),
                  plugin_dist("sshcore-broken", "3.0", "broken", BrokenDup())]
    reg = build_registry()
    assert [b.name for b in reg.broken] == ["broken"]
    assert reg.provider("mac", "dup-mac@example.test") == "sshcore-a 1.0"

    installed.append(plugin_dist("sshcore-b", "2.0", "b", mac_plugin("dup-mac@example.test")))
    with pytest.raises(ConfigurationError, match="registered twice") as err:
        build_registry()
    assert "sshcore-a 1.0" in str(err.value) and "sshcore-b 2.0" in str(err.value)


# ---------------------------------------------------------------------------
# Installed for real, in a child venv
# ---------------------------------------------------------------------------

MACS = textwrap.dedent("""
    from sshcore import hookimpl
    from sshcore.interfaces import MacAlgorithm


    def _mac(name):
        return MacAlgorithm(name, key_size=32, digest_size=32, factory=lambda key: None,
                            enabled_by_default=False)
""")

BROKEN = {
    "import": (
        "import some_missing_dependency_xyz  # noqa: F401\n" + MACS + textwrap.dedent("""

            @hookimpl
            def sshcore_macs():
                return [_mac("dropped-import@example.test")]
        """),
        "ModuleNotFoundError: No module named 'some_missing_dependency_xyz'",
    ),
    "raises": (
        MACS + textwrap.dedent("""

            @hookimpl
            def sshcore_macs():
                return [_mac("dropped-raises@example.test")]


            @hookimpl
            def sshcore_compression_algorithms():
                raise RuntimeError("zstd backend too old")
        """),
        "RuntimeError: zstd backend too old (raised by sshcore_compression_algorithms)",
    ),
    "badname": (
        MACS + textwrap.dedent("""

            @hookimpl
            def sshcore_macs():
                return [_mac("dropped-badname@example.test"), _mac("hmac sha2 with spaces")]
        """),
        "ConfigurationError: sshcore_macs() returned an invalid mac name 'hmac sha2 with spaces'",
    ),
}

CONNECT = textwrap.dedent("""
    import asyncio, sshcore
    from sshcore.keys import generate_private_key

    class Server(sshcore.SSHServer):
        def password_auth_supported(self):
            return True

        def validate_password(self, username, password):
            return password == "pw"

    async def handler(proc):
        proc.stdout.write("hello " + proc.get_extra_info("username"))
        return 0

    async def main():
        srv = await sshcore.listen("127.0.0.1", 0, server_host_keys=[generate_private_key()],
                                   server_factory=Server, process_factory=handler)
        async with srv:
            async with sshcore.connect("127.0.0.1", srv.port, username="alice", password="pw",
                                       client_keys=[], known_hosts=None) as conn:
                print((await conn.run("x")).stdout)
    asyncio.run(asyncio.wait_for(main(), 30))
""")


def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def make_distribution(root: Path, kind: str) -> Path:
    src = root / f"broken-{kind}"
    pkg = src / f"sshcore_broken_{kind}"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""A deliberately broken sshcore plugin."""\n')
    (pkg / "hooks.py").write_text(BROKEN[kind][0])
    (src / "pyproject.toml").write_text(textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "sshcore-broken-{kind}"
        version = "0.1.0"
        dependencies = ["sshcore>=0.1,<0.2"]

        [project.entry-points."sshcore.plugins"]
        broken_{kind} = "sshcore_broken_{kind}.hooks"

        [tool.setuptools.packages.find]
        include = ["sshcore_broken_{kind}*"]
    """))
    return src


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_installed_broken_plugin_is_listed_and_connections_work(kind, child_venv, tmp_path):
    py = child_venv(f"broken-{kind}")
    r = run([py, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
             str(make_distribution(tmp_path, kind))])
    assert r.returncode == 0, r.stdout + r.stderr
    reason = BROKEN[kind][1]
    warning = (f"sshcore plugin 'broken_{kind}' from sshcore-broken-{kind} 0.1.0 is broken "
               f"and was skipped: {reason}")

    r = run([py, "-m", "sshcore", "algorithms"])
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("is broken and was skipped") == 1, r.stderr
    assert f"PluginWarning: {warning}" in r.stderr
    section = r.stdout.split("Broken plugins (skipped):\n", 1)[1]
    assert section.split() == [f"broken_{kind}", f"sshcore-broken-{kind}", "0.1.0:", *reason.split()]
    for name in ("curve25519-sha256", "ssh-ed25519", "aes256-gcm@openssh.com",
                 "hmac-sha2-256-etm@openssh.com", "password", "zlib@openssh.com"):
        assert f"  {name} " in r.stdout, name
    assert f"dropped-{kind}@example.test" not in r.stdout

    r = run([py, "-c", CONNECT])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello alice\n"
    assert r.stderr.count("is broken and was skipped") == 1, r.stderr
