"""``sshcore run`` against real sshd with stdin of every kind: a regular file, /dev/null,
a closed descriptor, a pipe and a terminal, for remote commands that read all of it, part
of it or none of it.  epoll cannot watch regular files or /dev/null, so these once hung."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time

import pytest

pytestmark = pytest.mark.interop

#: Remote commands: (command, what stdout must be for input ``data``, exit status).
COMMANDS = {
    "all-cat": ("cat", lambda data: data, 0),
    "all-sha256": ("sha256sum", lambda data: hashlib.sha256(data).hexdigest().encode() + b"  -\n", 0),
    "part": ("head -c 10; exit 7", lambda data: data[:10], 7),
    "none-true": ("true", lambda data: b"", 0),
    "none-echo": ("echo x; exit 5", lambda data: b"x\n", 5),
}
KINDS = ["file", "devnull", "closed", "unreadable", "pipe", "tty"]


def run_args(sshd, keys, *extra):
    return [sys.executable, "-m", "sshcore", "run", "-p", str(sshd.port), "-i",
            str(keys.user["ed25519"]), "-F", "none", "--known-hosts", str(sshd.known_hosts),
            "-o", "BatchMode=yes", *extra]


def run_with_stdin(argv, kind, data, tmp_path, *, end_input=True, timeout=30):
    """Run ``argv`` with stdin of ``kind`` carrying ``data``; for pipe and tty, the input
    ends (EOF / ^D) only when ``end_input``.  Returns (status, stdout, stderr, seconds)."""
    started = time.monotonic()
    if kind == "file":
        path = tmp_path / "input"
        path.write_bytes(data)
        with open(path, "rb") as f:
            r = subprocess.run(argv, stdin=f, capture_output=True, timeout=timeout)
        return r.returncode, r.stdout, r.stderr, time.monotonic() - started
    if kind == "devnull":
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        return r.returncode, r.stdout, r.stderr, time.monotonic() - started
    if kind == "closed":  # as the shell's 0<&-
        r = subprocess.run(["/bin/sh", "-c", 'exec "$@" 0<&-', "sh", *argv],
                           capture_output=True, timeout=timeout)
        return r.returncode, r.stdout, r.stderr, time.monotonic() - started
    if kind == "unreadable":  # as the shell's 0>file: open, but not for reading
        r = subprocess.run(["/bin/sh", "-c", 'exec "$@" 0>"$0"', str(tmp_path / "w"), *argv],
                           capture_output=True, timeout=timeout)
        return r.returncode, r.stdout, r.stderr, time.monotonic() - started
    if kind == "pipe":
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

        def feed() -> None:
            try:
                proc.stdin.write(data)
                proc.stdin.flush()
                if end_input:
                    proc.stdin.close()
            except (BrokenPipeError, ValueError):
                pass
        threading.Thread(target=feed, daemon=True).start()
        try:  # not communicate(): it would close stdin, and the input must stay open
            code, out, err = wait_collecting(proc, timeout)
        finally:
            proc.kill()
            proc.wait(timeout=10)
            proc.stdin.close()
        return code, out, err, time.monotonic() - started
    assert kind == "tty"  # a terminal that is not the remote's: no pty is requested
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(argv, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.close(slave)
        slave = -1
        os.write(master, data + (b"\x04" if end_input else b""))  # ^D: end of input
        echo = threading.Thread(target=_drain, args=(master,), daemon=True)
        echo.start()  # the terminal echoes what is typed: keep reading it
        try:
            code, out, err = wait_collecting(proc, timeout)
        finally:
            proc.kill()
            proc.wait(timeout=10)
        return code, out, err, time.monotonic() - started
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)


def wait_collecting(proc, timeout):
    """Wait for ``proc`` while collecting its stdout and stderr, leaving its stdin alone."""
    got: dict[str, bytes] = {}
    readers = [threading.Thread(target=lambda n=n, s=s: got.__setitem__(n, s.read()), daemon=True)
               for n, s in (("out", proc.stdout), ("err", proc.stderr))]
    for t in readers:
        t.start()
    code = proc.wait(timeout=timeout)
    for t in readers:
        t.join(timeout=10)
    return code, got.get("out", b""), got.get("err", b"")


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except OSError:
        pass


def payload(kind: str) -> bytes:
    if kind in ("devnull", "closed", "unreadable"):
        return b""
    if kind == "tty":  # typed lines (a terminal in canonical mode takes lines < 4096 bytes)
        return b"".join(b"typed line %03d\n" % i for i in range(40))
    return os.urandom(3 * 1024 * 1024 + 17)  # more than a channel window


@pytest.mark.parametrize("name", list(COMMANDS))
def test_run_with_every_kind_of_stdin(start_sshd, keys, tmp_path, name):
    """One remote command with stdin of each kind, then with -n (no stdin sent, whatever
    stdin is); every run must end promptly with the command's output and status."""
    sshd = start_sshd()
    command, expect, status = COMMANDS[name]
    reads_all = name.startswith("all")
    runs = [(kind, []) for kind in KINDS] + [(kind, ["-n"]) for kind in ("file", "pipe", "tty")]
    failures = []
    for kind, flags in runs:
        data = payload(kind)
        # Commands that do not read everything get an input that never ends (pipe, tty).
        try:
            code, out, err, took = run_with_stdin(
                run_args(sshd, keys, *flags, "127.0.0.1", command), kind, data, tmp_path,
                end_input=reads_all and not flags, timeout=20)
        except subprocess.TimeoutExpired:
            failures.append(f"{kind} {flags}: hung")
            continue
        want = expect(b"" if flags else data)
        if (code, out) != (status, want) or b"Traceback" in err or b"Exception" in err:
            failures.append(f"{kind} {flags}: status {code}, {len(out)} bytes out "
                            f"(want {status}, {len(want)}): {err[-300:]!r}")
        elif took > 15:
            failures.append(f"{kind} {flags}: took {took:.1f} s")
    assert not failures, "\n".join(failures)


def test_run_checksums_128_mib_from_a_regular_file(start_sshd, keys, tmp_path):
    sshd = start_sshd()
    path = tmp_path / "big"
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(128):
            block = os.urandom(1 << 20)
            digest.update(block)
            f.write(block)
    with open(path, "rb") as f:
        r = subprocess.run(run_args(sshd, keys, "127.0.0.1", "sha256sum"), stdin=f,
                           capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0].decode() == digest.hexdigest()
    path.unlink()
