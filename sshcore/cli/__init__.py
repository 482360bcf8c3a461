"""The ``sshcore`` command: ``algorithms``, ``serve``, ``run`` and ``passwd``."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from . import _ssh_flags as ssh_flags
from ._ssh_flags import _parse_options  # noqa: F401 (tests import it from here)
from ..errors import KeyImportError, SSHError
from ..sessionconfig import SessionConfig, session_keywords, tty_wanted

DEFAULT_HOST_KEY = Path("~/.local/share/sshcore/ssh_host_ed25519_key")
DEFAULT_PASSWORD_FILE = os.path.expanduser("~/.local/share/sshcore/passwords")

# ssh -o names we understand -> connect() keyword
_OPTION_MAP = {
    "kexalgorithms": "kex_algs", "ciphers": "encryption_algs", "macs": "mac_algs",
    "hostkeyalgorithms": "server_host_key_algs", "pubkeyacceptedalgorithms": "signature_algs",
    "pubkeyacceptedkeytypes": "signature_algs", "preferredauthentications": "preferred_auth",
}


class Prompter:
    """Asks the user for secrets the way ssh does.

    On the controlling terminal when there is one; otherwise through the program named
    by ``SSH_ASKPASS`` (when ``DISPLAY`` is set, or always with ``SSH_ASKPASS_REQUIRE=force``;
    ``prefer`` picks askpass over the terminal, ``never`` forbids it).  With neither, the
    question gets no answer and that authentication method is given up.
    """

    def __init__(self, environ: Any = None) -> None:
        self.env = os.environ if environ is None else environ

    def _askpass(self) -> str | None:
        program = self.env.get("SSH_ASKPASS")
        require = self.env.get("SSH_ASKPASS_REQUIRE", "").lower()
        if not program or require == "never":
            return None
        if require == "force":
            return program
        display = self.env.get("DISPLAY") or self.env.get("WAYLAND_DISPLAY")
        if not display:
            return None
        return program if require == "prefer" or not self._has_tty() else None

    @staticmethod
    def _has_tty() -> bool:
        try:
            os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
            return True
        except OSError:
            return False

    async def ask(self, prompt: str, echo: bool = False) -> str | None:
        import asyncio

        program = self._askpass()
        if program is not None:
            env = dict(self.env)
            if echo:
                env["SSH_ASKPASS_PROMPT"] = "none"
            proc = await asyncio.create_subprocess_exec(
                program, prompt, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, env=env)
            out, _ = await proc.communicate()
            if proc.returncode != 0:
                return None
            return out.decode("utf-8", "replace").rstrip("\r\n")
        if not self._has_tty():
            return None
        return await asyncio.get_running_loop().run_in_executor(None, self._read_tty, prompt, echo)

    @staticmethod
    def _read_tty(prompt: str, echo: bool) -> str | None:
        import getpass

        try:
            if not echo:
                return getpass.getpass(prompt)
            with open("/dev/tty", "r+") as tty:
                tty.write(prompt)
                tty.flush()
                line = tty.readline()
                return line.rstrip("\r\n") if line else None
        except (EOFError, OSError):
            return None

    def show(self, text: str) -> None:
        if text:
            print(text if text.endswith("\n") else text + "\n", end="", file=sys.stderr, flush=True)


def _auth_options(opts: dict[str, str], user: str | None, host: str,
                  prompter: Prompter) -> dict[str, Any]:
    """connect() keywords for ssh's authentication options."""
    def yes(name: str, default: str = "yes") -> bool:
        return opts.get(name, default).lower() in ("yes", "true")

    methods = [m.strip() for m in opts.get("preferredauthentications",
                                           "publickey,keyboard-interactive,password").split(",")]
    off = {"publickey": not yes("pubkeyauthentication"),
           "password": not yes("passwordauthentication"),
           "keyboard-interactive": not (yes("kbdinteractiveauthentication")
                                        and yes("challengeresponseauthentication"))}
    methods = [m for m in methods if m and not off.get(m, False)]
    if not methods:
        raise_config("no authentication method is left to try (PreferredAuthentications, "
                     "PubkeyAuthentication, PasswordAuthentication, KbdInteractiveAuthentication)")
    tries = int(opts.get("numberofpasswordprompts", "3"))
    kw: dict[str, Any] = {"preferred_auth": methods,
                          "auth_credentials": {"password_attempts": tries}}
    if off["publickey"]:
        kw["client_keys"] = []
    if yes("batchmode", "no") or tries <= 0:
        return kw
    who = f"{user or os.environ.get('USER', '')}@{host}"

    async def password(prompt: str) -> str | None:
        return await prompter.ask(f"{who}'s password: ")

    rounds = 0

    async def kbdint(name: str, instruction: str, prompts: list[tuple[str, bool]]) -> Any:
        nonlocal rounds
        prompter.show(name)
        prompter.show(instruction)
        if not prompts:
            return []
        rounds += 1
        if rounds > tries:
            return None
        answers = []
        for text, echo in prompts:
            answer = await prompter.ask(text, echo)
            if answer is None:
                return None
            answers.append(answer)
        return answers

    kw["password"] = password
    kw["kbdint_handler"] = kbdint
    return kw


