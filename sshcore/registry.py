"""Plugin discovery and the frozen algorithm registry built from the hooks."""

from __future__ import annotations

import fnmatch
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import pluggy

from . import hookspecs
from .errors import ConfigurationError

logger = logging.getLogger("sshcore.registry")

ENTRY_POINT_GROUP = "sshcore.plugins"
#: Set to a non-empty value to skip entry-point discovery (like PYTEST_DISABLE_PLUGIN_AUTOLOAD).
DISABLE_AUTOLOAD_ENV = "SSHCORE_DISABLE_PLUGIN_AUTOLOAD"
#: Comma-separated plugin (entry point) names never to load.
BLOCK_ENV = "SSHCORE_BLOCK_PLUGINS"

#: family -> hook name
FAMILIES: Mapping[str, str] = MappingProxyType({
    "kex": "sshcore_kex_algorithms",
    "cipher": "sshcore_ciphers",
    "mac": "sshcore_macs",
    "compression": "sshcore_compression_algorithms",
    "signature": "sshcore_signature_algorithms",
    "auth": "sshcore_auth_methods",
    "key_type": "sshcore_key_types",
    "key_format": "sshcore_key_formats",
    "subsystem": "sshcore_subsystems",
    "cli_command": "sshcore_cli_commands",
})

_NAME_RE = re.compile(r"^[\x21-\x2b\x2d-\x3f\x41-\x7e]+(@[\x21-\x2b\x2d-\x3f\x41-\x7e]+)?$")


def valid_algorithm_name(name: str) -> bool:
    """RFC 4251 section 6: printable US-ASCII, no comma or space, <= 64 chars, one '@'."""
    return 0 < len(name) <= 64 and bool(_NAME_RE.match(name))


@dataclass(frozen=True, slots=True)
class Provided:
    descriptor: Any
    provider: str  # "distribution version" or the plugin's registered name


@dataclass(frozen=True)
class Registry:
    """An immutable snapshot: for each family, descriptors in default preference order."""

    families: Mapping[str, tuple[Provided, ...]]
    plugin_manager: pluggy.PluginManager = field(repr=False, compare=False)

    def all(self, family: str) -> list[Any]:
        return [p.descriptor for p in self.families.get(family, ())]

    def names(self, family: str) -> list[str]:
        return [p.descriptor.name for p in self.families.get(family, ())]

    def default_names(self, family: str) -> list[str]:
        return [p.descriptor.name for p in self.families.get(family, ())
                if p.descriptor.enabled_by_default]

    def get(self, family: str, name: str) -> Any:
        for p in self.families.get(family, ()):
            if p.descriptor.name == name:
                return p.descriptor
        raise KeyError(name)

    def provider(self, family: str, name: str) -> str:
        for p in self.families.get(family, ()):
            if p.descriptor.name == name:
                return p.provider
        raise KeyError(name)

    def subsystem(self, name: str) -> Any:
        """The :class:`~sshcore.interfaces.Subsystem` registered as ``name``, or ``None``."""
        for p in self.families.get("subsystem", ()):
            if p.descriptor.name == name:
                return p.descriptor
        return None

    def subsystems(self) -> Mapping[str, Any]:
        """Every registered :class:`~sshcore.interfaces.Subsystem`, by name."""
        return MappingProxyType({p.descriptor.name: p.descriptor
                                 for p in self.families.get("subsystem", ())})

    def cli_commands(self) -> list[Any]:
        """Every registered :class:`~sshcore.interfaces.CliCommand`, by name."""
        return sorted(self.all("cli_command"), key=lambda c: c.name)

    @property
    def hook(self) -> Any:
        return self.plugin_manager.hook

    def expand(self, family: str, spec: str | Sequence[str] | None) -> list[str]:
        """Apply an OpenSSH-style algorithm list to this family's defaults.

        ``None`` means the defaults.  A string starting with ``+`` appends, ``-`` removes,
        ``^`` puts names first; otherwise the list replaces the defaults.  Names may use
        ``*``/``?`` wildcards.  Unknown names are an error.
        """
        known = self.names(family)
        defaults = self.default_names(family)
        if spec is None:
            return defaults
        if isinstance(spec, str):
            op = spec[:1] if spec[:1] in "+-^" else ""
            names = [n.strip() for n in spec[len(op):].split(",") if n.strip()]
        else:
            op, names = "", list(spec)
        picked: list[str] = []
        for pattern in names:
            matches = [n for n in known if fnmatch.fnmatchcase(n, pattern)]
            if not matches and op != "-":
                raise ConfigurationError(
                    f"unknown {family} algorithm {pattern!r}; registered: {', '.join(known) or 'none'}")
            picked.extend(m for m in matches if m not in picked)
        if op == "+":
            result = defaults + [n for n in picked if n not in defaults]
        elif op == "-":
            result = [n for n in defaults if n not in picked]
        elif op == "^":
            result = picked + [n for n in defaults if n not in picked]
        else:
            result = picked
        if not result:
            raise ConfigurationError(f"{family} algorithm list {spec!r} leaves nothing enabled")
        return result


def new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("sshcore")
    pm.add_hookspecs(hookspecs)
    return pm


def build_registry(plugins: Iterable[Any] | None = None, *, autoload: bool | None = None,
                   blocked: Iterable[str] = ()) -> Registry:
    """Build and validate a registry.

    :param plugins: plugin objects/modules to register programmatically.
    :param autoload: load ``sshcore.plugins`` entry points (default: yes, unless
        ``plugins`` was given or :data:`DISABLE_AUTOLOAD_ENV` is set).
    :param blocked: entry-point names never to load.
    """
    pm = new_plugin_manager()
    blocked = set(blocked) | {b for b in os.environ.get(BLOCK_ENV, "").split(",") if b}
    for name in blocked:
        pm.set_blocked(name)
    if autoload is None:
        autoload = plugins is None and not os.environ.get(DISABLE_AUTOLOAD_ENV)
    if autoload:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    from . import _builtin

    pm.register(_builtin, name="sshcore-builtin")
    for plugin in plugins or ():
        pm.register(plugin)
    pm.check_pending()
    dists = {id(plugin): f"{dist.metadata['name']} {dist.version}"
             for plugin, dist in pm.list_plugin_distinfo()}

    families: dict[str, tuple[Provided, ...]] = {}
    for family, hook_name in FAMILIES.items():
        hook = getattr(pm.hook, hook_name)
        seen: dict[str, Provided] = {}
        for impl in hook.get_hookimpls():
            provider = dists.get(id(impl.plugin), impl.plugin_name)
            for desc in impl.function() or ():
                name = desc.name
                if not isinstance(name, str) or not valid_algorithm_name(name):
                    raise ConfigurationError(f"{provider} registers an invalid {family} name {name!r}")
                if name in seen:
                    raise ConfigurationError(
                        f"{family} algorithm {name!r} is registered twice: by {seen[name].provider} and by {provider}")
                seen[name] = Provided(desc, provider)
        ordered = sorted(seen.values(), key=lambda p: (-getattr(p.descriptor, "priority", 0),
                                                       p.descriptor.name))
        families[family] = tuple(ordered)
    return Registry(MappingProxyType(families), pm)


_default: Registry | None = None


def default_registry() -> Registry:
    """The process-wide registry from installed plugin distributions (built once)."""
    global _default
    if _default is None:
        _default = build_registry()
    return _default


def reset_default_registry() -> None:
    global _default
    _default = None
