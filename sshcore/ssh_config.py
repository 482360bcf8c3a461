"""OpenSSH client configuration files (ssh_config(5)), read with OpenSSH's rules.

For a destination, every ``Host``/``Match`` block that applies is consulted in file
order and the *first* value found for an option wins (options that may repeat, such
as ``IdentityFile`` or ``LocalForward``, accumulate).  ``Include`` takes globs, relative
to ``~/.ssh`` (user file) or ``/etc/ssh`` (system file).  ``%h %p %r %u %n %d %%`` are
expanded in the options that take them.  Option names are case-insensitive and are
returned lower-cased.
"""

from __future__ import annotations

import getpass
import glob
import logging
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigurationError
from .keys import _glob

logger = logging.getLogger("sshcore.config")

USER_CONFIG = "~/.ssh/config"
SYSTEM_CONFIG = "/etc/ssh/ssh_config"

#: options whose values accumulate instead of "first one wins"
MULTI = {"identityfile", "certificatefile", "localforward", "remoteforward", "dynamicforward",
         "sendenv", "setenv"}
#: options in which %-tokens are expanded
TOKENS = {"hostname", "identityfile", "certificatefile", "userknownhostsfile", "proxycommand",
          "revokedhostkeys",
          "identityagent", "localcommand", "remotecommand", "controlpath"}
#: options sshcore applies (others are kept, and ignored with a debug line)
KNOWN = {
    "host", "match", "include", "hostname", "port", "user", "identityfile", "identitiesonly",
    "certificatefile", "userknownhostsfile", "globalknownhostsfile", "stricthostkeychecking",
    "hashknownhosts", "kexalgorithms", "ciphers", "macs", "hostkeyalgorithms",
    "pubkeyacceptedalgorithms", "pubkeyacceptedkeytypes", "compression",
    "preferredauthentications", "passwordauthentication", "kbdinteractiveauthentication",
    "pubkeyauthentication", "proxyjump", "proxycommand", "localforward", "remoteforward",
    "dynamicforward", "serveraliveinterval", "serveralivecountmax", "connecttimeout",
    "rekeylimit", "sendenv", "setenv", "requesttty", "forwardagent", "identityagent",
    "batchmode", "numberofpasswordprompts", "loglevel", "hostkeyalias", "addkeystoagent",
    "canonicalizehostname", "ignoreunknown", "updatehostkeys", "addressfamily", "bindaddress",
    "revokedhostkeys",
}


@dataclass
class _Block:
    kind: str                      # "host", "match" or "all" (before the first Host line)
    criteria: list[str]
    options: list[tuple[str, str, str]] = field(default_factory=list)  # (name, value, where)


def _split(line: str, where: str) -> tuple[str, str]:
    """``Keyword value`` or ``Keyword=value`` (one '=' with optional spaces)."""
    line = line.strip()
    i = 0
    while i < len(line) and not line[i].isspace() and line[i] != "=":
        i += 1
    key, rest = line[:i], line[i:].lstrip()
    if rest.startswith("="):
        rest = rest[1:].lstrip()
    if not key or not rest:
        raise ConfigurationError(f"{where}: expected 'Keyword value', got {line!r}")
    return key.lower(), rest


def _words(value: str, where: str) -> list[str]:
    try:
        return shlex.split(value, comments=False, posix=True)
    except ValueError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None