def _cmd_algorithms(args: argparse.Namespace) -> int:
    from ..registry import default_registry

    reg = default_registry()
    titles = {"kex": "Key exchange", "signature": "Host key / signature", "cipher": "Cipher",
              "mac": "MAC", "compression": "Compression", "auth": "Authentication",
              "key_type": "Key types", "key_format": "Key file formats"}
    for family, title in titles.items():
        print(f"{title}:")
        provided = reg.families.get(family, ())
        if not provided:
            print("  (none installed)")
        for p in provided:
            enabled = getattr(p.descriptor, "enabled_by_default", True)
            flag = "" if enabled else "  [disabled by default]"
            alternatives = reg.providers(family, p.descriptor.name)[1:]
            serving = "  * serves" if alternatives else ""
            print(f"  {p.descriptor.name:<40} {p.provider}{flag}{serving}")
            for alt in alternatives:  # other implementations of the same name
                print(f"  {'':<40} {alt.provider}  (alternative)")
    if reg.broken:
        print("Broken plugins (skipped):")
        for b in reg.broken:
            print(f"  {b.name:<40} {b.provider}: {b.reason}")
    return 0


def _ensure_host_key(path: Path) -> Path:
    from ..files.keys import export_private_key, generate_private_key, public_key_line

    path = path.expanduser()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = generate_private_key("ssh-ed25519")
        data = export_private_key(key, "openssh")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        Path(str(path) + ".pub").write_text(public_key_line(key) + "\n")
        print(f"sshcore: generated host key {path}", file=sys.stderr)
    return path


def _subsystems(specs: list[str] | None) -> dict[str, str]:
    """``--subsystem NAME=COMMAND`` options.  Subsystems from plugins (sftp, from
    sshcore-sftp) are served by the plugin unless named here; without the sftp plugin,
    OpenSSH's sftp-server serves sftp when it is installed."""
    from ..registry import default_registry

    table: dict[str, str] = {}
    for spec in specs or []:
        name, sep, command = spec.partition("=")
        if not sep or not name or not command:
            raise SystemExit(f"sshcore serve: --subsystem wants NAME=COMMAND, not {spec!r}")
        table[name] = command
    if default_registry().subsystem("sftp") is None:
        for candidate in ("/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server",
                          "/usr/libexec/sftp-server"):
            if "sftp" not in table and os.path.exists(candidate):
                table["sftp"] = candidate
    return table


async def _serve(args: argparse.Namespace) -> int:
    from ._serve import load_config
    from ..files.keys import read_private_key

    config = load_config(args.config_file) if args.config_file else None
    args._config = config
    if config is not None and args.authorized_keys and not config.is_set("authorizedkeysfile"):
        config.options["authorizedkeysfile"] = [args.authorized_keys]
    if args.test_config:  # sshd -T: the effective configuration, and nothing else
        from ._serve import dump_config

        print(dump_config(config, args.connection_spec), end="")
        return 0
    host, _, port = args.listen.rpartition(":")
    if config is not None and config.is_set("hostkey"):
        args.host_key = config.get("hostkey")
    host_keys = [Path(k) for k in args.host_key] if args.host_key else [_ensure_host_key(DEFAULT_HOST_KEY)]
    keys = [read_private_key(k) for k in host_keys]
    authorized = args.authorized_keys or os.path.expanduser("~/.ssh/authorized_keys")
    passwords = None
    if args.password_file:
        from ..files.passwords import PasswordFile

        passwords = PasswordFile.read(args.password_file)
    from ..registry import default_registry

    subsystems = _subsystems(args.subsystem)
    sftp_root = None  # by default the whole file system, from the home directory (as sshd)
    if args.sftp_root:
        if "sftp" in subsystems or default_registry().subsystem("sftp") is None:
            # Never serve unconfined what was asked to be confined.
            raise SystemExit("sshcore serve: --sftp-root confines the sshcore-sftp plugin's "
                             f"server, but sftp is served by {subsystems.get('sftp', 'nothing')}")
        sftp_root = os.path.expanduser(args.sftp_root)
        if not os.path.isdir(sftp_root):
            raise SystemExit(f"sshcore serve: --sftp-root {sftp_root} is not a directory")
    pool = None
    if args.kex_workers > 0:
        import concurrent.futures
        import multiprocessing

        # forkserver: the workers do not inherit the listening socket or connections
        pool = concurrent.futures.ProcessPoolExecutor(
            args.kex_workers, mp_context=multiprocessing.get_context("forkserver"))
    try:
        return await _serve_with(args, host, port, keys, authorized, passwords, subsystems,
                                 sftp_root, pool)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


