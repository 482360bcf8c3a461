"""A server configured by an sshd_config file (:mod:`sshcore.files.sshd_config`).

:func:`listen_options` maps the file's keywords to :func:`~sshcore.listen` keywords and
a :class:`ConfiguredServer` factory, which decides what depends on the user or the
request, honouring ``Match User``/``Address``: ``AllowUsers``/``DenyUsers``,
``PasswordAuthentication``/``PubkeyAuthentication``/``KbdInteractiveAuthentication``,
``AuthorizedKeysFile`` (``%u``, ``%h``, ``%%``; relative to the home directory),
``TrustedUserCAKeys``, ``RevokedKeys`` (a file of public keys), ``AllowTcpForwarding``,
``AllowAgentForwarding``, ``PermitOpen`` and ``PermitListen``.  ``X11Forwarding``,
``X11DisplayOffset``, ``X11UseLocalhost`` and ``XAuthLocation`` become listen()'s X11
keywords.
"""

from __future__ import annotations

import fnmatch
import logging
import os
from pathlib import Path
from typing import Any

from ..files.keys import AuthorizedKeys
from ..files.sshd_config import SshdConfig, match_user_pattern
from .audit import sanitize
from .server import SSHServer

logger = logging.getLogger("sshcore.aio")

__all__ = ["ConfiguredServer", "listen_options", "listen_addresses"]


def _read_text(path: str) -> str:
    try:
        return Path(path).expanduser().read_text(errors="replace")
    except OSError:
        return ""


def _permitted(specs: list[str] | None, host: str, port: int, listen: bool) -> bool:
    """PermitOpen (``host:port``) / PermitListen (``[host:]port``), ``*`` wildcards."""
    if specs is None:
        return True
    for spec in specs:
        h, sep, p = spec.rpartition(":")
        if not sep:
            h, p = "", spec
        if p != "*" and p != str(port):
            continue
        if listen and h in ("", "*", "localhost") and host in ("", "localhost", "127.0.0.1", "::1"):
            return True
        if h == "*" or fnmatch.fnmatchcase(host, h.strip("[]")):
            return True
    return False


class ConfiguredServer(SSHServer):
    """One connection's decisions, from the configuration (see the module docstring).

    ``passwords``: a ``{user: password}`` mapping or a PasswordFile; ``home``: the
    directory ``%h`` and relative AuthorizedKeysFile paths mean."""

    def __init__(self, config: SshdConfig, passwords: Any = None, home: str | None = None,
                 registry: Any = None) -> None:
        self.config = config
        self.home = home or os.path.expanduser("~")
        self.registry = registry
        self._passwords = passwords
        self._conn: Any = None

    def connection_made(self, conn: Any) -> None:
        self._conn = conn

    # ------------------------------------------------------------------ helpers

    @property
    def _addr(self) -> str | None:
        peer = self._conn.peer_addr if self._conn is not None else None
        return str(peer[0]) if peer else None

    def _get(self, name: str, user: str | None) -> Any:
        return self.config.get(name, user, self._addr)

    def user_allowed(self, user: str) -> bool:
        """AllowUsers / DenyUsers (``USER`` or ``USER@HOST`` patterns, HOST an address
        pattern or CIDR block), as sshd applies them."""
        addr = self._addr or ""
        from ..files.sshd_config import _match_address

        def hits(entry: str) -> bool:
            upat, sep, hpat = entry.partition("@")
            return (match_user_pattern([upat], user)
                    and (not sep or _match_address([hpat], addr)))
        deny = [e for line in self.config.get("denyusers") for e in line]
        if any(hits(e) for e in deny):
            logger.info("User %s from %s not allowed because listed in DenyUsers",
                        sanitize(user), addr)
            return False
        allow = [e for line in self.config.get("allowusers") for e in line]
        if allow and not any(hits(e) for e in allow):
            logger.info("User %s from %s not allowed because not listed in AllowUsers",
                        sanitize(user), addr)
            return False
        return True

    def _method_ok(self, user: str, keyword: str) -> bool:
        return self.user_allowed(user) and bool(self._get(keyword, user))

    # ------------------------------------------------------------------ authentication

    def _any(self, keyword: str) -> bool:
        """Whether some connection may use the method (offered up front; decided per user)."""
        return bool(self.config.get(keyword)) or any(
            m.options.get(keyword) for m in self.config.matches)

    def password_auth_supported(self) -> bool:
        return self._passwords is not None and self._any("passwordauthentication")

    def kbdint_auth_supported(self) -> bool:
        return self._passwords is not None and self._any("kbdinteractiveauthentication")

    def public_key_auth_supported(self) -> bool:
        return self._any("pubkeyauthentication")

    def _check_password(self, user: str, password: str) -> Any:
        from .server import _OptionsServer

        check = _OptionsServer(None, self._passwords, self.registry)
        check.connection_made(self._conn)  # the source address, for fair scheduling
        return check.validate_password(user, password)

    def validate_password(self, username: str, password: str) -> Any:
        if not self._method_ok(username, "passwordauthentication"):
            return False
        return self._check_password(username, password)

    def get_kbdint_challenge(self, username: str, lang: str, submethods: str) -> Any:
        if not self._method_ok(username, "kbdinteractiveauthentication"):
            return False
        return ("", "", "", [("Password: ", False)])

    def validate_kbdint_response(self, username: str, responses: list[str]) -> Any:
        if len(responses) != 1 or not self._method_ok(username, "kbdinteractiveauthentication"):
            return False
        return self._check_password(username, responses[0])

    def _revoked(self, key: Any) -> bool:
        path = self.config.get("revokedkeys")
        if path is None:
            return False
        from ..files.krl import key_revoked

        # A KRL (ssh-keygen -k) or a file of public keys, as listen(revoked_keys=) reads it.
        return key_revoked(path, key) is not None

    def authorized_keys(self, username: str) -> AuthorizedKeys:
        """AuthorizedKeysFile (for this user and address) plus TrustedUserCAKeys."""
        texts = []
        for pattern in self._get("authorizedkeysfile", username):
            if pattern.lower() == "none":
                continue
            path = (pattern.replace("%%", "\0").replace("%u", username)
                    .replace("%h", self.home).replace("\0", "%"))
            if not os.path.isabs(os.path.expanduser(path)):
                path = os.path.join(self.home, path)
            texts.append(_read_text(path))
        ca = self.config.get("trustedusercakeys")
        if ca is not None:
            texts += ["cert-authority " + line for line in _read_text(ca).splitlines()
                      if line.strip() and not line.lstrip().startswith("#")]
        return AuthorizedKeys.parse("\n".join(texts) + "\n", self.registry)

    def validate_public_key(self, username: str, key: Any) -> Any:
        if not self._method_ok(username, "pubkeyauthentication"):
            return False
        if self._revoked(key):
            logger.info("refusing revoked key for %s", sanitize(username))
            return False
        from .server import _OptionsServer

        check = _OptionsServer(self.authorized_keys(username), None, self.registry)
        check.connection_made(self._conn)
        return check.validate_public_key(username, key)

    # ------------------------------------------------------------------ forwarding

    def _user(self) -> str | None:
        return self._conn.username if self._conn is not None else None

    def connection_requested(self, dest_host: str, dest_port: int, orig_host: str,
                             orig_port: int) -> bool:
        user = self._user()
        return (self._get("allowtcpforwarding", user) in ("all", "local")
                and _permitted(self._get("permitopen", user), dest_host, dest_port, False))

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        user = self._user()
        return (self._get("allowtcpforwarding", user) in ("all", "remote")
                and _permitted(self._get("permitlisten", user), listen_host, listen_port, True))

    def agent_forwarding_requested(self) -> bool:
        """AllowAgentForwarding (yes by default, as sshd; independent of AllowTcpForwarding)."""
        return bool(self._get("allowagentforwarding", self._user()))

    def unix_connection_requested(self, dest_path: str) -> bool:
        return False  # AllowStreamLocalForwarding is not implemented: refused

    def unix_server_requested(self, listen_path: str) -> bool:
        return False


