"""Plugin discovery and the frozen algorithm registry built from the hooks.

Discovery contains broken plugins: an entry point that fails to import or to register,
or whose contribution hooks raise or return something invalid, is skipped with one
:class:`~sshcore.errors.PluginWarning` and recorded in :attr:`Registry.broken`; the
other plugins work as usual.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import pluggy

from . import hookspecs, interfaces
from ._entrypoints import entry_points
from .errors import ConfigurationError, PluginWarning

logger = logging.getLogger("sshcore.registry")

ENTRY_POINT_GROUP = "sshcore.plugins"
#: Set to a non-empty value to skip entry-point discovery (like PYTEST_DISABLE_PLUGIN_AUTOLOAD).
DISABLE_AUTOLOAD_ENV = "SSHCORE_DISABLE_PLUGIN_AUTOLOAD"
#: Comma-separated plugin (entry point) names never to load.
BLOCK_ENV = "SSHCORE_BLOCK_PLUGINS"
#: Comma-separated ``NAME=PROVIDER`` choices among alternative implementations of a name
#: (``aes128-ctr=sshcore-openssl``).
IMPLEMENTATIONS_ENV = "SSHCORE_IMPLEMENTATIONS"

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

#: family -> the descriptor class its hook returns
DESCRIPTOR_TYPES: Mapping[str, type] = MappingProxyType({
    "kex": interfaces.KexAlgorithm,
    "cipher": interfaces.CipherAlgorithm,
    "mac": interfaces.MacAlgorithm,
    "compression": interfaces.CompressionAlgorithm,
    "signature": interfaces.SignatureAlgorithm,
    "auth": interfaces.AuthMethod,
    "key_type": interfaces.KeyType,
    "key_format": interfaces.KeyFormat,
    "subsystem": interfaces.Subsystem,
    "cli_command": interfaces.CliCommand,
})

_NAME_RE = re.compile(r"^[\x21-\x2b\x2d-\x3f\x41-\x7e]+(@[\x21-\x2b\x2d-\x3f\x41-\x7e]+)?$")


def valid_algorithm_name(name: str) -> bool:
    """RFC 4251 section 6: printable US-ASCII, no comma or space, <= 64 chars, one '@'."""
    return 0 < len(name) <= 64 and bool(_NAME_RE.match(name))


@dataclass(frozen=True, slots=True)
class Provided:
    """One provider's descriptor for a name.

    :ivar provider: ``"distribution version"``, or the plugin's registered name.
    :ivar source: the names a user may choose this provider by: the distribution's name
        and the entry point's (or the registered plugin's) name.
    """

    descriptor: Any
    provider: str
    source: tuple[str, ...] = ()

    def matches(self, choice: str) -> bool:
        return _norm(choice) in (_norm(s) for s in self.source + (self.provider,))


def _norm(name: str) -> str:
    """Distribution names compare as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True, slots=True)
class BrokenPlugin:
    """A discovered plugin that was skipped, and why.

    :ivar name: the entry-point name (what :data:`BLOCK_ENV` takes).
    :ivar distribution: the name of the distribution that declares the entry point.
    :ivar version: that distribution's version.
    :ivar reason: ``"ExceptionType: message"`` on one line, sanitized.
    """

    name: str
    distribution: str
    version: str
    reason: str

    @property
    def provider(self) -> str:
        """``"distribution version"``, as :attr:`Provided.provider` spells it."""
        return f"{self.distribution} {self.version}"


