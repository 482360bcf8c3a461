"""Key files, known_hosts and authorized_keys, through the key plugins' hooks.

File reading happens here (adapter layer); key formats and all cryptography live in
plugins, reached through ``sshcore_load_private_key``, ``sshcore_load_public_key``,
``sshcore_signature_algorithms`` and ``sshcore_key_types``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._wire import SSHReader, string
from ..errors import KeyImportError, SSHError
from ._keyblob import decode_public_blob  # noqa: F401 (public here)
from ..registry import Registry, default_registry

logger = logging.getLogger("sshcore.keys")


def _reg(registry: Registry | None) -> Registry:
    return registry or default_registry()


def import_private_key(data: bytes | str, passphrase: str | bytes | None = None, *,
                       filename: str | None = None, registry: Registry | None = None) -> Any:
    if isinstance(data, str):
        data = data.encode()
    if isinstance(passphrase, str):
        passphrase = passphrase.encode()
    key = _reg(registry).hook.sshcore_load_private_key(data=data, passphrase=passphrase,
                                                       filename=filename)
    if key is None:
        where = f"{filename}: " if filename else ""
        raise KeyImportError(f"{where}not a private key in any format the installed plugins read")
    return key


def read_private_key(path: str | Path, passphrase: str | bytes | None = None, *,
                     registry: Registry | None = None) -> Any:
    path = Path(path).expanduser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyImportError(f"{path}: cannot read key file: {exc.strerror}") from None
    return import_private_key(data, passphrase, filename=str(path), registry=registry)


def import_public_key(data: bytes | str, *, filename: str | None = None,
                      registry: Registry | None = None) -> Any:
    if isinstance(data, str):
        data = data.encode()
    reg = _reg(registry)
    key = reg.hook.sshcore_load_public_key(data=data, filename=filename)
    if key is not None:
        return key
    parts = data.split()
    if len(parts) >= 2:
        try:
            blob = base64.b64decode(parts[1], validate=True)
        except binascii.Error:
            blob = b""
        if blob:
            return decode_public_blob(blob, reg)
    where = f"{filename}: " if filename else ""
    raise KeyImportError(f"{where}not a public key in any format the installed plugins read")


def read_public_key(path: str | Path, *, registry: Registry | None = None) -> Any:
    path = Path(path).expanduser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyImportError(f"{path}: cannot read key file: {exc.strerror}") from None
    return import_public_key(data, filename=str(path), registry=registry)


def generate_private_key(key_type: str = "ssh-ed25519", *, registry: Registry | None = None,
                         **options: Any) -> Any:
    reg = _reg(registry)
    for kt in reg.all("key_type"):
        if kt.name == key_type:
            return kt.generate(**options)
    raise KeyImportError(f"no installed plugin generates {key_type!r} keys "
                         f"(available: {', '.join(reg.names('key_type')) or 'none'})")


def export_private_key(key: Any, fmt: str = "openssh", passphrase: str | bytes | None = None,
                       *, registry: Registry | None = None, **options: Any) -> bytes:
    """The private key file's bytes in ``fmt`` (``openssh``, ``pkcs1``, ``pkcs1-der``,
    ``pkcs8``, ``pkcs8-der``, or any format a plugin adds); ``options`` go to the format
    (e.g. ``cipher="aes256-gcm@openssh.com"`` or ``rounds=`` for OpenSSH keys)."""
    reg = _reg(registry)
    for kf in reg.all("key_format"):
        if kf.name == fmt and kf.export_private is not None:
            return bytes(kf.export_private(key, passphrase=passphrase, **options))
    names = [kf.name for kf in reg.all("key_format") if kf.export_private is not None]
    raise KeyImportError(f"no installed plugin writes private keys in format {fmt!r} "
                         f"(available: {', '.join(names) or 'none'})")


def export_public_key(key: Any, fmt: str = "openssh", *, comment: str | None = None,
                      registry: Registry | None = None) -> bytes:
    """The public key in ``fmt`` (``openssh``, ``rfc4716``, ``pkcs1``, ``pkcs8``, ...)."""
    reg = _reg(registry)
    for kf in reg.all("key_format"):
        if kf.name == fmt and kf.export_public is not None:
            return bytes(kf.export_public(key, comment=comment))
    names = [kf.name for kf in reg.all("key_format") if kf.export_public is not None]
    raise KeyImportError(f"no installed plugin writes public keys in format {fmt!r} "
                         f"(available: {', '.join(names) or 'none'})")


def public_key_line(key: Any) -> str:
    line = f"{key.key_type} {base64.b64encode(key.public_blob).decode()}"
    comment = getattr(key, "comment", "") or ""
    return f"{line} {comment}".rstrip()


def fingerprint(key: Any, hash_name: str = "sha256") -> str:
    """As ``ssh-keygen -l [-E md5]`` prints it: ``SHA256:<base64>`` or ``MD5:aa:bb:...``."""
    if hash_name.lower() == "md5":
        digest = hashlib.md5(key.public_blob).hexdigest()
        return "MD5:" + ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))
    if hash_name.lower() != "sha256":
        raise ValueError(f"fingerprint hash must be sha256 or md5, not {hash_name!r}")
    digest = hashlib.sha256(key.public_blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


# --------------------------------------------------------------------------- known_hosts


def _glob(pattern: str, name: str) -> bool:
    """OpenSSH host pattern: only ``*`` and ``?`` are special (``[`` is literal).

    Matched in O(len(pattern) * len(name)) by backtracking to the last ``*`` only: a
    regular expression (``.*`` per star) backtracks exponentially on patterns with many
    stars, which the known_hosts fuzzer found hanging."""
    p, n = pattern.lower(), name.lower()
    pi = ni = 0
    star, mark = -1, 0
    while ni < len(n):
        if pi < len(p) and (p[pi] == "?" or p[pi] == n[ni]):
            pi += 1
            ni += 1
        elif pi < len(p) and p[pi] == "*":
            star, mark = pi, ni
            pi += 1
        elif star >= 0:
            pi, mark = star + 1, mark + 1
            ni = mark
        else:
            return False
    while pi < len(p) and p[pi] == "*":
        pi += 1
    return pi == len(p)


def _host_patterns_match(patterns: str, names: Sequence[str]) -> bool:
    if patterns.startswith("|1|"):
        try:
            _, _, salt_b64, hash_b64 = patterns.split("|", 3)
            salt = base64.b64decode(salt_b64)
            expected = base64.b64decode(hash_b64)
        except (ValueError, binascii.Error):
            return False
        return any(hmac.compare_digest(hmac.new(salt, n.encode(), hashlib.sha1).digest(), expected)
                   for n in names)
    matched = False
    for pattern in patterns.split(","):
        negate = pattern.startswith("!")
        pattern = pattern[1:] if negate else pattern
        if any(_glob(pattern, n) for n in names):
            if negate:
                return False
            matched = True
    return matched


def host_names(host: str, port: int) -> list[str]:
    return [host] if port == 22 else [f"[{host}]:{port}"]


@dataclass(frozen=True)
class KnownHostEntry:
    patterns: str
    marker: str | None       # None, "@revoked" or "@cert-authority"
    blob: bytes
    key_type: str
    source: str              # "file line N"


@dataclass(frozen=True)
class HostKeyCheck:
    """The verdict of :meth:`KnownHosts.check`: ``status`` is ``trusted``, ``mismatch``,
    ``revoked`` or ``unknown``; ``entry`` is the line that decided it (or, for a mismatch,
    a line recording another key for the host)."""

    status: str
    entry: KnownHostEntry | None = None

    def explain(self, key_type: str, key_fingerprint: str) -> str:
        sent = f"{key_type} {key_fingerprint}"
        e = self.entry
        if self.status == "mismatch" and e is not None:
            old = "SHA256:" + base64.b64encode(hashlib.sha256(e.blob).digest()).decode().rstrip("=")
            return (f"host key mismatch: the server sent {sent}, but {e.source} records a "
                    f"different {e.key_type} key ({old}) for this host (possible "
                    f"man-in-the-middle; if the host really changed keys, fix that line)")
        if self.status == "revoked" and e is not None:
            return f"host key {sent} is marked @revoked in {e.source}"
        if self.status == "unknown" and e is not None:
            return (f"host key {sent} is not recorded; keys of other types are "
                    f"(e.g. {e.key_type} in {e.source})")
        return f"host key {sent} is not trusted"


@dataclass
class KnownHosts:
    """Parsed known_hosts files: plain and hashed (``|1|salt|hash``) names, ``[host]:port``,
    ``*``/``?`` patterns with ``!`` negation, ``@revoked`` and ``@cert-authority`` markers."""

    entries: list[KnownHostEntry] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str, source: str = "known_hosts") -> KnownHosts:
        kh = cls(sources=[source])
        for lineno, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            marker = None
            if parts[0].startswith("@"):
                marker, parts = parts[0], parts[1:]
                if marker not in ("@revoked", "@cert-authority"):
                    continue  # OpenSSH ignores lines with unknown markers
            if len(parts) < 3:
                continue
            try:
                blob = base64.b64decode(parts[2], validate=True)
            except ValueError:  # binascii.Error, or non-ASCII text (a str argument)
                continue
            kh.entries.append(KnownHostEntry(parts[0], marker, blob, parts[1],
                                             f"{source} line {lineno}"))
        return kh

    @classmethod
    def read(cls, path: str | Path) -> KnownHosts:
        path = Path(path).expanduser()
        try:
            return cls.parse(path.read_text(errors="replace"), str(path))
        except FileNotFoundError:
            return cls(sources=[str(path)])

    @classmethod
    def load(cls, source: Any) -> tuple[KnownHosts, list[Any]]:
        """A table from a KnownHosts, a path or a list of paths, and the paths it came
        from (the first is where new keys are recorded)."""
        if isinstance(source, KnownHosts):
            return source, []
        paths = [source] if isinstance(source, (str, Path)) else list(source)
        table = cls()
        for path in paths:
            table = table + cls.read(path)
        return table, paths

    def __add__(self, other: KnownHosts) -> KnownHosts:
        return KnownHosts(self.entries + other.entries, self.sources + other.sources)

    def host_entries(self, host: str, port: int,
                     extra_names: Sequence[str] = ()) -> list[KnownHostEntry]:
        """The plain (unmarked) entries that name ``host``:``port``."""
        names = host_names(host, port) + list(extra_names)
        return [e for e in self.entries
                if e.marker is None and _host_patterns_match(e.patterns, names)]

    def check(self, host: str, port: int, blob: bytes,
              extra_names: Sequence[str] = ()) -> HostKeyCheck:
        """Is ``blob`` the recorded key of ``host``:``port``?  As OpenSSH decides: a
        revocation anywhere wins; another key *of the same type* is a mismatch; keys of
        other types only leave the host unknown for this key (``entry`` shows one)."""
        for entry in self.entries:
            if entry.marker == "@revoked" and entry.blob == blob:
                return HostKeyCheck("revoked", entry)
        try:
            key_type = SSHReader(blob).text("ascii")
        except SSHError:
            key_type = ""
        entries = self.host_entries(host, port, extra_names)
        for entry in entries:
            if entry.blob == blob:
                return HostKeyCheck("trusted", entry)
        for entry in entries:
            if entry.key_type == key_type:
                return HostKeyCheck("mismatch", entry)
        return HostKeyCheck("unknown", entries[0] if entries else None)

    def trusts_ca(self, host: str, port: int, ca_blob: bytes) -> KnownHostEntry | None:
        """The ``@cert-authority`` line trusting ``ca_blob`` for host certificates of
        ``host``:``port``, if any."""
        names = host_names(host, port)
        for entry in self.entries:
            if (entry.marker == "@cert-authority" and entry.blob == ca_blob
                    and _host_patterns_match(entry.patterns, names)):
                return entry
        return None

    def revoked(self, blob: bytes) -> KnownHostEntry | None:
        return next((e for e in self.entries if e.marker == "@revoked" and e.blob == blob), None)

    def match(self, host: str, port: int, blob: bytes, extra_names: Sequence[str] = ()) -> bool | None:
        """True: trusted; False: a different key is recorded or this one is revoked;
        None: the host is unknown."""
        status = self.check(host, port, blob, extra_names).status
        return True if status == "trusted" else None if status == "unknown" else False


def hash_host_name(name: str, salt: bytes | None = None) -> str:
    """OpenSSH's hashed form of a known_hosts name (``ssh-keygen -H``)."""
    import os

    salt = salt or os.urandom(20)
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def add_known_host(path: str | Path, host: str, port: int, key: Any, *,
                   hashed: bool = False) -> None:
    """Append ``key`` for ``host``:``port`` to a known_hosts file (creating it, and
    ``~/.ssh``, private to the user), as ``StrictHostKeyChecking=accept-new`` does."""
    import os

    path = Path(path).expanduser()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = host_names(host, port)[0]
    if hashed:
        name = hash_host_name(name)
    line = f"{name} {key.key_type} {base64.b64encode(key.public_blob).decode()}\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a") as f:
        if f.tell() > 0:
            with open(path, "rb") as existing:
                existing.seek(-1, os.SEEK_END)
                if existing.read(1) != b"\n":
                    f.write("\n")
        f.write(line)


