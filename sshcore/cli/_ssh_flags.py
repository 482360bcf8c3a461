"""ssh(1)'s everyday flags for ``sshcore run``: ``-s -C -c -m -q -v -4 -6 -b -E -G``.

This module owns their registration on the ``run`` parser, their meaning as ssh_config
options (as in ssh, a flag wins over ``-o`` and over the configuration files), the
logging they set up (LogLevel, ``-q``, ``-v``, ``-E``), the subsystem request of ``-s``
and the ``-G`` printout of the configuration that would apply.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from typing import Any

#: ssh_config LogLevel -> logging level.  ssh's INFO (its default) is where its
#: "Warning: ..." lines live: our WARNING.  QUIET silences everything, errors included.
LOG_LEVELS = {"quiet": logging.CRITICAL + 10, "silent": logging.CRITICAL + 10,
              "fatal": logging.CRITICAL, "error": logging.ERROR, "info": logging.WARNING,
              "verbose": logging.INFO, "debug": logging.DEBUG, "debug1": logging.DEBUG,
              "debug2": logging.DEBUG, "debug3": logging.DEBUG}
LOG_FORMAT = "sshcore: %(name)s: %(message)s"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register the flags on the ``run`` sub-parser."""
    p.add_argument("-s", dest="subsystem", action="store_true",
                   help="request a subsystem: the command is its name (ssh -s host sftp)")
    p.add_argument("-C", dest="compression", action="store_true",
                   help="compress the connection (Compression=yes)")
    p.add_argument("-c", dest="cipher_spec", metavar="CIPHER_SPEC",
                   help="ciphers, in order of preference (Ciphers; +, - and ^ allowed)")
    p.add_argument("-m", dest="mac_spec", metavar="MAC_SPEC",
                   help="MACs, in order of preference (MACs; +, - and ^ allowed)")
    p.add_argument("-q", dest="quiet", action="store_true",
                   help="quiet: no warnings or diagnostics (LogLevel=QUIET)")
    p.add_argument("-v", dest="ssh_verbose", action="count", default=0,
                   help="debug output, e.g. the negotiated algorithms (LogLevel=DEBUG)")
    fam = p.add_mutually_exclusive_group()
    fam.add_argument("-4", dest="address_family", action="store_const", const="inet",
                     help="IPv4 addresses only (AddressFamily=inet)")
    fam.add_argument("-6", dest="address_family", action="store_const", const="inet6",
                     help="IPv6 addresses only (AddressFamily=inet6)")
    p.add_argument("-b", dest="bind_address", metavar="BIND_ADDRESS",
                   help="local source address of the connection (BindAddress)")
    p.add_argument("-E", dest="log_file", metavar="LOG_FILE",
                   help="append debug logs and errors to this file instead of stderr")
    p.add_argument("-G", dest="print_config", action="store_true",
                   help="print the configuration that applies (after ssh_config and the "
                   "command line) in ssh -G's format, and exit without connecting")


#: ``run``'s options that take a value (``-W``/``-e`` included)
_TAKES_VALUE = {"-p", "--port", "-F", "-i", "--identity", "-o", "--option", "-J", "--known-hosts",
                "-l", "--login", "-L", "-R", "-D", "-W", "-e", "-c", "-m", "-b", "-E"}


def ssh_argv(argv: list[str]) -> list[str]:
    """``sshcore [-v] run ...`` with ``-c``/``-m`` values that start with ``-`` (the
    OpenSSH list syntax for "the defaults without these": ``-c -aes128-ctr``) glued to
    their flag (``-c-aes128-ctr``), which argparse reads as ssh's getopt does."""
    out = list(argv)
    i = 0
    while i < len(out) and out[i].startswith("-"):  # sshcore's own options (-v)
        i += 1
    if i >= len(out) or out[i] != "run":
        return out
    i += 1
    while i < len(out) and out[i].startswith("-") and out[i] != "--":
        flag = out[i]
        if flag in ("-c", "-m") and i + 1 < len(out) and out[i + 1].startswith("-"):
            out[i:i + 2] = [flag + out[i + 1]]
        elif flag in _TAKES_VALUE:
            i += 1
        i += 1
    return out


