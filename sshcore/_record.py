"""``record``: a frozen, slotted dataclass that is cheap to define.

``@dataclass(frozen=True, slots=True)`` costs about 0.55 ms per class at import on
Python 3.11: it compiles ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``,
``__setattr__`` and ``__delattr__`` from generated source, one ``exec`` each.  The
kernel's events, the plugin descriptors and the connection-protocol payloads are some
eighty such classes, which made them a tenth of a short ``sshcore run``.

``record`` lets :func:`dataclasses.dataclass` collect the fields and make the slots,
compiles only ``__init__`` (the same code dataclass writes for a frozen class: each
field set with ``object.__setattr__``, so creating an event costs what it did), and
gives every class the same shared ``__repr__``, ``__eq__``, ``__hash__``,
``__setattr__``/``__delattr__`` (:class:`dataclasses.FrozenInstanceError`) and pickle
state methods, which behave as the generated ones do.  The classes stay dataclasses
(:func:`dataclasses.fields`, :func:`~dataclasses.replace` and
:func:`~dataclasses.asdict` work).  ``frozen=False`` keeps plain assignment.
"""

from __future__ import annotations

from dataclasses import MISSING, FrozenInstanceError, dataclass, fields
from typing import Any, Callable, TypeVar, overload

T = TypeVar("T", bound=type)

__all__ = ["record"]


def _names(cls: type) -> tuple[str, ...]:
    names: tuple[str, ...] = getattr(cls, "_record_fields", ())
    return names


def _repr(self: Any) -> str:
    parts = ", ".join(f"{n}={getattr(self, n)!r}" for n in _names(type(self)))
    return f"{type(self).__qualname__}({parts})"


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return all(getattr(self, n) == getattr(other, n) for n in _names(type(self)))


def _hash(self: Any) -> int:
    return hash(tuple(getattr(self, n) for n in _names(type(self))))


def _setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _getstate(self: Any) -> list[Any]:
    return [getattr(self, n) for n in _names(type(self))]


def _setstate(self: Any, state: list[Any]) -> None:
    for name, value in zip(_names(type(self)), state):
        object.__setattr__(self, name, value)


def _make_init(cls: type) -> Callable[..., None]:
    """``__init__`` for ``cls``'s fields, as dataclass writes it for a frozen class."""
    ns: dict[str, Any] = {"__set": object.__setattr__, "MISSING": MISSING}
    params: list[str] = []
    body: list[str] = []
    star = False
    for f in fields(cls):
        value = f.name
        if f.default is not MISSING:
            ns[f"__d_{f.name}"] = f.default
            param = f"{f.name}=__d_{f.name}"
        elif f.default_factory is not MISSING:
            ns[f"__f_{f.name}"] = f.default_factory
            param = f"{f.name}=MISSING"
            value = f"__f_{f.name}() if {f.name} is MISSING else {f.name}"
        else:
            param = f.name
        if not f.init:
            body.append(f"__set(self, {f.name!r}, "
                        f"{'__f_' + f.name + '()' if f.default_factory is not MISSING else '__d_' + f.name})")
            continue
        if f.kw_only and not star:
            params.append("*")
            star = True
        params.append(param)
        body.append(f"__set(self, {f.name!r}, {value})")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    source = (f"def __init__(self{''.join(', ' + p for p in params)}):\n    "
              + "\n    ".join(body or ["pass"]))
    exec(source, ns)  # one compile per class, where dataclass does six
    init: Callable[..., None] = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


@overload
def record(cls: T, *, frozen: bool = True) -> T: ...
@overload
def record(cls: None = None, *, frozen: bool = True) -> Callable[[T], T]: ...


def record(cls: Any = None, *, frozen: bool = True) -> Any:
    """Make ``cls`` a slotted dataclass with shared methods (see the module doc)."""
    def wrap(c: Any) -> Any:
        # Set by hand below rather than generated: each generated method is one exec.
        own = {name: c.__dict__.get(name) for name in ("__repr__", "__eq__", "__hash__")}
        out = dataclass(c, slots=True, init=False, eq=False, repr=False)
        out._record_fields = tuple(f.name for f in fields(out))
        out.__init__ = _make_init(out)
        if own["__repr__"] is None:
            out.__repr__ = _repr
        if own["__eq__"] is None:
            out.__eq__ = _eq
            out.__hash__ = _hash if frozen else None  # as dataclass(eq=True) does
        if frozen:
            out.__setattr__ = _setattr
            out.__delattr__ = _delattr
            out.__getstate__ = _getstate  # unpickling cannot go through __setattr__
            out.__setstate__ = _setstate
        return out

    return wrap if cls is None else wrap(cls)