# --------------------------------------------------------------------------- authorized_keys


def _split_options(line: str) -> tuple[str, str]:
    """Split an authorized_keys line into (options, rest) honouring quotes."""
    in_quote = False
    for i, ch in enumerate(line):
        if ch == '"':
            in_quote = not in_quote
        elif ch in " \t" and not in_quote:
            return line[:i], line[i:].strip()
    return line, ""


_FLAG_OPTIONS = {"no-pty", "pty", "no-port-forwarding", "port-forwarding", "no-agent-forwarding",
                 "agent-forwarding", "no-x11-forwarding", "x11-forwarding", "no-user-rc", "user-rc",
                 "restrict", "cert-authority", "no-touch-required", "verify-required"}
_VALUE_OPTIONS = {"from", "command", "environment", "permitopen", "permitlisten", "expiry-time",
                  "principals", "tunnel"}


def _parse_option_list(text: str, source: str) -> list[tuple[str, str | None]]:
    """``a,b="x,y",c`` -> [("a", None), ("b", "x,y"), ("c", None)] (quotes honoured)."""
    out: list[tuple[str, str | None]] = []
    i, n = 0, len(text)
    while i < n:
        j = i
        while j < n and text[j] not in ",=":
            j += 1
        name = text[i:j].strip().lower()
        value: str | None = None
        if j < n and text[j] == "=":
            if j + 1 >= n or text[j + 1] != '"':
                raise KeyImportError(f"{source}: option {name!r} needs a quoted value")
            k, chars = j + 2, []
            while k < n and text[k] != '"':
                if text[k] == "\\" and k + 1 < n and text[k + 1] == '"':
                    k += 1
                chars.append(text[k])
                k += 1
            if k >= n:
                raise KeyImportError(f"{source}: unterminated quote in option {name!r}")
            value, j = "".join(chars), k + 1
        if name in _FLAG_OPTIONS and value is not None or name in _VALUE_OPTIONS and value is None:
            raise KeyImportError(f"{source}: bad use of option {name!r}")
        if name not in _FLAG_OPTIONS | _VALUE_OPTIONS:
            raise KeyImportError(f"{source}: unknown option {name!r}")
        out.append((name, value))
        if j < n and text[j] != ",":
            raise KeyImportError(f"{source}: junk after option {name!r}")
        i = j + 1
    return out