def apply_flags(args: argparse.Namespace, opts: dict[str, str]) -> None:
    """Write the flags into ``opts`` (the ``-o`` options, lower-case names) as the
    ssh_config options they stand for; they override ``-o``, as in ssh."""
    for name, value in (("ciphers", getattr(args, "cipher_spec", None)),
                        ("macs", getattr(args, "mac_spec", None)),
                        ("addressfamily", getattr(args, "address_family", None)),
                        ("bindaddress", getattr(args, "bind_address", None))):
        if value is not None:
            opts[name] = value
    if getattr(args, "compression", False):
        opts["compression"] = "yes"
    if getattr(args, "quiet", False):
        opts["loglevel"] = "QUIET"
    elif getattr(args, "ssh_verbose", 0):
        opts["loglevel"] = ("DEBUG1", "DEBUG2", "DEBUG3")[min(args.ssh_verbose, 3) - 1]


def _level(opts: dict[str, str]) -> int | None:
    from ..errors import ConfigurationError

    name = opts.get("loglevel")
    if name is None:
        return None
    try:
        return LOG_LEVELS[name.strip().lower()]
    except KeyError:
        raise ConfigurationError(f"LogLevel {name!r}: expected one of QUIET, FATAL, ERROR, "
                                 f"INFO, VERBOSE, DEBUG, DEBUG1, DEBUG2, DEBUG3") from None


def apply_logging(args: argparse.Namespace, opts: dict[str, str]) -> None:
    """LogLevel (from ``-q``, ``-v``, ``-o`` or ssh_config) and ``-E``: set the level and
    the destination of the ``sshcore`` loggers.  Without either, the level ``main()``
    chose (``sshcore -v``) stays."""
    level = _level(opts)
    root = logging.getLogger()
    if level is not None:
        root.setLevel(level)
        args.quiet = level > logging.CRITICAL  # main()'s error line obeys it too
    log_file = getattr(args, "log_file", None)
    if log_file:
        handler = logging.FileHandler(os.path.expanduser(log_file), mode="a")
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        for old in list(root.handlers):
            root.removeHandler(old)
        root.addHandler(handler)


def report(args: argparse.Namespace, text: str) -> None:
    """A fatal error's line: on stderr, or appended to the ``-E`` file, or nowhere
    with ``-q``/LogLevel=QUIET (as ssh, which exits 255 without a word)."""
    if getattr(args, "quiet", False):
        return
    log_file = getattr(args, "log_file", None)
    if log_file:
        try:
            with open(os.path.expanduser(log_file), "a") as f:
                f.write(text + "\n")
            return
        except OSError:
            pass  # unwritable log: stderr still gets it
    print(text, file=sys.stderr)


def session_request(args: argparse.Namespace, command: str | None,
                    session: dict[str, Any]) -> str | None:
    """With ``-s``, the command names a subsystem: put it in the session keywords and
    return no command; otherwise return ``command`` unchanged."""
    if not getattr(args, "subsystem", False):
        return command
    if not command:
        from ..errors import ConfigurationError

        raise ConfigurationError("-s needs the subsystem's name as the command "
                                 "(sshcore run -s HOST sftp)")
    session["subsystem"] = command
    return None


# ---------------------------------------------------------------------------- -G

_YES_NO = ("batchmode", "compression", "forwardagent", "hashknownhosts", "identitiesonly",
           "kbdinteractiveauthentication", "passwordauthentication", "addressfamily")
_MULTISTATE = ("pubkeyauthentication", "stricthostkeychecking", "requesttty", "updatehostkeys")
_DEFAULTS = {"addressfamily": "any", "batchmode": "no", "compression": "no",
             "forwardagent": "no", "hashknownhosts": "no", "identitiesonly": "no",
             "kbdinteractiveauthentication": "yes", "passwordauthentication": "yes",
             "pubkeyauthentication": "true", "requesttty": "auto",
             "stricthostkeychecking": "ask", "numberofpasswordprompts": "3",
             "serveralivecountmax": "3", "serveraliveinterval": "60", "connecttimeout": "30"}
_ORDERED = ("addressfamily", "batchmode", "compression", "forwardagent", "hashknownhosts",
            "identitiesonly", "kbdinteractiveauthentication", "passwordauthentication",
            "pubkeyauthentication", "requesttty", "sessiontype", "stdinnull",
            "stricthostkeychecking", "numberofpasswordprompts", "serveralivecountmax",
            "serveraliveinterval", "connecttimeout", "bindaddress")
_ALGORITHMS = (("ciphers", "cipher"), ("hostkeyalgorithms", "signature"),
               ("kexalgorithms", "kex"), ("macs", "mac"),
               ("pubkeyacceptedalgorithms", "signature"))