@dataclass(frozen=True)
class Registry:
    """An immutable snapshot: for each family, descriptors in default preference order.

    ``broken`` lists the discovered plugins that were skipped (see :class:`BrokenPlugin`).
    """

    families: Mapping[str, tuple[Provided, ...]]
    plugin_manager: pluggy.PluginManager = field(repr=False, compare=False)
    broken: tuple[BrokenPlugin, ...] = ()
    #: family -> name -> every provider of that name, the one that serves first.
    alternatives: Mapping[str, Mapping[str, tuple[Provided, ...]]] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False)

    def providers(self, family: str, name: str) -> tuple[Provided, ...]:
        """Every provider of ``name`` in ``family``, the serving one first."""
        alts = self.alternatives.get(family, {}).get(name)
        if alts:
            return alts
        return tuple(p for p in self.families.get(family, ()) if p.descriptor.name == name)

    def choose(self, choices: Mapping[str, str] | None) -> Registry:
        """A registry in which, for each ``name: provider`` in ``choices``, that provider
        serves ``name`` (in every family that has the name).

        ``provider`` is a distribution name (``sshcore-openssl``) or an entry-point name.

        :raises ConfigurationError: an unknown name, or a provider that does not provide it.
        """
        if not choices:
            return self
        alternatives = {f: dict(names) for f, names in self.alternatives.items()}
        for name, choice in choices.items():
            known = chosen = False
            refusal = ""
            for family, names in alternatives.items():
                alts = names.get(name)
                if not alts:
                    continue
                known = True
                picked = [p for p in alts if p.matches(choice)]
                if not picked:
                    # A name may be in several families (the signature algorithm and the
                    # key type ssh-ed25519): the provider need offer it in one of them.
                    offered = ", ".join(p.provider for p in alts)
                    refusal = refusal or (f"{family} algorithm {name!r} is provided by "
                                          f"{offered}; not by {choice!r}")
                    continue
                names[name] = (picked[0], *(p for p in alts if p is not picked[0]))
                chosen = True
            if not known:
                raise ConfigurationError(f"cannot choose an implementation of {name!r}: "
                                         f"no plugin provides that name")
            if not chosen:
                raise ConfigurationError(refusal)
        return self._rebuilt(alternatives)

    def restrict(self, *, block: Iterable[str] = (), allow: Iterable[str] | None = None
                 ) -> Registry:
        """A registry without the providers named in ``block`` (and, if ``allow`` is
        given, only with those it names), by distribution or entry-point name.

        A name whose serving provider is removed is served by the next one; a name with
        no provider left disappears.  The kernel's built-in ``none`` algorithms stay.
        """
        block = list(block)
        allowed = None if allow is None else list(allow)

        def keep(p: Provided) -> bool:
            if "sshcore-builtin" in p.source:
                return True
            if any(p.matches(b) for b in block):
                return False
            return allowed is None or any(p.matches(a) for a in allowed)

        alternatives = {f: {n: tuple(p for p in alts if keep(p)) for n, alts in names.items()}
                        for f, names in self.alternatives.items()}
        return self._rebuilt(alternatives)

    def _rebuilt(self, alternatives: Mapping[str, Mapping[str, tuple[Provided, ...]]]
                 ) -> Registry:
        frozen = {f: MappingProxyType({n: a for n, a in names.items() if a})
                  for f, names in alternatives.items()}
        families = {f: _ordered(alts[0] for alts in names.values())
                    for f, names in frozen.items()}
        return Registry(MappingProxyType(families), self.plugin_manager, self.broken,
                        MappingProxyType(frozen))

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
                   blocked: Iterable[str] = (),
                   implementations: Mapping[str, str] | None = None) -> Registry:
    """Build and validate a registry.

    A plugin found through an entry point that fails to import, to register, or whose
    contribution hooks raise or return an invalid descriptor is *broken*: it is
    unregistered, none of its contributions is kept, one :class:`PluginWarning` names
    it, and it is listed in :attr:`Registry.broken`.  Plugins given as ``plugins`` and
    the built-in one are the caller's own: their errors propagate.

    :param plugins: plugin objects/modules to register programmatically.
    :param autoload: load ``sshcore.plugins`` entry points (default: yes, unless
        ``plugins`` was given or :data:`DISABLE_AUTOLOAD_ENV` is set).
    :param blocked: entry-point names never to load.
    :param implementations: ``{name: provider}``: which provider serves a name that
        several plugins provide (a distribution or entry-point name); added to the
        choices in :data:`IMPLEMENTATIONS_ENV`.  Otherwise the highest
        ``implementation_priority`` serves.
    :raises ConfigurationError: two plugins register the same name in a family with the
        same implementation priority and no choice between them, a choice names a
        provider that does not provide the name, or a plugin given as ``plugins``
        registers an invalid descriptor or declares an incompatible plugin API.
    """
    pm = new_plugin_manager()
    blocked = set(blocked) | {b for b in os.environ.get(BLOCK_ENV, "").split(",") if b}
    for name in blocked:
        pm.set_blocked(name)
    if autoload is None:
        autoload = plugins is None and not os.environ.get(DISABLE_AUTOLOAD_ENV)
    broken: list[BrokenPlugin] = []
    discovered = _load_entry_points(pm, broken) if autoload else {}
    from . import _builtin

    pm.register(_builtin, name="sshcore-builtin")
    for plugin in plugins or ():
        refused = _api_refusal(plugin)
        if refused:
            raise ConfigurationError(f"plugin {plugin!r}: {refused}")
        pm.register(plugin)
    pm.check_pending()
    choices = parse_implementations(os.environ.get(IMPLEMENTATIONS_ENV, ""))
    choices.update(implementations or {})
    alternatives = _collect(pm, discovered, broken, choices)
    for entry in broken:
        _warn(entry)
    registry = Registry(MappingProxyType({}), pm, tuple(broken))._rebuilt(alternatives)
    # A choice of a provider that does not provide the name is an error, not ignored; so
    # is an explicit choice of a name nobody provides (the environment's may name
    # algorithms of plugins that this program does not load).
    known = {n: c for n, c in choices.items()
             if any(n in names for names in alternatives.values())}
    return registry.choose({**known, **(implementations or {})})