def _expiry(value: str, source: str) -> float:
    """``YYYYMMDD[HHMM[SS]]`` (local time, as sshd reads it; a ``Z`` suffix means UTC)."""
    import calendar
    import time as _time

    utc = value.endswith(("Z", "z"))
    digits = value[:-1] if utc else value
    if not digits.isdigit() or len(digits) not in (8, 12, 14):
        raise KeyImportError(f"{source}: bad expiry-time {value!r}")
    digits = digits.ljust(14, "0")
    try:
        fields = (int(digits[0:4]), int(digits[4:6]), int(digits[6:8]), int(digits[8:10]),
                  int(digits[10:12]), int(digits[12:14]), 0, 0, -1)
        if not (1 <= fields[1] <= 12 and 1 <= fields[2] <= 31 and fields[3] < 24
                and fields[4] < 60 and fields[5] < 61):
            raise ValueError("field out of range")
        return float(calendar.timegm(fields) if utc else _time.mktime(fields))
    except (ValueError, OverflowError):  # e.g. month 13, a year mktime cannot represent
        raise KeyImportError(f"{source}: bad expiry-time {value!r}") from None


@dataclass
class KeyOptions:
    """The restrictions an authorized_keys line puts on a session (sshd(8) "AUTHORIZED_KEYS
    FILE FORMAT"); what the server enforces once that key has logged in."""

    source: str = ""
    from_patterns: str | None = None
    command: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    permitopen: list[str] = field(default_factory=list)
    permitlisten: list[str] = field(default_factory=list)
    expiry: float | None = None
    principals: list[str] | None = None
    cert_authority: bool = False
    pty: bool = True
    port_forwarding: bool = True
    agent_forwarding: bool = True
    x11_forwarding: bool = True
    #: security keys (sk-*): accept signatures without the user-presence flag / demand
    #: the user-verification flag (PROTOCOL.u2f; sshd's defaults: presence required)
    no_touch_required: bool = False
    verify_required: bool = False

    @classmethod
    def parse(cls, text: str, source: str = "authorized_keys") -> KeyOptions:
        opts = cls(source=source)
        items = _parse_option_list(text, source) if text else []
        if any(name == "restrict" for name, _ in items):
            opts.pty = opts.port_forwarding = opts.agent_forwarding = opts.x11_forwarding = False
        for name, value in items:
            if name in ("no-pty", "pty"):
                opts.pty = name == "pty"
            elif name in ("no-port-forwarding", "port-forwarding"):
                opts.port_forwarding = name == "port-forwarding"
            elif name in ("no-agent-forwarding", "agent-forwarding"):
                opts.agent_forwarding = name == "agent-forwarding"
            elif name in ("no-x11-forwarding", "x11-forwarding"):
                opts.x11_forwarding = name == "x11-forwarding"
            elif name == "cert-authority":
                opts.cert_authority = True
            elif name == "no-touch-required":
                opts.no_touch_required = True
            elif name == "verify-required":
                opts.verify_required = True
            elif name == "from":
                opts.from_patterns = value
            elif name == "command":
                opts.command = value
            elif name == "environment":
                env_name, sep, env_value = (value or "").partition("=")
                if not sep or not env_name:
                    raise KeyImportError(f"{source}: environment={value!r} is not NAME=value")
                opts.environment.setdefault(env_name, env_value)  # the first one wins
            elif name == "permitopen":
                opts.permitopen.append(value or "")
            elif name == "permitlisten":
                opts.permitlisten.append(value or "")
            elif name == "expiry-time":
                opts.expiry = _expiry(value or "", source)
            elif name == "principals":
                opts.principals = [p.strip() for p in (value or "").split(",") if p.strip()]
        return opts

    def apply_sk_policy(self, key: Any) -> None:
        """Make a security key (or a certificate of one) check its signatures' flags as
        these options say; other keys are left alone."""
        target = key.key if is_certificate(key) else key
        if hasattr(target, "require_user_presence"):
            target.require_user_presence = not self.no_touch_required
            target.require_user_verification = self.verify_required

    # ----------------------------------------------------------------- checks
    def refusal(self, client_addr: str, client_host: str | None = None,
                now: float | None = None) -> str | None:
        """Why this key may not log in from there now, or None."""
        import time as _time

        if self.expiry is not None and (now if now is not None else _time.time()) >= self.expiry:
            return f"key expired ({self.source})"
        if self.from_patterns is not None and not address_matches(
                self.from_patterns, client_addr, client_host):
            return f"connection from {client_addr} not allowed by from= ({self.source})"
        return None

    def allows_open(self, host: str, port: int) -> bool:
        """direct-tcpip to host:port (``permitopen``; ``no-port-forwarding`` refuses all)."""
        if not self.port_forwarding:
            return False
        if not self.permitopen:
            return True
        return any(_hostport_matches(spec, host, port) for spec in self.permitopen)

    def allows_listen(self, host: str, port: int) -> bool:
        """tcpip-forward on host:port (``permitlisten``)."""
        if not self.port_forwarding:
            return False
        if not self.permitlisten:
            return True
        for spec in self.permitlisten:
            if ":" not in spec.replace("[", "").replace("]", "") or spec.rfind(":") < spec.rfind("]"):
                spec = f"localhost:{spec}"
            if _hostport_matches(spec, host or "localhost", port):
                return True
        return False