async def _serve_with(args: argparse.Namespace, host: str, port: str, keys: list[Any],
                      authorized: str, passwords: Any, subsystems: dict[str, str],
                      sftp_root: str | None, pool: Any) -> int:
    import asyncio

    from .. import listen
    from ._serve import SyslogFileAudit, serve_valid_users
    from ..files.keys import fingerprint

    audit = (SyslogFileAudit(args.log_file, serve_valid_users(passwords))
             if args.log_file else None)
    options: dict[str, Any] = dict(
        server_host_keys=keys, authorized_client_keys=authorized, passwords=passwords,
        revoked_keys=args.revoked_keys,
        allow_forwarding=args.allow_forwarding, x11_forwarding=args.x11_forwarding,
        accept_env=args.accept_env or ["LANG", "LC_*"],
        subsystems=subsystems, sftp_root=sftp_root,
        max_startups=None if args.max_startups.lower() == "none" else args.max_startups,
        kex_executor=pool, audit=audit, **_per_source_options(args))
    addresses = [(host or "127.0.0.1", int(port))]
    config = getattr(args, "_config", None)
    if config is not None:  # the file's settings win over the command line's defaults
        from ._serve import configured_options

        addresses, file_options = configured_options(config, addresses[0], passwords)
        options.update(file_options)
    servers = await _listen_all(listen, addresses, options)
    for key in keys:
        print(f"sshcore: host key {key.key_type} {fingerprint(key)}", file=sys.stderr)
    print("sshcore: listening on " + ", ".join(f"{a[0] or '*'}:{srv.port}" for a, srv
                                               in zip(addresses, servers)) + " "
          f"(authorized keys: {authorized}"
          + (f"; passwords: {args.password_file}" if args.password_file else "")
          + (f"; sftp root: {sftp_root}" if sftp_root else "") + ")",
          file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for srv in servers:
        srv.close()
    for srv in servers:
        await srv.wait_closed()
    if audit is not None:
        audit.close()
    return 0


async def _listen_all(listen: Any, addresses: list[tuple[str, int]],
                      options: dict[str, Any]) -> list[Any]:
    """One listener per address, sharing one per-source table."""
    from ..srclimit import SourceLimiter

    if "source_limiter" not in options:
        options["source_limiter"] = SourceLimiter(
            options.pop("per_source_penalties", None), options.pop("per_source_penalty_exempt", None),
            options.pop("per_source_net_block_size", None), options.pop("per_source_max_startups", None))
    servers = []
    try:
        for host, port in addresses:
            servers.append(await listen(host, port, **options))
    except BaseException:
        for srv in servers:
            srv.close()
        raise
    return servers


def _per_source_options(args: argparse.Namespace) -> dict[str, Any]:
    """The serve options for sshd 9.8's per-source limits, as listen() keywords."""
    startups = args.per_source_max_startups
    return {"per_source_penalties": args.per_source_penalties,
            "per_source_penalty_exempt": args.per_source_penalty_exempt,
            "per_source_max_startups": None if startups.lower() == "none" else int(startups),
            "per_source_net_block_size": args.per_source_net_block_size}


def raise_config(message: str) -> None:
    from ..errors import ConfigurationError

    raise ConfigurationError(message)


class _LocalTerminal:
    """The local terminal in raw mode for the session's lifetime, resized on SIGWINCH."""

    def __init__(self) -> None:
        self.fd = sys.stdin.fileno()
        self.saved: Any = None

    @staticmethod
    def size() -> tuple[int, int]:
        try:
            cols, rows = os.get_terminal_size(sys.stdin.fileno())
            return cols, rows
        except OSError:
            return 80, 24

    @staticmethod
    def modes() -> dict[int, int]:
        """The local terminal's modes, for the pty request (as ssh sends them)."""
        import termios

        from ..aio.ttymodes import modes_from_attrs

        try:
            return modes_from_attrs(termios.tcgetattr(sys.stdin.fileno()))
        except (OSError, termios.error):
            return {}

    def __enter__(self) -> _LocalTerminal:
        import termios
        import tty

        if os.isatty(self.fd):
            self.saved = termios.tcgetattr(self.fd)
            tty.setraw(self.fd, termios.TCSADRAIN)  # keep what was typed ahead
        return self

    def __exit__(self, *exc: Any) -> None:
        import termios

        if self.saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
            try:
                os.set_blocking(self.fd, True)  # asyncio made it non-blocking
            except OSError:
                pass


async def _identities(paths: list[str] | None, prompter: Prompter | None) -> list[Any] | None:
    """The -i key files (every format), asking for passphrases as ssh does; without -i,
    the default ~/.ssh/id_* files (encrypted ones only when a prompt can be answered)."""
    from ._keys import load_private_asking
    from ..aio.client import DEFAULT_KEY_FILES

    from ..files.keys import CertifiedKey, read_certificate

    async def with_certificate(path: Path) -> list[Any]:
        key = await load_private_asking(path, None, prompter)
        cert = Path(f"{path}-cert.pub")  # as ssh: offered first when it is there
        if not cert.exists() and getattr(key, "certificate", None) is not None:
            return [CertifiedKey(key, key.certificate), key]  # embedded, as in a .ppk
        return [CertifiedKey(key, read_certificate(cert)), key] if cert.exists() else [key]

    keys: list[Any] = []
    if not paths:
        defaults = [p for p in (Path("~/.ssh").expanduser() / n for n in DEFAULT_KEY_FILES)
                    if p.exists()]
        for path in defaults:
            try:
                keys += await with_certificate(path)
            except KeyImportError:
                continue  # ssh skips default keys it cannot use
        return keys
    for p in paths:
        keys += await with_certificate(Path(os.path.expanduser(p)))
    return keys


def _ask_about_host(prompter: Prompter) -> Any:
    """ssh's StrictHostKeyChecking=ask: show the key, accept "yes" or its fingerprint."""
    async def ask(host: str, port: int, key: Any) -> bool:
        from ._keys import type_label
        from ..files.keys import fingerprint

        name = host if port == 22 else f"[{host}]:{port}"
        fp = fingerprint(key)
        question = (f"The authenticity of host '{name}' can't be established.\n"
                    f"{type_label(key.key_type)} key fingerprint is {fp}.\n"
                    f"Are you sure you want to continue connecting (yes/no/[fingerprint])? ")
        for _ in range(3):
            answer = await prompter.ask(question, echo=True)
            if answer is None:
                return False
            answer = answer.strip()
            if answer.lower() == "yes" or answer == fp:
                return True
            if answer.lower() == "no":
                return False
            question = "Please type 'yes', 'no' or the fingerprint: "
        return False
    return ask


#: ssh_config keywords that ``sshcore run`` honours itself, on top of connect()'s
_CLI_APPLIED = frozenset({
    "loglevel", "batchmode", "numberofpasswordprompts", "passwordauthentication",
    "kbdinteractiveauthentication", "challengeresponseauthentication", "pubkeyauthentication",
    "escapechar", "implementations"})
#: what connect() itself adds up from the file (forwards, SendEnv, SetEnv)
_LIBRARY_ACCUMULATES = ("localforward", "remoteforward", "dynamicforward", "sendenv", "setenv")


def _merge_ssh_config(args: argparse.Namespace, opts: dict[str, str], host: str,
                      user: str | None) -> Any:
    """ssh_config's values under the command line's (-o and flags win, as in ssh); the
    file (an SSHConfig, None with ``-F none``), for connect() to apply the rest."""
    from ..files.ssh_config import SSHConfig

    if args.config and args.config.lower() == "none":
        return None
    table = SSHConfig.load([args.config] if args.config else None)
    table.applied_elsewhere |= _CLI_APPLIED
    for name, value in table.lookup(host, user=user, port=args.port).items():
        if name in _LIBRARY_ACCUMULATES:
            continue  # connect() adds the file's to the command line's
        if name == "identityfile":
            if not args.identity:
                args.identity = [f for f in (os.path.expanduser(v) for v in value) if os.path.exists(f)]
        elif isinstance(value, list):
            if name not in opts:
                opts[name] = "\n".join(value)
        else:
            opts.setdefault(name, value)
    return table


async def connection_options(args: argparse.Namespace, destination: str, *,
                             session: bool = False,
                             ) -> tuple[str, int, str | None, Any, dict[str, Any], dict[str, str]]:
    """What ``connect()`` needs for ``[USER@]HOST`` and ssh's connection options in ``args``
    (``-o``, ``-F``, ``-i``, ``-J``, the port, ``--known-hosts``, ``-l``, ``-A``), merged with
    ssh_config as ``ssh`` merges them: ``(host, port, user, known_hosts, connect keywords,
    the -o/ssh_config options)``.  Shared by ``run`` and the plugin commands (``sftp``,
    ``scp``); see :func:`add_connection_arguments`.  Without ``session`` (sftp, scp), no
    forwards, no pseudo-terminal and no RemoteCommand, as OpenSSH's sftp and scp ask."""
    opts = _parse_options(args.option or [])
    ssh_flags.apply_flags(args, opts)  # -c -m -C -4 -6 -b -q -v: over -o, as in ssh
    target = destination
    user = getattr(args, "login", None) or opts.get("user")
    if "@" in target:
        user, target = target.rsplit("@", 1)
    hostname_given = "hostname" in opts  # -o HostName
    table = _merge_ssh_config(args, opts, target, user)
    ssh_flags.apply_logging(args, opts)
    user = user or opts.get("user")
    alias, target = target, opts.get("hostname", target)
    port = args.port or int(opts.get("port", 22))
    kwargs: dict[str, Any] = {}
    for name, kw in _OPTION_MAP.items():
        if name in opts:
            kwargs[kw] = opts[name]
    known_hosts: Any = args.known_hosts or opts.get("userknownhostsfile")
    if isinstance(known_hosts, str) and known_hosts != "none" and " " in known_hosts.strip():
        known_hosts = [os.path.expanduser(f) for f in known_hosts.split()]
    strict = opts.get("stricthostkeychecking", "ask").lower()
    if known_hosts == "none" or strict in ("no", "off"):
        known_hosts = None
    else:
        known_hosts = known_hosts or os.path.expanduser("~/.ssh/known_hosts")
        kwargs["hash_known_hosts"] = opts.get("hashknownhosts", "no").lower() == "yes"
        if strict == "accept-new":
            kwargs["accept_new_host_keys"] = True
        elif strict == "ask" and opts.get("batchmode", "no").lower() not in ("yes", "true"):
            kwargs["unknown_host_handler"] = _ask_about_host(Prompter())
    kwargs.pop("preferred_auth", None)
    from ..aio.api import _apply_ssh_config

    _apply_ssh_config({k: v for k, v in opts.items() if k in (
        "compression", "connecttimeout", "rekeylimit", "addressfamily", "bindaddress",
        "revokedhostkeys")},
        target, port, kwargs)
    if "implementations" in opts:  # sshcore's own: -o Implementations=aes128-ctr=DIST,...
        from ..registry import parse_implementations

        kwargs["implementations"] = parse_implementations(opts["implementations"])
    if "serveraliveinterval" in opts:
        kwargs["keepalive_interval"] = float(opts["serveraliveinterval"]) or None
    if "serveralivecountmax" in opts:
        kwargs["keepalive_count_max"] = int(opts["serveralivecountmax"])
    jump = args.jump or opts.get("proxyjump")
    if jump and jump.lower() != "none":
        kwargs["tunnel"] = jump
    elif opts.get("proxycommand", "none").lower() != "none":
        kwargs["proxy_command"] = opts["proxycommand"]
    if (getattr(args, "forward_agent", False) or opts.get("forwardagent", "no").lower() == "yes") \
            and os.environ.get("SSH_AUTH_SOCK"):
        kwargs["forward_agent"] = True
    kwargs.update(_x11_options(args, opts))
    prompter = Prompter()
    kwargs.update(_auth_options(opts, user, target, prompter))
    if "client_keys" not in kwargs:
        batch = opts.get("batchmode", "no").lower() in ("yes", "true")
        kwargs["client_keys"] = await _identities(args.identity, None if batch else prompter)
        # ssh's agent use: IdentityAgent (default $SSH_AUTH_SOCK, "none" disables);
        # IdentitiesOnly=yes keeps to the -i files.
        agent = opts.get("identityagent", "SSH_AUTH_SOCK")
        agent = os.environ.get("SSH_AUTH_SOCK") if agent == "SSH_AUTH_SOCK" else agent
        if (agent and agent.lower() != "none" and os.path.exists(os.path.expanduser(agent))
                and opts.get("identitiesonly", "no").lower() != "yes"):
            kwargs["agent_path"] = os.path.expanduser(agent)
        else:
            kwargs["agent_path"] = None
    # Forwards and sessions: -L/-R/-D and -o here; connect() adds the file's.
    kwargs.update(local_forwards=args.local or [], remote_forwards=args.remote or [],
                  dynamic_forwards=args.dynamic or [])
    if not session:
        kwargs.update(clear_all_forwardings=True, request_tty="no", remote_command=None)
    session_keywords(opts, kwargs)
    # The file's options were merged above; the library applies it again for the rest
    # (forwards, SendEnv/SetEnv, jump host aliases), under everything given explicitly here.
    kwargs["config"] = table
    kwargs.setdefault("tunnel", None)
    if table is not None and not hostname_given:
        target = alias  # connect() finds the same blocks for it, and resolves HostName
    return target, port, user, known_hosts, kwargs, opts


def _x11_options(args: argparse.Namespace, opts: dict[str, str]) -> dict[str, Any]:
    """ssh's -X / -Y / -x and ForwardX11, ForwardX11Trusted, ForwardX11Timeout,
    XAuthLocation as connect() keywords (always x11_forwarding, so the library's own
    reading of ssh_config cannot turn on what -x turned off)."""
    flag = getattr(args, "x11", None)
    on = flag in ("X", "Y") or (flag is None and opts.get("forwardx11", "no").lower() == "yes")
    out: dict[str, Any] = {"x11_forwarding": on}
    if on:
        out["x11_trusted"] = flag == "Y" or opts.get("forwardx11trusted", "no").lower() == "yes"
        if "xauthlocation" in opts:
            out["xauth_path"] = os.path.expanduser(opts["xauthlocation"])
        if "forwardx11timeout" in opts:
            from ..options import _seconds

            out["x11_timeout"] = _seconds(opts["forwardx11timeout"])
    return out


async def _run(args: argparse.Namespace) -> int:
    import asyncio

    from .. import connect
    from ..aio.stdio import parse_escape_char

    if args.print_config:
        return ssh_flags.print_config(args)
    target, port, user, known_hosts, kwargs, opts = await connection_options(
        args, args.destination, session=True)
    command = " ".join(args.command) if args.command else None
    if args.no_command and command is not None:
        raise_config("-N takes no command")
    forward_to = None
    if args.stdio_forward is not None:
        if command is not None:
            raise_config("-W takes no command (cannot specify a stdio forward with a command)")
        forward_to = _parse_stdio_forward(args.stdio_forward)
        kwargs["clear_all_forwardings"] = True  # as ssh -W
    defaults = SessionConfig.create(request_tty=kwargs.pop("request_tty", None),
                                    remote_command=kwargs.get("remote_command"))
    if command is not None and defaults.remote_command is not None and not args.subsystem:
        raise_config("cannot execute a command-line command and RemoteCommand (as ssh)")
    try:
        escape_char = parse_escape_char(args.escape_char if args.escape_char is not None
                                        else opts.get("escapechar", "~"))
    except ValueError as exc:
        raise_config(str(exc))
    stdin_tty = sys.stdin is not None and not sys.stdin.closed and sys.stdin.isatty()
    # RequestTTY, with -t/-T/-tt over it; the library's rule, this terminal's facts
    mode = ("no" if args.no_tty else "force" if args.tty > 1 else "yes" if args.tty == 1
            else defaults.request_tty)
    want_pty = tty_wanted(mode, (command or defaults.remote_command) is not None
                          or args.subsystem, stdin_tty)
    kwargs["request_tty"] = "no"  # the pty, when wanted, is asked for below with this terminal's
    async with connect(target, port, username=user, known_hosts=known_hosts, **kwargs) as conn:
        if forward_to is not None:  # as ssh -W: no session, no other forwarding
            from ..aio.stdio import forward_stdio

            return await forward_stdio(conn, *forward_to, no_stdin=args.no_stdin)
        listeners = [lst for _, lst in conn.config_forwards]
        for spec, lst in conn.config_forwards:
            if spec.kind == "R" and spec.listen_port == 0 and spec.listen_path is None:
                print(f"Allocated port {lst.get_port()} for remote forward to "
                      f"{spec.destination()}", file=sys.stderr, flush=True)
        if args.no_command:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            closed = asyncio.ensure_future(conn.wait_closed())
            waiter = asyncio.ensure_future(stop.wait())
            await asyncio.wait([closed, waiter], return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            closed.cancel()
            for listener in listeners:
                listener.close()
            return 0
        session: dict[str, Any] = {}
        if want_pty:
            session["term_type"] = os.environ.get("TERM", "xterm")
            session["term_size"] = _LocalTerminal.size()
            session["term_modes"] = _LocalTerminal.modes()
        command = ssh_flags.session_request(args, command, session)  # -s
        proc = await conn.create_process(command, encoding=None, **session)
        # Escapes as ssh: with a pty, typed on a terminal, unless -e none.
        escapes = escape_char if want_pty and stdin_tty else None
        with _LocalTerminal() if want_pty and stdin_tty else contextlib.nullcontext():
            return await _relay(proc, args, want_pty, conn=conn, host=target, escape_char=escapes)


def _parse_stdio_forward(spec: str) -> tuple[str, int]:
    """``-W host:port`` (``[v6addr]:port`` too) -> (host, port)."""
    host, sep, port = spec.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise_config(f"bad -W forwarding specification {spec!r}: want host:port")
    return host, int(port)


async def _relay(proc: Any, args: argparse.Namespace, want_pty: bool, *, conn: Any = None,
                 host: str = "", escape_char: int | None = None) -> int:
    import asyncio

    loop = asyncio.get_running_loop()
    if want_pty:
        def resized() -> None:
            cols, rows = _LocalTerminal.size()
            try:
                proc.change_terminal_size(cols, rows)
            except SSHError:
                pass
        loop.add_signal_handler(signal.SIGWINCH, resized)
    escaped = False

    async def on_escape(command: str) -> bool:
        nonlocal escaped
        from ..aio.stdio import ESCAPE_HELP

        if command == ".":  # ~. : drop the connection, as ssh does
            escaped = True
            if conn is not None:
                conn.close()
            proc.close()
            return True
        if command == "B":
            with contextlib.suppress(SSHError):
                await proc.send_break(1000)
        elif command == "?":
            sys.stderr.write(ESCAPE_HELP.format(c=chr(escape_char or 0)))
            sys.stderr.flush()
        return False

    async def pump_out(stream: Any, out: Any) -> None:
        while data := await stream.read(65536):
            out.write(data)
            out.flush()

    from ..aio.stdio import pump_input

    stdin_task = asyncio.ensure_future(pump_input(proc.stdin, args.no_stdin, on_escape,
                                                  escape_char))
    try:
        await asyncio.gather(pump_out(proc.stdout, sys.stdout.buffer),
                             pump_out(proc.stderr, sys.stderr.buffer))
        await proc.wait_closed()
    finally:
        stdin_task.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await stdin_task
        if want_pty:
            loop.remove_signal_handler(signal.SIGWINCH)
    if escaped:
        sys.stderr.write(f"Connection to {_printable(host)} closed.\r\n")  # raw terminal
        sys.stderr.flush()
        return 255
    if proc.exit_signal:
        print(f"sshcore: remote command killed by signal {proc.exit_signal[0]}", file=sys.stderr)
        return 255
    return proc.exit_status if proc.exit_status is not None else 255


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


async def _passwd(args: argparse.Namespace) -> int:
    from ..files.passwords import PasswordFile

    pf = PasswordFile.read(args.file, missing_ok=True)
    if args.delete:
        if not pf.remove(args.user):
            print(f"sshcore: {args.user} is not in {args.file}", file=sys.stderr)
            return 1
    else:
        if args.stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            prompter = Prompter()
            password = await prompter.ask(f"New password for {args.user}: ")
            again = await prompter.ask("Retype new password: ")
            if password is None or password != again:
                print("sshcore: passwords do not match" if password is not None
                      else "sshcore: no terminal to ask for the password (use --stdin)",
                      file=sys.stderr)
                return 1
        if not password:
            print("sshcore: empty passwords are not allowed", file=sys.stderr)
            return 1
        pf.set(args.user, password)
    pf.write()
    print(f"sshcore: {'removed' if args.delete else 'set password for'} {args.user} in {args.file}",
          file=sys.stderr)
    return 0


def add_connection_arguments(p: argparse.ArgumentParser, port_flags: tuple[str, ...] = ("-p",)
                             ) -> None:
    """ssh's connection options, for ``run`` and the plugin commands (``scp`` and ``sftp``
    spell the port ``-P``, as OpenSSH's do): the port, ``-F``, ``-i``, ``-o``, ``-J`` and
    ``--known-hosts``; :func:`connection_options` reads them."""
    p.add_argument(*port_flags, dest="port", type=int, help="port to connect to")
    p.add_argument("-F", dest="config", metavar="FILE",
                   help="ssh_config file (default ~/.ssh/config and /etc/ssh/ssh_config; 'none')")
    p.add_argument("-i", "--identity", action="append", metavar="FILE", help="private key file")
    p.add_argument("-o", "--option", action="append", help="Name=Value, as for ssh -o")
    p.add_argument("-J", dest="jump", metavar="[USER@]HOST[:PORT][,...]",
                   help="connect through these jump hosts in turn (ProxyJump)")
    p.add_argument("--known-hosts", help="known_hosts file, or 'none' to skip host key checks")
    p.set_defaults(local=None, remote=None, dynamic=None, login=None, forward_agent=False, x11=None)


def build_parser(plugin_commands: bool = True) -> argparse.ArgumentParser:
    """The command line; ``plugin_commands=False`` leaves out the commands that plugins
    contribute (building them imports those plugins: ``sshcore run`` does without)."""
    p = argparse.ArgumentParser(prog="sshcore", description="SSH client and server built on sshcore")
    p.add_argument("-v", "--verbose", action="count", default=0)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("algorithms", help="list every registered algorithm by family")
    s = sub.add_parser("serve", help="run an SSH server executing commands as the current user")
    s.add_argument("--listen", default="127.0.0.1:8022", help="HOST:PORT (default 127.0.0.1:8022)")
    s.add_argument("--host-key", action="append", help="host private key file (repeatable)")
    s.add_argument("--authorized-keys", help="authorized_keys file (default ~/.ssh/authorized_keys)")
    s.add_argument("--revoked-keys", metavar="FILE",
                   help="refuse the keys and certificates this OpenSSH KRL or key list revokes "
                        "(as sshd's RevokedKeys)")
    s.add_argument("--allow-forwarding", action="store_true",
                   help="allow TCP/IP and Unix-socket forwarding (-L, -R, -D, -W) both ways")
    s.add_argument("--x11-forwarding", action="store_true",
                   help="answer ssh -X/-Y with an X display per session (sshd's X11Forwarding; "
                   "needs xauth)")
    s.add_argument("--accept-env", action="append", metavar="PATTERN",
                   help="client environment variables passed to commands, like sshd's AcceptEnv "
                   "(repeatable; default LANG and LC_*)")
    s.add_argument("--subsystem", action="append", metavar="NAME=COMMAND",
                   help="serve a subsystem with a command, like sshd's Subsystem (repeatable; "
                   "sftp is served by the sshcore-sftp plugin unless given here)")
    s.add_argument("--sftp-root", metavar="DIR",
                   help="confine SFTP, and scp in its default SFTP mode, to DIR, which the "
                   "client sees as / (nothing outside it is reachable; commands and scp -O "
                   "are not confined).  Default: none, as sshd: the whole file system, "
                   "starting in your home directory")
    s.add_argument("--password-file", help="file of salted password hashes (see 'sshcore passwd'); "
                   "enables password and keyboard-interactive auth")
    s.add_argument("--max-startups", default="10:30:100", metavar="START:RATE:FULL",
                   help="like sshd's MaxStartups: from START unauthenticated connections, refuse "
                   "new ones with a probability rising from RATE %% to 100 %% at FULL "
                   "(default %(default)s; 'none': no cap)")
    s.add_argument("--per-source-penalties", default="yes", metavar="SPEC",
                   help="like sshd 9.8's PerSourcePenalties: 'yes' (default: crash:90s "
                   "authfail:5s noauth:1s grace-exceeded:10s max:600s min:15s), 'no', or "
                   "keywords overriding the defaults, e.g. 'authfail:30s max-sources4:4096'")
    s.add_argument("--per-source-penalty-exempt", metavar="CIDR,...",
                   help="PerSourcePenaltyExemptList: addresses never penalised")
    s.add_argument("--per-source-max-startups", default="none", metavar="N",
                   help="PerSourceMaxStartups: unauthenticated connections per source "
                   "(default none)")
    s.add_argument("--per-source-net-block-size", default="32:128", metavar="V4[:V6]",
                   help="PerSourceNetBlockSize: prefix lengths grouping addresses into one "
                   "source (default %(default)s)")
    s.add_argument("-f", dest="config_file", metavar="FILE",
                   help="configuration file in sshd_config syntax (the subset sshcore serve "
                   "implements; its settings win over this command line's defaults)")
    s.add_argument("-T", dest="test_config", action="store_true",
                   help="print the effective configuration (as sshd -T) and exit")
    s.add_argument("-C", dest="connection_spec", metavar="user=U,addr=A",
                   help="with -T: the configuration as Match decides it for this connection")
    s.add_argument("-E", "--log-file", metavar="FILE",
                   help="append a line per authentication attempt, channel, forward and "
                   "disconnect to FILE ('-': stderr) in sshd's syslog format, for fail2ban's "
                   "sshd filter and the like")
    s.add_argument("--kex-workers", type=int, default=0, metavar="N",
                   help="run the key exchanges' heavy work (sntrup761) in N worker processes, "
                   "so that many handshakes at once use every core (default 0: inline)")
    pw = sub.add_parser("passwd", help="add, change or remove a user in a password file")
    pw.add_argument("--file", default=DEFAULT_PASSWORD_FILE, help="password file (default %(default)s)")
    pw.add_argument("--stdin", action="store_true", help="read the password from stdin")
    pw.add_argument("-d", "--delete", action="store_true", help="remove the user")
    pw.add_argument("user")
    from . import _keys as _cli_keys
    from .. import _scaffold

    _cli_keys.add_parser(sub)
    _scaffold.add_parser(sub)  # sshcore plugin new
    r = sub.add_parser("run", help="run a remote command, like ssh HOST COMMAND")
    add_connection_arguments(r, ("-p", "--port"))
    r.add_argument("-l", "--login")
    r.add_argument("-n", "--no-stdin", action="store_true", help="do not read stdin")
    r.add_argument("-L", dest="local", action="append", metavar="SPEC",
                   help="[bind:]port:host:hostport, [bind:]port:/socket or /path:/socket")
    r.add_argument("-R", dest="remote", action="append", metavar="SPEC",
                   help="[bind:]port:host:hostport (port 0: the server picks), or /path:/socket")
    r.add_argument("-D", dest="dynamic", action="append", metavar="[bind:]port",
                   help="SOCKS 4/5 proxy through the server")
    r.add_argument("-N", dest="no_command", action="store_true", help="no command: just forward")
    r.add_argument("-W", dest="stdio_forward", metavar="HOST:PORT",
                   help="relay stdin/stdout to HOST:PORT through the server (for ProxyCommand)")
    r.add_argument("-e", dest="escape_char", metavar="CHAR",
                   help="escape character on a terminal with a PTY (default ~; 'none': off)")
    r.add_argument("-A", dest="forward_agent", action="store_true",
                   help="let the server use the local SSH agent (ForwardAgent)")
    r.add_argument("-X", dest="x11", action="store_const", const="X",
                   help="forward X11, untrusted (ForwardX11; xauth makes the cookie)")
    r.add_argument("-Y", dest="x11", action="store_const", const="Y",
                   help="forward X11, trusted (ForwardX11Trusted)")
    r.add_argument("-x", dest="x11", action="store_const", const="x",
                   help="do not forward X11")
    r.add_argument("-t", dest="tty", action="count", default=0,
                   help="request a PTY (-tt: even without a local terminal)")
    r.add_argument("-T", dest="no_tty", action="store_true", help="never request a PTY")
    ssh_flags.add_arguments(r)
    r.add_argument("destination", help="[USER@]HOST")
    r.add_argument("command", nargs=argparse.REMAINDER,
                   help="remote command (none: an interactive shell)")
    if plugin_commands:
        _add_plugin_commands(sub)
    return p


def _add_plugin_commands(sub: Any) -> None:
    """Sub-commands contributed through the ``sshcore_cli_commands`` hook (``sshcore sftp``)."""
    from ..errors import ConfigurationError
    from ..registry import default_registry

    for command in default_registry().cli_commands():
        if command.name in sub.choices:
            raise ConfigurationError(f"plugin command {command.name!r} clashes with an existing "
                                     f"sshcore command")
        cp = sub.add_parser(command.name, help=command.help)
        command.add_arguments(cp)
        cp.set_defaults(_plugin_run=command.run)


def _builtin_command(parser: argparse.ArgumentParser, argv: list[str]) -> bool:
    """Whether ``argv`` names one of sshcore's own commands (its first word that is not
    an option: the only option before the command, ``-v``, takes no value)."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return any(isinstance(a, argparse._SubParsersAction) and word in a.choices
               for a in parser._actions)


def _log_config_warnings() -> None:
    """ConfigWarnings (ssh_config keywords with no effect) become log lines of the
    ``sshcore.kernel.config`` logger at INFO, ssh's VERBOSE: shown with ``-v``."""
    import warnings

    from ..errors import ConfigWarning

    shown = warnings.showwarning

    def show(message: Any, category: Any, *rest: Any, **kw: Any) -> None:
        if issubclass(category, ConfigWarning):
            logging.getLogger("sshcore.config").info("%s", message)
        else:
            shown(message, category, *rest, **kw)
    warnings.showwarning = show


def main(argv: list[str] | None = None) -> int:
    argv = ssh_flags.ssh_argv(sys.argv[1:] if argv is None else argv)
    parser = build_parser(plugin_commands=False)
    if not _builtin_command(parser, argv):  # a plugin's command, or help listing them all
        parser = build_parser()
    args = parser.parse_args(argv)
    if args.cmd != "passwd":
        # Built before logging has a handler, so that a broken plugin is reported once,
        # by its PluginWarning (the registry also logs it when logging is configured).
        from ..registry import default_registry

        try:
            default_registry()
        except SSHError as exc:
            ssh_flags.report(args, f"sshcore: error: {exc}")
            return 255
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2),
                        format="sshcore: %(name)s: %(message)s")
    _log_config_warnings()
    try:
        plugin_run = getattr(args, "_plugin_run", None)
        if plugin_run is not None:
            return int(plugin_run(args))
        if args.cmd == "algorithms":
            return _cmd_algorithms(args)
        import asyncio  # not before: listing algorithms needs no event loop

        if args.cmd == "serve":
            return asyncio.run(_serve(args))
        if args.cmd == "passwd":
            return asyncio.run(_passwd(args))
        if args.cmd == "keys":
            from . import _keys as _cli_keys

            return _cli_keys.run(args, Prompter())
        return asyncio.run(_run(args))
    except (SSHError, OSError) as exc:
        ssh_flags.report(args, f"sshcore: error: {exc}")  # -q, -E
        return 255
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