def _load_entry_points(pm: pluggy.PluginManager,
                       broken: list[BrokenPlugin]) -> dict[int, BrokenPlugin]:
    """Load and register every ``sshcore.plugins`` entry point, each at most once.

    Like pluggy's ``load_setuptools_entrypoints`` (skipping blocked and already
    registered names), except that a failing plugin is recorded in ``broken`` and
    skipped instead of aborting discovery.  Returns ``id(plugin)`` -> its origin (a
    :class:`BrokenPlugin` with no reason yet) for each plugin registered.
    """
    found: dict[int, BrokenPlugin] = {}
    tried: set[str] = set()
    for ep in list(entry_points(ENTRY_POINT_GROUP)):
        if ep.name in tried or pm.has_plugin(ep.name) or pm.is_blocked(ep.name):
            continue
        tried.add(ep.name)
        origin = BrokenPlugin(_one_line(ep.name), _one_line(ep.distribution),
                              _one_line(ep.version), "")
        try:
            plugin = ep.load()
        except Exception as exc:
            _skip(origin, _describe(exc), broken)
            continue
        refused = _api_refusal(plugin)
        if refused:
            _skip(origin, f"IncompatiblePluginAPI: {refused}", broken)
            continue
        try:
            pm.register(plugin, name=ep.name)
        except Exception as exc:
            if pm.get_name(plugin) == ep.name:  # an older pluggy may leave it half-registered
                pm.unregister(plugin)
            _skip(origin, _describe(exc), broken)
            continue
        unknown = [hc.name for hc in pm.get_hookcallers(plugin) or ()
                   if not hc.has_spec() and any(i.plugin is plugin and not i.optionalhook
                                                for i in hc.get_hookimpls())]
        if unknown:
            pm.unregister(plugin)
            _skip(origin, f"PluginValidationError: unknown hook {unknown[0]!r}", broken)
            continue
        found[id(plugin)] = origin
    return found


def _collect(pm: pluggy.PluginManager, discovered: Mapping[int, BrokenPlugin],
             broken: list[BrokenPlugin], choices: Mapping[str, str]
             ) -> dict[str, dict[str, tuple[Provided, ...]]]:
    """Call every contribution hook once and build the families.

    A discovered plugin whose hook raises or returns an invalid descriptor loses all of
    its contributions and is unregistered; any other plugin's error propagates.
    """
    gathered: list[tuple[str, Any, Any]] = []  # (family, plugin, descriptor)
    failed: dict[int, Any] = {}
    for family, hook_name in FAMILIES.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            plugin = impl.plugin
            if id(plugin) in failed:
                continue
            origin = discovered.get(id(plugin))
            try:
                descs = list(impl.function() or ())
                for desc in descs:
                    _check_descriptor(family, hook_name, desc)
            except Exception as exc:
                invalid = isinstance(exc, ConfigurationError)
                if origin is None:
                    if invalid:
                        raise ConfigurationError(f"{impl.plugin_name}: {exc}") from None
                    raise
                failed[id(plugin)] = plugin
                _skip(origin, _describe(exc) + ("" if invalid else f" (raised by {hook_name})"),
                      broken)
                continue
            gathered.extend((family, plugin, desc) for desc in descs)
    for plugin in failed.values():
        pm.unregister(plugin)

    alternatives: dict[str, dict[str, tuple[Provided, ...]]] = {}
    for family in FAMILIES:
        by_name: dict[str, list[Provided]] = {}
        for fam, plugin, desc in gathered:
            if fam != family or id(plugin) in failed:
                continue
            origin = discovered.get(id(plugin))
            name = pm.get_name(plugin) or repr(plugin)
            if origin:
                provided = Provided(desc, origin.provider, (origin.distribution, origin.name))
            else:
                provided = Provided(desc, name, (name,))
            by_name.setdefault(desc.name, []).append(provided)
        alternatives[family] = {name: _rank(family, name, provs, choices)
                                for name, provs in by_name.items()}
    return alternatives