def _hostport_matches(spec: str, host: str, port: int) -> bool:
    want_host, _, want_port = spec.rpartition(":")
    want_host = want_host.strip("[]")
    if want_port != "*" and (not want_port.isdigit() or int(want_port) != port):
        return False
    return want_host == "*" or want_host.lower() == host.lower()


def address_matches(patterns: str, addr: str, host: str | None = None) -> bool:
    """sshd's from= test: comma-separated host/address patterns with ``*``/``?``, CIDR
    blocks and ``!`` negation, matched against the client's address (and host name)."""
    import ipaddress

    names = [addr] + ([host] if host else [])
    matched = False
    for pattern in patterns.split(","):
        pattern = pattern.strip()
        negate = pattern.startswith("!")
        pattern = pattern[1:] if negate else pattern
        hit = False
        if "/" in pattern:
            try:
                hit = ipaddress.ip_address(addr) in ipaddress.ip_network(pattern, strict=False)
            except ValueError:
                hit = False
        else:
            hit = any(_glob(pattern, n) for n in names)
        if hit:
            if negate:
                return False
            matched = True
    return matched


@dataclass
class AuthorizedKeys:
    """An authorized_keys file: each key with its :class:`KeyOptions`."""

    blobs: list[tuple[bytes, str]] = field(default_factory=list)  # (blob, options text)
    options: list[KeyOptions] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str, registry: Registry | None = None,
              source: str = "authorized_keys") -> AuthorizedKeys:
        ak = cls()
        key_types = {d.key_type for d in _reg(registry).all("signature")}
        for lineno, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            options = ""
            first = line.split(None, 1)[0]
            if first not in key_types and not first.startswith(("ssh-", "ecdsa-", "sk-")):
                options, line = _split_options(line)
            parts = line.split()
            if len(parts) < 2:
                continue
            try:
                blob = base64.b64decode(parts[1], validate=True)
            except ValueError:  # binascii.Error, or non-ASCII text (a str argument)
                continue
            try:
                parsed = KeyOptions.parse(options, f"{source} line {lineno}")
            except KeyImportError as exc:
                logger.warning("%s: line ignored", exc)  # as sshd: a bad line allows nothing
                continue
            ak.blobs.append((blob, options))
            ak.options.append(parsed)
        return ak

    @classmethod
    def read(cls, path: str | Path, registry: Registry | None = None) -> AuthorizedKeys:
        path = Path(path).expanduser()
        return cls.parse(path.read_text(errors="replace"), registry, str(path))

    def lookup(self, key: Any) -> KeyOptions | None:
        """The options of the first line listing ``key`` (a key or its blob), or None."""
        blob = key if isinstance(key, (bytes, bytearray)) else key.public_blob
        for (b, _), opts in zip(self.blobs, self.options):
            if hmac.compare_digest(b, blob) and not opts.cert_authority:
                return opts
        return None

    def lookup_ca(self, ca: Any) -> KeyOptions | None:
        """The options of a ``cert-authority`` line for the CA key ``ca``, or None."""
        blob = ca if isinstance(ca, (bytes, bytearray)) else ca.public_blob
        for (b, _), opts in zip(self.blobs, self.options):
            if opts.cert_authority and hmac.compare_digest(b, blob):
                return opts
        return None

    def allows(self, key: Any) -> bool:
        """Is ``key`` (a public key, or its wire blob) listed?"""
        return self.lookup(key) is not None


