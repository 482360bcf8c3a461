"""Issuing OpenSSH certificates (PROTOCOL.certkeys), as ``ssh-keygen -s`` does.

The certificate is laid out here (wire encoding only); the CA key object of a key plugin
makes the signature and the plugin's certificate type parses the result, so any key type
a plugin has can be certified and can certify.  Also: ``ssh-keygen``'s ``-V`` validity
intervals and ``-O`` certificate options.
"""

from __future__ import annotations

import calendar
import re
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._wire import SSHReader, string, uint32, uint64
from ._keyblob import decode_public_blob
from ..errors import ConfigurationError, KeyImportError, SSHError

CERT_SUFFIX = "-cert-v01@openssh.com"
USER_CERT, HOST_CERT = 1, 2
FOREVER = (1 << 64) - 1
#: what ``ssh-keygen -s`` grants a user certificate unless told otherwise
DEFAULT_USER_EXTENSIONS = ("permit-X11-forwarding", "permit-agent-forwarding",
                           "permit-port-forwarding", "permit-pty", "permit-user-rc")
_FLAG_EXTENSIONS = {"x11-forwarding": "permit-X11-forwarding",
                    "agent-forwarding": "permit-agent-forwarding",
                    "port-forwarding": "permit-port-forwarding", "pty": "permit-pty",
                    "user-rc": "permit-user-rc"}


def _packed(values: Iterable[str]) -> bytes:
    return b"".join(string(v) for v in values)


def _options_blob(options: Mapping[str, str], critical: bool) -> bytes:
    """Name-sorted (name, value) pairs; a non-empty value is itself a string inside."""
    out = b""
    for name in sorted(options):
        value = options[name]
        if critical and name in ("verify-required",) and value:
            raise ConfigurationError(f"critical option {name} takes no value")
        out += string(name) + string(string(value) if value else b"")
    return out


def sign_certificate(ca: Any, key: Any, *, key_id: str, principals: Sequence[str] = (),
                     cert_type: int = USER_CERT, serial: int = 0, valid_after: int = 0,
                     valid_before: int = FOREVER, critical_options: Mapping[str, str] | None = None,
                     extensions: Mapping[str, str] | None = None,
                     signature_algorithm: str | None = None, nonce: bytes | None = None,
                     registry: Any = None) -> Any:
    """An OpenSSH certificate for ``key`` (a public or private key) signed by ``ca`` (a
    private key), as ``ssh-keygen -s CA -I key_id -n principals ...`` makes it.

    ``extensions`` defaults to ``ssh-keygen``'s for a user certificate (permit-pty, ...)
    and to none for a host certificate.  RSA CAs sign with ``rsa-sha2-512``.

    :returns: the certificate as the key plugin's certificate type (``key_type``,
        ``public_blob``, ``principals``...); write it with
        :func:`sshcore.files.keys.public_key_line`.
    :raises ConfigurationError: bad arguments.
    :raises KeyImportError: the CA cannot sign, or no plugin reads the certificate."""
    if cert_type not in (USER_CERT, HOST_CERT):
        raise ConfigurationError("cert_type must be USER_CERT (1) or HOST_CERT (2)")
    if not 0 <= serial <= FOREVER or not 0 <= valid_after <= FOREVER \
            or not 0 <= valid_before <= FOREVER:
        raise ConfigurationError("serial and validity times are unsigned 64-bit numbers")
    if valid_after >= valid_before:
        raise ConfigurationError("the certificate would never be valid (start >= end)")
    if not getattr(ca, "has_private", False):
        raise KeyImportError("the CA key must be a private key")
    if extensions is None:
        extensions = dict.fromkeys(DEFAULT_USER_EXTENSIONS, "") if cert_type == USER_CERT else {}
    blob = bytes(key.public_blob)
    try:
        r = SSHReader(blob)
        plain_type = r.text("ascii")
    except SSHError:
        raise KeyImportError("malformed public key blob") from None
    if plain_type.endswith(CERT_SUFFIX):
        raise KeyImportError("cannot certify a certificate: give the plain public key")
    fields = blob[len(string(plain_type)):]
    body = (string(plain_type + CERT_SUFFIX) + string(nonce or secrets.token_bytes(32)) + fields
            + uint64(serial) + uint32(cert_type) + string(key_id) + string(_packed(principals))
            + uint64(valid_after) + uint64(valid_before)
            + string(_options_blob(critical_options or {}, True))
            + string(_options_blob(extensions, False)) + string(b"") + string(ca.public_blob))
    algs = list(ca.sig_algorithms())
    alg = signature_algorithm or ("rsa-sha2-512" if "rsa-sha2-512" in algs else algs[0])
    if alg not in algs:
        raise ConfigurationError(f"a {ca.key_type} CA cannot sign with {alg}")
    return decode_public_blob(body + string(ca.sign(body, alg)), registry)


