"""OpenSSH client configuration files (ssh_config(5)), read with OpenSSH's rules.

For a destination, every ``Host``/``Match`` block that applies is consulted in file
order and the *first* value found for an option wins (options that may repeat, such
as ``IdentityFile`` or ``LocalForward``, accumulate).  ``Include`` takes globs, relative
to ``~/.ssh`` (user file) or ``/etc/ssh`` (system file).  ``%h %p %r %u %n %d %%`` are
expanded in the options that take them.  Option names are case-insensitive and are
returned lower-cased.

``Match exec "command"`` runs the command with ``/bin/sh -c`` (``%h %p %r %u %n %l %d
%%`` expanded, each value shell-quoted; stdin and stdout on /dev/null) and matches when
it exits 0; one that runs longer than ``exec_timeout`` (10 s) is killed and is a
:class:`~sshcore.errors.ConfigurationError`.  ``SSHConfig.load(..., match_exec=False)``
(or ``parse``) never runs anything: such a Match is then taken as not matching.

:meth:`SSHConfig.lookup` with ``applied=`` (what the caller honours) warns, with a
:class:`~sshcore.errors.ConfigWarning` naming the keyword, file and line, about each
other keyword that applies to the host, once per keyword per file; ``IgnoreUnknown``
patterns silence it, as they silence ssh.
"""

from __future__ import annotations

import getpass
import glob
import logging
import os
import shlex
import signal
import subprocess
import warnings
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, ConfigWarning
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
#: structural keywords, always honoured
STRUCTURAL = {"host", "match", "include", "ignoreunknown"}
#: (file, keyword) pairs already warned about (once per keyword per file)
_WARNED: set[tuple[str, str]] = set()
#: Unapplied keywords in files under here (the system-wide ssh_config) are logged at
#: INFO instead of warned about.
SYSTEM_CONFIG_DIR = "/etc/ssh/"