def _rank(family: str, name: str, provs: list[Provided],
          choices: Mapping[str, str]) -> tuple[Provided, ...]:
    """The providers of one name, the one that serves first: the user's choice, else the
    highest ``implementation_priority``; a tie with no choice is an error naming both."""
    ranked = sorted(provs, key=lambda p: (-getattr(p.descriptor, "implementation_priority", 0),
                                          p.provider))
    choice = choices.get(name)
    if choice is not None:
        picked = [p for p in ranked if p.matches(choice)]
        if picked:
            return (picked[0], *(p for p in ranked if p is not picked[0]))
    if len(ranked) > 1 and (getattr(ranked[0].descriptor, "implementation_priority", 0)
                            == getattr(ranked[1].descriptor, "implementation_priority", 0)):
        raise ConfigurationError(
            f"{family} algorithm {name!r} is registered twice with the same implementation "
            f"priority: by {ranked[0].provider} and by {ranked[1].provider}; choose one with "
            f"{IMPLEMENTATIONS_ENV}={name}=DISTRIBUTION or implementations={{{name!r}: ...}}")
    return tuple(ranked)


def _ordered(provided: Iterable[Provided]) -> tuple[Provided, ...]:
    """Default preference order: ``(-priority, name)``, whatever the discovery order."""
    return tuple(sorted(provided, key=lambda p: (-getattr(p.descriptor, "priority", 0),
                                                 p.descriptor.name)))


def parse_implementations(text: str) -> dict[str, str]:
    """``"aes128-ctr=sshcore-openssl,hmac-sha2-256=other"`` -> a choices mapping.

    :raises ConfigurationError: an entry without ``=``.
    """
    choices: dict[str, str] = {}
    for item in filter(None, (i.strip() for i in text.split(","))):
        name, sep, provider = item.partition("=")
        if not sep or not name.strip() or not provider.strip():
            raise ConfigurationError(f"implementation choice {item!r} is not NAME=PROVIDER")
        choices[name.strip()] = provider.strip()
    return choices


def _api_refusal(plugin: Any) -> str | None:
    """Why ``plugin`` (declaring ``SSHCORE_PLUGIN_API``) cannot load here, if it can't."""
    from ._api import API_ATTRIBUTE, api_incompatibility

    required = getattr(plugin, API_ATTRIBUTE, None)
    return None if required is None else api_incompatibility(required)


def _check_descriptor(family: str, hook_name: str, desc: Any) -> None:
    """Raise :class:`ConfigurationError` unless ``desc`` is a valid ``family`` descriptor."""
    expected = DESCRIPTOR_TYPES[family]
    if not isinstance(desc, expected):
        raise ConfigurationError(f"{hook_name}() returned a {type(desc).__name__}, "
                                 f"not a {expected.__name__}")
    name = desc.name
    if not isinstance(name, str) or not valid_algorithm_name(name):
        raise ConfigurationError(f"{hook_name}() returned an invalid {family} name {name!r}")
    priority = getattr(desc, "priority", 0)
    if not isinstance(priority, int):
        raise ConfigurationError(f"{hook_name}() returned {family} algorithm {name!r} with a "
                                 f"non-integer priority {priority!r}")


def _describe(exc: BaseException) -> str:
    """``"ExceptionType: message"`` on one line."""
    text = str(exc)
    return _one_line(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


def _one_line(text: str, limit: int = 300) -> str:
    """``text`` with control and other unprintable characters turned into spaces, runs of
    white space collapsed and the length capped (a plugin's text is printed to a terminal)."""
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _skip(origin: BrokenPlugin, reason: str, broken: list[BrokenPlugin]) -> None:
    """Record a broken plugin."""
    broken.append(BrokenPlugin(origin.name, origin.distribution, origin.version, reason))


def _warn(entry: BrokenPlugin) -> None:
    """One :class:`PluginWarning` (pointing at the caller of :func:`build_registry`) and
    one log record about a broken plugin.

    The log record goes only to configured logging: with no handler, Python's
    last-resort handler would print the same text on stderr a second time.
    """
    message = (f"sshcore plugin {entry.name!r} from {entry.provider} is broken and was "
               f"skipped: {entry.reason}")
    warnings.warn(message, PluginWarning, stacklevel=3)
    if logger.hasHandlers():
        logger.warning("%s", message)


def connection_registry(registry: Registry | None = None, *,
                        implementations: Mapping[str, str] | None = None,
                        blocked_plugins: Iterable[str] = (),
                        allowed_plugins: Iterable[str] | None = None) -> Registry:
    """The registry one connection or server uses: ``registry`` (default: the
    process-wide one) without ``blocked_plugins``, limited to ``allowed_plugins`` when
    given (distribution or entry-point names), with ``implementations`` choosing among
    alternative providers of a name.  The shared registry is not changed.
    """
    reg = registry or default_registry()
    blocked = list(blocked_plugins)
    if blocked or allowed_plugins is not None:
        reg = reg.restrict(block=blocked, allow=allowed_plugins)
    return reg.choose(implementations)


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
