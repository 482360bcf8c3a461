"""Real OpenSSH for the conformance kit: a temporary ``sshd`` and the ``ssh`` client.

:class:`OpenSSH` owns one scratch directory: host keys, a user key, ``authorized_keys``
and one ``sshd_config`` per started server.  Every server listens on 127.0.0.1 on a free
port, runs in the foreground (``sshd -D``) and is stopped by :meth:`OpenSSH.close`;
every step that waits has a timeout.  Nothing here skips: a missing binary is an
:class:`AssertionError` naming it.
"""

from __future__ import annotations

import asyncio
import functools
import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Where Debian/Ubuntu/Fedora install sshd (it is rarely on a user's PATH).
SSHD_CANDIDATES = ("sshd", "/usr/sbin/sshd", "/usr/local/sbin/sshd")
#: ``ssh -Q`` query per kit family.
QUERIES = {"cipher": "cipher", "mac": "mac", "kex": "kex", "compression": "compression",
           "host_key": "key-sig"}
#: Auth methods OpenSSH implements (it has no ``ssh -Q`` for them).
OPENSSH_AUTH = frozenset({"publickey", "password", "keyboard-interactive", "hostbased", "none"})


def find_binary(name: str, candidates: tuple[str, ...] = ()) -> str:
    """The path of an OpenSSH program; :class:`AssertionError` if it is not installed."""
    for cand in candidates or (name,):
        path = shutil.which(cand) or (cand if os.path.isabs(cand) and os.access(cand, os.X_OK)
                                      else None)
        if path:
            return path
    raise AssertionError(f"conformance kit: {name} is not installed; the kit needs real "
                         f"OpenSSH (install openssh-client and openssh-server)")


@functools.lru_cache(maxsize=None)
def openssh_names(family: str) -> frozenset[str]:
    """Names the installed OpenSSH knows in ``family`` (``ssh -Q``)."""
    if family == "auth":
        return OPENSSH_AUTH
    query = QUERIES[family]
    out = subprocess.run([find_binary("ssh"), "-Q", query], capture_output=True, text=True,
                         timeout=30)
    return frozenset(out.stdout.split())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise TimeoutError(f"sshd exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


#: ssh-keygen arguments for the key types OpenSSH generates, by SSH key type.
_KEYGEN = {"ssh-ed25519": ["-t", "ed25519"], "ssh-rsa": ["-t", "rsa", "-b", "3072"],
           "ecdsa-sha2-nistp256": ["-t", "ecdsa", "-b", "256"],
           "ecdsa-sha2-nistp384": ["-t", "ecdsa", "-b", "384"],
           "ecdsa-sha2-nistp521": ["-t", "ecdsa", "-b", "521"]}


@dataclass
class Sshd:
    """A running ``sshd``: its port, the known_hosts line file for it, and its log."""

    port: int
    known_hosts: Path
    log: Path
    proc: subprocess.Popen[bytes]

    def log_tail(self, n: int = 30) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])


