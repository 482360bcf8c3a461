"""Key files: openssh-key-v1 (read and write, bcrypt-encrypted), PEM/DER via pycryptodome,
OpenSSH one-line and RFC 4716 public keys."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from typing import Any

from sshcore.wire import SSHReader, mpint, string, uint32
from sshcore.errors import KeyImportError, KeyPassphraseError, SSHError
from sshcore.keys import certified_private_fields

from ._keys import DSAKey, ECDSAKey, Ed448Key, Ed25519Key, RSAKey, SSHKey, decode_public_blob
from . import _primitives

MAGIC = b"openssh-key-v1\0"
BEGIN = b"-----BEGIN OPENSSH PRIVATE KEY-----"
END = b"-----END OPENSSH PRIVATE KEY-----"
# cipher name -> (key length, iv length, block size, mode, tag length): what ssh-keygen -Z
# accepts.  AEAD tags follow the encrypted section in the file (sshkey.c).
_CIPHERS = {"aes256-ctr": (32, 16, 16, "ctr", 0), "aes256-cbc": (32, 16, 16, "cbc", 0),
            "aes128-ctr": (16, 16, 16, "ctr", 0), "aes128-cbc": (16, 16, 16, "cbc", 0),
            "aes192-ctr": (24, 16, 16, "ctr", 0), "aes192-cbc": (24, 16, 16, "cbc", 0),
            "aes128-gcm@openssh.com": (16, 12, 16, "gcm", 16),
            "aes256-gcm@openssh.com": (32, 12, 16, "gcm", 16),
            "chacha20-poly1305@openssh.com": (64, 0, 8, "chachapoly", 16)}
KEY_CIPHERS = tuple(_CIPHERS)


def _err(filename: str | None, why: str) -> KeyImportError:
    cls = KeyPassphraseError if "passphrase" in why else KeyImportError
    return cls(f"{filename or '<key data>'}: {why}")


def _importers() -> tuple[Any, Any, Any]:
    """pycryptodome's RSA, ECC and DSA key importers, tried in that order (loaded only
    for PEM/DER key files)."""
    return (_primitives.RSA.import_key, _primitives.ECC.import_key,
            _primitives.DSA.import_key)


def _aes(key: bytes, iv: bytes, mode: str) -> Any:
    AES = _primitives.AES
    if mode == "ctr":
        return AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=iv)
    return AES.new(key, AES.MODE_CBC, iv=iv)


def _poly1305(key: bytes) -> Any:
    """Poly1305 keyed from ChaCha20 block 0 under ``key`` and an all-zero nonce."""
    return _primitives.Poly1305.new(key=key, cipher=_primitives.ChaCha20, nonce=bytes(8))


def _seal(mode: str, key: bytes, iv: bytes, data: bytes) -> bytes:
    """Encrypt the private section; AEAD modes append their tag."""
    if mode == "gcm":
        AES = _primitives.AES
        ct, tag = AES.new(key, AES.MODE_GCM, nonce=iv).encrypt_and_digest(data)
        return bytes(ct) + bytes(tag)
    if mode == "chachapoly":  # as the transport cipher with sequence number 0, no length
        main = key[:32]
        stream = _primitives.ChaCha20.new(key=main, nonce=bytes(8))
        stream.seek(64)
        ct = bytes(stream.encrypt(data))
        tag = _poly1305(main).update(ct).digest()
        return ct + bytes(tag)
    return bytes(_aes(key, iv, mode).encrypt(data))


def _open(mode: str, key: bytes, iv: bytes, data: bytes, tag: bytes) -> bytes | None:
    """Decrypt the private section; None when an AEAD tag does not verify."""
    if mode == "gcm":
        AES = _primitives.AES
        try:
            return bytes(AES.new(key, AES.MODE_GCM, nonce=iv).decrypt_and_verify(data, tag))
        except ValueError:
            return None
    if mode == "chachapoly":
        main = key[:32]
        try:
            _poly1305(main).update(data).verify(tag)
        except ValueError:
            return None
        stream = _primitives.ChaCha20.new(key=main, nonce=bytes(8))
        stream.seek(64)
        return bytes(stream.decrypt(data))
    return bytes(_aes(key, iv, mode).decrypt(data))


def _pem_body(data: bytes, begin: bytes, end: bytes, filename: str | None) -> bytes:
    start = data.index(begin) + len(begin)
    stop = data.find(end, start)
    if stop < 0:
        raise _err(filename, "truncated key file (no END line)")
    try:
        return base64.b64decode(b"".join(data[start:stop].split()), validate=True)
    except binascii.Error:
        raise _err(filename, "corrupt base64 in key file") from None


def load_openssh_private(data: bytes, passphrase: bytes | None, filename: str | None) -> SSHKey:
    raw = _pem_body(data, BEGIN, END, filename)
    if not raw.startswith(MAGIC):
        raise _err(filename, "not an openssh-key-v1 private key")
    try:
        r = SSHReader(raw, len(MAGIC))
        cipher_name = r.text("ascii")
        kdf_name = r.text("ascii")
        kdf_options = r.string()
        nkeys = r.uint32()
        if nkeys != 1:
            raise _err(filename, f"{nkeys} keys in one file are not supported")
        r.string()  # public key blob
        section = r.string()
        tail = r.rest()
    except SSHError:
        raise _err(filename, "truncated or corrupt key file") from None
    if cipher_name != "none":
        if cipher_name not in _CIPHERS:
            raise _err(filename, f"unsupported key encryption cipher {cipher_name}")
        if kdf_name != "bcrypt":
            raise _err(filename, f"unsupported key derivation {kdf_name}")
        if not passphrase:
            raise _err(filename, "key is encrypted and no passphrase was given")
        try:
            kr = SSHReader(kdf_options)
            salt, rounds = kr.string(), kr.uint32()
        except SSHError:
            raise _err(filename, "corrupt bcrypt options") from None
        klen, ivlen, block, mode, taglen = _CIPHERS[cipher_name]
        if len(section) % block:
            raise _err(filename, "encrypted section is not a whole number of blocks")
        if len(tail) < taglen:
            raise _err(filename, "truncated key file (authentication tag missing)")
        derived = _primitives.bcrypt_kdf(passphrase, salt, klen + ivlen, rounds)
        opened = _open(mode, derived[:klen], derived[klen:], section, tail[:taglen])
        if opened is None:
            raise _err(filename, "wrong passphrase (authentication tag mismatch)")
        section = opened
    try:
        r = SSHReader(section)
        if r.uint32() != r.uint32():
            raise _err(filename, "wrong passphrase (check bytes differ)" if cipher_name != "none"
                       else "corrupt key (check bytes differ)")
        key = _read_private_fields(r)
        key.comment = r.string().decode("utf-8", "replace")
    except KeyImportError:
        raise
    except SSHError:
        raise _err(filename, "truncated or corrupt private key section") from None
    except (ValueError, ZeroDivisionError) as exc:  # pycryptodome: e.g. a zero modulus
        raise _err(filename, f"invalid key: {exc}") from None
    return key


def _read_private_fields(r: SSHReader) -> SSHKey:
    key_type = r.text("ascii")
    if key_type in ("ssh-ed25519", "ssh-ed448"):
        cls = Ed25519Key if key_type == "ssh-ed25519" else Ed448Key
        pub, priv = r.string(), r.string()
        if len(pub) != cls.size or len(priv) != 2 * cls.size or priv[cls.size:] != pub:
            raise ValueError(f"inconsistent {key_type} key")
        return cls.from_seed(priv[:cls.size])
    if key_type == "ssh-rsa":
        n, e, d, iqmp, p, q = (r.mpint() for _ in range(6))
        return RSAKey(_primitives.RSA.construct((n, e, d, p, q)))
    if key_type.startswith("ecdsa-sha2-"):
        curve_id = r.text("ascii")
        r.string()  # Q
        d = r.mpint()
        return ECDSAKey.from_private(curve_id, d)
    if key_type == "ssh-dss":
        p, q, g, y, x = (r.mpint() for _ in range(5))
        return DSAKey(_primitives.DSA.construct((y, g, p, q, x)))
    raise ValueError(f"unknown key type {key_type!r}")


def adopt(key: Any) -> SSHKey:
    """This plugin's object for a key another plugin loaded (``sshcore-openssl`` reads
    OpenSSH key files too), through its ``private_fields()`` or its public blob, so that
    exporting works whichever plugin read the key."""
    if isinstance(key, SSHKey) or hasattr(key, "cert"):  # ours, or a CertifiedKey
        return key
    if getattr(key, "has_private", False) and callable(getattr(key, "private_fields", None)):
        out = _read_private_fields(SSHReader(bytes(key.private_fields())))
    else:
        out = decode_public_blob(bytes(key.public_blob))
    out.comment = str(getattr(key, "comment", ""))
    return out


def _eddsa_or_ecdsa(key: Any) -> SSHKey:
    curve = str(key.curve).lower()
    if curve == "ed25519":
        return Ed25519Key(key)
    if curve == "ed448":
        return Ed448Key(key)
    return ECDSAKey(key)


def _private_fields(key: SSHKey) -> bytes:
    k: Any = key._key
    if not key.has_private:
        raise KeyImportError("this is a public key: there is no private key to export")
    if isinstance(key, Ed25519Key):
        pub = key.raw_public
        return string(key.key_type) + string(pub) + string(bytes(k.seed) + pub)
    if isinstance(key, RSAKey):
        iqmp = pow(k.q, -1, k.p)
        return string(key.key_type) + b"".join(mpint(v) for v in (k.n, k.e, k.d, iqmp, k.p, k.q))
    if isinstance(key, ECDSAKey):
        return string(key.key_type) + string(key.curve_id) + string(key.q) + mpint(int(k.d))
    if isinstance(key, DSAKey):
        return string(key.key_type) + b"".join(mpint(v) for v in (k.p, k.q, k.g, k.y, k.x))
    raise KeyImportError(f"cannot export {type(key).__name__}")


def private_fields(key: SSHKey, certificate: bytes | None = None) -> bytes:
    """The key type and private fields as openssh-key-v1 stores them, which is also how
    the SSH agent protocol's add-identity request carries a key; with ``certificate``,
    :func:`sshcore.keys.certified_private_fields`' certified form."""
    fields = _private_fields(key)
    return fields if certificate is None else certified_private_fields(fields, certificate)


