"""``sshcore serve``'s configuration file: the subset of sshd_config(5) it implements.

Text in, parsed options out (no file access: the caller reads the file).  Syntax as
sshd's: one ``Keyword arguments`` per line (or ``Keyword=arguments``), keywords
case-insensitive, ``#`` lines and blank lines ignored, double quotes around arguments
with spaces; for most keywords the first value given wins, the list keywords
(``HostKey``, ``ListenAddress``, ``Port``, ``AcceptEnv``, ``AllowUsers``,
``DenyUsers``, ``Subsystem``) accumulate.  ``Match User``/``Address``/``All`` blocks
(criteria with ``,`` lists, ``*``/``?`` wildcards, ``!`` negation; Address takes CIDR
blocks) override the keywords allowed in them for the connections they match, the
first matching block's value winning.  An unknown keyword, a keyword this server does
not implement, a bad value or a keyword not allowed in a Match block is a
:class:`SshdConfigError` naming the file and line.

:func:`parse_sshd_config` returns a :class:`SshdConfig`; ``resolve(user, addr)`` gives
the effective options for a connection and ``dump()`` the lines ``sshd -T`` would print.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import shlex
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import ConfigurationError
from ..srclimit import parse_exempt_list, parse_interval, parse_net_block_size, parse_penalties
from ..kernel._timeouts import parse_channel_timeout

__all__ = ["SshdConfig", "SshdConfigError", "parse_sshd_config", "KEYWORDS", "MATCH_KEYWORDS",
           "match_user_pattern"]


class SshdConfigError(ConfigurationError):
    """A configuration file error, with ``filename`` and ``lineno``."""

    def __init__(self, filename: str, lineno: int, message: str) -> None:
        super().__init__(f"{filename} line {lineno}: {message}")
        self.filename = filename
        self.lineno = lineno


def _yes_no(args: list[str]) -> bool:
    value = _one(args).lower()
    if value not in ("yes", "no"):
        raise ValueError(f"expected yes or no, not {value!r}")
    return value == "yes"


def _one(args: list[str]) -> str:
    if len(args) != 1:
        raise ValueError(f"expected one argument, got {len(args)}")
    return args[0]


def _int(args: list[str]) -> int:
    value = _one(args)
    if not value.isdigit():
        raise ValueError(f"expected a number, not {value!r}")
    return int(value)


def _time(args: list[str]) -> float:
    return parse_interval(_one(args))


def _time_or_none(args: list[str]) -> float | None:
    return None if _one(args).lower() == "none" else parse_interval(args[0])


def _path_or_none(args: list[str]) -> str | None:
    value = _one(args)
    return None if value.lower() == "none" else value


def _rest(args: list[str]) -> str:
    if not args:
        raise ValueError("missing argument")
    return " ".join(args)


def _max_startups(args: list[str]) -> str | None:
    value = _one(args)
    if value.lower() == "none":
        return None
    parts = value.split(":")
    if len(parts) not in (1, 3) or not all(p.isdigit() for p in parts):
        raise ValueError(f"expected start:rate:full or a number, not {value!r}")
    nums = [int(p) for p in parts]
    if not (0 < nums[0] <= nums[-1] and (len(nums) == 1 or nums[1] <= 100)):
        raise ValueError(f"{value!r}: need 0 < start <= full and rate <= 100")
    return value


def _per_source_max(args: list[str]) -> int | None:
    value = _one(args)
    if value.lower() == "none":
        return None
    n = _int(args)
    if n < 1:
        raise ValueError("expected a positive number or none")
    return n


def _penalties(args: list[str]) -> str:
    text = _rest(args)
    parse_penalties(text)
    return text


def _exempt(args: list[str]) -> str:
    text = _one(args)
    parse_exempt_list(text)
    return text


def _net_block(args: list[str]) -> str:
    parse_net_block_size(_one(args))
    return args[0]


def _channel_timeout(args: list[str]) -> str:
    text = _rest(args)
    parse_channel_timeout(text)
    return text


def _auth_methods(args: list[str]) -> list[list[str]] | None:
    if not args:
        raise ValueError("missing argument")
    if len(args) == 1 and args[0].lower() == "any":
        return None
    return [a.split(",") for a in args]


def _forwarding(args: list[str]) -> str:
    value = _one(args).lower()
    value = {"yes": "all"}.get(value, value)
    if value not in ("all", "no", "local", "remote"):
        raise ValueError("expected yes, all, no, local or remote")
    return value


def _permit(args: list[str], listen: bool) -> list[str] | None:
    """PermitOpen host:port ... / PermitListen [host:]port ...; any (None), none ([])."""
    if not args:
        raise ValueError("missing argument")
    if len(args) == 1 and args[0].lower() == "any":
        return None
    if len(args) == 1 and args[0].lower() == "none":
        return []
    for a in args:
        host, sep, port = a.rpartition(":")
        if (not sep and not listen) or not (port == "*" or port.isdigit()):
            raise ValueError(f"bad {'listen' if listen else 'open'} specification {a!r}")
    return list(args)


def _subsystem(args: list[str]) -> tuple[str, str]:
    if len(args) < 2:
        raise ValueError("expected a name and a command")
    return args[0], " ".join(args[1:])


def _algs(args: list[str]) -> str:
    return _one(args)


def _listen_address(args: list[str]) -> str:
    value = _one(args)
    if value.startswith("[") and "]" not in value:
        raise ValueError(f"bad address {value!r}")
    return value


def _port(args: list[str]) -> int:
    n = _int(args)
    if not 0 < n < 65536:
        raise ValueError(f"bad port {n}")
    return n


def _list(args: list[str]) -> list[str]:
    if not args:
        raise ValueError("missing argument")
    return list(args)


@dataclass(frozen=True)
class _Keyword:
    name: str                       # as sshd -T prints it (lower case)
    parse: Callable[[list[str]], Any]
    multi: bool = False             # values accumulate (else the first one wins)
    default: Any = None
    show: Callable[[Any], str] | None = None


def _show_bool(v: Any) -> str:
    return "yes" if v else "no"


def _show_time(v: Any) -> str:
    return "none" if v is None else f"{v:g}"


def _show_none(v: Any) -> str:
    return "none" if v is None else str(v)


def _show_lists(v: Any) -> str:
    return "any" if v is None else " ".join(",".join(x) for x in v)


def _show_permit(v: Any) -> str:
    return "any" if v is None else (" ".join(v) if v else "none")


KEYWORDS: dict[str, _Keyword] = {k.name: k for k in (
    _Keyword("listenaddress", _listen_address, multi=True),
    _Keyword("port", _port, multi=True),
    _Keyword("hostkey", _one, multi=True),
    _Keyword("authorizedkeysfile", _list, default=[".ssh/authorized_keys"],
             show=lambda v: " ".join(v)),
    _Keyword("passwordauthentication", _yes_no, default=True, show=_show_bool),
    _Keyword("pubkeyauthentication", _yes_no, default=True, show=_show_bool),
    _Keyword("kbdinteractiveauthentication", _yes_no, default=True, show=_show_bool),
    _Keyword("authenticationmethods", _auth_methods, show=_show_lists),
    _Keyword("maxauthtries", _int, default=6),
    _Keyword("maxsessions", _int, default=10),
    _Keyword("maxstartups", _max_startups, default="10:30:100", show=_show_none),
    _Keyword("persourcepenalties", _penalties, default="yes",
             show=lambda v: parse_penalties(v).describe()),
    _Keyword("persourcepenaltyexemptlist", _exempt, show=_show_none),
    _Keyword("persourcemaxstartups", _per_source_max, show=_show_none),
    _Keyword("persourcenetblocksize", _net_block, default="32:128"),
    _Keyword("logingracetime", _time, default=120.0, show=_show_time),
    _Keyword("channeltimeout", _channel_timeout, show=_show_none),
    _Keyword("unusedconnectiontimeout", _time_or_none, show=_show_time),
    _Keyword("clientaliveinterval", _time, default=0.0, show=_show_time),
    _Keyword("clientalivecountmax", _int, default=3),
    _Keyword("allowusers", _list, multi=True),
    _Keyword("denyusers", _list, multi=True),
    _Keyword("ciphers", _algs),
    _Keyword("macs", _algs),
    _Keyword("kexalgorithms", _algs),
    _Keyword("hostkeyalgorithms", _algs),
    _Keyword("banner", _path_or_none, show=_show_none),
    _Keyword("subsystem", _subsystem, multi=True, show=lambda v: f"{v[0]} {v[1]}"),
    _Keyword("acceptenv", _list, multi=True),
    _Keyword("allowtcpforwarding", _forwarding, default="no",
             show=lambda v: "yes" if v == "all" else v),
    _Keyword("allowagentforwarding", _yes_no, default=True, show=_show_bool),
    _Keyword("permitopen", lambda a: _permit(a, False), show=_show_permit),
    _Keyword("permitlisten", lambda a: _permit(a, True), show=_show_permit),
    _Keyword("trustedusercakeys", _path_or_none, show=_show_none),
    _Keyword("revokedkeys", _path_or_none, show=_show_none),
    _Keyword("x11forwarding", _yes_no, default=False, show=_show_bool),
    _Keyword("x11displayoffset", _int, default=10),
    _Keyword("x11uselocalhost", _yes_no, default=True, show=_show_bool),
    _Keyword("xauthlocation", _one, default="/usr/bin/xauth"),
)}

#: Keywords a Match block may set: those this server decides per user or per request.
MATCH_KEYWORDS = frozenset({
    "passwordauthentication", "pubkeyauthentication", "kbdinteractiveauthentication",
    "authorizedkeysfile", "allowtcpforwarding", "allowagentforwarding", "permitopen",
    "permitlisten",
})

#: sshd keywords this server knows of but does not implement (a clearer error).
_KNOWN_UNSUPPORTED = frozenset("""
addressfamily allowgroups allowstreamlocalforwarding
authorizedkeyscommand authorizedkeyscommanduser authorizedprincipalscommand
authorizedprincipalscommanduser authorizedprincipalsfile casignaturealgorithms
challengeresponseauthentication chrootdirectory compression denygroups
disableforwarding exposeauthinfo fingerprinthash forcecommand gatewayports
gssapiauthentication hostbasedacceptedalgorithms hostbasedauthentication
hostcertificate hostkeyagent ignorerhosts ignoreuserknownhosts include ipqos
kerberosauthentication loglevel logverbose modulifile permitemptypasswords
permitrootlogin permittty permittunnel permituserenvironment permituserrc pidfile
printlastlog printmotd pubkeyacceptedalgorithms pubkeyauthoptions rdomain rekeylimit
requiredrsasize securitykeyprovider setenv streamlocalbindmask streamlocalbindunlink
strictmodes syslogfacility tcpkeepalive usedns usepam versionaddendum refuseconnection
""".split())


def match_user_pattern(patterns: list[str], value: str) -> bool:
    """sshd's pattern lists: ``,``-separated, ``*``/``?``, ``!`` negation (a negated
    match decides "no" whatever else matches)."""
    matched = False
    for pat in patterns:
        neg = pat.startswith("!")
        if fnmatch.fnmatchcase(value, pat[1:] if neg else pat):
            if neg:
                return False
            matched = True
    return matched


def _match_address(patterns: list[str], addr: str) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return match_user_pattern(patterns, addr)
    matched = False
    for pat in patterns:
        neg = pat.startswith("!")
        body = pat[1:] if neg else pat
        try:
            hit = "/" in body and ip in ipaddress.ip_network(body, strict=False)
        except ValueError:
            hit = False
        hit = hit or fnmatch.fnmatchcase(addr, body)
        if hit:
            if neg:
                return False
            matched = True
    return matched


@dataclass
class _Match:
    criteria: list[tuple[str, list[str]]]   # ("user"|"address"|"all", patterns)
    lineno: int
    options: dict[str, Any] = field(default_factory=dict)

    def applies(self, user: str | None, addr: str | None) -> bool:
        for kind, patterns in self.criteria:
            if kind == "all":
                continue
            value = user if kind == "user" else addr
            if value is None:
                return False  # not known yet: the block does not apply
            if kind == "user" and not match_user_pattern(patterns, value):
                return False
            if kind == "address" and not _match_address(patterns, value):
                return False
        return True

    def mentions_user(self) -> bool:
        return any(kind == "user" for kind, _ in self.criteria)


@dataclass
class SshdConfig:
    """A parsed configuration: the global options and the Match blocks, in order."""

    filename: str
    options: dict[str, Any] = field(default_factory=dict)
    matches: list[_Match] = field(default_factory=list)

    def get(self, name: str, user: str | None = None, addr: str | None = None) -> Any:
        """The effective value of ``name`` (a lower-case keyword) for a connection."""
        for m in self.matches:
            if name in m.options and m.applies(user, addr):
                return m.options[name]
        if name in self.options:
            return self.options[name]
        kw = KEYWORDS[name]
        return [] if kw.multi else kw.default

    def is_set(self, name: str) -> bool:
        return name in self.options

    def has_user_matches(self) -> bool:
        return any(m.mentions_user() for m in self.matches)

    def dump(self, user: str | None = None, addr: str | None = None) -> str:
        """``sshd -T``: every keyword with its effective value, one per line (lists
        one line per value); with ``user``/``addr``, as Match decides for them."""
        lines = []
        for name, kw in KEYWORDS.items():
            value = self.get(name, user, addr)
            show = kw.show or (lambda v: "none" if v is None else str(v))
            if kw.multi:
                for item in value:
                    lines.append(f"{name} {show(item) if kw.show else (' '.join(item) if isinstance(item, list) else item)}")
            elif value is not None or kw.show is not None:
                lines.append(f"{name} {show(value)}")
        return "\n".join(lines) + "\n"


def _split(line: str, filename: str, lineno: int) -> list[str]:
    try:
        words = shlex.split(line, comments=False, posix=True)
    except ValueError as exc:
        raise SshdConfigError(filename, lineno, f"bad quoting: {exc}") from None
    if words and "=" in words[0]:
        head, _, tail = words[0].partition("=")
        words = [head] + ([tail] if tail else []) + words[1:]
    elif len(words) > 1 and words[1].startswith("="):
        tail = words[1][1:]
        words = [words[0]] + ([tail] if tail else []) + words[2:]
    return words


def _parse_match(args: list[str], filename: str, lineno: int) -> _Match:
    if not args:
        raise SshdConfigError(filename, lineno, "Match needs criteria")
    criteria: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(args):
        kind = args[i].lower()
        if kind == "all":
            if len(args) != 1:
                raise SshdConfigError(filename, lineno, "Match All takes no other criteria")
            criteria.append(("all", []))
            i += 1
            continue
        if kind not in ("user", "address"):
            raise SshdConfigError(filename, lineno, f"unsupported Match criterion {args[i]!r} "
                                  "(this server implements User, Address and All)")
        if i + 1 >= len(args):
            raise SshdConfigError(filename, lineno, f"Match {args[i]} needs a pattern list")
        criteria.append((kind, args[i + 1].split(",")))
        i += 2
    return _Match(criteria, lineno)


def parse_sshd_config(text: str, filename: str = "sshd_config") -> SshdConfig:
    """Parse a configuration file's text (see the module docstring)."""
    cfg = SshdConfig(filename)
    target: dict[str, Any] = cfg.options
    current: _Match | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = _split(line, filename, lineno)
        if not words:
            continue
        name = words[0].lower()
        args = words[1:]
        if name == "match":
            current = _parse_match(args, filename, lineno)
            cfg.matches.append(current)
            target = current.options
            continue
        kw = KEYWORDS.get(name)
        if kw is None:
            why = ("is not supported by sshcore serve" if name in _KNOWN_UNSUPPORTED
                   else "is not a known keyword")
            raise SshdConfigError(filename, lineno, f"{words[0]!r} {why}")
        if current is not None and name not in MATCH_KEYWORDS:
            raise SshdConfigError(filename, lineno, f"{words[0]!r} is not allowed in a Match "
                                  "block (allowed: " + ", ".join(sorted(MATCH_KEYWORDS)) + ")")
        try:
            value = kw.parse(args)
        except (ValueError, ConfigurationError) as exc:
            raise SshdConfigError(filename, lineno, f"{words[0]}: {exc}") from None
        if kw.multi:
            target.setdefault(name, []).append(value)
        else:
            target.setdefault(name, value)  # the first value wins, as in sshd
    return cfg