class OpenSSH:
    """Scratch keys and servers for one test session (or one check).

    :param directory: where to keep files (default: a new temporary directory, removed
        by :meth:`close`).
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self._owned = directory is None
        self.dir = Path(tempfile.mkdtemp(prefix="sshcore-kit-") if directory is None
                        else directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.user = getpass.getuser()
        self.ssh = find_binary("ssh")
        self.sshd = find_binary("sshd", SSHD_CANDIDATES)
        self.keygen = find_binary("ssh-keygen")
        self._host_keys: dict[str, Path] = {}
        self._servers: list[Sshd] = []
        self.user_key = self.generate("ssh-ed25519", "user")
        self.authorized_keys = self.dir / "authorized_keys"
        self.authorized_keys.write_text(Path(f"{self.user_key}.pub").read_text())

    # ------------------------------------------------------------------ keys

    def generate(self, key_type: str, label: str) -> Path:
        """A new unencrypted key of an SSH key type ssh-keygen knows; returns its path."""
        path = self.dir / f"{label}_{key_type}"
        if not path.exists():
            args = _KEYGEN.get(key_type)
            if args is None:
                raise AssertionError(f"conformance kit: ssh-keygen cannot make {key_type!r} keys")
            subprocess.run([self.keygen, "-q", *args, "-N", "", "-C", f"kit-{label}", "-f",
                            str(path)], check=True, timeout=120, capture_output=True)
        return path

    def host_key(self, key_type: str = "ssh-ed25519") -> Path:
        if key_type not in self._host_keys:
            self._host_keys[key_type] = self.generate(key_type, "host")
        return self._host_keys[key_type]

    @staticmethod
    def knows_key_type(key_type: str) -> bool:
        return key_type in _KEYGEN

    # ------------------------------------------------------------------ sshd

    def start_sshd(self, options: Mapping[str, str] | None = None, *,
                   host_keys: list[Path] | None = None) -> Sshd:
        """Start ``sshd -D`` on 127.0.0.1 with ``options`` (sshd_config keywords; they win
        over the kit's defaults) and ``host_keys`` (default: an Ed25519 key)."""
        os.makedirs("/run/sshd", exist_ok=True) if os.geteuid() == 0 else None
        d = Path(tempfile.mkdtemp(prefix="sshd-", dir=self.dir))
        port = free_port()
        settings = {"ListenAddress": "127.0.0.1", "Port": str(port), "PidFile": "none",
                    "AuthorizedKeysFile": str(self.authorized_keys), "StrictModes": "no",
                    "UsePAM": "no", "PermitRootLogin": "yes", "PasswordAuthentication": "no",
                    "KbdInteractiveAuthentication": "no", "LogLevel": "DEBUG1",
                    "MaxStartups": "100:30:200", "MaxAuthTries": "20",
                    "LoginGraceTime": "60"}
        settings.update(options or {})
        keys = host_keys or [self.host_key()]
        lines = [f"{k} {v}" for k, v in settings.items()] + [f"HostKey {p}" for p in keys]
        cfg = d / "sshd_config"
        cfg.write_text("\n".join(lines) + "\n")
        log = d / "sshd.log"
        proc = subprocess.Popen([self.sshd, "-D", "-e", "-f", str(cfg), "-E", str(log)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        known = d / "known_hosts"
        known.write_text("".join(f"[127.0.0.1]:{port} {Path(f'{p}.pub').read_text()}"
                                 for p in keys))
        server = Sshd(port, known, log, proc)
        self._servers.append(server)
        try:
            wait_port(port, proc)
        except TimeoutError as exc:
            self.stop(server)
            raise AssertionError(f"conformance kit: sshd did not start ({exc}):\n"
                                 f"{server.log_tail()}") from None
        return server

    def stop(self, server: Sshd) -> None:
        if server.proc.poll() is None:
            server.proc.terminate()
            try:
                server.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait(timeout=10)
        if server in self._servers:
            self._servers.remove(server)

    # ------------------------------------------------------------------ ssh

    def ssh_args(self, port: int, command: str, options: Mapping[str, str] | None = None, *,
                 identity: Path | None = None, known_hosts: Path | None = None) -> list[str]:
        args = [self.ssh, "-F", "/dev/null", "-p", str(port)]
        for name, value in (options or {}).items():  # ssh takes the first value: ours win
            args += ["-o", f"{name}={value}"]
        args += ["-o", f"UserKnownHostsFile={known_hosts or '/dev/null'}",
                 "-o", "StrictHostKeyChecking=" + ("yes" if known_hosts else "no"),
                 "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=DEBUG1",
                 "-o", "ConnectTimeout=10", "-o", "IdentitiesOnly=yes",
                 "-i", str(identity or self.user_key), f"{self.user}@127.0.0.1", command]
        return args

    async def run_ssh(self, args: list[str], data: bytes, *, timeout: float = 120.0,
                      env: Mapping[str, str] | None = None) -> tuple[int, bytes, bytes]:
        """Run ``ssh`` (from :meth:`ssh_args`) with ``data`` on stdin, without blocking
        the event loop; returns (exit status, stdout, stderr)."""
        proc = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env={**os.environ, **(env or {})},
            start_new_session=True)
        try:
            out, err = await asyncio.wait_for(proc.communicate(data), timeout)
        except BaseException:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
        return proc.returncode or 0, out, err

    def close(self) -> None:
        for server in list(self._servers):
            self.stop(server)
        if self._owned:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> OpenSSH:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