def export_openssh_private(key: SSHKey, passphrase: str | bytes | None = None,
                           comment: str | None = None, rounds: int = 16,
                           cipher: str = "aes256-ctr") -> bytes:
    """Write openssh-key-v1 as ssh-keygen does (bcrypt + aes256-ctr with a passphrase, or
    another ``cipher`` as ``ssh-keygen -Z`` picks)."""
    key = adopt(key)
    if isinstance(passphrase, str):
        passphrase = passphrase.encode()
    if cipher not in _CIPHERS:
        raise KeyImportError(f"unsupported key encryption cipher {cipher}; "
                             f"choose from {', '.join(_CIPHERS)}")
    comment = key.comment if comment is None else comment
    check = secrets.token_bytes(4)
    body = check + check + _private_fields(key) + string(comment)
    if passphrase:
        cipher_name, kdf_name = cipher, "bcrypt"
        salt = secrets.token_bytes(16)
        kdf_options = string(salt) + uint32(rounds)
        klen, ivlen, block, mode, taglen = _CIPHERS[cipher]
    else:
        cipher_name, kdf_name, kdf_options, block, taglen = "none", "none", b"", 8, 0
    pad = (-len(body)) % block
    body += bytes(range(1, pad + 1))
    tag = b""
    if passphrase:
        derived = _primitives.bcrypt_kdf(passphrase, salt, klen + ivlen, rounds)
        sealed = _seal(mode, derived[:klen], derived[klen:], body)
        body, tag = sealed[:len(body)], sealed[len(body):]
    raw = MAGIC + string(cipher_name) + string(kdf_name) + string(kdf_options) + uint32(1) \
        + string(key.public_blob) + string(body) + tag
    b64 = base64.b64encode(raw)
    lines = [b64[i:i + 70] for i in range(0, len(b64), 70)]
    return BEGIN + b"\n" + b"\n".join(lines) + b"\n" + END + b"\n"


