"""A file of salted password hashes for servers without system accounts.

One ``user:hash`` line per user; the hash is ``$scrypt$ln=15,r=8,p=1$<salt>$<key>`` (stdlib
:func:`hashlib.scrypt`, base64 without padding).  Lines starting with ``#`` are comments.
``sshcore passwd`` adds or replaces a user; ``sshcore serve --password-file`` checks
against it; in code, pass a :class:`PasswordFile` as ``listen(passwords=...)``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import tempfile
from pathlib import Path

from ..errors import ConfigurationError

_SCHEME = "scrypt"
_LN, _R, _P = 15, 8, 1          # 2**15 * 128 * 8 = 32 MiB of memory, ~50 ms per check
_KEY_LEN = 32


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _derive(password: str, salt: bytes, ln: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=1 << ln, r=r, p=p,
                          maxmem=256 * 1024 * 1024, dklen=_KEY_LEN)


def hash_password(password: str, *, ln: int = _LN, r: int = _R, p: int = _P) -> str:
    """A new salted hash of ``password`` in this file's format."""
    salt = os.urandom(16)
    return f"${_SCHEME}$ln={ln},r={r},p={p}${_b64(salt)}${_b64(_derive(password, salt, ln, r, p))}"


def _parse_hash(text: str) -> tuple[bytes, int, int, int, bytes]:
    parts = text.split("$")
    if len(parts) != 5 or parts[0] or parts[1] != _SCHEME:
        raise ValueError("not an sshcore scrypt hash")
    params = dict(item.split("=", 1) for item in parts[2].split(","))
    ln, r, p = int(params["ln"]), int(params["r"]), int(params["p"])
    if not (1 <= ln <= 22 and 1 <= r <= 32 and 1 <= p <= 16):
        raise ValueError("scrypt parameters out of range")
    return _unb64(parts[3]), ln, r, p, _unb64(parts[4])


def check_password(password: str, hashed: str) -> bool:
    """Does ``password`` match ``hashed`` (from :func:`hash_password`)?  Constant time."""
    salt, ln, r, p, expected = _parse_hash(hashed)
    return hmac.compare_digest(_derive(password, salt, ln, r, p), expected)


class PasswordFile:
    """Users and their password hashes, read from (and written back to) one file."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else None
        self.hashes: dict[str, str] = {}
        # Checked for unknown users, so they cost as much as known ones.
        self._dummy = hash_password(os.urandom(8).hex())
        self._stamp: tuple[int, int, int] | None = None

    @classmethod
    def read(cls, path: str | Path, *, missing_ok: bool = False) -> PasswordFile:
        pf = cls(path)
        assert pf.path is not None
        try:
            text = pf.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            if missing_ok:
                return pf
            raise ConfigurationError(f"{pf.path}: no such password file") from None
        for lineno, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, hashed = line.partition(":")
            try:
                if not sep or not user:
                    raise ValueError("expected user:hash")
                _parse_hash(hashed)
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigurationError(f"{pf.path}, line {lineno}: {exc}") from None
            pf.hashes[user] = hashed
        st = pf.path.stat()
        pf._stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        return pf

    def set(self, user: str, password: str) -> None:
        if not user or ":" in user or "\n" in user:
            raise ConfigurationError(f"invalid user name {user!r}")
        self.hashes[user] = hash_password(password)

    def remove(self, user: str) -> bool:
        return self.hashes.pop(user, None) is not None

    def write(self) -> None:
        """Replace the file atomically, readable by its owner only."""
        if self.path is None:
            raise ConfigurationError("this password file has no path")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(f"{user}:{hashed}\n" for user, hashed in sorted(self.hashes.items()))
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".sshcore-passwd-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, self.path)
        except BaseException:
            os.unlink(tmp)
            raise

    def __contains__(self, user: object) -> bool:
        return user in self.hashes

    def __bool__(self) -> bool:
        return bool(self.hashes)

    def refresh(self) -> None:
        """Re-read the file if it changed on disk (so ``sshcore passwd`` needs no restart)."""
        if self.path is None:
            return
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)  # write() makes a new inode each time
        if stamp != self._stamp:
            self.hashes = PasswordFile.read(self.path).hashes
            self._stamp = stamp

    def verify(self, user: str, password: str) -> bool:
        """Constant-time check; an unknown user costs a full hash too."""
        known = user in self.hashes
        return check_password(password, self.hashes[user] if known else self._dummy) and known
