"""What a client connection sets up besides authentication: forwards and session defaults.

ssh's LocalForward/RemoteForward/DynamicForward (``-L``/``-R``/``-D``),
ClearAllForwardings, ExitOnForwardFailure, SendEnv, SetEnv, RequestTTY and
RemoteCommand, parsed and decided here (no I/O: the front-ends listen and open
sessions).  :func:`session_keywords` turns ssh_config values into
:func:`sshcore.connect` keywords; :class:`ClientOptions <sshcore.options.ClientOptions>`
keeps the result as ``forwards`` (:class:`ForwardSpec`) and ``session``
(:class:`SessionConfig`).

Sessions, decided as OpenSSH decides them:

- ``send_env`` (SendEnv) patterns pick local variables; ``set_env`` (SetEnv) adds
  fixed ones (for one name, the first value given wins); a session's own ``env=``
  wins over both.  The server's AcceptEnv still decides what the command gets.
- ``remote_command`` (RemoteCommand) is run by a session opened without a command
  or subsystem (``create_process()``, ``run()``), where ssh would start it instead
  of a login shell.  A command given explicitly wins (ssh refuses both at once; a
  library call that names a command means that command).
- ``request_tty`` (RequestTTY): ``force`` asks for a pseudo-terminal for every
  command and shell session (not subsystems); ``yes`` does when the local stdin is
  a terminal; ``auto`` (the default) when that is so and the session is a login
  shell (no command, no RemoteCommand); ``no`` never.  A session's own
  ``term_type=`` always wins.  The terminal type is ``$TERM`` (``xterm`` without one).
"""

from __future__ import annotations

import fnmatch
import logging
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ChannelListenError, ConfigurationError

logger = logging.getLogger("sshcore.client")

__all__ = ["ForwardSpec", "SessionConfig", "parse_forward", "forward_spec", "session_keywords",
           "tty_wanted", "FORWARD_KEYWORDS"]

#: ssh_config keyword -> (spec kind, connect() keyword)
FORWARD_KEYWORDS = {"localforward": ("L", "local_forwards"),
                    "remoteforward": ("R", "remote_forwards"),
                    "dynamicforward": ("D", "dynamic_forwards")}
_NAMES = {"L": "LocalForward", "R": "RemoteForward", "D": "DynamicForward"}
REQUEST_TTY = ("auto", "yes", "no", "force")


def _split_spec(spec: str) -> list[str]:
    """Split a forwarding spec on colons, keeping [IPv6] addresses whole."""
    parts, cur, depth = [], "", 0
    for ch in spec:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == ":" and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        cur += ch
    parts.append(cur)
    return [p[1:-1] if p.startswith("[") and p.endswith("]") else p for p in parts]


def parse_forward(spec: str, kind: str) -> dict[str, Any]:
    """``-L``/``-R``/``-D`` specs, as ssh reads them; raises ConfigurationError.

    ssh_config's two-word form (``[bind:]port host:hostport``) is read too."""
    spec = ":".join(spec.split(None, 1))
    parts = _split_spec(spec)

    def port(text: str) -> int:
        if not text.isdigit() or int(text) > 65535:
            raise ConfigurationError(f"bad port {text!r} in -{kind} {spec}")
        return int(text)

    out: dict[str, Any] = {"listen_host": None, "listen_port": 0, "listen_path": None,
                           "dest_host": None, "dest_port": 0, "dest_path": None}
    if kind == "D":
        if len(parts) == 1:
            out["listen_port"] = port(parts[0])
        elif len(parts) == 2:
            out["listen_host"], out["listen_port"] = parts[0], port(parts[1])
        else:
            raise ConfigurationError(f"bad dynamic forwarding spec -D {spec}")
        return out
    if parts[0].startswith("/"):                     # /listen/path:...
        out["listen_path"], rest = parts[0], parts[1:]
    elif len(parts) >= 2 and parts[-1].startswith("/") and len(parts) in (2, 3):
        rest = parts[-1:]
        listen = parts[:-1]
        out["listen_port"] = port(listen[-1])
        out["listen_host"] = listen[0] if len(listen) == 2 else None
    else:
        if len(parts) == 3:
            out["listen_port"], rest = port(parts[0]), parts[1:]
        elif len(parts) == 4:
            out["listen_host"], out["listen_port"], rest = parts[0], port(parts[1]), parts[2:]
        else:
            raise ConfigurationError(f"bad forwarding spec -{kind} {spec}")
    if len(rest) == 1 and rest[0].startswith("/"):
        out["dest_path"] = rest[0]
    elif len(rest) == 2:
        out["dest_host"], out["dest_port"] = rest[0], port(rest[1])
    else:
        raise ConfigurationError(f"bad forwarding spec -{kind} {spec}")
    if out["listen_path"] is not None and out["dest_path"] is None:
        side = "local" if kind == "L" else "remote"
        raise ConfigurationError(f"-{kind} {spec}: forwarding a {side} socket to a TCP port "
                                 f"is not supported")
    return out


