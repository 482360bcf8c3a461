"""Terminal modes of RFC 4254 section 8 (and RFC 8160's IUTF8) to and from termios.

A client sends its terminal's modes in ``pty-req``; a server applies them to the
pseudo-terminal it creates.  Opcodes this platform's termios lacks are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# opcode -> termios name: control characters (c_cc) ...
_CHARS = {1: "VINTR", 2: "VQUIT", 3: "VERASE", 4: "VKILL", 5: "VEOF", 6: "VEOL", 7: "VEOL2",
          8: "VSTART", 9: "VSTOP", 10: "VSUSP", 11: "VDSUSP", 12: "VREPRINT", 13: "VWERASE",
          14: "VLNEXT", 15: "VFLUSH", 16: "VSWTCH", 17: "VSTATUS", 18: "VDISCARD"}
# ... and flags, with the termios attribute list index they live in.
_IFLAG, _OFLAG, _CFLAG, _LFLAG = 0, 1, 2, 3
_FLAGS = {
    30: (_IFLAG, "IGNPAR"), 31: (_IFLAG, "PARMRK"), 32: (_IFLAG, "INPCK"), 33: (_IFLAG, "ISTRIP"),
    34: (_IFLAG, "INLCR"), 35: (_IFLAG, "IGNCR"), 36: (_IFLAG, "ICRNL"), 37: (_IFLAG, "IUCLC"),
    38: (_IFLAG, "IXON"), 39: (_IFLAG, "IXANY"), 40: (_IFLAG, "IXOFF"), 41: (_IFLAG, "IMAXBEL"),
    42: (_IFLAG, "IUTF8"),
    50: (_LFLAG, "ISIG"), 51: (_LFLAG, "ICANON"), 52: (_LFLAG, "XCASE"), 53: (_LFLAG, "ECHO"),
    54: (_LFLAG, "ECHOE"), 55: (_LFLAG, "ECHOK"), 56: (_LFLAG, "ECHONL"), 57: (_LFLAG, "NOFLSH"),
    58: (_LFLAG, "TOSTOP"), 59: (_LFLAG, "IEXTEN"), 60: (_LFLAG, "ECHOCTL"), 61: (_LFLAG, "ECHOKE"),
    62: (_LFLAG, "PENDIN"),
    70: (_OFLAG, "OPOST"), 71: (_OFLAG, "OLCUC"), 72: (_OFLAG, "ONLCR"), 73: (_OFLAG, "OCRNL"),
    74: (_OFLAG, "ONOCR"), 75: (_OFLAG, "ONLRET"),
    90: (_CFLAG, "CS7"), 91: (_CFLAG, "CS8"), 92: (_CFLAG, "PARENB"), 93: (_CFLAG, "PARODD"),
}
ISPEED, OSPEED = 128, 129
#: The wire's "this character is disabled".
DISABLED = 255

#: Opcodes by name, for applications building a mode dict (``{ECHO: 0}``).
OPCODES = {**{name: op for op, name in _CHARS.items()},
           **{name: op for op, (_, name) in _FLAGS.items()},
           "TTY_OP_ISPEED": ISPEED, "TTY_OP_OSPEED": OSPEED}


def _termios() -> Any:
    import termios

    return termios


def _baud(termios: Any, code: int) -> int:
    for name in dir(termios):
        if name.startswith("B") and name[1:].isdigit() and getattr(termios, name) == code:
            return int(name[1:])
    return 0


def _code(termios: Any, baud: int) -> int | None:
    return getattr(termios, f"B{baud}", None)


def modes_from_attrs(attrs: list[Any]) -> dict[int, int]:
    """The RFC 4254 modes of a ``termios.tcgetattr()`` result (what ssh sends)."""
    termios = _termios()
    vdisable = getattr(termios, "_POSIX_VDISABLE", 0)
    modes: dict[int, int] = {}
    cc = attrs[6]
    for op, name in _CHARS.items():
        index = getattr(termios, name, None)
        if index is None or index >= len(cc):
            continue
        ch = cc[index]
        value = ch[0] if isinstance(ch, bytes) else int(ch)
        modes[op] = DISABLED if value == vdisable else value
    for op, (which, name) in _FLAGS.items():
        bit = getattr(termios, name, None)
        if bit is not None:
            modes[op] = int(attrs[which] & bit == bit)
    modes[ISPEED] = _baud(termios, attrs[4])
    modes[OSPEED] = _baud(termios, attrs[5])
    return modes


def apply_modes(attrs: list[Any], modes: Mapping[int, int]) -> list[Any]:
    """``attrs`` (from ``tcgetattr``) with the peer's ``modes`` applied (what sshd does)."""
    termios = _termios()
    vdisable = getattr(termios, "_POSIX_VDISABLE", 0)
    attrs = [*attrs[:6], list(attrs[6])]
    cc = attrs[6]
    for op, value in modes.items():
        if op in _CHARS:
            index = getattr(termios, _CHARS[op], None)
            if index is not None and index < len(cc):
                ch = vdisable if value == DISABLED else value & 0xFF
                cc[index] = bytes([ch]) if isinstance(cc[index], bytes) else ch
        elif op in _FLAGS:
            which, name = _FLAGS[op]
            bit = getattr(termios, name, None)
            if bit is None:
                continue
            if name in ("CS7", "CS8"):  # character size is a field, not a bit
                if value:
                    attrs[which] = (attrs[which] & ~termios.CSIZE) | bit
            elif value:
                attrs[which] |= bit
            else:
                attrs[which] &= ~bit
        elif op in (ISPEED, OSPEED):
            code = _code(termios, value)
            if code is not None:
                attrs[4 if op == ISPEED else 5] = code
    return attrs