_AS_GIVEN = ("preferredauthentications", "proxyjump", "proxycommand", "identityagent",
             "certificatefile", "localforward", "remoteforward", "dynamicforward",
             "sendenv", "setenv", "rekeylimit", "hostkeyalias", "updatehostkeys")


def _shown(name: str, value: str) -> str:
    """A value as ssh -G shows it: yes/no words lower-cased, and true/false for the
    options that have more states than yes and no."""
    if name in _MULTISTATE:
        value = value.lower()
        return {"yes": "true", "no": "false", "off": "false"}.get(value, value)
    return value.lower() if name in _YES_NO else value


def _level_name(opts: dict[str, str]) -> str:
    name = opts.get("loglevel", "INFO").strip().upper()
    _level(opts)  # a bad name is an error here too
    return {"SILENT": "QUIET", "DEBUG1": "DEBUG"}.get(name, name)  # as OpenSSH names them


def config_lines(args: argparse.Namespace) -> list[str]:
    """The ``-G`` lines: what ``sshcore run`` would use for the destination after the
    command line, ``-o`` and ssh_config (Host/Match) are applied, with OpenSSH's
    lower-case keywords.  Algorithm lists are expanded against the installed plugins
    (an unknown name is an error, as it is when connecting)."""
    from ..registry import default_registry
    from ..files.ssh_config import SSHConfig

    opts = _parse_options(args.option or [])
    apply_flags(args, opts)
    host = args.destination
    user = getattr(args, "login", None) or opts.get("user")
    if "@" in host:
        user, host = host.rsplit("@", 1)
    found: dict[str, Any] = {}
    if not (args.config and args.config.lower() == "none"):
        table = SSHConfig.load([args.config] if args.config else None)
        found = table.lookup(host, user=user, port=args.port)
    identities = list(args.identity or [])
    for name, value in found.items():
        if name == "identityfile":
            identities = identities or list(value)  # -i files replace the config's, as in run
        elif isinstance(value, list):
            opts.setdefault(name, "\n".join(value))
        else:
            opts.setdefault(name, value)
    if getattr(args, "jump", None):
        opts["proxyjump"] = args.jump
    lines = [f"host {host}", f"user {user or opts.get('user') or getpass.getuser()}",
             f"hostname {opts.get('hostname', host)}",
             f"port {args.port or int(opts.get('port', 22))}"]
    opts.setdefault("sessiontype", "none" if getattr(args, "no_command", False)
                    else "subsystem" if getattr(args, "subsystem", False) else "default")
    opts.setdefault("stdinnull", "yes" if getattr(args, "no_stdin", False) else "no")
    if getattr(args, "forward_agent", False):
        opts["forwardagent"] = "yes"
    for name in _ORDERED:
        value = opts.get(name, _DEFAULTS.get(name))
        if value is not None:
            lines.append(f"{name} {_shown(name, value)}")
    reg = default_registry()
    for name, family in _ALGORITHMS:
        lines.append(f"{name} {','.join(reg.expand(family, opts.get(name)))}")
    lines.append(f"loglevel {_level_name(opts)}")
    if not identities:
        from ..aio.client import DEFAULT_KEY_FILES

        identities = [f"~/.ssh/{n}" for n in DEFAULT_KEY_FILES]
    lines += [f"identityfile {f}" for f in identities]
    known = args.known_hosts or opts.get("userknownhostsfile", "~/.ssh/known_hosts")
    lines.append("userknownhostsfile "
                 + " ".join(os.path.expanduser(f) for f in known.split()))
    for name in _AS_GIVEN:
        for value in opts.get(name, "").split("\n") if name in opts else ():
            lines.append(f"{name} {_shown(name, value)}")
    return lines


def print_config(args: argparse.Namespace) -> int:
    """``-G``: print :func:`config_lines` and exit 0, without connecting."""
    for line in config_lines(args):
        print(line)
    return 0


_ACCUMULATING = ("sendenv", "setenv", "localforward", "remoteforward", "dynamicforward")


def _parse_options(opts: list[str]) -> dict[str, str]:
    """``-o NAME=VALUE`` (or ``NAME VALUE``) options as ``{lower-case name: value}``: the
    first value wins, as in ssh, except for the keywords that add up."""
    out: dict[str, str] = {}
    for opt in opts:
        name, sep, value = opt.partition("=")
        if not sep:
            name, _, value = opt.partition(" ")
        name = name.strip().lower()
        if name in _ACCUMULATING and name in out:
            out[name] += "\n" + value.strip()  # these add up over several -o, as in ssh
        else:
            out.setdefault(name, value.strip())  # first value wins, like ssh
    return out