@dataclass(frozen=True)
class ForwardSpec:
    """One forward to set up: ``kind`` is ``"L"``, ``"R"`` or ``"D"``; ``spec`` is
    what was written.  ``listen_host`` None means ssh's default (``localhost``)."""

    kind: str
    spec: str
    listen_host: str | None
    listen_port: int
    listen_path: str | None
    dest_host: str | None
    dest_port: int
    dest_path: str | None

    def bind_host(self) -> str:
        """The address to listen on, as ssh picks it (``*``: every address)."""
        if self.listen_host is None:
            return "localhost"
        return "" if self.listen_host == "*" else self.listen_host

    def destination(self) -> str:
        return self.dest_path or f"{self.dest_host}:{self.dest_port}"

    def __str__(self) -> str:
        return f"{_NAMES[self.kind]} {self.spec}"


def forward_spec(spec: str, kind: str) -> ForwardSpec:
    """A :class:`ForwardSpec` from ``-L``/``-R``/``-D`` (or ssh_config) syntax."""
    if kind not in _NAMES:
        raise ConfigurationError(f"forward kind must be L, R or D, not {kind!r}")
    return ForwardSpec(kind=kind, spec=spec.strip(), **parse_forward(spec, kind))


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in value.split("\n") if v.strip()]
    return [str(v) for v in value]


def tty_wanted(mode: str, has_command: bool, stdin_tty: bool) -> bool:
    """RequestTTY (``auto``, ``yes``, ``no``, ``force``): whether a session asks for a
    pseudo-terminal, as ssh decides (see the module docstring)."""
    if mode == "force":
        return True
    if mode == "yes":
        return stdin_tty
    if mode == "auto":
        return stdin_tty and not has_command
    return False


def _tty_mode(value: Any) -> str:
    if value is None:
        return "auto"
    if value is True or value is False:
        return "yes" if value else "no"
    mode = {"true": "yes", "false": "no"}.get(str(value).strip().lower(), str(value).strip().lower())
    if mode not in REQUEST_TTY:
        raise ConfigurationError(f"RequestTTY {value!r}: expected auto, yes, no or force")
    return mode


def _stdin_is_tty() -> bool:
    try:
        return os.isatty(0)
    except OSError:
        return False


@dataclass(frozen=True)
class SessionConfig:
    """Defaults for the sessions a client connection opens (see the module docstring)."""

    send_env: tuple[str, ...] = ()
    set_env: tuple[tuple[str, str], ...] = ()
    request_tty: str = "auto"
    remote_command: str | None = None

    @classmethod
    def create(cls, send_env: Any = None, set_env: Any = None, request_tty: Any = None,
               remote_command: str | None = None) -> SessionConfig:
        """Check :func:`sshcore.connect`'s ``send_env`` (patterns: a string of
        space-separated ones or a list), ``set_env`` (a mapping, a list of
        ``NAME=VALUE`` items, or a string of ssh_config SetEnv words), ``request_tty``
        and ``remote_command`` (``"none"``: none)."""
        patterns: list[str] = []
        for line in _listed(send_env):
            patterns += line.split()
        pairs: dict[str, str] = {}
        for name, value in _env_items(set_env):
            pairs.setdefault(str(name), str(value))  # the first value wins, as in ssh
        command = remote_command
        if command is not None and (not command.strip() or command.strip().lower() == "none"):
            command = None
        return cls(tuple(patterns), tuple(pairs.items()), _tty_mode(request_tty), command)

    def env(self, explicit: Mapping[str, str] | None = None,
            environ: Mapping[str, str] | None = None) -> dict[str, str] | None:
        """A session's variables: SendEnv's, then SetEnv's, then ``explicit``'s (each
        over the one before); None when there are none."""
        environ = os.environ if environ is None else environ
        out: dict[str, str] = {}
        for pattern in self.send_env:
            out.update((n, v) for n, v in environ.items() if fnmatch.fnmatchcase(n, pattern))
        out.update(self.set_env)
        out.update(explicit or {})
        return out or (None if explicit is None else out)

    def apply(self, command: str | None, subsystem: str | None, env: Mapping[str, str] | None,
              term_type: str | None, stdin_tty: bool | None = None,
              ) -> tuple[str | None, Mapping[str, str] | None, str | None]:
        """``(command, env, term_type)`` for a session opened with these arguments."""
        env = self.env(env)
        if subsystem is not None:
            return command, env, term_type
        if command is None:
            command = self.remote_command
        if term_type is None and self.request_tty != "no":
            tty = _stdin_is_tty() if stdin_tty is None else stdin_tty
            if tty_wanted(self.request_tty, command is not None, tty):
                term_type = os.environ.get("TERM") or "xterm"
        return command, env, term_type