def export_public_line(key: SSHKey, comment: str | None = None) -> bytes:
    comment = key.comment if comment is None else comment
    line = key.key_type + " " + base64.b64encode(key.public_blob).decode()
    return ((line + " " + comment).rstrip() + "\n").encode()


# --------------------------------------------------------------------------- PEM / DER

_PEM_RE = re.compile(rb"-----BEGIN ((?:RSA |DSA |EC |ENCRYPTED )?PRIVATE KEY)-----")


def load_pem_private(data: bytes, passphrase: bytes | None, filename: str | None) -> SSHKey | None:
    """PKCS#1, SEC1, PKCS#8 (maybe encrypted) and legacy Proc-Type PEM, or DER."""
    is_pem = _PEM_RE.search(data) is not None
    if not is_pem and not data.startswith(b"\x30"):
        return None
    encrypted = b"ENCRYPTED" in data[:200]
    if encrypted and not passphrase:
        raise _err(filename, "key is encrypted and no passphrase was given")
    errors = []
    for importer in _importers():
        try:
            key = importer(data, passphrase=passphrase) if passphrase else importer(data)
        except (ValueError, IndexError, TypeError) as exc:
            errors.append(str(exc))
            continue
        if not key.has_private():
            continue
        if importer is _primitives.RSA.import_key:
            return RSAKey(key)
        if importer is _primitives.DSA.import_key:
            return DSAKey(key)
        return _eddsa_or_ecdsa(key)
    if not is_pem:
        return None
    raise _err(filename, "wrong passphrase or corrupt PEM key" if encrypted else "corrupt PEM key")