def listen_addresses(config: SshdConfig, default: tuple[str, int]) -> list[tuple[str, int]]:
    """ListenAddress x Port (sshd: an address without a port listens on every Port)."""
    ports = config.get("port") or ([default[1]] if not config.get("listenaddress") else [22])
    addrs = config.get("listenaddress")
    if not addrs:
        host = default[0] if not config.get("port") else ""
        return [(host, p) for p in ports]
    out = []
    for a in addrs:
        if a.startswith("["):
            host, _, rest = a[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else ""
        elif a.count(":") == 1:
            host, _, port = a.partition(":")
        else:
            host, port = a, ""
        out += [(host, int(port))] if port else [(host, p) for p in ports]
    return out


def listen_options(config: SshdConfig, *, passwords: Any = None, home: str | None = None,
                   registry: Any = None) -> dict[str, Any]:
    """listen() keywords for what the file sets (only those: the caller's own defaults
    stand for the rest), with ``server_factory`` a :class:`ConfiguredServer`."""
    c = config
    opts: dict[str, Any] = {
        "server_factory": lambda: ConfiguredServer(config, passwords, home, registry),
        "allow_forwarding": False,
    }
    simple = {"maxauthtries": "max_auth_tries", "maxsessions": "max_sessions",
              "maxstartups": "max_startups", "persourcepenalties": "per_source_penalties",
              "persourcepenaltyexemptlist": "per_source_penalty_exempt",
              "persourcemaxstartups": "per_source_max_startups",
              "persourcenetblocksize": "per_source_net_block_size",
              "channeltimeout": "channel_timeout",
              "unusedconnectiontimeout": "unused_connection_timeout",
              "clientalivecountmax": "keepalive_count_max", "ciphers": "encryption_algs",
              "macs": "mac_algs", "kexalgorithms": "kex_algs",
              "hostkeyalgorithms": "server_host_key_algs",
              "authenticationmethods": "auth_methods_required"}
    for keyword, kw in simple.items():
        if c.is_set(keyword):
            opts[kw] = c.get(keyword)
    if c.is_set("logingracetime"):
        opts["login_timeout"] = c.get("logingracetime") or None
    if c.is_set("clientaliveinterval"):
        opts["keepalive_interval"] = c.get("clientaliveinterval") or None
    if c.is_set("hostkey"):
        opts["server_host_keys"] = [os.path.expanduser(k) for k in c.get("hostkey")]
    if c.get("banner") is not None and _read_text(c.get("banner")):
        opts["banner"] = _read_text(c.get("banner"))  # a missing file: no banner, as sshd
    for keyword, kw in (("x11forwarding", "x11_forwarding"),
                        ("x11displayoffset", "x11_display_offset"),
                        ("x11uselocalhost", "x11_use_localhost"), ("xauthlocation", "xauth_path")):
        if c.is_set(keyword):
            opts[kw] = c.get(keyword)
    if c.is_set("acceptenv"):
        opts["accept_env"] = [p for line in c.get("acceptenv") for p in line]
    if c.is_set("subsystem"):
        # internal-sftp: the sftp plugin; otherwise a command.  As in sshd, only the
        # subsystems listed are served (None: the plugin's sftp is not).
        table: dict[str, str | None] = {"sftp": None}
        for name, cmd in c.get("subsystem"):
            if cmd == "internal-sftp":
                table.pop(name, None)
            else:
                table[name] = cmd
        opts["subsystems"] = table
    return opts