def _words(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise ConfigurationError(f"SetEnv {line!r}: {exc}") from None


def _env_item(word: str) -> tuple[str, str]:
    name, sep, value = word.partition("=")
    if not sep or not name:
        raise ConfigurationError(f"SetEnv {word!r}: expected NAME=VALUE")
    return name, value


def _env_items(set_env: Any) -> list[tuple[str, str]]:
    """SetEnv as given: a mapping; a string of ssh_config lines (``NAME=VALUE`` words,
    quoted as the shell quotes them); or a list with one ``NAME=VALUE`` an item."""
    if set_env is None:
        return []
    if isinstance(set_env, Mapping):
        return [(str(k), str(v)) for k, v in set_env.items()]
    if isinstance(set_env, str):
        return [_env_item(w) for line in _listed(set_env) for w in _words(line)]
    return [_env_item(str(item)) for item in set_env]


def session_keywords(found: Mapping[str, Any], options: dict[str, Any]) -> None:
    """Fill :func:`sshcore.connect` keywords from ssh_config values (``found``: lower-case
    names; repeatable options as lists or newline-joined strings).  Forwards and SendEnv
    add to what ``options`` has (as ssh adds ``-L`` to LocalForward); SetEnv adds under
    it (first value wins); the others only where ``options`` has none."""
    yes = lambda name: str(found.get(name, "")).strip().lower() in ("yes", "true")  # noqa: E731
    if yes("clearallforwardings"):
        options["clear_all_forwardings"] = True
    for name, (_, kw) in FORWARD_KEYWORDS.items():
        if name in found:
            options[kw] = _listed(options.get(kw)) + _listed(found[name])
    if "sendenv" in found:
        options["send_env"] = _listed(options.get("send_env")) + _listed(found["sendenv"])
    if "setenv" in found:
        lines = "\n".join(_listed(found["setenv"]))
        options["set_env"] = [f"{k}={v}" for k, v in
                              _env_items(options.get("set_env")) + _env_items(lines)]
    if "exitonforwardfailure" in found:
        options.setdefault("exit_on_forward_failure", yes("exitonforwardfailure"))
    if "requesttty" in found:
        options.setdefault("request_tty", found["requesttty"])
    if "remotecommand" in found:
        options.setdefault("remote_command", found["remotecommand"])


def forward_specs(local: Any = None, remote: Any = None, dynamic: Any = None,
                  clear: bool = False) -> tuple[ForwardSpec, ...]:
    """connect()'s ``local_forwards``/``remote_forwards``/``dynamic_forwards`` (spec
    strings, in ``-L`` or ssh_config syntax, or :class:`ForwardSpec`) checked."""
    if clear:
        return ()
    out = []
    for kind, specs in (("L", local), ("R", remote), ("D", dynamic)):
        for spec in ([specs] if isinstance(specs, (str, ForwardSpec)) else list(specs or ())):
            out.append(spec if isinstance(spec, ForwardSpec) else forward_spec(spec, kind))
    return tuple(out)



def forward_failed(spec: ForwardSpec, exc: BaseException, exit_on_failure: bool) -> None:
    """A forward could not be set up: with ExitOnForwardFailure, raise
    :class:`~sshcore.ChannelListenError`; otherwise log ssh's warning and go on."""
    why = f"{spec}: {exc}"
    if exit_on_failure:
        raise ChannelListenError(f"{why} (ExitOnForwardFailure=yes)") from None
    logger.warning("Warning: %s", why)