def read_authorized_keys(path: str | Path, registry: Registry | None = None) -> AuthorizedKeys:
    """Read an authorized_keys file (OpenSSH format; options are kept with each key)."""
    return AuthorizedKeys.read(path, registry)


# --------------------------------------------------------------------------- certificates

CERT_SUFFIX = "-cert-v01@openssh.com"
USER_CERT, HOST_CERT = 1, 2


def user_certificate_options(cert: Any, ca_options: KeyOptions, username: str,
                             client_addr: str, now: float | None = None) -> KeyOptions | str:
    """sshd's rules for a user certificate signed by a ``cert-authority`` line's CA: the
    options that then apply, or why it is refused.  The line's ``principals=`` (else the
    user name) must be among the certificate's principals; its ``force-command`` and
    ``source-address`` critical options are applied like ``command=`` and ``from=``."""
    import dataclasses

    wanted = ca_options.principals if ca_options.principals is not None else [username]
    if not set(wanted) & set(cert.principals):
        return (f"certificate principals {cert.principals} do not include "
                f"{', '.join(wanted)} ({ca_options.source})")
    why = cert.problem(USER_CERT, None, now)
    if why is None:
        why = ca_options.refusal(client_addr, now=now)
    if why is not None:
        return why
    opts = dataclasses.replace(ca_options, cert_authority=False)
    forced = cert.critical_options.get("force-command")
    if forced is not None:
        if opts.command is not None and opts.command != forced:
            return "certificate force-command and authorized_keys command= differ"
        opts.command = forced
    source = cert.critical_options.get("source-address")
    if source is not None and not address_matches(source, client_addr):
        return f"certificate source-address does not allow {client_addr}"
    ext = cert.extensions
    # as sshd merges them: touch is waived only if both waive it; verification is
    # required if either requires it
    opts.no_touch_required = opts.no_touch_required and "no-touch-required" in ext
    opts.verify_required = opts.verify_required or "verify-required" in cert.critical_options
    opts.pty = opts.pty and "permit-pty" in ext
    opts.port_forwarding = opts.port_forwarding and "permit-port-forwarding" in ext
    opts.agent_forwarding = opts.agent_forwarding and "permit-agent-forwarding" in ext
    opts.x11_forwarding = opts.x11_forwarding and "permit-X11-forwarding" in ext
    return opts


