"""Real OpenSSH peers on 127.0.0.1: an sshd per test module and a runner for the ssh client.

Nothing here skips: if a binary is missing the fixture fails, and so does the run.
"""

from __future__ import annotations

import asyncio
import fcntl
import getpass
import os
import pty
import secrets
import select
import shutil
import socket
import struct
import subprocess
import termios
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

SSHD = "/usr/sbin/sshd"
USER = getpass.getuser()


def need(binary: str) -> str:
    path = shutil.which(binary) or (binary if os.path.exists(binary) else None)
    if path is None:  # a failure, never a skip: CI must have real OpenSSH
        pytest.fail(f"{binary} is not installed: interop tests need real OpenSSH")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


def keygen(path: Path, key_type: str, *extra: str) -> Path:
    bits = ["-b", "3072"] if key_type == "rsa" else []
    subprocess.run([need("ssh-keygen"), "-q", "-t", key_type, *bits, "-N", "", "-C",
                    f"test-{key_type}", "-f", str(path), *extra], check=True, timeout=60)
    return path


@dataclass
class Keys:
    dir: Path
    host: dict[str, Path] = field(default_factory=dict)
    user: dict[str, Path] = field(default_factory=dict)
    authorized_keys: Path | None = None


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    d = tmp_path_factory.mktemp("keys")
    k = Keys(d)
    for t in ("ed25519", "rsa", "ecdsa"):
        k.host[t] = keygen(d / f"host_{t}", t)
    for t in ("ed25519", "rsa", "ecdsa"):
        k.user[t] = keygen(d / f"user_{t}", t)
    k.authorized_keys = d / "authorized_keys"
    k.authorized_keys.write_text("".join(Path(f"{p}.pub").read_text() for p in k.user.values()))
    return k


@dataclass
class Sshd:
    port: int
    log: Path
    known_hosts: Path
    proc: subprocess.Popen[bytes]

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


@pytest.fixture(scope="module")
def start_sshd(keys: Keys, tmp_path_factory: pytest.TempPathFactory):
    """Factory: ``start_sshd(KexAlgorithms=..., Ciphers=...)`` -> a running :class:`Sshd`."""
    started: list[Sshd] = []
    cache: dict[tuple[tuple[str, str], ...], Sshd] = {}
    sshd = need(SSHD)
    os.makedirs("/run/sshd", exist_ok=True)

    def start(**options: str) -> Sshd:
        key = tuple(sorted(options.items()))
        if key in cache and cache[key].proc.poll() is None:
            return cache[key]
        d = tmp_path_factory.mktemp("sshd")
        port = free_port()
        settings = {"ListenAddress": "127.0.0.1", "Port": str(port), "PidFile": "none",
                    "AuthorizedKeysFile": str(keys.authorized_keys), "StrictModes": "no",
                    "UsePAM": "no", "PermitRootLogin": "yes", "PasswordAuthentication": "no",
                    "KbdInteractiveAuthentication": "no", "SetEnv": "SHLVL=1", "LogLevel": "DEBUG1",
                    "AcceptEnv": "LANG LC_* SSHCORE_*", "MaxSessions": "100",
                    "MaxStartups": "100:30:200"}
        settings.update(options)  # sshd takes the first value: the test's options win
        lines = [f"{name} {value}" for name, value in settings.items()]
        lines += [f"HostKey {p}" for p in keys.host.values()]
        cfg = d / "sshd_config"
        cfg.write_text("\n".join(lines) + "\n")
        log = d / "sshd.log"
        proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(cfg), "-E", str(log)])
        try:
            wait_port(port)
        except TimeoutError:
            proc.kill()
            raise AssertionError(f"sshd did not start:\n{log.read_text(errors='replace')}") from None
        kh = d / "known_hosts"
        kh.write_text("".join(f"[127.0.0.1]:{port} {Path(f'{p}.pub').read_text()}"
                              for p in keys.host.values()))
        info = Sshd(port, log, kh, proc)
        cache[key] = info
        started.append(info)
        return info

    yield start
    for info in started:
        info.proc.terminate()
        try:
            info.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            info.proc.kill()