def load_public(data: bytes, filename: str | None) -> SSHKey | None:
    if data[:1] == b"\x30":
        return load_der_public(data)
    text = data.strip()
    if text.startswith(b"---- BEGIN SSH2 PUBLIC KEY ----"):
        return _load_rfc4716(text, filename)
    if text.startswith(b"-----BEGIN PUBLIC KEY-----") or text.startswith(b"-----BEGIN RSA PUBLIC KEY-----"):
        for importer in _importers():
            try:
                key = importer(text)
            except (ValueError, IndexError, TypeError):
                continue
            if importer is _primitives.RSA.import_key:
                return RSAKey(key)
            if importer is _primitives.DSA.import_key:
                return DSAKey(key)
            return _eddsa_or_ecdsa(key)
        raise _err(filename, "corrupt PEM public key")
    parts = text.split(None, 2)
    if len(parts) >= 2 and not parts[0].startswith(b"-"):
        try:
            blob = base64.b64decode(parts[1], validate=True)
        except binascii.Error:
            return None
        try:
            if parts[0].endswith(b"-cert-v01@openssh.com"):
                from ._certs import SSHCertificate

                key = SSHCertificate(blob)
            else:
                key = decode_public_blob(blob)
        except ValueError as exc:
            raise _err(filename, str(exc)) from None
        if key.key_type != parts[0].decode("ascii", "replace"):
            raise _err(filename, "key type and key data disagree")
        key.comment = parts[2].decode("utf-8", "replace").strip() if len(parts) > 2 else ""
        return key
    return None


def _load_rfc4716(text: bytes, filename: str | None) -> SSHKey:
    lines = text.decode("utf-8", "replace").splitlines()
    if not lines[-1].startswith("---- END SSH2 PUBLIC KEY ----"):
        raise _err(filename, "truncated RFC 4716 key (no END line)")
    body, comment, i = [], "", 1
    while i < len(lines) - 1:
        line = lines[i]
        if ":" in line and not body:
            name, _, value = line.partition(":")
            while value.endswith("\\") and i + 1 < len(lines) - 1:
                i += 1
                value = value[:-1] + lines[i]
            if name.strip().lower() == "comment":
                comment = value.strip().strip('"')
        else:
            body.append(line.strip())
        i += 1
    try:
        key = decode_public_blob(base64.b64decode("".join(body), validate=True))
    except (binascii.Error, ValueError) as exc:
        raise _err(filename, f"corrupt RFC 4716 key: {exc}") from None
    key.comment = comment
    return key


def export_rfc4716(key: SSHKey, comment: str | None = None) -> bytes:
    comment = key.comment if comment is None else comment
    b64 = base64.b64encode(key.public_blob).decode()
    out = ["---- BEGIN SSH2 PUBLIC KEY ----"]
    if comment:
        out.append(f'Comment: "{comment}"')
    out += [b64[i:i + 70] for i in range(0, len(b64), 70)]
    out.append("---- END SSH2 PUBLIC KEY ----")
    return ("\n".join(out) + "\n").encode()