def is_certificate(key: Any) -> bool:
    """A certificate from a key plugin (it names its CA and can check itself)."""
    return hasattr(key, "ca") and callable(getattr(key, "problem", None))


class CertifiedKey:
    """A private key presented as its OpenSSH certificate (``id_ed25519`` together with
    ``id_ed25519-cert.pub``): it authenticates as a user, or serves as a host, with the
    certificate; signatures are made by the private key with the plain algorithm."""

    def __init__(self, private: Any, cert: Any) -> None:
        if not is_certificate(cert):
            raise KeyImportError("not a certificate")
        if private.public_blob != cert.key.public_blob:
            raise KeyImportError("the certificate is for a different key")
        self.private = private
        self.cert = cert
        self.key_type = cert.key_type
        self.public_blob = cert.public_blob
        self.comment = getattr(private, "comment", "")

    @property
    def has_private(self) -> bool:
        return True

    def sig_algorithms(self) -> Sequence[str]:
        return list(self.cert.sig_algorithms())

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        alg = algorithm or self.sig_algorithms()[0]
        plain = alg.removesuffix(CERT_SUFFIX)
        if plain.startswith("sk-"):  # sk-ssh-ed25519-cert-v01@... signs as sk-ssh-ed25519@...
            plain += "@openssh.com"
        return bytes(self.private.sign(data, plain))

    def verify(self, data: bytes, signature: bytes, algorithm: str | None = None) -> bool:
        return bool(self.cert.verify(data, signature, algorithm))

    def __repr__(self) -> str:
        return f"<CertifiedKey {self.cert!r}>"