def run_ssh(port: int, command: str, *, identity: Path | None = None,
            known_hosts: Path | str = "/dev/null", options: dict[str, str] | None = None,
            input: bytes | None = None, password: str | None = None, timeout: float = 30,
            tty: bool = False, tmp: Path | None = None,
            env_overrides: dict[str, str | None] | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run the real OpenSSH client against 127.0.0.1:port (``env_overrides``: variables
    to set for it, or with None to unset)."""
    args = [need("ssh"), "-F", "/dev/null", "-p", str(port)]
    # ssh takes the first value of an option: the caller's options go first.
    for name, value in (options or {}).items():
        args += ["-o", f"{name}={value}"]
    args += ["-o", f"UserKnownHostsFile={known_hosts}",
             "-o", "StrictHostKeyChecking=" + ("no" if str(known_hosts) == "/dev/null" else "yes"),
             "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"]
    env = dict(os.environ)
    for name, value in (env_overrides or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    if password is not None:
        assert tmp is not None
        askpass = tmp / "askpass.sh"
        askpass.write_text(f"#!/bin/sh\necho '{password}'\n")
        askpass.chmod(0o700)
        env.update(SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
        args += ["-o", "BatchMode=no", "-o", "PreferredAuthentications=password",
                 "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1"]
    else:
        args += ["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"]
    if identity is not None:
        args += ["-i", str(identity)]
    if tty:
        args.append("-tt")
    args += [f"{USER}@127.0.0.1", command]
    return subprocess.run(args, input=input if input is not None else b"", capture_output=True,
                          timeout=timeout, env=env)


class ServerThread:
    """Our server, running its own event loop in a thread, for the real ssh client to hit."""

    def __init__(self, **listen_kwargs: Any) -> None:
        # Tests refuse keys on purpose; as OpenSSH's regress suite, no PerSourcePenalties
        # unless a test asks for them.
        self.kwargs = {"per_source_penalties": False, **listen_kwargs}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.acceptor: Any = None

    def __enter__(self) -> ServerThread:
        import sshcore

        self.thread.start()
        fut = asyncio.run_coroutine_threadsafe(sshcore.listen("127.0.0.1", 0, **self.kwargs),
                                               self.loop)
        self.acceptor = fut.result(timeout=30)
        return self

    @property
    def port(self) -> int:
        return int(self.acceptor.port)

    def __exit__(self, *exc: Any) -> None:
        async def stop() -> None:
            self.acceptor.close()
            await asyncio.wait_for(self.acceptor.wait_closed(), 10)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def run_in_pty(argv, steps, rows=30, cols=100, timeout=30, env=None):
    """Run argv on a new pseudo-terminal; ``steps`` is a list of (wait_for_bytes, then_send or
    callable(master_fd)).  Returns (exit code, everything the terminal showed)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(argv[0], argv, env or dict(os.environ))
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    out = b""
    pending = list(steps)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        while pending and pending[0][0] in out:
            _, action = pending.pop(0)
            if callable(action):
                action(fd)
            else:
                os.write(fd, action)
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    try:
        _, status = os.waitpid(pid, 0 if time.monotonic() < deadline else os.WNOHANG)
    except ChildProcessError:
        status = 0
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out



LOCAL_USER = "sshcoretest"


@pytest.fixture(scope="session")
def local_user():
    if os.geteuid() != 0:
        pytest.fail("creating the test account needs root (CI runs as root)")
    password = "pw-" + secrets.token_hex(8)
    if subprocess.run(["id", LOCAL_USER], capture_output=True).returncode != 0:
        r = subprocess.run(["useradd", "-m", "-s", "/bin/sh", LOCAL_USER], capture_output=True, text=True)
        if r.returncode not in (0, 9):  # 9: created meanwhile by another worker
            pytest.fail(f"useradd failed: {r.stderr}")
    # Every xdist worker sets the same password derived from a shared file, so they agree.
    shared = "/tmp/sshcoretest.password"
    try:
        fd = os.open(shared, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password)
    except FileExistsError:
        pass
    with open(shared) as f:
        password = f.read().strip()
    subprocess.run(["chpasswd"], input=f"{LOCAL_USER}:{password}\n", text=True, check=True)
    return password


@pytest.fixture(scope="session")
def helpers() -> Any:
    """The module-level helpers, for test modules (which cannot import conftest)."""
    import types

    return types.SimpleNamespace(keygen=keygen, run_ssh=run_ssh, ServerThread=ServerThread,
                                 free_port=free_port, USER=USER,
                                 run_in_pty=run_in_pty, wait_port=wait_port)
