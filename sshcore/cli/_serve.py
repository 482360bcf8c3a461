"""``sshcore serve`` glue: its log of audit events in sshd's syslog format, and its
configuration file (``-f``, ``-T``; see :mod:`sshcore.files.sshd_config`).

``--log-file FILE`` (``-`` for stderr) receives one line per audit event, formatted as
sshd writes to syslog, with the syslog prefix (``Dec  5 07:40:29 host sshd[1234]: ``):
fail2ban's stock ``sshd`` filter, pointed at the file, works unchanged.
"""

from __future__ import annotations

import getpass
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from ..aio.audit import AuditEvent, SshdLogFormat
from ..errors import ConfigurationError

__all__ = ["SyslogFileAudit"]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def syslog_prefix(when: float, host: str, pid: int) -> str:
    """RFC 3164's ``Mmm dd hh:mm:ss host sshd[pid]: `` (local time), as rsyslog writes it."""
    t = time.localtime(when)
    return f"{_MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {host} sshd[{pid}]: "


class SyslogFileAudit:
    """An ``audit=`` callback appending sshd-format lines to a file (or stderr).

    ``valid_user(name)``: whether a user exists (else sshd's ``Invalid user`` forms)."""

    def __init__(self, path: str, valid_user: Callable[[str], bool] | None = None) -> None:
        self.path = path
        self.format = SshdLogFormat(valid_user)
        self.host = socket.gethostname().split(".")[0] or "localhost"
        self.pid = os.getpid()
        self._file: TextIO | None = None

    def _out(self) -> TextIO:
        if self._file is None:
            if self.path == "-":
                self._file = sys.stderr
            else:
                self._file = open(self.path, "a", encoding="ascii", errors="backslashreplace",  # noqa: SIM115
                                  buffering=1)
        return self._file

    def __call__(self, event: AuditEvent) -> None:
        lines = self.format.lines(event)
        if not lines:
            return
        out = self._out()
        prefix = syslog_prefix(event.time, self.host, self.pid)
        out.write("".join(prefix + line + "\n" for line in lines))
        out.flush()

    def close(self) -> None:
        if self._file is not None and self._file is not sys.stderr:
            self._file.close()
        self._file = None


def serve_valid_users(passwords: Any) -> Callable[[str], bool]:
    """Users ``sshcore serve`` knows: the one it runs as (authorized_keys) and those of
    its password file."""
    me = getpass.getuser()

    def valid(name: str) -> bool:
        return name == me or (passwords is not None and name in passwords)
    return valid


def load_config(path: str) -> Any:
    """Read and parse ``sshcore serve -f FILE`` (errors name the file and line)."""
    from ..files.sshd_config import parse_sshd_config

    try:
        text = open(path, encoding="utf-8", errors="replace").read()  # noqa: SIM115
    except OSError as exc:
        raise SystemExit(f"sshcore serve: {path}: {exc.strerror}") from None
    try:
        return parse_sshd_config(text, path)
    except ConfigurationError as exc:
        raise SystemExit(f"sshcore serve: {exc}") from None


def dump_config(config: Any, spec: str | None) -> str:
    """``-T`` (with ``-C user=U,addr=A``): the effective configuration."""
    from ..files.sshd_config import parse_sshd_config

    config = config if config is not None else parse_sshd_config("", "(defaults)")
    fields: dict[str, str] = {}
    for item in (spec or "").split(","):
        if item.strip():
            key, sep, value = item.partition("=")
            if not sep or key.strip() not in ("user", "addr"):
                raise SystemExit(f"sshcore serve: -C wants user=U,addr=A, not {item!r}")
            fields[key.strip()] = value.strip()
    return str(config.dump(fields.get("user"), fields.get("addr")))


def configured_options(config: Any, default: tuple[str, int], passwords: Any
                       ) -> tuple[list[tuple[str, int]], dict[str, Any]]:
    """The addresses to listen on and the listen() keywords a configuration file gives."""
    from ..aio.configured import listen_addresses, listen_options
    from ..files.keys import read_private_key

    options = listen_options(config, passwords=passwords)
    if "server_host_keys" in options:
        options["server_host_keys"] = [read_private_key(k) for k in options["server_host_keys"]]
    return listen_addresses(config, default), options