class SSHConfig:
    """The blocks of one or more configuration files, in order."""

    def __init__(self) -> None:
        self.blocks: list[_Block] = []

    @classmethod
    def load(cls, paths: Sequence[str | os.PathLike[str]] | None = None) -> SSHConfig:
        """Read ``paths`` (default: ``~/.ssh/config`` then ``/etc/ssh/ssh_config``,
        whichever exist); a file named explicitly must exist."""
        cfg = cls()
        explicit = paths is not None
        for p in (paths if explicit else [USER_CONFIG, SYSTEM_CONFIG]):
            path = Path(p).expanduser()
            if not path.exists():
                if explicit:
                    raise ConfigurationError(f"{path}: no such ssh_config file")
                continue
            base = Path("~/.ssh").expanduser() if str(p) != SYSTEM_CONFIG else Path("/etc/ssh")
            cfg._read(path, base, depth=0)
        return cfg

    @classmethod
    def parse(cls, text: str, source: str = "ssh_config") -> SSHConfig:
        cfg = cls()
        cfg._parse_lines(text.splitlines(), source, Path("~/.ssh").expanduser(), 0)
        return cfg

    def _read(self, path: Path, base: Path, depth: int) -> None:
        if depth > 16:
            raise ConfigurationError(f"{path}: Include nested too deeply")
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError as exc:
            raise ConfigurationError(f"{path}: cannot read: {exc.strerror}") from None
        self._parse_lines(lines, str(path), base, depth)

    def _parse_lines(self, lines: list[str], source: str, base: Path, depth: int) -> None:
        block = _Block("all", [])
        self.blocks.append(block)
        for lineno, raw in enumerate(lines, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            where = f"{source} line {lineno}"
            key, value = _split(line, where)
            if key == "host":
                block = _Block("host", _words(value, where))
                self.blocks.append(block)
            elif key == "match":
                block = _Block("match", _words(value, where))
                self.blocks.append(block)
            elif key == "include":
                for pattern in _words(value, where):
                    pattern = os.path.expanduser(pattern)
                    if not os.path.isabs(pattern):
                        pattern = str(base / pattern)
                    for included in sorted(glob.glob(pattern)):
                        # an Include inside a Host block applies only with it, as in OpenSSH
                        sub = SSHConfig()
                        sub._read(Path(included), base, depth + 1)
                        for b in sub.blocks:
                            if block.kind != "all" and b.kind == "all":
                                b = _Block(block.kind, block.criteria, b.options)
                            self.blocks.append(b)
                    block = _Block(block.kind, block.criteria)
                    self.blocks.append(block)
            else:
                if key not in KNOWN:
                    logger.debug("%s: option %s ignored", where, key)
                block.options.append((key, value, where))

    # ------------------------------------------------------------------ lookup
    def lookup(self, host: str, *, user: str | None = None, port: int | None = None,
               local_user: str | None = None) -> dict[str, Any]:
        """The options for ``host``: ``{name: value}`` (lists for repeatable options)."""
        local_user = local_user or getpass.getuser()
        result: dict[str, Any] = {}
        for block in self.blocks:
            target = result.get("hostname", host)
            if not self._applies(block, host, target, user or result.get("user"), local_user):
                continue
            for name, value, _ in block.options:
                if name in MULTI:
                    result.setdefault(name, []).append(value)
                elif name not in result:
                    result[name] = value
        return self._expand(result, host, user, port, local_user)

    @staticmethod
    def _applies(block: _Block, original: str, target: str, user: str | None,
                 local_user: str) -> bool:
        if block.kind == "all":
            return True
        if block.kind == "host":
            return _patterns(",".join(block.criteria), original)
        crit = list(block.criteria)
        i = 0
        while i < len(crit):
            word = crit[i].lower()
            negate = word.startswith("!")
            word = word.lstrip("!")
            if word in ("all", "canonical", "final"):
                hit, i = word == "all" or word == "final", i + 1
            else:
                if i + 1 >= len(crit):
                    raise ConfigurationError(f"Match {word} needs an argument")
                arg = crit[i + 1]
                i += 2
                if word == "host":
                    hit = _patterns(arg, target)
                elif word == "originalhost":
                    hit = _patterns(arg, original)
                elif word == "user":
                    hit = user is not None and _patterns(arg, user)
                elif word == "localuser":
                    hit = _patterns(arg, local_user)
                elif word == "exec":
                    logger.debug("Match exec is not supported: treated as not matching")
                    hit = False
                else:
                    raise ConfigurationError(f"unsupported Match criterion {word!r}")
            if hit == negate:
                return False
        return True

    @staticmethod
    def _expand(opts: dict[str, Any], host: str, user: str | None, port: int | None,
                local_user: str) -> dict[str, Any]:
        tokens = {"%": "%", "h": host, "n": host, "u": local_user,
                  "r": user or opts.get("user") or local_user,
                  "p": str(port or opts.get("port") or 22), "d": str(Path.home()),
                  "l": os.uname().nodename}

        def expand(value: str) -> str:
            return expand_tokens(value, tokens)

        if "hostname" in opts:  # in HostName, %h is the name given; elsewhere, the result
            opts["hostname"] = expand(opts["hostname"])
            tokens["h"] = opts["hostname"]
        for name in list(opts):
            if name in TOKENS and name != "hostname":
                value = opts[name]
                opts[name] = [expand(v) for v in value] if isinstance(value, list) else expand(value)
        return opts


def expand_tokens(value: str, tokens: dict[str, str]) -> str:
    """Replace ``%x`` for each ``x`` in ``tokens`` (others are left as they are)."""
    out, i = [], 0
    while i < len(value):
        if value[i] == "%" and i + 1 < len(value) and value[i + 1] in tokens:
            out.append(tokens[value[i + 1]])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def _patterns(patterns: str, name: str) -> bool:
    """ssh_config pattern list: comma/space separated, ``*``/``?`` wildcards, ``!`` negation."""
    matched = False
    for pattern in patterns.replace(" ", ",").split(","):
        if not pattern:
            continue
        negate = pattern.startswith("!")
        pattern = pattern[1:] if negate else pattern
        if _glob(pattern, name):
            if negate:
                return False
            matched = True
    return matched