#: the public fields leading a key type's private fields (dropped in the certified form)
_PUBLIC_FIELDS = {"ssh-rsa": ("mpint", "mpint"), "ssh-dss": ("mpint",) * 4,
                  "ecdsa": ("string", "string")}


def certified_private_fields(fields: bytes, certificate: bytes) -> bytes:
    """The certified form of a key's private fields that OpenSSH's agent takes: the
    certificate's type and blob, then the private fields without the public ones the
    certificate already holds (Ed25519 keeps both).  ``fields`` is a key plugin's
    ``private_fields()`` (type, then fields in openssh-key-v1's order).

    :raises KeyImportError: a malformed certificate or fields."""
    try:
        r = SSHReader(fields)
        key_type = r.text("ascii")
        for kind in _PUBLIC_FIELDS.get("ecdsa" if key_type.startswith("ecdsa-") else key_type, ()):
            if kind == "mpint":
                r.mpint()
            else:
                r.string()
        cert_type = SSHReader(certificate).text("ascii")
    except SSHError:
        raise KeyImportError("malformed certificate blob or private key fields") from None
    return string(cert_type) + string(certificate) + r.rest()


def private_key_fields(key: Any) -> bytes:
    """A private key as the SSH agent protocol's add-identity request carries it: its type
    then its private fields, in the order OpenSSH's ``openssh-key-v1`` format stores them
    (from the key plugin's ``private_fields()``).  A :class:`CertifiedKey` gives the
    certified form (the certificate, then the private fields) that ``ssh-add`` sends."""
    target = key.private if isinstance(key, CertifiedKey) else key
    export = getattr(target, "private_fields", None)
    if export is None:
        raise KeyImportError(f"{type(target).__name__} keys cannot be exported to an agent "
                             "(their plugin has no private_fields())")
    if not getattr(target, "has_private", False):
        raise KeyImportError("this is a public key: there is no private key to send")
    if isinstance(key, CertifiedKey):
        return bytes(export(key.cert.public_blob))
    return bytes(export())


def read_certificate(path: str | Path, *, registry: Registry | None = None) -> Any:
    """An OpenSSH certificate file (``*-cert.pub``)."""
    cert = read_public_key(path, registry=registry)
    if not is_certificate(cert):
        raise KeyImportError(f"{path}: not a certificate ({cert.key_type})")
    return cert


def read_key_pair(path: str | Path, passphrase: str | bytes | None = None, *,
                  certificate: str | Path | None = None, registry: Registry | None = None) -> Any:
    """A private key, presented with its certificate when ``certificate`` is given or
    ``PATH-cert.pub`` exists next to it (as ssh does with ``-i PATH``)."""
    key = read_private_key(path, passphrase, registry=registry)
    cert_path = Path(certificate) if certificate is not None else Path(f"{Path(path).expanduser()}-cert.pub")
    if certificate is None and not cert_path.exists():
        embedded = getattr(key, "certificate", None)  # e.g. in a PuTTY 0.78+ .ppk file
        return CertifiedKey(key, embedded) if is_certificate(embedded) else key
    return CertifiedKey(key, read_certificate(cert_path, registry=registry))


from ._keysign import parse_cert_options, parse_validity, sign_certificate  # noqa: E402,F401