@dataclass
class _Block:
    kind: str                      # "host", "match" or "all" (before the first Host line)
    criteria: list[str]
    # (name, value, file, line)
    options: list[tuple[str, str, str, int]] = field(default_factory=list)
    where: str = ""                # the Host/Match line


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

    def __init__(self, *, match_exec: bool = True, exec_timeout: float = 10.0) -> None:
        self.blocks: list[_Block] = []
        #: run ``Match exec`` commands (False: such blocks do not match)
        self.match_exec = match_exec
        self.exec_timeout = exec_timeout
        #: keywords the caller honours itself (e.g. the CLI's LogLevel), on top of the
        #: ``applied=`` of :meth:`lookup`: no warning for them
        self.applied_elsewhere: set[str] = set()

    @classmethod
    def load(cls, paths: Sequence[str | os.PathLike[str]] | None = None, *,
             match_exec: bool = True, exec_timeout: float = 10.0) -> SSHConfig:
        """Read ``paths`` (default: ``~/.ssh/config`` then ``/etc/ssh/ssh_config``,
        whichever exist); a file named explicitly must exist."""
        cfg = cls(match_exec=match_exec, exec_timeout=exec_timeout)
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
    def parse(cls, text: str, source: str = "ssh_config", *, match_exec: bool = True,
              exec_timeout: float = 10.0) -> SSHConfig:
        cfg = cls(match_exec=match_exec, exec_timeout=exec_timeout)
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
                block = _Block("host", _words(value, where), where=where)
                self.blocks.append(block)
            elif key == "match":
                block = _Block("match", _words(value, where), where=where)
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
                                b = _Block(block.kind, block.criteria, b.options, block.where)
                            self.blocks.append(b)
                    block = _Block(block.kind, block.criteria, where=block.where)
                    self.blocks.append(block)
            else:
                block.options.append((key, value, source, lineno))

    @property
    def runs_commands(self) -> bool:
        """Whether a lookup may run a command (a ``Match exec`` block, when enabled):
        asyncio callers then look up in a thread, not on the event loop."""
        return self.match_exec and any(
            block.kind == "match" and any(word.lower() == "exec" for word in block.criteria)
            for block in self.blocks)

    # ------------------------------------------------------------------ lookup
    def lookup(self, host: str, *, user: str | None = None, port: int | None = None,
               local_user: str | None = None,
               applied: Collection[str] | None = None) -> dict[str, Any]:
        """The options for ``host``: ``{name: value}`` (lists for repeatable options).

        ``applied``: the keywords the caller honours; any other that applies to
        ``host`` gets a :class:`~sshcore.errors.ConfigWarning` (see the module
        docstring).  None: no warnings."""
        local_user = local_user or getpass.getuser()
        result: dict[str, Any] = {}
        unapplied: dict[tuple[str, str], int] = {}
        for block in self.blocks:
            target = result.get("hostname", host)
            if not self._applies(block, host, target, user or result.get("user"), local_user,
                                 port or result.get("port")):
                continue
            for name, value, source, lineno in block.options:
                if name in MULTI:
                    result.setdefault(name, []).append(value)
                elif name not in result:
                    result[name] = value
                unapplied.setdefault((source, name), lineno)
        if applied is not None:
            self._warn_unapplied(unapplied, set(applied) | self.applied_elsewhere,
                                 result.get("ignoreunknown", ""))
        return self._expand(result, host, user, port, local_user)

    @staticmethod
    def _warn_unapplied(found: dict[tuple[str, str], int], applied: set[str],
                        ignore: str) -> None:
        for (source, name), lineno in found.items():
            if (name in applied or name in STRUCTURAL or (source, name) in _WARNED
                    or (ignore and _patterns(ignore.lower(), name))):
                continue
            _WARNED.add((source, name))
            text = f"{source} line {lineno}: {name} is not supported by sshcore and has no effect"
            if source.startswith(SYSTEM_CONFIG_DIR):
                # The system's defaults for OpenSSH (Debian's GSSAPIAuthentication, ...),
                # not something this user asked for: a log line, not a warning each run.
                logger.info("%s", text)
            else:
                warnings.warn(ConfigWarning(text), stacklevel=4)

    def _applies(self, block: _Block, original: str, target: str, user: str | None,
                 local_user: str, port: Any = None) -> bool:
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
                    tokens = _tokens(target, original, user, port, local_user)
                    hit = self._exec(arg, tokens, block.where)
                else:
                    raise ConfigurationError(f"unsupported Match criterion {word!r}")
            if hit == negate:
                return False
        return True

    def _exec(self, command: str, tokens: dict[str, str], where: str) -> bool:
        """``Match exec``: True when the command exits 0 (see the module docstring)."""
        if not self.match_exec:
            logger.debug("%s: Match exec not run (match_exec=False): not matching", where)
            return False
        quoted = {k: v if k == "%" else shlex.quote(v) for k, v in tokens.items()}
        line = expand_tokens(command, quoted)
        try:
            proc = subprocess.Popen(["/bin/sh", "-c", line], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            logger.warning("%s: Match exec %r: %s", where, line, exc)
            return False
        try:
            status = proc.wait(timeout=self.exec_timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()
            raise ConfigurationError(f"{where}: Match exec {line!r} did not finish within "
                                     f"{self.exec_timeout:g} s") from None
        logger.debug("%s: Match exec %r exited %s", where, line, status)
        return status == 0

    @staticmethod
    def _expand(opts: dict[str, Any], host: str, user: str | None, port: int | None,
                local_user: str) -> dict[str, Any]:
        tokens = _tokens(host, host, user or opts.get("user"), port or opts.get("port"),
                         local_user)

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


def _tokens(host: str, original: str, user: str | None, port: Any,
            local_user: str) -> dict[str, str]:
    """ssh's ``%`` tokens: ``%h`` the host, ``%n`` the name given, ``%r`` the remote
    user, ``%u`` the local one, ``%p`` the port, ``%d`` the home directory, ``%l``
    this host's name."""
    return {"%": "%", "h": host, "n": original, "u": local_user, "r": user or local_user,
            "p": str(port or 22), "d": str(Path.home()), "l": os.uname().nodename}


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
