"""A stand-in X server for the X11 forwarding tests, and the X client they run remotely.

:class:`StandInX` listens on a Unix-socket display (``/tmp/.X11-unix/XN``) in a thread.
It checks the MIT-MAGIC-COOKIE-1 of each connection: the real cookie (stored with
``xauth`` in a private XAUTHORITY) is a *trusted* client, a cookie it handed out through
the SECURITY extension (what ``xauth generate ... untrusted`` asks for, as ``ssh -X`` and
``sshcore run -X`` do) is an *untrusted* one, anything else is refused with an X "Failed"
reply.  It speaks just enough X for ``xauth generate`` (libX11's XOpenDisplay, SECURITY
QueryVersion and GenerateAuthorization, XSync) and answers one private request
(major opcode :data:`ECHO_OPCODE`) with the request's own bytes: the echo the tests check.

Run as a script (``python x11_standin.py client``), it is the X client: it finds the
cookie ``xauth list`` has for ``$DISPLAY`` (``localhost:N`` is looked up as ``unix:N``,
as ssh and libXau do), connects (TCP 6000+N for ``host:N``, the Unix socket for ``:N``),
sends the set-up packet, reads the reply, sends an echo request and prints one JSON line.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import struct
import subprocess
import sys
import threading
from typing import Any

ECHO_OPCODE = 200
SECURITY_OPCODE = 130
COOKIE = "MIT-MAGIC-COOKIE-1"


def _pad(n: int) -> int:
    return (n + 3) & ~3


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


class StandInX:
    """The server side; ``connections`` records (verdict, protocol, cookie hex) per client."""

    def __init__(self, real_cookie: bytes, tcp: bool = False, security: bool = True) -> None:
        self.real_cookie = real_cookie
        self.security = security  # False: no SECURITY extension (xauth generate fails)
        self.untrusted: set[bytes] = set()
        self.connections: list[tuple[str, str, str]] = []
        self.errors: list[str] = []
        os.makedirs("/tmp/.X11-unix", mode=0o1777, exist_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.tcp: socket.socket | None = None
        for number in range(300 + secrets.randbelow(300), 1000):
            path = f"/tmp/.X11-unix/X{number}"
            if os.path.exists(path):
                continue
            if tcp:  # also TCP 127.0.0.1:6000+N, for DISPLAY=localhost:N
                self.tcp = socket.socket()
                try:
                    self.tcp.bind(("127.0.0.1", 6000 + number))
                except OSError:
                    self.tcp.close()
                    continue
            try:
                self.sock.bind(path)
            except OSError:
                if self.tcp is not None:
                    self.tcp.close()
                continue
            break
        else:
            raise RuntimeError("no free X display number")
        self.number = number
        self.path = path
        self.display = f":{number}"
        self._stop = False
        self.threads = []
        for sock in (self.sock, self.tcp):
            if sock is not None:
                sock.listen(16)
                sock.settimeout(0.5)
                self.threads.append(threading.Thread(target=self._accept, args=(sock,),
                                                     daemon=True))
                self.threads[-1].start()

    def close(self) -> None:
        self._stop = True
        for thread in self.threads:
            thread.join(timeout=5)
        self.sock.close()
        if self.tcp is not None:
            self.tcp.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def __enter__(self) -> StandInX:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _accept(self, listener: socket.socket) -> None:
        while not self._stop:
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(20)
        try:
            with conn:
                self._session(conn)
        except (OSError, EOFError, struct.error) as exc:
            self.errors.append(repr(exc))

    def _session(self, conn: socket.socket) -> None:
        head = _recv_exactly(conn, 12)
        order = "<" if head[0:1] == b"l" else ">"
        _major, _minor, nlen, dlen = struct.unpack(order + "HHHH", head[2:10])
        body = _recv_exactly(conn, _pad(nlen) + _pad(dlen))
        name = body[:nlen].decode("ascii", "replace")
        data = body[_pad(nlen):_pad(nlen) + dlen]
        if name == COOKIE and data == self.real_cookie:
            verdict = "trusted"
        elif name == COOKIE and data in self.untrusted:
            verdict = "untrusted"
        else:
            verdict = "refused"
        self.connections.append((verdict, name, data.hex()))
        if verdict == "refused":
            reason = b"Authorization required, but no authorization protocol specified"
            reason = reason + b"\0" * (_pad(len(reason)) - len(reason))
            conn.sendall(struct.pack(order + "BBHHH", 0, len(reason), 11, 0, len(reason) // 4)
                         + reason)
            return
        conn.sendall(self._setup_reply(order))
        seq = 0
        while True:
            try:
                req = conn.recv(4, socket.MSG_PEEK)
            except socket.timeout:
                return
            if not req:
                return
            head = _recv_exactly(conn, 4)
            opcode, minor = head[0], head[1]
            (length,) = struct.unpack(order + "H", head[2:4])
            rest = _recv_exactly(conn, max(length * 4 - 4, 0))
            seq = (seq + 1) & 0xFFFF
            reply = self._answer(order, opcode, minor, rest, seq)
            if reply:
                conn.sendall(reply)

    def _setup_reply(self, order: str) -> bytes:
        vendor = b"sshcore stand-in"
        vendor_padded = vendor + b"\0" * (_pad(len(vendor)) - len(vendor))
        formats = struct.pack(order + "BBB5x", 24, 32, 32) + struct.pack(order + "BBB5x", 1, 1, 32)
        visual = struct.pack(order + "IBBHIII4x", 0x21, 4, 8, 256, 0xFF0000, 0xFF00, 0xFF)
        depth = struct.pack(order + "BxH4x", 24, 1) + visual
        screen = struct.pack(order + "IIIIIHHHHHHIBBBB", 0x100, 0x20, 0xFFFFFF, 0, 0,
                             1024, 768, 270, 203, 1, 1, 0x21, 0, 0, 24, 1) + depth
        fixed = struct.pack(order + "IIIIHHBBBBBBBB4x", 1, 0x00400000, 0x001FFFFF, 256,
                            len(vendor), 65535, 1, 2, 0, 0, 32, 32, 8, 255)
        extra = fixed + vendor_padded + formats + screen
        return struct.pack(order + "BxHHH", 1, 11, 0, len(extra) // 4) + extra

    def _answer(self, order: str, opcode: int, minor: int, rest: bytes, seq: int) -> bytes:
        def reply(first: int = 0, words: bytes = b"", extra: bytes = b"") -> bytes:
            words = words + b"\0" * (24 - len(words))
            return struct.pack(order + "BBHI", 1, first, seq, len(extra) // 4) + words + extra

        if opcode == 98:  # QueryExtension
            (n,) = struct.unpack(order + "H", rest[:2])
            name = rest[4:4 + n]
            if name == b"SECURITY" and self.security:
                return reply(0, struct.pack("BBBB", 1, SECURITY_OPCODE, 0, 0))
            return reply(0, struct.pack("BBBB", 0, 0, 0, 0))
        if opcode == 20:  # GetProperty: none
            return reply(0)
        if opcode == 43:  # GetInputFocus (XSync)
            return reply(1, struct.pack(order + "I", 0x100))
        if opcode == 16:  # InternAtom
            return reply(0, struct.pack(order + "I", 1))
        if opcode == SECURITY_OPCODE and minor == 0:  # SecurityQueryVersion
            return reply(0, struct.pack(order + "HH", 1, 0))
        if opcode == SECURITY_OPCODE and minor == 1:  # SecurityGenerateAuthorization
            cookie = secrets.token_bytes(16)
            self.untrusted.add(cookie)
            return reply(0, struct.pack(order + "IH", 7, len(cookie)), cookie)
        if opcode == ECHO_OPCODE:
            return reply(0, b"", rest)
        if opcode in (55, 60, 127, SECURITY_OPCODE):  # CreateGC, FreeGC, NoOperation, Revoke
            return b""
        self.errors.append(f"unanswered request {opcode}/{minor}")
        return b""


def add_cookie(xauthority: str, display: str, cookie: bytes) -> None:
    subprocess.run(["xauth", "-f", xauthority, "add", display, COOKIE, cookie.hex()],
                   check=True, timeout=30, capture_output=True)


# --------------------------------------------------------------------------- the X client

def _cookie_for(display: str) -> tuple[str, bytes] | None:
    names = [display]
    host, _, rest = display.rpartition(":")
    if host == "localhost":
        names.append(f"unix:{rest}")
    for name in names:
        out = subprocess.run(["xauth", "list", name], capture_output=True, text=True,
                             timeout=30).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 3:
                return parts[1], bytes.fromhex(parts[2])
    return None


def x_client(payload: bytes, result: dict[str, Any]) -> dict[str, Any]:
    display = os.environ.get("DISPLAY", "")
    result["display"] = display
    host, _, rest = display.rpartition(":")
    number = int(rest.split(".")[0])
    auth = _cookie_for(display)
    name, data = (auth[0].encode(), auth[1]) if auth else (b"", b"")
    result["cookie"] = data.hex()
    if host in ("", "unix"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(20)
        sock.connect(f"/tmp/.X11-unix/X{number}")
    else:
        sock = socket.create_connection((host, 6000 + number), timeout=20)
    packet = (struct.pack("<cxHHHH2x", b"l", 11, 0, len(name), len(data))
              + name + b"\0" * (_pad(len(name)) - len(name))
              + data + b"\0" * (_pad(len(data)) - len(data)))
    if os.environ.get("X11_CLIENT_GARBAGE"):  # not a set-up packet: a bad byte-order byte
        packet = b"Q" + packet[1:]
    sock.sendall(packet)
    head = _recv_exactly(sock, 8)
    status, reason_len, _, _, length = struct.unpack("<BBHHH", head)
    body = _recv_exactly(sock, length * 4)
    if status != 1:
        result["status"] = "refused"
        result["reason"] = body[:reason_len].decode("ascii", "replace")
        return result
    result["status"] = "accepted"
    result["vendor"] = body[32:32 + struct.unpack("<H", body[16:18])[0]].decode()
    body_words = payload + b"\0" * (_pad(len(payload)) - len(payload))
    sock.sendall(struct.pack("<BBH", ECHO_OPCODE, 0, 1 + len(body_words) // 4) + body_words)
    reply = _recv_exactly(sock, 32)
    (words,) = struct.unpack("<I", reply[4:8])
    echoed = _recv_exactly(sock, words * 4)
    result["echo_ok"] = echoed == body_words
    sock.close()
    return result


if __name__ == "__main__":
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 4096
    outcome: dict[str, Any] = {}
    try:
        outcome = x_client(os.urandom(size), outcome)
    except Exception as exc:  # noqa: BLE001 - reported to the test as data
        outcome.update(status="error", error=repr(exc))
    print(json.dumps(outcome), flush=True)
    sys.exit(0 if outcome.get("status") == "accepted" else 1)
