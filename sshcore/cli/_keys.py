"""``sshcore keys generate|info|convert|sign`` (OpenSSH, PEM/DER and PuTTY ``.ppk`` files) and passphrase prompting for key files.

Output follows ssh-keygen where there is an equivalent (``info`` prints what
``ssh-keygen -l -f`` prints), so scripts written for one work with the other.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, KeyImportError, KeyPassphraseError

#: ssh-keygen -t names -> our key type names (ecdsa picks its curve from -b).
_SHORT_TYPES = {"ed25519": "ssh-ed25519", "ed448": "ssh-ed448", "rsa": "ssh-rsa", "dsa": "ssh-dss"}
_CURVES = {256: "ecdsa-sha2-nistp256", 384: "ecdsa-sha2-nistp384", 521: "ecdsa-sha2-nistp521"}
_FILE_STEMS = {"ssh-ed25519": "id_ed25519", "ssh-ed448": "id_ed448", "ssh-rsa": "id_rsa",
               "ssh-dss": "id_dsa"}
#: --to / -m names -> our private formats
_PRIVATE_FORMATS = {"openssh": "openssh", "pkcs1": "pkcs1", "pem": "pkcs1", "pkcs8": "pkcs8",
                    "pkcs1-der": "pkcs1-der", "pkcs8-der": "pkcs8-der",
                    "ppk": "ppk", "ppk3": "ppk", "ppk2": "ppk2"}


def type_label(key_type: str) -> str:
    """``ED25519``, ``ECDSA``, ``RSA``, ``DSA``... as ssh-keygen labels a key."""
    if key_type.startswith("ecdsa-"):
        return "ECDSA"
    if key_type.startswith("sk-"):  # as ssh-keygen: ED25519-SK, ECDSA-SK
        return "ECDSA-SK" if key_type.startswith("sk-ecdsa-") else "ED25519-SK"
    return {"ssh-dss": "DSA"}.get(key_type, key_type.removeprefix("ssh-").upper())


def describe(key: Any, hash_name: str = "sha256") -> str:
    """``BITS FINGERPRINT COMMENT (TYPE)``, the shape of ``ssh-keygen -l -f``."""
    from ..files.keys import fingerprint

    comment = getattr(key, "comment", "") or "no comment"
    return f"{key.bits} {fingerprint(key, hash_name)} {comment} ({type_label(key.key_type)})"


def resolve_type(name: str, bits: int | None) -> str:
    if name == "ecdsa":
        curve = _CURVES.get(bits or 256)
        if curve is None:
            raise ConfigurationError("ECDSA key size must be 256, 384 or 521 bits")
        return curve
    return _SHORT_TYPES.get(name, name)


def load_private_interactive(path: str | Path, passphrase: str | None, prompter: Any) -> Any:
    import asyncio

    return asyncio.run(load_private_asking(path, passphrase, prompter))


async def load_private_asking(path: str | Path, passphrase: str | None, prompter: Any,
                              attempts: int = 3) -> Any:
    """Read a private key, asking for its passphrase (terminal or SSH_ASKPASS, as ssh
    does) when it is encrypted and none was given.  An empty answer gives up."""
    from ..files.keys import read_private_key

    try:
        return read_private_key(path, passphrase)
    except KeyPassphraseError:
        if passphrase is not None or prompter is None:
            raise
    last: Exception | None = None
    for _ in range(attempts):
        answer = await prompter.ask(f"Enter passphrase for key '{path}': ")
        if not answer:
            break
        try:
            return read_private_key(path, answer)
        except KeyPassphraseError as exc:
            last = exc
            prompter.show("Bad passphrase, try again.")
    raise last or KeyPassphraseError(f"{path}: key is encrypted and no passphrase was given")


def _write_private(path: Path, data: bytes, force: bool) -> None:
    if path.exists() and not force:
        raise ConfigurationError(f"{path} already exists (use --force to overwrite it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def cmd_generate(args: argparse.Namespace) -> int:
    from ..files.keys import (export_private_key, export_public_key, fingerprint,
                              generate_private_key)

    key_type = resolve_type(args.type, args.bits)
    options = {"bits": args.bits} if args.bits and key_type in ("ssh-rsa", "ssh-dss") else {}
    key = generate_private_key(key_type, **options)
    key.comment = args.comment if args.comment is not None else \
        f"{getpass.getuser()}@{os.uname().nodename}"
    path = Path(args.file or f"~/.ssh/{_FILE_STEMS.get(key_type, 'id_ecdsa')}").expanduser()
    fmt = _PRIVATE_FORMATS[args.format]
    extra = {"cipher": args.cipher} if args.cipher and fmt == "openssh" else {}
    data = export_private_key(key, fmt, passphrase=args.passphrase or None, **extra)
    _write_private(path, data, args.force)
    pub = Path(f"{path}.pub")
    pub.write_bytes(export_public_key(key, "openssh"))
    print(f"Your identification has been saved in {path}")
    print(f"Your public key has been saved in {pub}")
    print("The key fingerprint is:")
    print(f"{fingerprint(key)} {key.comment}")
    return 0


def public_of(path: Path, passphrase: str | None, prompter: Any) -> Any:
    """The public key of FILE: FILE itself if it is one, else FILE.pub, else the private
    key (asking for its passphrase), as ssh-keygen does."""
    from ..files.keys import read_public_key

    for candidate in (path, Path(f"{path}.pub")):
        if candidate.exists():
            try:
                return read_public_key(candidate)
            except KeyImportError:
                continue
    return load_private_interactive(path, passphrase, prompter)


def cmd_info(args: argparse.Namespace, prompter: Any) -> int:
    key = public_of(Path(args.file).expanduser(), args.passphrase, prompter)
    print(describe(key, args.hash))
    return 0


def cmd_convert(args: argparse.Namespace, prompter: Any) -> int:
    from ..files.keys import export_private_key, export_public_key

    path = Path(args.file).expanduser()
    if args.public:
        key = public_of(path, args.passphrase, prompter)
        fmt = {"pem": "pkcs1"}.get(args.to, args.to)
        data = export_public_key(key, fmt)
    else:
        if args.to == "rfc4716":
            raise ConfigurationError("RFC 4716 holds public keys only: add --public")
        key = load_private_interactive(path, args.passphrase, prompter)
        data = export_private_key(key, _PRIVATE_FORMATS[args.to],
                                  passphrase=args.new_passphrase or None)
    if args.output:
        out = Path(args.output).expanduser()
        if args.public:
            out.write_bytes(data)
        else:
            _write_private(out, data, args.force)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0


def _certificate_path(pub: Path) -> Path:
    """``id_ed25519.pub`` -> ``id_ed25519-cert.pub``, as ssh-keygen names it."""
    stem = pub.name[:-4] if pub.name.endswith(".pub") else pub.name
    return pub.with_name(f"{stem}-cert.pub")


def cmd_sign(args: argparse.Namespace, prompter: Any) -> int:
    """``ssh-keygen -s CA -I ID [-h] [-n P,...] [-V INTERVAL] [-z SERIAL] [-O OPT] KEY.pub...``"""
    from ..files.keys import (HOST_CERT, USER_CERT, parse_cert_options, parse_validity,
                              public_key_line, read_public_key, sign_certificate)

    ca = load_private_interactive(Path(args.ca).expanduser(), args.passphrase, prompter)
    cert_type = HOST_CERT if args.host else USER_CERT
    critical, extensions = parse_cert_options(args.option or [], cert_type)
    valid_after, valid_before = parse_validity(args.validity) if args.validity else (0, (1 << 64) - 1)
    principals = [p for p in (args.principals or "").split(",") if p]
    serial = args.serial
    for name in args.keys:
        pub = Path(name).expanduser()
        key = read_public_key(pub)
        cert = sign_certificate(ca, key, key_id=args.identity, principals=principals,
                                cert_type=cert_type, serial=serial, valid_after=valid_after,
                                valid_before=valid_before, critical_options=critical,
                                extensions=extensions)
        out = _certificate_path(pub)
        cert.comment = key.comment
        out.write_text(public_key_line(cert) + "\n")
        kind = "host" if args.host else "user"
        shown = ",".join(principals) if principals else "(any)"
        print(f'Signed {kind} key {out}: id "{args.identity}" serial {serial} for {shown}',
              file=sys.stderr)
        if args.serial:
            serial += 1  # as ssh-keygen: one serial per key signed
    return 0


def _serial(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad serial {text!r}") from None
    if not 0 <= value < 1 << 64:
        raise argparse.ArgumentTypeError("serial must be an unsigned 64-bit number")
    return value


def add_parser(sub: Any) -> None:
    k = sub.add_parser("keys", help="generate, inspect and convert key files")
    ks = k.add_subparsers(dest="keys_cmd", required=True)
    g = ks.add_parser("generate", help="make a new key pair (like ssh-keygen -t)")
    g.add_argument("-t", "--type", default="ed25519",
                   help="ed25519, ecdsa, rsa, dsa, ed448 or a full key type name")
    g.add_argument("-b", "--bits", type=int, help="RSA/DSA size, or the ECDSA curve (256/384/521)")
    g.add_argument("-f", "--file", help="private key file (the public key goes to FILE.pub)")
    g.add_argument("-N", "--passphrase", default="", help="encrypt with this passphrase")
    g.add_argument("-m", "--format", default="openssh", choices=sorted(_PRIVATE_FORMATS),
                   help="private key file format (ppk/ppk3, ppk2: PuTTY's versions 3 and 2)")
    g.add_argument("-Z", "--cipher", help="cipher for an encrypted OpenSSH key (default aes256-ctr)")
    g.add_argument("-C", "--comment")
    g.add_argument("--force", action="store_true", help="overwrite an existing file")
    i = ks.add_parser("info", help="bits, fingerprint, comment and type (like ssh-keygen -l -f)")
    i.add_argument("file")
    i.add_argument("-E", "--hash", default="sha256", choices=["sha256", "md5"])
    i.add_argument("--passphrase", help="for an encrypted private key without a .pub file")
    c = ks.add_parser("convert", help="write a key in another format")
    c.add_argument("file")
    c.add_argument("--to", required=True,
                   choices=["openssh", "pkcs1", "pem", "pkcs8", "pkcs1-der", "pkcs8-der", "rfc4716",
                            "ppk", "ppk3", "ppk2"])
    c.add_argument("--public", action="store_true", help="write the public key only")
    c.add_argument("--passphrase", help="the key's current passphrase (asked for if needed)")
    c.add_argument("--new-passphrase", help="encrypt the converted private key with this")
    c.add_argument("-o", "--output", help="output file (default: standard output)")
    c.add_argument("--force", action="store_true", help="overwrite an existing output file")
    s = ks.add_parser("sign", add_help=False, help="certify public keys with a CA key (like "
                      "ssh-keygen -s); writes KEY-cert.pub")
    s.add_argument("--help", action="help", help="show this help message and exit")
    s.add_argument("keys", nargs="+", metavar="KEY.pub")
    s.add_argument("-s", "--ca", required=True, help="the CA's private key file")
    s.add_argument("-I", "--identity", required=True, help="key id (logged by the server)")
    s.add_argument("-n", "--principals", help="comma-separated user or host names")
    s.add_argument("-V", "--validity", help="START:END or END, e.g. -5m:+52w, "
                   "20270101:20280101, always:forever (default)")
    s.add_argument("-z", "--serial", type=_serial, default=0,
                   help="serial number (incremented for each further key)")
    s.add_argument("-O", "--option", action="append", metavar="OPTION",
                   help="clear, force-command=CMD, source-address=LIST, verify-required, "
                        "no-pty, no-port-forwarding, no-agent-forwarding, no-x11-forwarding, "
                        "no-user-rc, permit-..., no-touch-required, critical:NAME[=V], "
                        "extension:NAME[=V] (repeatable)")
    s.add_argument("-h", "--host", action="store_true", help="a host certificate")
    s.add_argument("--passphrase", help="the CA key's passphrase (asked for if needed)")


def run(args: argparse.Namespace, prompter: Any) -> int:
    if args.keys_cmd == "generate":
        return cmd_generate(args)
    if args.keys_cmd == "info":
        return cmd_info(args, prompter)
    if args.keys_cmd == "sign":
        return cmd_sign(args, prompter)
    return cmd_convert(args, prompter)