# --------------------------------------------------------------------------- ssh-keygen -V

_REL = re.compile(r"([0-9]+)([sSmMhHdDwW]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _one_time(text: str, now: int, start: bool) -> int:
    low = text.lower()
    if start and low == "always":
        return 0
    if not start and low == "forever":
        return FOREVER
    if text[:1] in "+-":
        total, pos = 0, 1
        while pos < len(text):
            m = _REL.match(text, pos)
            if m is None or not m.group(0):
                raise ConfigurationError(f"bad relative time {text!r}")
            total += int(m.group(1)) * _UNITS[m.group(2).lower()]
            pos = m.end()
        if pos == 1:
            raise ConfigurationError(f"bad relative time {text!r}")
        return max(0, now + total if text[0] == "+" else now - total)
    utc = text.endswith(("Z", "z"))
    digits = text[:-1] if utc else text
    if digits.startswith("0x"):
        return int(digits, 16)
    if not digits.isdigit() or len(digits) not in (8, 12, 14):
        raise ConfigurationError(f"bad time {text!r}: use YYYYMMDD[HHMM[SS]][Z], +/-N[smhdw], "
                                 "always or forever")
    digits = digits.ljust(14, "0")
    fields = (int(digits[:4]), int(digits[4:6]), int(digits[6:8]), int(digits[8:10]),
              int(digits[10:12]), int(digits[12:14]), 0, 0, -1)
    try:
        return int(calendar.timegm(fields) if utc else time.mktime(fields))
    except (OverflowError, ValueError):
        raise ConfigurationError(f"bad time {text!r}") from None


def parse_validity(text: str, now: float | None = None) -> tuple[int, int]:
    """``ssh-keygen -V``: ``START:END`` or just ``END`` (valid from now), each an absolute
    ``YYYYMMDD[HHMM[SS]]`` (local time; ``Z``: UTC), relative ``+1w2d``/``-5m``, or
    ``always``/``forever``; -> (valid_after, valid_before)."""
    t = int(time.time() if now is None else now)
    start_text, sep, end_text = text.partition(":")
    if not sep:
        return t, _one_time(text, t, False)
    return _one_time(start_text, t, True), _one_time(end_text, t, False)


def parse_cert_options(items: Sequence[str], cert_type: int = USER_CERT
                       ) -> tuple[dict[str, str], dict[str, str]]:
    """``ssh-keygen -O`` options -> (critical options, extensions): ``clear``,
    ``force-command=CMD``, ``source-address=LIST``, ``verify-required``,
    ``no-touch-required``, ``[no-]x11-forwarding``/``agent-forwarding``/``port-forwarding``/
    ``pty``/``user-rc``, ``critical:NAME[=VALUE]`` and ``extension:NAME[=VALUE]``."""
    critical: dict[str, str] = {}
    extensions = dict.fromkeys(DEFAULT_USER_EXTENSIONS, "") if cert_type == USER_CERT else {}
    for item in items:
        name, sep, value = item.partition("=")
        low = name.lower()
        if low == "clear" and not sep:
            extensions.clear()
        elif low in ("force-command", "source-address") and sep:
            if low in critical:
                raise ConfigurationError(f"-O {low} given twice")
            critical[low] = value
        elif low == "verify-required" and not sep:
            critical[low] = ""
        elif low == "no-touch-required" and not sep:
            extensions["no-touch-required"] = ""
        elif low.startswith("no-") and low[3:] in _FLAG_EXTENSIONS and not sep:
            extensions.pop(_FLAG_EXTENSIONS[low[3:]], None)
        elif low.startswith("permit-") and low[7:] in _FLAG_EXTENSIONS and not sep:
            extensions[_FLAG_EXTENSIONS[low[7:]]] = ""
        elif low.startswith("critical:") and len(name) > 9:
            critical[name[9:]] = value
        elif low.startswith("extension:") and len(name) > 10:
            extensions[name[10:]] = value
        else:
            raise ConfigurationError(f"unknown certificate option -O {item!r}")
    if cert_type == HOST_CERT and critical:
        raise ConfigurationError("host certificates take no critical options")
    return critical, extensions