# --------------------------------------------------------------------------- PKCS#1 / PKCS#8

#: PKCS#8 encryption as ``ssh-keygen -m PKCS8 -N ...`` (OpenSSL) writes it: PBES2.
PBES2 = "PBKDF2WithHMAC-SHA256AndAES256-CBC"


def export_pkcs_private(key: SSHKey, passphrase: str | bytes | None = None,
                        comment: str | None = None, *, pkcs8: bool, der: bool) -> bytes:
    """PKCS#1 (RSA, "DSA PRIVATE KEY", SEC1 "EC PRIVATE KEY") or PKCS#8, PEM or DER.

    With a passphrase, PKCS#8 is PBES2-encrypted and PKCS#1 PEM gets the legacy
    ``Proc-Type: 4,ENCRYPTED`` header; PKCS#1 DER cannot carry encryption."""
    key = adopt(key)
    if isinstance(passphrase, str):
        passphrase = passphrase.encode()
    fmt = "DER" if der else "PEM"
    name = ("PKCS#8" if pkcs8 else "PKCS#1") + (" DER" if der else "")
    if isinstance(key, Ed25519Key) and not pkcs8:
        raise KeyImportError(f"{key.key_type} keys have no PKCS#1 form: use PKCS#8 or OpenSSH")
    if passphrase and der and not pkcs8:
        raise KeyImportError("a PKCS#1 DER key cannot be encrypted: use PEM or PKCS#8")
    if not key.has_private:
        raise KeyImportError("this is a public key: there is no private key to write")
    k: Any = key._key
    options: dict[str, Any] = {"format": fmt}
    if passphrase:
        options["passphrase"] = passphrase
        if pkcs8:
            options["protection"] = PBES2
    try:
        if isinstance(key, RSAKey):
            out = k.export_key(pkcs=8 if pkcs8 else 1, **options)
        elif isinstance(key, DSAKey):
            out = k.export_key(pkcs8=pkcs8, **options)
        elif isinstance(key, Ed25519Key):
            out = k.export_key(**options)
        else:
            out = k.export_key(use_pkcs8=pkcs8, **options)
    except (ValueError, TypeError) as exc:
        raise KeyImportError(f"cannot write {key.key_type} as {name}: {exc}") from None
    out = out.encode() if isinstance(out, str) else bytes(out)
    return out if der else out.rstrip(b"\n") + b"\n"


def export_pkcs_public(key: SSHKey, comment: str | None = None, *, pkcs8: bool,
                       der: bool) -> bytes:
    """RSA's PKCS#1 "RSA PUBLIC KEY" (pkcs8=False), otherwise X.509 SubjectPublicKeyInfo
    ("PUBLIC KEY"), as ``ssh-keygen -e -m PEM|PKCS8`` writes them."""
    key = adopt(key)
    pub: Any = key._key.public_key()
    fmt = "DER" if der else "PEM"
    if isinstance(key, RSAKey) and not pkcs8:
        # PKCS#1 RSAPublicKey (pycryptodome writes only SubjectPublicKeyInfo)
        der_bytes = _primitives.DerSequence([pub.n, pub.e]).encode()
        out = der_bytes if der else _primitives.PEM.encode(der_bytes, "RSA PUBLIC KEY")
    else:
        out = pub.export_key(format=fmt)
    out = out.encode() if isinstance(out, str) else bytes(out)
    return out if der else out.rstrip(b"\n") + b"\n"


def load_der_public(data: bytes) -> SSHKey | None:
    """A DER SubjectPublicKeyInfo or PKCS#1 RSAPublicKey; None if it is not one."""
    for importer in _importers():
        try:
            key = importer(data)
        except (ValueError, IndexError, TypeError):
            continue
        if key.has_private():
            return None
        if importer is _primitives.RSA.import_key:
            return RSAKey(key)
        if importer is _primitives.DSA.import_key:
            return DSAKey(key)
        return _eddsa_or_ecdsa(key)
    return None
